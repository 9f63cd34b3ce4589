//! `metadata/<key>`: read, write and patch the key-level settings and custom metadata, delete
//! a key with every version, and LIST the keys of a folder.

use chrono::Utc;
use serde_json::{Map, Value};

use super::record::{load, load_or_new, record_path, save, version_path, Record};
use crate::barrier::PlainOp;
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::secrets::kv::fields;
use crate::secrets::View;
use crate::storage::Condition;

/// OpenBao's limits on `custom_metadata`.
const MAX_CUSTOM_KEYS: usize = 64;
const MAX_CUSTOM_KEY_LEN: usize = 128;
const MAX_CUSTOM_VALUE_LEN: usize = 512;

pub(super) async fn read(view: &View<'_>, key: &str) -> Result<Response, ApiError> {
    let Some((record, _)) = load(view, key).await? else {
        return Err(ApiError::NotFound);
    };
    Ok(Response::data(record.metadata_json()))
}

/// `custom_metadata` as a map of strings (numbers and booleans become their text, as the
/// `TypeKVPairs` field of OpenBao does); `Some(None)` when sent as null.
fn custom_metadata(
    req: &Request,
    allow_null_values: bool,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let Some(raw) = req.data.get("custom_metadata") else {
        return Ok(None);
    };
    let raw =
        match raw {
            Value::Null => return Ok(Some(Map::new())),
            Value::Object(m) => m,
            _ => return Err(ApiError::bad_request(
                "Field validation failed: error converting input for field \"custom_metadata\": \
                 expected a map of strings",
            )),
        };
    let mut out = Map::new();
    for (k, v) in raw {
        let text = match v {
            Value::String(s) => Value::String(s.clone()),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            Value::Null if allow_null_values => Value::Null,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "custom_metadata validation failed: value of key {k:?} is not a string"
                )))
            }
        };
        out.insert(k.clone(), text);
    }
    Ok(Some(out))
}

fn validate_custom(custom: &Map<String, Value>) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    if custom.len() > MAX_CUSTOM_KEYS {
        problems.push(format!(
            "payload must contain at most {MAX_CUSTOM_KEYS} keys, provided {}",
            custom.len()
        ));
    }
    for (k, v) in custom {
        if k.len() > MAX_CUSTOM_KEY_LEN {
            problems.push(format!(
                "length of key {k:?} is {}, which exceeds {MAX_CUSTOM_KEY_LEN}",
                k.len()
            ));
        }
        let len = v.as_str().map_or(0, str::len);
        if len > MAX_CUSTOM_VALUE_LEN {
            problems.push(format!(
                "length of value for key {k:?} is {len}, which exceeds {MAX_CUSTOM_VALUE_LEN}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "custom_metadata validation failed: {}",
            problems.join("; ")
        )))
    }
}

/// The settings a metadata write or patch may change.
struct Settings {
    max_versions: Option<u64>,
    cas_required: Option<bool>,
    delete_version_after: Option<i64>,
}

fn settings(req: &Request) -> Result<Settings, ApiError> {
    Ok(Settings {
        max_versions: fields::int(req.data.get("max_versions"), "max_versions")?
            .map(|n| u64::try_from(n).unwrap_or(0)),
        cas_required: fields::boolean(req.data.get("cas_required"), "cas_required")?,
        delete_version_after: fields::seconds(
            req.data.get("delete_version_after"),
            "delete_version_after",
        )?,
    })
}

impl Settings {
    fn apply(&self, record: &mut Record) {
        if let Some(v) = self.max_versions {
            record.max_versions = v;
        }
        if let Some(v) = self.cas_required {
            record.cas_required = v;
        }
        if let Some(v) = self.delete_version_after {
            record.delete_version_after = v;
        }
    }
}

pub(super) async fn write(view: &View<'_>, req: &Request, key: &str) -> Result<Response, ApiError> {
    let settings = settings(req)?;
    let custom = custom_metadata(req, false)?;
    if let Some(c) = &custom {
        validate_custom(c)?;
    }
    loop {
        let mut loaded = load_or_new(view, key).await?;
        let record = &mut loaded.record;
        settings.apply(record);
        if let Some(c) = &custom {
            record.custom_metadata = Some(c.clone());
        }
        record.current_metadata_version += 1;
        record.updated_time = Utc::now();
        if save(view, key, record, loaded.condition, vec![]).await? {
            return Ok(Response::empty());
        }
    }
}

/// PATCH: like a write, but `custom_metadata` is merged (a null value removes that key) and
/// the key must exist.
pub(super) async fn patch(view: &View<'_>, req: &Request, key: &str) -> Result<Response, ApiError> {
    let settings = settings(req)?;
    let custom = custom_metadata(req, true)?;
    loop {
        let Some((mut record, version)) = load(view, key).await? else {
            return Err(ApiError::NotFound);
        };
        settings.apply(&mut record);
        if let Some(patch) = &custom {
            let mut merged = record.custom_metadata.clone().unwrap_or_default();
            for (k, v) in patch {
                if v.is_null() {
                    merged.remove(k);
                } else {
                    merged.insert(k.clone(), v.clone());
                }
            }
            validate_custom(&merged)?;
            record.custom_metadata = Some(merged);
        }
        record.current_metadata_version += 1;
        record.updated_time = Utc::now();
        if save(view, key, &record, Condition::Version(version), vec![]).await? {
            return Ok(Response::empty());
        }
    }
}

/// Deletes the key with all its versions. The record goes first, in the same batch as the
/// version data when that fits one transaction, so no reader ever sees a record whose data is
/// half gone.
pub(super) async fn delete(view: &View<'_>, key: &str) -> Result<Response, ApiError> {
    let Some((record, _)) = load(view, key).await? else {
        return Ok(Response::empty());
    };
    let mut ops = vec![PlainOp::delete(record_path(key))];
    ops.extend(
        record
            .versions
            .keys()
            .filter(|n| **n != record.current_version)
            .map(|n| PlainOp::delete(version_path(key, *n))),
    );
    // DynamoDB transactions take at most 100 items.
    while !ops.is_empty() {
        let rest = ops.split_off(ops.len().min(100));
        view.write(std::mem::replace(&mut ops, rest)).await?;
    }
    Ok(Response::empty())
}

pub(super) async fn list(view: &View<'_>, folder: &str) -> Result<Response, ApiError> {
    let folder = if folder.is_empty() || folder.ends_with('/') {
        folder.to_string()
    } else {
        format!("{folder}/")
    };
    let keys = view.list(&format!("data/{folder}")).await?;
    if keys.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Response::list(keys))
}
