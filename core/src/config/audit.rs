//! `audit "<type>" "<path>" { ... }` blocks: devices declared in the server config, OpenBao
//! 2.7's preferred way. Options are kept as the string map the device reads; the audit module
//! validates them (so the same rules apply to config and API devices).

use std::collections::BTreeMap;

use hcl::Block;

use super::value::{self, key};
use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDeviceConfig {
    /// `file` or `socket`.
    pub kind: String,
    /// Where it appears in `sys/audit`, e.g. `file/`.
    pub path: String,
    pub description: String,
    pub options: BTreeMap<String, String>,
}

const SUPPORTED: &str = "file, socket";

pub(super) fn parse(block: &Block) -> Result<AuditDeviceConfig, ConfigError> {
    let (kind, path) = match block.labels() {
        [kind, path] => (kind.as_str().to_owned(), path.as_str().to_owned()),
        [kind] => (kind.as_str().to_owned(), kind.as_str().to_owned()),
        labels => {
            return Err(value::invalid(
                "audit",
                format!(
                    "expected audit \"<type>\" \"<path>\" {{ ... }}, got {} labels",
                    labels.len()
                ),
            ))
        }
    };
    if kind != "file" && kind != "socket" {
        return Err(ConfigError::UnknownBlockType {
            block: "audit",
            kind,
            supported: SUPPORTED,
        });
    }
    let mut description = String::new();
    let mut options = BTreeMap::new();
    for structure in block.body().iter() {
        let name = key(structure);
        let setting = format!("audit.{kind}.{name}");
        let expr = value::attribute(&setting, structure)?;
        match name {
            "description" => description = value::string(&setting, expr)?,
            "options" => {
                return Err(value::invalid(
                    &setting,
                    "write the options directly in the block, e.g. file_path = \"...\"",
                ))
            }
            "local" => {
                value::boolean(&setting, expr)?;
            }
            _ => {
                options.insert(name.to_owned(), value::option_text(&setting, expr)?);
            }
        }
    }
    Ok(AuditDeviceConfig {
        kind,
        path,
        description,
        options,
    })
}
