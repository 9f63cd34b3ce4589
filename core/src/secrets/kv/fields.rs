//! Request field parsing shared by both KV versions, with OpenBao's leniency: numbers may come
//! as JSON numbers or strings, durations as seconds or Go duration strings.

use serde_json::Value;

use crate::config::duration;
use crate::http::error::ApiError;

fn field_error(name: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "Field validation failed: error converting input for field \"{name}\": {detail}"
    ))
}

/// An integer field (JSON number or numeric string); `None` when absent or empty.
pub(crate) fn int(value: Option<&Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| field_error(name, format!("cannot parse {s:?} as 'int'"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| field_error(name, format!("cannot parse {n} as 'int'"))),
        Some(other) => Err(field_error(name, format!("cannot parse {other} as 'int'"))),
    }
}

/// A boolean field (JSON bool or "true"/"false"/"1"/"0").
pub(crate) fn boolean(value: Option<&Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.as_str() {
            "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(Some(true)),
            "false" | "0" | "f" | "F" | "FALSE" | "False" | "" => Ok(Some(false)),
            _ => Err(field_error(name, format!("cannot parse {s:?} as 'bool'"))),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
        Some(other) => Err(field_error(name, format!("cannot parse {other} as 'bool'"))),
    }
}

/// A duration in whole seconds: a number of seconds or a Go duration string ("1h30m").
/// A leading `-` is allowed (KV's `delete_version_after` uses negative values to disable).
pub(crate) fn seconds(value: Option<&Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(_)) => int(value, name),
        Some(Value::String(s)) => {
            let (negative, text) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            let secs = duration::parse(text)
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "error converting input for field \"{name}\": time: invalid duration {s:?}"
                    ))
                })?
                .as_secs();
            let secs = i64::try_from(secs).unwrap_or(i64::MAX);
            Ok(Some(if negative { -secs } else { secs }))
        }
        Some(other) => Err(field_error(
            name,
            format!("cannot parse {other} as a duration"),
        )),
    }
}

/// Seconds as Go prints a `time.Duration` of whole seconds: "0s", "45s", "1m30s", "1h0m0s".
pub(crate) fn go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(45), "45s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(go_duration(-7260), "-2h1m0s");
    }

    #[test]
    fn durations_parse_from_numbers_and_strings() {
        assert_eq!(seconds(Some(&json!(30)), "d").unwrap(), Some(30));
        assert_eq!(seconds(Some(&json!("1h30m")), "d").unwrap(), Some(5400));
        assert_eq!(seconds(Some(&json!("-1s")), "d").unwrap(), Some(-1));
        assert_eq!(seconds(Some(&json!("120")), "d").unwrap(), Some(120));
        assert!(seconds(Some(&json!("bogus")), "d").is_err());
    }

    #[test]
    fn integers_accept_strings_and_reject_garbage() {
        assert_eq!(int(Some(&json!("7")), "v").unwrap(), Some(7));
        assert_eq!(int(Some(&json!(7)), "v").unwrap(), Some(7));
        assert_eq!(int(Some(&json!("")), "v").unwrap(), None);
        assert!(int(Some(&json!("abc")), "v").is_err());
        assert!(int(Some(&json!([1])), "v").is_err());
    }
}
