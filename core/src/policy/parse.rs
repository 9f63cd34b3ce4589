//! Parsing ACL policy text (HCL, or its JSON form) into [`Policy`] path rules.
//!
//! Input is hostile: every malformed policy is a [`PolicyError`] carrying OpenBao's wording
//! (`failed to parse policy: ...`), with the line for HCL syntax errors; nothing here panics.
//! Both syntaxes are first lowered to one shape (a path pattern and a JSON object of its
//! settings), so the rules about capabilities and parameters are written once.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::capability::{Capability, CapabilitySet};
use crate::config::duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse policy: {0}")]
pub struct PolicyError(String);

fn fail<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

/// How a rule's pattern matches a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// The path exactly.
    Exact,
    /// Any path starting with the pattern (written with a trailing `*`, stored without it).
    Prefix,
    /// The pattern has `+` segments (and maybe a trailing `*`, kept in the pattern).
    Segments,
}

/// Parameter constraints: parameter name (lower case) to the values allowed or denied; an
/// empty list means any value.
pub type ParameterRules = BTreeMap<String, Vec<Value>>;

/// What one rule grants beyond its capabilities.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub capabilities: CapabilitySet,
    pub allowed_parameters: Option<ParameterRules>,
    pub denied_parameters: Option<ParameterRules>,
    pub required_parameters: Vec<String>,
    pub min_wrapping_ttl: u64,
    pub max_wrapping_ttl: u64,
}

/// One `path "..." { }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRule {
    pub pattern: String,
    pub kind: PathKind,
    pub permissions: Permissions,
}

/// A parsed ACL policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub raw: String,
    pub paths: Vec<PathRule>,
}

impl Policy {
    /// Parses `raw` as HCL, or as JSON when it is a JSON object.
    pub fn parse(name: &str, raw: &str) -> Result<Policy, PolicyError> {
        let blocks = if raw.trim_start().starts_with('{') {
            lower_json(raw)?
        } else {
            lower_hcl(raw)?
        };
        let mut paths = Vec::with_capacity(blocks.len());
        for (pattern, settings) in blocks {
            paths.push(path_rule(raw, &pattern, &settings)?);
        }
        Ok(Policy {
            name: name.to_string(),
            raw: raw.to_string(),
            paths,
        })
    }
}

/// One `path` block lowered from either syntax: the pattern as written and its settings.
type Block = (String, Map<String, Value>);

const PATH_KEYS: [&str; 13] = [
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
];

fn lower_hcl(raw: &str) -> Result<Vec<Block>, PolicyError> {
    let body = hcl::parse(raw).or_else(|e| fail(hcl_error(&e)))?;
    let mut out = Vec::new();
    for structure in body.into_iter() {
        match structure {
            hcl::Structure::Attribute(attr) if attr.key() == "name" => {}
            hcl::Structure::Attribute(attr) => return fail(invalid_key(raw, attr.key())),
            hcl::Structure::Block(block) if block.identifier() == "path" => {
                let [label] = block.labels() else {
                    return fail("a path block needs exactly one label, the path");
                };
                let pattern = label.as_str().to_string();
                let mut settings = Map::new();
                for inner in block.body().clone().into_iter() {
                    match inner {
                        hcl::Structure::Attribute(attr) => {
                            let value = hcl::Value::from(attr.expr().clone());
                            settings.insert(attr.key().to_string(), hcl_to_json(value));
                        }
                        hcl::Structure::Block(nested) => {
                            let value: hcl::Value = hcl::from_body(nested.body().clone())
                                .or_else(|e| fail(hcl_error(&e)))?;
                            settings.insert(nested.identifier().to_string(), hcl_to_json(value));
                        }
                    }
                }
                out.push((pattern, settings));
            }
            hcl::Structure::Block(block) => return fail(invalid_key(raw, block.identifier())),
        }
    }
    Ok(out)
}

/// OpenBao's wording (a one-error multierror), with the line where the key first appears.
fn invalid_key(raw: &str, key: &str) -> String {
    let line = raw
        .lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches('"');
            l.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with([' ', '=', '"', '{', '\t']))
        })
        .map_or(1, |i| i + 1);
    format!("1 error occurred:\n\t* invalid key {key:?} on line {line}\n\n")
}

/// OpenBao's `At line:col: reason` for syntax errors; other hcl-rs errors as they print.
fn hcl_error(e: &hcl::Error) -> String {
    match e {
        hcl::Error::Parse(p) => format!(
            "At {}:{}: {}",
            p.location().line(),
            p.location().column(),
            p.message()
        ),
        other => other.to_string(),
    }
}

