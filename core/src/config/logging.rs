//! How verbose the server log is and how it is written, under OpenBao's `log_level` and
//! `log_format` names.

/// The `log_level` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    Trace,
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The level's name as a `tracing` filter directive expects it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// Every spelling OpenBao accepts: case-insensitive, "warning" for warn, "notice" for info
    /// and "err" for error.
    pub(super) fn from_openbao(text: &str) -> Option<LogLevel> {
        match text.trim().to_ascii_lowercase().as_str() {
            "trace" => Some(LogLevel::Trace),
            "debug" => Some(LogLevel::Debug),
            "info" | "notice" => Some(LogLevel::Info),
            "warn" | "warning" => Some(LogLevel::Warn),
            "err" | "error" => Some(LogLevel::Error),
            _ => None,
        }
    }
}

/// The `log_format` setting: human-readable lines or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Standard,
    Json,
}

impl LogFormat {
    /// OpenBao's spellings, case-insensitive; "" means the default as it does there.
    pub(super) fn from_openbao(text: &str) -> Option<LogFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "standard" => Some(LogFormat::Standard),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}
