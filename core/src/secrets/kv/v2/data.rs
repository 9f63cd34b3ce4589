//! `data/<key>`: read a version, write a new one (with check-and-set), merge-patch the latest,
//! and soft-delete the latest.

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::record::{load, load_config, load_or_new, save, version_path, Record};
use super::{requested_cas, requested_data, requested_version};
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::secrets::View;
use crate::storage::Condition;

/// The data of version `n` of a loaded record, or `None` if it no longer exists.
pub(super) async fn version_data(
    view: &View<'_>,
    record: &Record,
    key: &str,
    n: u64,
) -> Result<Option<Map<String, Value>>, ApiError> {
    if n == record.current_version {
        return Ok(record.latest.clone());
    }
    match view.get(&version_path(key, n)).await? {
        Some(plain) => Ok(serde_json::from_slice(&plain.value).ok()),
        None => Ok(None),
    }
}

/// 404 carrying `data`: how OpenBao answers for a deleted or destroyed version.
pub(super) fn not_found_with(data: Value) -> Response {
    let mut resp = Response::data(data);
    resp.status = Some(404);
    resp
}

pub(super) async fn read(view: &View<'_>, req: &Request, key: &str) -> Result<Response, ApiError> {
    let wanted = requested_version(req)?;
    let Some((record, _)) = load(view, key).await? else {
        return Err(ApiError::NotFound);
    };
    let n = wanted.unwrap_or(record.current_version);
    let Some(meta) = record.versions.get(&n) else {
        return Err(ApiError::NotFound);
    };
    let metadata = meta.to_json(n, &record.custom_metadata);
    if !meta.is_readable() {
        return Ok(not_found_with(
            json!({ "data": null, "metadata": metadata }),
        ));
    }
    let data = version_data(view, &record, key, n).await?;
    Ok(Response::data(
        json!({ "data": data, "metadata": metadata }),
    ))
}

pub(super) async fn write(view: &View<'_>, req: &Request, key: &str) -> Result<Response, ApiError> {
    let data = requested_data(req)?.clone();
    let cas = requested_cas(req)?;
    let config = load_config(view).await?;
    loop {
        let mut loaded = load_or_new(view, key).await?;
        loaded.record.check_cas(cas, &config)?;
        let (ops, n) = loaded
            .record
            .push_version(key, data.clone(), &config, Utc::now());
        if save(view, key, &loaded.record, loaded.condition, ops).await? {
            let meta = &loaded.record.versions[&n];
            return Ok(Response::data(
                meta.to_json(n, &loaded.record.custom_metadata),
            ));
        }
        // Another writer got there first. With cas the client named the version it saw, so
        // the next round reports the mismatch; without, this write goes on top of theirs.
    }
}

/// RFC 7386 JSON merge patch: `null` removes a key, objects merge recursively, anything else
/// replaces.
fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => {
                let entry = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                if let Value::Object(t) = entry {
                    merge_patch(t, p);
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

pub(super) async fn patch(view: &View<'_>, req: &Request, key: &str) -> Result<Response, ApiError> {
    let patch = requested_data(req)?.clone();
    let cas = requested_cas(req)?;
    let config = load_config(view).await?;
    loop {
        let Some((mut record, version)) = load(view, key).await? else {
            return Err(ApiError::NotFound);
        };
        let n = record.current_version;
        let Some(meta) = record.versions.get(&n) else {
            return Err(ApiError::NotFound);
        };
        if !meta.is_readable() {
            return Ok(not_found_with(meta.to_json(n, &record.custom_metadata)));
        }
        record.check_cas(cas, &config)?;
        let mut data = record.latest.clone().unwrap_or_default();
        merge_patch(&mut data, &patch);
        let (ops, n) = record.push_version(key, data, &config, Utc::now());
        if save(view, key, &record, Condition::Version(version), ops).await? {
            let meta = &record.versions[&n];
            return Ok(Response::data(meta.to_json(n, &record.custom_metadata)));
        }
    }
}

pub(super) async fn delete_latest(view: &View<'_>, key: &str) -> Result<Response, ApiError> {
    loop {
        let Some((mut record, version)) = load(view, key).await? else {
            return Ok(Response::empty());
        };
        let n = record.current_version;
        let Some(meta) = record.versions.get_mut(&n) else {
            return Ok(Response::empty());
        };
        if meta.is_deleted() || meta.destroyed {
            return Ok(Response::empty());
        }
        meta.deletion_time = Some(Utc::now());
        if save(view, key, &record, Condition::Version(version), vec![]).await? {
            return Ok(Response::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "1", "b": {"c": "d", "e": "f"}, "g": "h"})
            .as_object()
            .unwrap()
            .clone();
        let patch = json!({"a": null, "b": {"c": "x"}, "g": {"i": 1}, "n": [1]});
        merge_patch(&mut target, patch.as_object().unwrap());
        assert_eq!(
            Value::Object(target),
            json!({"b": {"c": "x", "e": "f"}, "g": {"i": 1}, "n": [1]})
        );
    }
}
