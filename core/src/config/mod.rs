//! The server config file: OpenBao's HCL form (`storage`, `listener`, `seal` blocks and top-level
//! settings) read into a [`Config`].
//!
//! An OpenBao config should load unchanged when it only uses what coffer does: OpenBao settings
//! that are safe to ignore are accepted and reported in [`Config::warnings`]; everything else
//! unknown is an error naming the setting, so a typo or an unsupported feature never passes
//! silently. This module only reads and validates; it never opens files other than the config
//! itself, binds sockets or touches storage.

mod audit;
mod control_plane;
pub(crate) mod duration;
mod error;
mod listener;
mod logging;
mod seal;
mod storage;
#[cfg(test)]
mod tests;
mod value;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hcl::Structure;

pub use audit::AuditDeviceConfig;
pub use control_plane::{
    ControlPlaneConfig, DEFAULT_ADMIN_TOKEN_ENV, DEFAULT_AUDIT_PRUNE_INTERVAL,
};
pub use error::ConfigError;
pub use listener::{ListenerConfig, TlsConfig};
pub use logging::{LogFormat, LogLevel};
pub use seal::SealConfig;
pub use storage::StorageConfig;

use value::key;

/// OpenBao's default request size limit, 32 MiB.
pub const DEFAULT_MAX_REQUEST_SIZE: u64 = 32 * 1024 * 1024;

/// OpenBao's value for both `default_lease_ttl` and `max_lease_ttl` when unset: 768h (32 days).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);

/// Top-level OpenBao settings that are safe to ignore here, each with what coffer does instead.
const IGNORED: &[(&str, Option<&str>)] = &[
    ("disable_mlock", None),
    ("ui", Some("coffer serves no web UI")),
    ("cluster_addr", None),
    ("cluster_name", None),
    ("disable_cache", None),
    ("cache_size", None),
    ("disable_clustering", None),
    ("plugin_directory", Some("coffer runs no external plugins")),
    ("telemetry", Some("no metrics are emitted")),
    ("pid_file", Some("no pid file is written")),
    ("raw_storage_endpoint", Some("sys/raw is never served")),
    (
        "introspection_endpoint",
        Some("sys/internal/inspect is never served"),
    ),
    ("enable_response_header_hostname", None),
    ("enable_response_header_raft_node_id", None),
    ("log_file", Some("logs go to standard output")),
    ("log_rotate_duration", Some("logs go to standard output")),
    ("log_rotate_bytes", Some("logs go to standard output")),
    ("log_rotate_max_files", Some("logs go to standard output")),
];

/// A validated server config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Required in a file; only dev mode, which builds a `Config` in code, may go without.
    pub storage: StorageConfig,
    /// Never empty when read from a file.
    pub listeners: Vec<ListenerConfig>,
    pub seal: SealConfig,
    /// The seal being migrated away from (a `seal` block with `disabled = "true"`).
    pub disabled_seal: Option<SealConfig>,
    /// The URL clients are told to use (OpenBao's `api_addr`).
    pub api_addr: Option<String>,
    pub log_level: LogLevel,
    pub log_format: LogFormat,
    /// Bytes; the default for listeners that set no `max_request_size` of their own.
    pub max_request_size: u64,
    /// `None` means [`DEFAULT_LEASE_TTL`], as does 0 in the file (OpenBao's reading of 0).
    pub default_lease_ttl: Option<Duration>,
    /// `None` means [`DEFAULT_LEASE_TTL`], as does 0 in the file.
    pub max_lease_ttl: Option<Duration>,
    pub audit_file_dir: Option<PathBuf>,
    /// `audit "<type>" "<path>" { ... }` blocks.
    pub audit_devices: Vec<AuditDeviceConfig>,
    /// `disable_api_audit_creation = true`: `sys/audit` cannot enable devices; only the
    /// config's exist. Off by default (see docs/audit.md for why).
    pub disable_api_audit_creation: bool,
    /// Whether `sys/generate-root/*` (unauthenticated) answers 405. On unless turned off at the
    /// top level, or in every listener block (where OpenBao 2.7 reads it); coffer serves all
    /// listeners from one store, so one listener cannot open them alone.
    pub disable_unauthed_generate_root_endpoints: bool,
    /// Whether the legacy unauthenticated `sys/rekey*` endpoints answer as OpenBao 2.7 does by
    /// default (405/404); combined from the top level and the listeners as the one above.
    pub disable_unauthed_rekey_endpoints: bool,
    /// One line per OpenBao setting that was accepted but has no effect here.
    pub warnings: Vec<String>,
    /// `control_plane { ... }`: many stores by host name; `None` is the single-store server.
    pub control_plane: Option<ControlPlaneConfig>,
}

