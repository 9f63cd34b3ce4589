//! Comparing the two flavors' answers by shape: which keys exist and what JSON type each value
//! has, never the values themselves (ids, versions, timestamps differ by nature).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Both;

/// A scenario's answers, each labelled by the step that produced it, for comparing flavors.
pub type Answers = Vec<(&'static str, Value)>;

/// The keys of a JSON object (empty for anything else).
pub fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The JSON type of a value: "null", "bool", "number", "string", "array" or "object".
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every place where `coffer` differs in shape from `openbao`: a key missing or extra, or a
/// value of another JSON type. Arrays are compared by their first elements.
pub fn shape_differences(openbao: &Value, coffer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff("$", openbao, coffer, &mut out);
    out
}

/// Panics with the list of differences unless the shapes are the same.
#[track_caller]
pub fn assert_same_shape(what: &str, openbao: &Value, coffer: &Value) {
    let differences = shape_differences(openbao, coffer);
    assert!(
        differences.is_empty(),
        "{what}: coffer's shape differs from OpenBao's:\n  {}\nopenbao: {openbao}\ncoffer:  {coffer}",
        differences.join("\n  ")
    );
}

/// Compares every labelled answer of OpenBao with coffer's answer of the same label, and panics
/// with all differences of all answers at once.
#[track_caller]
pub fn assert_same_shapes(both: &Both<Answers>) {
    let mut report = Vec::new();
    for (label, openbao) in &both.openbao {
        match both.coffer.iter().find(|(l, _)| l == label) {
            Some((_, coffer)) => {
                let differences = shape_differences(openbao, coffer);
                if !differences.is_empty() {
                    report.push(format!(
                        "{label}:\n  {}\n  openbao: {openbao}\n  coffer:  {coffer}",
                        differences.join("\n  ")
                    ));
                }
            }
            None => report.push(format!("{label}: no answer from coffer")),
        }
    }
    assert!(
        report.is_empty(),
        "coffer's answers differ in shape from OpenBao's:\n{}",
        report.join("\n")
    );
}

fn diff(path: &str, openbao: &Value, coffer: &Value, out: &mut Vec<String>) {
    match (openbao, coffer) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => diff(&format!("{path}.{key}"), value, other, out),
                    None => out.push(format!("{path}.{key}: missing in coffer")),
                }
            }
            for key in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{key}: only in coffer"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                diff(&format!("{path}[0]"), x, y, out);
            }
        }
        (a, b) if kind(a) != kind(b) => out.push(format!(
            "{path}: {} in OpenBao, {} in coffer",
            kind(a),
            kind(b)
        )),
        _ => {}
    }
}
