//! KV version 2: versioned secrets.
//!
//! Layout in the mount's view, chosen for the round-trip budget:
//! - `data/<key>`: one record with the key's metadata, every version's metadata and the data of
//!   the newest version. Reading the latest version is one round trip; writing a new version
//!   is one read plus one atomic conditional write.
//! - `versions/<key>/<n>`: the data of older versions, moved there when a newer one arrives.
//!
//! LIST of `metadata/<folder>` lists `data/<folder>` directly.
//!
//! Concurrent writers are ordered by a conditional write on the record's storage version.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::barrier::PlainOp;
use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::secrets::View;
use crate::storage::Condition;

const DEFAULT_MAX_VERSIONS: u64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct VersionMeta {
    created_time: DateTime<Utc>,
    deletion_time: Option<DateTime<Utc>>,
    destroyed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    current_version: u64,
    oldest_version: u64,
    created_time: DateTime<Utc>,
    updated_time: DateTime<Utc>,
    max_versions: u64,
    cas_required: bool,
    custom_metadata: Option<Map<String, Value>>,
    versions: BTreeMap<u64, VersionMeta>,
    /// Data of `current_version`, unless destroyed.
    latest: Option<Map<String, Value>>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

impl VersionMeta {
    fn to_json(&self, version: u64, custom: &Option<Map<String, Value>>) -> Value {
        json!({
            "created_time": rfc3339(self.created_time),
            "custom_metadata": custom,
            "deletion_time": self.deletion_time.map(rfc3339).unwrap_or_default(),
            "destroyed": self.destroyed,
            "version": version,
        })
    }

    fn is_readable(&self) -> bool {
        !self.destroyed && self.deletion_time.is_none_or(|t| t > Utc::now())
    }
}

impl Record {
    fn metadata_json(&self) -> Value {
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    json!({
                        "created_time": rfc3339(v.created_time),
                        "deletion_time": v.deletion_time.map(rfc3339).unwrap_or_default(),
                        "destroyed": v.destroyed,
                    }),
                )
            })
            .collect();
        json!({
            "cas_required": self.cas_required,
            "created_time": rfc3339(self.created_time),
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata,
            "delete_version_after": "0s",
            "max_versions": self.max_versions,
            "oldest_version": self.oldest_version,
            "updated_time": rfc3339(self.updated_time),
            "versions": versions,
        })
    }
}

fn record_path(key: &str) -> String {
    format!("data/{key}")
}

fn version_path(key: &str, n: u64) -> String {
    format!("versions/{key}/{n}")
}

async fn load(view: &View<'_>, key: &str) -> Result<Option<(Record, u64)>, ApiError> {
    match view.get(&record_path(key)).await? {
        Some(plain) => {
            let record = serde_json::from_slice(&plain.value)
                .map_err(|_| ApiError::Internal(format!("corrupt KV record for {key:?}")))?;
            Ok(Some((record, plain.version)))
        }
        None => Ok(None),
    }
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("KV values serialize")
}

/// Handles a request whose path is relative to the mount (e.g. `data/app/db`).
pub async fn handle(view: &View<'_>, req: &Request, rel: &str) -> Result<Response, ApiError> {
    let (section, key) = rel.split_once('/').unwrap_or((rel, ""));
    match (section, req.operation) {
        ("data", Operation::Read) if !key.is_empty() => read(view, req, key).await,
        ("data", Operation::Update) if !key.is_empty() => write(view, req, key).await,
        ("data", Operation::Delete) if !key.is_empty() => delete_latest(view, key).await,
        ("metadata", Operation::Read) if !key.is_empty() && !key.ends_with('/') => {
            read_metadata(view, key).await
        }
        ("metadata", Operation::List) => list(view, key).await,
        ("metadata", Operation::Delete) if !key.is_empty() => delete_metadata(view, key).await,
        ("data" | "metadata", _) => Err(ApiError::UnsupportedOperation),
        _ => Err(ApiError::NoRoute(req.path.clone())),
    }
}

fn parse_version(req: &Request) -> Result<u64, ApiError> {
    match req.data.get("version") {
        None => Ok(0),
        Some(Value::String(s)) if s.is_empty() => Ok(0),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid version {s:?}"))),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| ApiError::bad_request("invalid version")),
        Some(_) => Err(ApiError::bad_request("invalid version")),
    }
}

async fn read(view: &View<'_>, req: &Request, key: &str) -> Result<Response, ApiError> {
    let wanted = parse_version(req)?;
    let Some((record, _)) = load(view, key).await? else {
        return Err(ApiError::NotFound);
    };
    let n = if wanted == 0 {
        record.current_version
    } else {
        wanted
    };
    let Some(meta) = record.versions.get(&n) else {
        return Err(ApiError::NotFound);
    };
    let metadata = meta.to_json(n, &record.custom_metadata);
    if !meta.is_readable() {
        // OpenBao answers 404 with the version's metadata so clients can tell why.
        let mut resp = Response::data(json!({ "data": null, "metadata": metadata }));
        resp.status = Some(404);
        return Ok(resp);
    }
    let data = if n == record.current_version {
        record.latest.clone()
    } else {
        match view.get(&version_path(key, n)).await? {
            Some(plain) => serde_json::from_slice(&plain.value).ok(),
            None => None,
        }
    };
    Ok(Response::data(
        json!({ "data": data, "metadata": metadata }),
    ))
}

