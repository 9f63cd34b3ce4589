//! The `storage "<type>" { ... }` block: which physical backend holds the barrier's ciphertext.

use std::path::PathBuf;

use hcl::Block;

use super::value::{self, key};
use super::ConfigError;

/// The physical storage backend. A new backend (say `dynamodb`) is a new variant here and a new
/// arm in [`parse`]; `SUPPORTED` lists the names an operator may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// Nothing survives a restart; for dev mode and tests.
    Memory,
    /// A single local database file.
    Embedded { path: PathBuf },
}

const SUPPORTED: &str = "embedded, memory (or OpenBao's name inmem)";

pub(super) fn parse(
    block: &Block,
    warnings: &mut Vec<String>,
) -> Result<StorageConfig, ConfigError> {
    match value::block_type("storage", block)? {
        "memory" => parse_memory(block, "storage.memory"),
        "inmem" => {
            super::warn(
                warnings,
                "storage \"inmem\": read as coffer's storage \"memory\"; nothing is kept across restarts"
                    .to_owned(),
            );
            parse_memory(block, "storage.inmem")
        }
        "embedded" => parse_embedded(block),
        other => Err(ConfigError::UnknownBlockType {
            block: "storage",
            kind: other.to_owned(),
            supported: SUPPORTED,
        }),
    }
}

fn parse_memory(block: &Block, prefix: &str) -> Result<StorageConfig, ConfigError> {
    match block.body().iter().next() {
        Some(structure) => Err(ConfigError::UnknownSetting {
            setting: format!("{prefix}.{}", key(structure)),
        }),
        None => Ok(StorageConfig::Memory),
    }
}

fn parse_embedded(block: &Block) -> Result<StorageConfig, ConfigError> {
    let mut path = None;
    for structure in block.body().iter() {
        let setting = format!("storage.embedded.{}", key(structure));
        match key(structure) {
            "path" => {
                path = Some(value::path(
                    &setting,
                    value::attribute(&setting, structure)?,
                )?)
            }
            _ => return Err(ConfigError::UnknownSetting { setting }),
        }
    }
    let path = path.ok_or_else(|| ConfigError::Missing {
        setting: "storage.embedded.path".to_owned(),
        reason: "the path of the database file is required".to_owned(),
    })?;
    Ok(StorageConfig::Embedded { path })
}
