//! The config layer's error type. Every message names the setting at fault, spelled as its path
//! in the file (`listener.tcp.address`), so an operator can find the offending line.

use std::path::PathBuf;

/// Why a server config was refused. Config files hold no secrets, so values may be echoed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config is not valid HCL: {source}")]
    Parse {
        #[source]
        source: hcl::Error,
    },
    #[error("reading config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Wraps any other error of [`crate::config::Config::from_file`] so it names the file.
    #[error("config file {}: {source}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<ConfigError>,
    },
    /// Neither a coffer setting nor an OpenBao one that is safe to ignore.
    #[error("unknown setting \"{setting}\"")]
    UnknownSetting { setting: String },
    #[error("invalid value for \"{setting}\": {reason}")]
    InvalidValue { setting: String, reason: String },
    #[error("{setting}: {reason}")]
    Missing { setting: String, reason: String },
    /// An OpenBao setting whose meaning coffer cannot honour and must not silently drop.
    #[error("setting \"{setting}\" is not supported: {reason}")]
    Unsupported { setting: String, reason: String },
    #[error("setting \"{setting}\" is given more than once")]
    Duplicate { setting: String },
    /// `storage`, `listener` and `seal` blocks are labelled with a type; this one is not known.
    #[error("unknown {block} type \"{kind}\" (supported: {supported})")]
    UnknownBlockType {
        block: &'static str,
        kind: String,
        supported: &'static str,
    },
}