fn hcl_to_json(value: hcl::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `{"path": {"<pattern>": {...}}}`; also accepts a list of such objects under `path`, as
/// HCL's JSON form allows.
fn lower_json(raw: &str) -> Result<Vec<Block>, PolicyError> {
    let value: Value = serde_json::from_str(raw).or_else(|e| fail(e.to_string()))?;
    let Value::Object(top) = value else {
        return fail("does not contain a root object");
    };
    let mut out = Vec::new();
    for (key, value) in top {
        match key.as_str() {
            "name" => {}
            "path" => {
                let groups = match value {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                for group in groups {
                    let Value::Object(paths) = group else {
                        return fail("path must be an object of paths");
                    };
                    for (pattern, settings) in paths {
                        let Value::Object(settings) = settings else {
                            return fail(format!("path {pattern:?}: must be an object"));
                        };
                        out.push((pattern, settings));
                    }
                }
            }
            other => return fail(invalid_key(raw, other)),
        }
    }
    Ok(out)
}

fn path_rule(
    raw: &str,
    written: &str,
    settings: &Map<String, Value>,
) -> Result<PathRule, PolicyError> {
    for key in settings.keys() {
        if !PATH_KEYS.contains(&key.as_str()) {
            return fail(format!("path {written:?}: {}", invalid_key(raw, key)));
        }
    }
    let mut pattern = written.strip_prefix('/').unwrap_or(written).to_string();
    if pattern.contains("+*") {
        return fail(format!(
            "path {pattern:?}: invalid use of wildcards ('+*' is forbidden)"
        ));
    }
    let has_segments = pattern == "+" || pattern.contains("/+") || pattern.starts_with("+/");
    let kind = if has_segments {
        PathKind::Segments
    } else if let Some(stripped) = pattern.strip_suffix('*') {
        pattern = stripped.to_string();
        PathKind::Prefix
    } else {
        PathKind::Exact
    };

    let mut names: Vec<String> = Vec::new();
    if let Some(old) = settings.get("policy") {
        let expanded: &[&str] = match old.as_str() {
            Some("deny") => &["deny"],
            Some("read") => &["read", "list"],
            Some("write") => &["create", "read", "update", "delete", "list"],
            Some("sudo") => &["create", "read", "update", "delete", "list", "sudo"],
            _ => return fail(format!("path {written:?}: invalid policy {old}")),
        };
        names.extend(expanded.iter().map(|s| s.to_string()));
    }
    match settings.get("capabilities") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(s) => names.push(s.to_string()),
                    None => return fail(format!("path {written:?}: capabilities must be strings")),
                }
            }
        }
        Some(_) => return fail(format!("path {written:?}: capabilities must be a list")),
    }
    let mut capabilities = CapabilitySet::default();
    for name in &names {
        let Some(cap) = Capability::parse(name) else {
            return fail(format!(
                "path {written:?}: path {written:?}: invalid capability {name:?}"
            ));
        };
        capabilities = capabilities.with(cap);
    }

    let min_wrapping_ttl = wrapping_ttl(settings.get("min_wrapping_ttl"), "min_wrapping_ttl")?;
    let max_wrapping_ttl = wrapping_ttl(settings.get("max_wrapping_ttl"), "max_wrapping_ttl")?;
    if min_wrapping_ttl != 0 && max_wrapping_ttl != 0 && max_wrapping_ttl < min_wrapping_ttl {
        return fail("max_wrapping_ttl cannot be less than min_wrapping_ttl");
    }
    let required_parameters = match settings.get("required_parameters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                PolicyError(format!(
                    "path {written:?}: required_parameters must be strings"
                ))
            })?,
        Some(_) => {
            return fail(format!(
                "path {written:?}: required_parameters must be a list"
            ))
        }
    };
    let denying = capabilities.is_deny();
    Ok(PathRule {
        pattern,
        kind,
        permissions: Permissions {
            capabilities,
            allowed_parameters: parameter_rules(written, settings.get("allowed_parameters"))?
                .filter(|_| !denying),
            denied_parameters: parameter_rules(written, settings.get("denied_parameters"))?
                .filter(|_| !denying),
            required_parameters,
            min_wrapping_ttl,
            max_wrapping_ttl,
        },
    })
}

fn wrapping_ttl(value: Option<&Value>, what: &str) -> Result<u64, PolicyError> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| PolicyError(format!("error parsing {what}: not a duration"))),
        Some(Value::String(s)) => duration::parse(s)
            .map(|d| d.as_secs())
            .map_err(|e| PolicyError(format!("error parsing {what}: {e}"))),
        Some(_) => fail(format!("error parsing {what}: not a duration")),
    }
}

/// `{ "name" = [values] }`; HCL's repeated-block form may give a list of such objects.
fn parameter_rules(
    written: &str,
    value: Option<&Value>,
) -> Result<Option<ParameterRules>, PolicyError> {
    let objects: Vec<&Map<String, Value>> = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => vec![o],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(_) => {
            return fail(format!(
                "path {written:?}: parameters must be an object of lists"
            ))
        }
    };
    let mut rules = ParameterRules::new();
    for object in objects {
        for (name, values) in object {
            let values = match values {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                other => vec![other.clone()],
            };
            rules.entry(name.to_lowercase()).or_default().extend(values);
        }
    }
    Ok(Some(rules))
}