fn parse_cas(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(options) = req.data.get("options") else {
        return Ok(None);
    };
    let Some(options) = options.as_object() else {
        return Err(ApiError::bad_request("options must be an object"));
    };
    match options.get("cas") {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("invalid cas value")),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request("invalid cas value")),
        Some(_) => Err(ApiError::bad_request("invalid cas value")),
    }
}

async fn write(view: &View<'_>, req: &Request, key: &str) -> Result<Response, ApiError> {
    let data = match req.data.get("data") {
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(ApiError::bad_request("data must be an object")),
        None => return Err(ApiError::bad_request("no data provided")),
    };
    let cas = parse_cas(req)?;
    loop {
        let now = Utc::now();
        let loaded = load(view, key).await?;
        let (mut record, condition) = match loaded {
            Some((r, storage_version)) => (r, Condition::Version(storage_version)),
            None => (
                Record {
                    current_version: 0,
                    oldest_version: 0,
                    created_time: now,
                    updated_time: now,
                    max_versions: 0,
                    cas_required: false,
                    custom_metadata: None,
                    versions: BTreeMap::new(),
                    latest: None,
                },
                Condition::Absent,
            ),
        };
        if record.cas_required && cas.is_none() {
            return Err(ApiError::bad_request(
                "check-and-set parameter required for this call",
            ));
        }
        if let Some(cas) = cas {
            if cas != record.current_version {
                return Err(ApiError::bad_request(
                    "check-and-set parameter did not match the current version",
                ));
            }
        }
        let mut ops = Vec::new();
        if let Some(previous) = record.latest.take() {
            ops.push(PlainOp::put(
                version_path(key, record.current_version),
                encode(&previous),
            ));
        }
        let n = record.current_version + 1;
        record.current_version = n;
        record.updated_time = now;
        record.versions.insert(
            n,
            VersionMeta {
                created_time: now,
                deletion_time: None,
                destroyed: false,
            },
        );
        record.latest = Some(data.clone());
        let max = if record.max_versions == 0 {
            DEFAULT_MAX_VERSIONS
        } else {
            record.max_versions
        };
        while record.versions.len() as u64 > max {
            let Some((&oldest, _)) = record.versions.iter().next() else {
                break;
            };
            record.versions.remove(&oldest);
            ops.push(PlainOp::delete(version_path(key, oldest)));
            // As OpenBao: 0 until the first pruning, then the oldest version kept.
            record.oldest_version = oldest + 1;
        }
        ops.push(PlainOp::Put {
            path: record_path(key),
            value: encode(&record),
            condition: Some(condition),
        });
        match view.write(ops).await {
            Ok(()) => {
                let meta = &record.versions[&n];
                return Ok(Response::data(meta.to_json(n, &record.custom_metadata)));
            }
            Err(crate::barrier::BarrierError::Storage(
                crate::storage::StorageError::ConditionFailed { .. },
            )) => {
                // Another writer got there first; with cas the client asked for that version,
                // so the next round reports the mismatch.
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn delete_latest(view: &View<'_>, key: &str) -> Result<Response, ApiError> {
    let Some((mut record, storage_version)) = load(view, key).await? else {
        return Ok(Response::empty());
    };
    let n = record.current_version;
    if let Some(meta) = record.versions.get_mut(&n) {
        if meta.deletion_time.is_none() && !meta.destroyed {
            meta.deletion_time = Some(Utc::now());
            let op = PlainOp::Put {
                path: record_path(key),
                value: encode(&record),
                condition: Some(Condition::Version(storage_version)),
            };
            view.write(vec![op]).await?;
        }
    }
    Ok(Response::empty())
}

async fn read_metadata(view: &View<'_>, key: &str) -> Result<Response, ApiError> {
    let Some((record, _)) = load(view, key).await? else {
        return Err(ApiError::NotFound);
    };
    Ok(Response::data(record.metadata_json()))
}

async fn delete_metadata(view: &View<'_>, key: &str) -> Result<Response, ApiError> {
    let Some((record, _)) = load(view, key).await? else {
        return Ok(Response::empty());
    };
    let mut ops: Vec<PlainOp> = record
        .versions
        .keys()
        .map(|n| PlainOp::delete(version_path(key, *n)))
        .collect();
    ops.push(PlainOp::delete(record_path(key)));
    view.write(ops).await?;
    Ok(Response::empty())
}

async fn list(view: &View<'_>, folder: &str) -> Result<Response, ApiError> {
    let folder = if folder.is_empty() || folder.ends_with('/') {
        folder.to_string()
    } else {
        format!("{folder}/")
    };
    let keys = view.list(&format!("data/{folder}")).await?;
    if keys.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Response::data(json!({ "keys": keys })))
}