impl Config {
    /// Reads a config from HCL source.
    pub fn from_hcl(src: &str) -> Result<Config, ConfigError> {
        let body = hcl::parse(src).map_err(|source| ConfigError::Parse { source })?;
        let mut reader = Reader::default();
        for structure in body.iter() {
            reader.read(structure)?;
        }
        reader.finish()
    }

    /// Reads a config file; every error names the file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Config::from_hcl(&src).map_err(|source| ConfigError::InFile {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }
}

/// The settings seen so far while walking the top-level body, before defaults and checks.
#[derive(Default)]
struct Reader {
    storage: Option<StorageConfig>,
    listeners: Vec<ListenerConfig>,
    seals: Vec<seal::SealBlock>,
    api_addr: Option<String>,
    log_level: Option<LogLevel>,
    log_format: Option<LogFormat>,
    max_request_size: Option<u64>,
    default_lease_ttl: Option<Duration>,
    max_lease_ttl: Option<Duration>,
    audit_file_dir: Option<PathBuf>,
    audit_devices: Vec<AuditDeviceConfig>,
    disable_api_audit_creation: Option<bool>,
    disable_unauthed_generate_root_endpoints: Option<bool>,
    disable_unauthed_rekey_endpoints: Option<bool>,
    warnings: Vec<String>,
    control_plane: Option<ControlPlaneConfig>,
}

impl Reader {
    fn read(&mut self, structure: &Structure) -> Result<(), ConfigError> {
        let setting = key(structure);
        match setting {
            "storage" => {
                let storage =
                    storage::parse(value::block(setting, structure)?, &mut self.warnings)?;
                set_once(&mut self.storage, setting, storage)
            }
            "control_plane" => {
                let cp = control_plane::parse(value::block(setting, structure)?)?;
                set_once(&mut self.control_plane, setting, cp)
            }
            "listener" => {
                let listener =
                    listener::parse(value::block(setting, structure)?, &mut self.warnings)?;
                self.listeners.push(listener);
                Ok(())
            }
            "seal" => {
                let seal = seal::parse(value::block(setting, structure)?)?;
                self.seals.push(seal);
                Ok(())
            }
            "api_addr" => {
                self.api_addr = Some(parse_api_addr(
                    setting,
                    value::attribute(setting, structure)?,
                )?);
                Ok(())
            }
            "log_level" => {
                let text = value::string(setting, value::attribute(setting, structure)?)?;
                let level = LogLevel::from_openbao(&text).ok_or_else(|| {
                    value::invalid(
                        setting,
                        format!("expected trace, debug, info, warn or error, got {text:?}"),
                    )
                })?;
                self.log_level = Some(level);
                Ok(())
            }
            "log_format" => {
                let text = value::string(setting, value::attribute(setting, structure)?)?;
                let format = LogFormat::from_openbao(&text).ok_or_else(|| {
                    value::invalid(setting, format!("expected standard or json, got {text:?}"))
                })?;
                self.log_format = Some(format);
                Ok(())
            }
            "max_request_size" => {
                self.max_request_size =
                    Some(value::size(setting, value::attribute(setting, structure)?)?);
                Ok(())
            }
            "default_lease_ttl" => {
                self.default_lease_ttl =
                    value::duration(setting, value::attribute(setting, structure)?)?;
                Ok(())
            }
            "max_lease_ttl" => {
                self.max_lease_ttl =
                    value::duration(setting, value::attribute(setting, structure)?)?;
                Ok(())
            }
            "audit_file_dir" => {
                self.audit_file_dir =
                    Some(value::path(setting, value::attribute(setting, structure)?)?);
                Ok(())
            }
            "audit" => {
                let device = audit::parse(value::block(setting, structure)?)?;
                if self.audit_devices.iter().any(|d| d.path == device.path) {
                    return Err(ConfigError::Duplicate {
                        setting: format!("audit \"{}\"", device.path),
                    });
                }
                self.audit_devices.push(device);
                Ok(())
            }
            "disable_api_audit_creation" => {
                let v = value::boolean(setting, value::attribute(setting, structure)?)?;
                self.disable_api_audit_creation = Some(v);
                Ok(())
            }
            "disable_unauthed_generate_root_endpoints" => {
                let v = value::boolean(setting, value::attribute(setting, structure)?)?;
                self.disable_unauthed_generate_root_endpoints = Some(v);
                Ok(())
            }
            "disable_unauthed_rekey_endpoints" => {
                let v = value::boolean(setting, value::attribute(setting, structure)?)?;
                self.disable_unauthed_rekey_endpoints = Some(v);
                Ok(())
            }
            "unsafe_allow_api_audit_creation" => {
                let allow = value::boolean(setting, value::attribute(setting, structure)?)?;
                warn(
                    &mut self.warnings,
                    format!(
                        "unsafe_allow_api_audit_creation: OpenBao's setting, read as disable_api_audit_creation = {}; coffer allows API-created devices by default and confines file devices to audit_file_dir",
                        !allow
                    ),
                );
                if self.disable_api_audit_creation.is_none() {
                    self.disable_api_audit_creation = Some(!allow);
                }
                Ok(())
            }
            _ => match IGNORED.iter().find(|(ignored, _)| *ignored == setting) {
                Some((_, note)) => {
                    warn_ignored(&mut self.warnings, setting, *note);
                    Ok(())
                }
                None => Err(ConfigError::UnknownSetting {
                    setting: setting.to_owned(),
                }),
            },
        }
    }

