//! Reads settings out of HCL: evaluates an expression with no variables and turns the value into
//! the scalar a setting needs. Lenient on type where OpenBao's `parseutil` is (`"true"`, `"1"`,
//! `32` and `"32"` are all accepted where OpenBao accepts them), strict on meaning (a negative size
//! is an error, not "unlimited"). Knows nothing of which settings exist.

use std::path::PathBuf;
use std::time::Duration;

use hcl::eval::{Context, Evaluate};
use hcl::{Block, Expression, Structure, Value};

use super::{duration, ConfigError};

/// The name a body entry is written under: an attribute's key or a block's identifier.
pub(super) fn key(structure: &Structure) -> &str {
    match structure {
        Structure::Attribute(attribute) => attribute.key(),
        Structure::Block(block) => block.identifier(),
    }
}

/// The expression of a setting that must be written `setting = value`.
pub(super) fn attribute<'a>(
    setting: &str,
    structure: &'a Structure,
) -> Result<&'a Expression, ConfigError> {
    match structure {
        Structure::Attribute(attribute) => Ok(attribute.expr()),
        Structure::Block(_) => Err(invalid(
            setting,
            format!(
                "expected an attribute `{}` = ..., not a block",
                key(structure)
            ),
        )),
    }
}

/// The block of a setting that must be written `setting "type" { ... }`.
pub(super) fn block<'a>(setting: &str, structure: &'a Structure) -> Result<&'a Block, ConfigError> {
    match structure {
        Structure::Block(block) => Ok(block),
        Structure::Attribute(_) => Err(invalid(
            setting,
            format!("expected a block {setting} \"<type>\" {{ ... }}, not an attribute"),
        )),
    }
}

/// The single label naming a typed block's kind, as in `storage "embedded" { ... }`.
pub(super) fn block_type<'a>(setting: &str, block: &'a Block) -> Result<&'a str, ConfigError> {
    match block.labels() {
        [label] => Ok(label.as_str()),
        labels => Err(invalid(
            setting,
            format!(
                "expected exactly one label naming the {setting} type, as in {setting} \"<type>\" {{ ... }}, got {}",
                labels.len()
            ),
        )),
    }
}

pub(super) fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

fn evaluate(setting: &str, expr: &Expression) -> Result<Value, ConfigError> {
    expr.evaluate(&Context::new())
        .map_err(|err| invalid(setting, err.to_string()))
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(super) fn string(setting: &str, expr: &Expression) -> Result<String, ConfigError> {
    match evaluate(setting, expr)? {
        Value::String(text) => Ok(text),
        other => Err(invalid(
            setting,
            format!("expected a string, got {}", describe(&other)),
        )),
    }
}

/// A path setting; an empty string is refused rather than read as the current directory.
pub(super) fn path(setting: &str, expr: &Expression) -> Result<PathBuf, ConfigError> {
    let text = string(setting, expr)?;
    if text.is_empty() {
        return Err(invalid(setting, "the path must not be empty"));
    }
    Ok(PathBuf::from(text))
}

/// Booleans as Go's `strconv.ParseBool` spells them, plus the numbers 0 and 1.
pub(super) fn boolean(setting: &str, expr: &Expression) -> Result<bool, ConfigError> {
    let value = evaluate(setting, expr)?;
    let parsed = match &value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
            _ => None,
        },
        Value::Number(number) => match number.as_u64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| invalid(setting, format!("expected true or false, got {value}")))
}

/// A size in bytes, which must be positive.
///
/// OpenBao reads 0 as "the default" and a negative size as "no limit"; coffer refuses both so
/// that a typo can never switch the request size limit off.
pub(super) fn size(setting: &str, expr: &Expression) -> Result<u64, ConfigError> {
    let value = evaluate(setting, expr)?;
    let bytes: Option<i128> = match &value {
        Value::Number(number) => number
            .as_u64()
            .map(i128::from)
            .or_else(|| number.as_i64().map(i128::from)),
        Value::String(text) => text.parse().ok(),
        _ => None,
    };
    let bytes = bytes.ok_or_else(|| {
        invalid(
            setting,
            format!("expected a whole number of bytes, got {value}"),
        )
    })?;
    if bytes <= 0 {
        return Err(invalid(
            setting,
            format!("must be a positive number of bytes, got {bytes} (OpenBao's 0 = default and negative = unlimited are not supported)"),
        ));
    }
    u64::try_from(bytes).map_err(|_| invalid(setting, format!("{bytes} bytes is too large")))
}

/// A duration as whole seconds or a Go-style string. Zero (or "") is `None`: OpenBao reads a
/// zero TTL as "use the default".
pub(super) fn duration(setting: &str, expr: &Expression) -> Result<Option<Duration>, ConfigError> {
    let value = evaluate(setting, expr)?;
    let parsed = match &value {
        Value::Number(number) => number.as_u64().map(Duration::from_secs).ok_or_else(|| {
            format!("expected a whole, non-negative number of seconds or a string like \"768h\", got {value}")
        }),
        Value::String(text) => duration::parse(text),
        other => Err(format!(
            "expected seconds or a string like \"768h\", got {}",
            describe(other)
        )),
    };
    let parsed = parsed.map_err(|reason| invalid(setting, reason))?;
    Ok(Some(parsed).filter(|duration| !duration.is_zero()))
}

/// A plugin-style option (audit device options): strings, numbers and booleans are all kept as
/// their text, as OpenBao passes such options to the device as a string map.
pub(super) fn option_text(setting: &str, expr: &Expression) -> Result<String, ConfigError> {
    match evaluate(setting, expr)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(invalid(
            setting,
            format!(
                "expected a string, number or boolean, got {}",
                describe(&other)
            ),
        )),
    }
}
