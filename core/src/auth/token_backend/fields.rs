//! Reading the request fields of `auth/token/*` the way OpenBao's framework does: durations as
//! seconds or Go duration strings, lists as JSON arrays or comma-separated strings, booleans
//! and integers also as strings. A malformed field is a 400, never a panic.

use serde_json::{Map, Value};

use crate::config::duration;
use crate::http::error::ApiError;

pub fn string(data: &Map<String, Value>, name: &str) -> Option<String> {
    match data.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn bool_field(data: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.as_str() {
            "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(Some(true)),
            "false" | "0" | "f" | "F" | "FALSE" | "False" | "" => Ok(Some(false)),
            _ => Err(ApiError::bad_request(format!(
                "error converting input {s} for field {name:?}"
            ))),
        },
        Some(other) => Err(ApiError::bad_request(format!(
            "error converting input {other} for field {name:?}"
        ))),
    }
}

pub fn int(data: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("error converting input {n} for field {name:?}"))
        }),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!("error converting input {s} for field {name:?}"))
        }),
        Some(other) => Err(ApiError::bad_request(format!(
            "error converting input {other} for field {name:?}"
        ))),
    }
}

/// Seconds; `None` when absent or empty.
pub fn duration_secs(data: &Map<String, Value>, name: &str) -> Result<Option<u64>, ApiError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("error converting input {n} for field {name:?}"))
        }),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => duration::parse(s)
            .map(|d| Some(d.as_secs()))
            .map_err(|_| ApiError::bad_request(format!("time: invalid duration {s:?}"))),
        Some(other) => Err(ApiError::bad_request(format!(
            "error converting input {other} for field {name:?}"
        ))),
    }
}

/// A list of strings, from an array or a comma-separated string; trimmed, empties dropped.
pub fn string_list(data: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    let items: Vec<String> = match data.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.split(',').map(str::to_string).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(ApiError::bad_request(format!(
                    "error converting input {other} for field {name:?}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "error converting input {other} for field {name:?}"
            )))
        }
    };
    Ok(Some(
        items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    ))
}

/// A map of strings to strings (`meta`).
pub fn string_map(
    data: &Map<String, Value>,
    name: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let mut out = Map::new();
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.insert(k.clone(), Value::String(v));
            }
            Ok(Some(out))
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "error converting input {other} for field {name:?}"
        ))),
    }
}

/// A duration as OpenBao's warnings print it: Go's format without zero trailing units.
pub fn human_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 || (h > 0 && s > 0) {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}
