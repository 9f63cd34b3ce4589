//! KV version 2: versioned secrets, with OpenBao's paths, JSON shapes and status codes.
//!
//! Layout in the mount's view, chosen for the round-trip budget:
//! - `data/<key>`: one record ([`record::Record`]) with the key's metadata, every version's
//!   metadata and the data of the newest version. Reading the latest version is one read;
//!   writing a new version is one read plus one atomic conditional write.
//! - `versions/<key>/<n>`: the data of older versions, moved there when a newer one arrives,
//!   so the record stays small however large old versions are.
//! - `config`: the mount-wide settings (`max_versions`, `cas_required`, ...).
//!
//! Every path handler reads through the [`View`]; [`prefetch_paths`] names what each one reads
//! first so the store can fetch it with the token in a single round trip. LIST of
//! `metadata/<folder>` lists `data/<folder>` directly. Concurrent writers are ordered by a
//! conditional write on the record's storage version, never by a process-local lock.

mod config;
mod data;
mod metadata;
mod record;
mod subkeys;
mod versions;

use serde_json::Value;

use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::secrets::View;

use super::fields;
use record::{record_path, version_path, CONFIG_PATH};

/// The sections of a KV v2 mount's path space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Data,
    Metadata,
    Delete,
    Undelete,
    Destroy,
    Subkeys,
    Config,
}

/// Splits a mount-relative path into its section and key (`data/app/db` → Data, `app/db`).
fn split(rel: &str) -> Option<(Section, &str)> {
    if rel.trim_end_matches('/') == "config" {
        return Some((Section::Config, ""));
    }
    let (section, key) = rel.split_once('/').unwrap_or((rel, ""));
    let section = match section {
        "data" => Section::Data,
        "metadata" => Section::Metadata,
        "delete" => Section::Delete,
        "undelete" => Section::Undelete,
        "destroy" => Section::Destroy,
        "subkeys" => Section::Subkeys,
        _ => return None,
    };
    Some((section, key))
}

/// What each handler reads first. A version other than the latest also names that version's
/// data, so reading an old version is one round trip too.
pub fn prefetch_paths(req: &Request, rel: &str) -> Vec<String> {
    let Some((section, key)) = split(rel) else {
        return Vec::new();
    };
    if section == Section::Config {
        return vec![CONFIG_PATH.into()];
    }
    if key.is_empty() || req.operation == Operation::List {
        return Vec::new();
    }
    let mut paths = vec![record_path(key)];
    match (section, req.operation) {
        (Section::Data | Section::Subkeys, Operation::Read) => {
            if let Ok(Some(n)) = requested_version(req) {
                paths.push(version_path(key, n));
            }
        }
        (Section::Data, Operation::Update | Operation::Patch) => paths.push(CONFIG_PATH.into()),
        _ => {}
    }
    paths
}

/// Handles a request whose path is relative to the mount (e.g. `data/app/db`).
/// The record whose presence makes a write to `rel` an update rather than a create (OpenBao's
/// existence check on `data/` and `metadata/`); `None` for paths without one, where a write is
/// always an update.
pub fn existence_key(rel: &str) -> Option<String> {
    let key = rel
        .strip_prefix("data/")
        .or_else(|| rel.strip_prefix("metadata/"))?;
    Some(record::record_path(key))
}

pub async fn handle(view: &View<'_>, req: &Request, rel: &str) -> Result<Response, ApiError> {
    let Some((section, key)) = split(rel) else {
        return Ok(invalid_path());
    };
    use Operation::*;
    match (section, req.operation) {
        (Section::Config, Read) => config::read(view).await,
        (Section::Config, Update) => config::write(view, req).await,
        (Section::Metadata, List) => metadata::list(view, key).await,
        (Section::Data, List) => Err(ApiError::UnsupportedOperation),
        (_, _) if key.is_empty() || key.ends_with('/') => Err(ApiError::NotFound),
        (Section::Data, Read) => data::read(view, req, key).await,
        (Section::Data, Update) => data::write(view, req, key).await,
        (Section::Data, Patch) => data::patch(view, req, key).await,
        (Section::Data, Delete) => data::delete_latest(view, key).await,
        (Section::Metadata, Read) => metadata::read(view, key).await,
        (Section::Metadata, Update) => metadata::write(view, req, key).await,
        (Section::Metadata, Patch) => metadata::patch(view, req, key).await,
        (Section::Metadata, Delete) => metadata::delete(view, key).await,
        (Section::Delete, Update) => versions::soft_delete(view, req, key).await,
        (Section::Undelete, Update) => versions::undelete(view, req, key).await,
        (Section::Destroy, Update) => versions::destroy(view, req, key).await,
        (Section::Subkeys, Read) => subkeys::read(view, req, key).await,
        _ => Err(ApiError::UnsupportedOperation),
    }
}

/// OpenBao's answer to a path outside the KV v2 layout (often a v1-style path).
fn invalid_path() -> Response {
    let mut resp = Response::empty();
    resp.warnings.push(
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate \
         API endpoints to use. If using the OpenBao CLI, use 'bao kv get' for this operation."
            .into(),
    );
    resp.status = Some(404);
    resp
}

/// `?version=N`: `None` for the latest (absent, empty, zero or negative, as OpenBao).
fn requested_version(req: &Request) -> Result<Option<u64>, ApiError> {
    Ok(fields::int(req.data.get("version"), "version")?
        .filter(|n| *n > 0)
        .map(|n| n as u64))
}

/// `options.cas` of a data write or patch.
fn requested_cas(req: &Request) -> Result<Option<u64>, ApiError> {
    match req.data.get("options") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(options)) => {
            Ok(fields::int(options.get("cas"), "cas")?
                .map(|n| u64::try_from(n).unwrap_or(u64::MAX)))
        }
        Some(_) => Err(ApiError::bad_request(
            "Field validation failed: error converting input for field \"options\": \
             expected a map",
        )),
    }
}

/// The `data` object of a write or patch.
fn requested_data(req: &Request) -> Result<&serde_json::Map<String, Value>, ApiError> {
    match req.data.get("data") {
        Some(Value::Object(m)) => Ok(m),
        None | Some(Value::Null) => Err(ApiError::bad_request("no data provided")),
        Some(_) => Err(ApiError::bad_request(
            "Field validation failed: error converting input for field \"data\": '' expected \
             type 'map[string]interface {}', got unconvertible type",
        )),
    }
}

/// The `versions` of delete/undelete/destroy: a list of numbers or numeric strings, or one
/// comma-separated string.
fn requested_versions(req: &Request) -> Result<Vec<u64>, ApiError> {
    let raw: Vec<Value> = match req.data.get("versions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| Value::String(p.trim().to_string()))
            .collect(),
        Some(n @ Value::Number(_)) => vec![n.clone()],
        Some(_) => {
            return Err(ApiError::bad_request(
                "Field validation failed: error converting input for field \"versions\"",
            ))
        }
    };
    let mut out = Vec::with_capacity(raw.len());
    for item in &raw {
        if let Some(n) = fields::int(Some(item), "versions")? {
            out.push(u64::try_from(n).unwrap_or(0));
        }
    }
    if out.is_empty() {
        return Err(ApiError::bad_request("No version number provided"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