    fn finish(self) -> Result<Config, ConfigError> {
        let storage = self.storage.ok_or_else(|| ConfigError::Missing {
            setting: "storage".to_owned(),
            reason: "a storage block is required".to_owned(),
        })?;
        if self.listeners.is_empty() {
            return Err(ConfigError::Missing {
                setting: "listener".to_owned(),
                reason: "at least one listener block is required".to_owned(),
            });
        }
        // OpenBao refuses to start when the default TTL exceeds the maximum, defaults included.
        let default_lease_ttl = self.default_lease_ttl.unwrap_or(DEFAULT_LEASE_TTL);
        let max_lease_ttl = self.max_lease_ttl.unwrap_or(DEFAULT_LEASE_TTL);
        if default_lease_ttl > max_lease_ttl {
            return Err(value::invalid(
                "default_lease_ttl",
                format!(
                    "{}s is longer than max_lease_ttl ({}s)",
                    default_lease_ttl.as_secs(),
                    max_lease_ttl.as_secs()
                ),
            ));
        }
        let every_listener_enables = self
            .listeners
            .iter()
            .all(|l| l.disable_unauthed_generate_root_endpoints == Some(false));
        let disable_unauthed_generate_root_endpoints = self
            .disable_unauthed_generate_root_endpoints
            .unwrap_or(!every_listener_enables);
        let every_listener_enables_rekey = self
            .listeners
            .iter()
            .all(|l| l.disable_unauthed_rekey_endpoints == Some(false));
        let disable_unauthed_rekey_endpoints = self
            .disable_unauthed_rekey_endpoints
            .unwrap_or(!every_listener_enables_rekey);
        let (seal, disabled_seal) = seal::resolve(self.seals)?;
        Ok(Config {
            storage,
            listeners: self.listeners,
            seal,
            disabled_seal,
            api_addr: self.api_addr,
            log_level: self.log_level.unwrap_or_default(),
            log_format: self.log_format.unwrap_or_default(),
            max_request_size: self.max_request_size.unwrap_or(DEFAULT_MAX_REQUEST_SIZE),
            default_lease_ttl: self.default_lease_ttl,
            max_lease_ttl: self.max_lease_ttl,
            audit_file_dir: self.audit_file_dir,
            audit_devices: self.audit_devices,
            disable_api_audit_creation: self.disable_api_audit_creation.unwrap_or(false),
            disable_unauthed_generate_root_endpoints,
            disable_unauthed_rekey_endpoints,
            warnings: self.warnings,
            control_plane: self.control_plane,
        })
    }
}

/// Stores a block that may appear only once (`storage`).
fn set_once<T>(slot: &mut Option<T>, setting: &str, value: T) -> Result<(), ConfigError> {
    if slot.is_some() {
        return Err(ConfigError::Duplicate {
            setting: setting.to_owned(),
        });
    }
    *slot = Some(value);
    Ok(())
}

/// `api_addr` is handed to clients as a base URL, so it must be one.
fn parse_api_addr(setting: &str, expr: &hcl::Expression) -> Result<String, ConfigError> {
    let text = value::string(setting, expr)?;
    let has_host = ["http://", "https://"].iter().any(|scheme| {
        text.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    });
    if !has_host {
        return Err(value::invalid(
            setting,
            format!("{text:?} is not a URL such as \"https://coffer.example.com:8200\""),
        ));
    }
    Ok(text)
}

/// Records a warning once, however many times the setting appears.
fn warn(warnings: &mut Vec<String>, warning: String) {
    if !warnings.contains(&warning) {
        warnings.push(warning);
    }
}

fn warn_ignored(warnings: &mut Vec<String>, setting: &str, note: Option<&str>) {
    let mut warning =
        format!("{setting}: accepted for OpenBao compatibility, has no effect in coffer");
    if let Some(note) = note {
        warning.push_str(" (");
        warning.push_str(note);
        warning.push(')');
    }
    warn(warnings, warning);
}
