//! The mount table over HTTP: `sys/mounts` (list, enable, read, disable), `sys/mounts/<path>/tune`,
//! `sys/remount` (move) and its status, and `sys/internal/ui/mounts` (which the `bao kv` CLI
//! calls to learn a mount's KV version).
//!
//! Every change is a conditional write of the whole table, so concurrent changes from other
//! processes are never lost; other processes notice the new table on their next request (see
//! `secrets::Prefetched`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::policy::merged_envelope;
use crate::barrier::{BarrierError, PlainOp};
use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::mounts::{normalize, MountEntry, MountTable, MOUNTS_PATH};
use crate::secrets::kv::fields;
use crate::storage::{Condition, StorageError};
use crate::store::{Store, Unsealed};

/// Where a finished move is recorded for `sys/remount/status/<id>`.
const MIGRATIONS_PREFIX: &str = "core/mount-migrations/";

/// Paths no secrets engine may be mounted at or under.
const RESERVED: [&str; 4] = ["sys/", "auth/", "cubbyhole/", "identity/"];

fn as_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn table_json(state: &Unsealed) -> Map<String, Value> {
    state
        .mounts
        .entries
        .iter()
        .map(|m| (m.path.clone(), m.to_json()))
        .collect()
}

pub fn list(state: &Unsealed, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Read {
        return Err(ApiError::UnsupportedOperation);
    }
    Ok(merged_envelope(req, table_json(state)))
}

/// `sys/internal/ui/mounts`: the secrets engines under `secret` (auth methods are listed by
/// `sys/auth`).
pub fn ui_list(state: &Unsealed, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Read {
        return Err(ApiError::UnsupportedOperation);
    }
    Ok(Response::data(json!({
        "auth": {},
        "secret": table_json(state),
    })))
}

pub fn ui_mount(state: &Unsealed, req: &Request, path: &str) -> Result<Response, ApiError> {
    if req.operation != Operation::Read {
        return Err(ApiError::UnsupportedOperation);
    }
    let Some(mount) = state.mounts.route(path) else {
        let path = normalize(path);
        return Ok(Response::raw(
            403,
            json!({ "errors": [format!(
                "preflight capability check returned 403, please ensure client's policies grant access to path \"{path}\""
            )] }),
        ));
    };
    let mut data = mount.to_json();
    data["path"] = json!(mount.path);
    Ok(Response::data(data))
}

/// Applies a change to the stored mount table with a conditional write; the change may add
/// writes of its own to the same atomic batch.
async fn update_table<F>(store: &Store, change: F) -> Result<MountTable, ApiError>
where
    F: Fn(&mut MountTable) -> Result<Vec<PlainOp>, ApiError>,
{
    loop {
        let (mut table, version) = MountTable::load(&store.barrier).await?;
        let mut ops = change(&mut table)?;
        let condition = if version == 0 {
            Condition::Absent
        } else {
            Condition::Version(version)
        };
        ops.push(PlainOp::Put {
            path: MOUNTS_PATH.into(),
            value: serde_json::to_vec(&table).expect("mount table serializes"),
            condition: Some(condition),
        });
        match store.barrier.write(ops).await {
            Ok(()) => {
                // Still marked with the version it was read at: the next request sees a newer
                // stored version and adopts the stored table, which is this one.
                store.set_mounts(table.clone());
                return Ok(table);
            }
            Err(BarrierError::Storage(StorageError::ConditionFailed { .. })) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn check_mountable(path: &str) -> Result<(), ApiError> {
    if RESERVED.iter().any(|r| path.starts_with(r)) {
        return Err(ApiError::bad_request(format!("cannot mount \"{path}\"")));
    }
    Ok(())
}

/// The engine type and options of an enable request, as OpenBao reads them.
fn engine_kind(req: &Request) -> Result<(&'static str, Map<String, Value>), ApiError> {
    let kind = req
        .str_field("type")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("backend type must be specified as a string"))?;
    let mut options = match req.data.get("options") {
        Some(Value::Object(o)) => o.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ApiError::bad_request("options must be an object")),
    };
    let kind = match kind {
        "kv-v2" => {
            options.insert("version".into(), json!("2"));
            "kv"
        }
        "kv" | "generic" => "kv",
        other => {
            return Err(ApiError::bad_request(format!(
                "plugin not found in the catalog: {other}"
            )))
        }
    };
    if let Some(v) = options.get("version").cloned() {
        let v = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            _ => return Err(ApiError::bad_request("invalid version option")),
        };
        match v.as_str() {
            "1" | "2" => {
                options.insert("version".into(), json!(v));
            }
            "" => {
                options.remove("version");
            }
            _ => {
                return Err(ApiError::bad_request(
                    "nil backend of type \"kv\" returned from factory",
                ))
            }
        }
    }
    Ok((kind, options))
}

/// `default_lease_ttl` and `max_lease_ttl` from a map (enable's `config`, or a tune body);
/// `None` for the ones absent.
fn lease_ttls(fields_in: &Map<String, Value>) -> Result<(Option<u64>, Option<u64>), ApiError> {
    let ttl = |name: &str| -> Result<Option<u64>, ApiError> {
        match fields_in.get(name) {
            Some(Value::String(s)) if s == "system" => Ok(Some(0)),
            other => Ok(fields::seconds(other, name)?.map(|s| u64::try_from(s).unwrap_or(0))),
        }
    };
    Ok((ttl("default_lease_ttl")?, ttl("max_lease_ttl")?))
}

fn check_ttls(entry: &MountEntry) -> Result<(), ApiError> {
    if entry.max_lease_ttl != 0 && entry.default_lease_ttl > entry.max_lease_ttl {
        return Err(ApiError::bad_request(format!(
            "backend max lease TTL of {} would be less than backend default lease TTL of {}",
            entry.max_lease_ttl, entry.default_lease_ttl
        )));
    }
    Ok(())
}

async fn enable(store: &Store, req: &Request, path: String) -> Result<Response, ApiError> {
    check_mountable(&path)?;
    let (kind, options) = engine_kind(req)?;
    let description = req.str_field("description").unwrap_or("").to_string();
    let mut entry = MountEntry::new(&path, kind, &description, options);
    if let Some(Value::Object(config)) = req.data.get("config") {
        let (default_ttl, max_ttl) = lease_ttls(config)?;
        entry.default_lease_ttl = default_ttl.unwrap_or(0);
        entry.max_lease_ttl = max_ttl.unwrap_or(0);
        check_ttls(&entry)?;
    }
    entry.local = fields::boolean(req.data.get("local"), "local")?.unwrap_or(false);
    entry.seal_wrap = fields::boolean(req.data.get("seal_wrap"), "seal_wrap")?.unwrap_or(false);
    entry.external_entropy_access = fields::boolean(
        req.data.get("external_entropy_access"),
        "external_entropy_access",
    )?
    .unwrap_or(false);
    update_table(store, |table| {
        if let Some(existing) = table.conflicts(&path) {
            return Err(ApiError::bad_request(format!(
                "path is already in use at {}",
                existing.path
            )));
        }
        table.entries.push(entry.clone());
        Ok(vec![])
    })
    .await?;
    Ok(Response::empty())
}

async fn disable(store: &Store, state: &Unsealed, path: String) -> Result<Response, ApiError> {
    if ["sys/", "cubbyhole/", "identity/"].contains(&path.as_str()) {
        return Err(ApiError::bad_request(format!("cannot unmount \"{path}\"")));
    }
    let Some(mount) = state.mounts.get(&path).cloned() else {
        return Ok(Response::empty());
    };
    // The mount leaves the table first; its data under logical/<uuid>/ is unreachable from
    // then on (a new mount gets a new uuid) and is deleted below.
    update_table(store, |table| {
        table.entries.retain(|m| m.uuid != mount.uuid);
        Ok(vec![])
    })
    .await?;
    purge_prefix(store, &mount.storage_prefix()).await?;
    Ok(Response::empty())
}

async fn tune(
    store: &Store,
    state: &Unsealed,
    req: &Request,
    path: String,
) -> Result<Response, ApiError> {
    match req.operation {
        Operation::Read => {
            let Some(mount) = state.mounts.get(&path) else {
                return Err(ApiError::bad_request(format!(
                    "cannot fetch sysview for path \"{path}\""
                )));
            };
            Ok(merged_envelope(req, as_map(mount.tune_json())))
        }
        Operation::Update => {
            let (default_ttl, max_ttl) = lease_ttls(&req.data)?;
            let description = req.str_field("description").map(str::to_string);
            let options = match req.data.get("options") {
                Some(Value::Object(o)) => o.clone(),
                None | Some(Value::Null) => Map::new(),
                Some(_) => return Err(ApiError::bad_request("options must be an object")),
            };
            update_table(store, |table| {
                let Some(entry) = table.entries.iter_mut().find(|m| m.path == path) else {
                    return Err(ApiError::bad_request(format!(
                        "tune of path \"{path}\" failed: no mount entry found"
                    )));
                };
                if let Some(t) = default_ttl {
                    entry.default_lease_ttl = t;
                }
                if let Some(t) = max_ttl {
                    entry.max_lease_ttl = t;
                }
                check_ttls(entry)?;
                if let Some(d) = &description {
                    entry.description = d.clone();
                }
                for (k, v) in &options {
                    if k == "version" && entry.kv_version().is_some() {
                        let wanted = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let current = entry.kv_version().unwrap_or(1).to_string();
                        if !wanted.is_empty() && wanted != current {
                            return Err(ApiError::bad_request(
                                "changing the KV version of an existing mount is not supported",
                            ));
                        }
                        continue;
                    }
                    entry.options.insert(k.clone(), v.clone());
                }
                Ok(vec![])
            })
            .await?;
            Ok(Response::empty())
        }
        _ => Err(ApiError::UnsupportedOperation),
    }
}

pub async fn mount(
    store: &Store,
    state: &Unsealed,
    req: &Request,
    path: &str,
) -> Result<Response, ApiError> {
    if let Some(mount_path) = path.trim_end_matches('/').strip_suffix("/tune") {
        return tune(store, state, req, normalize(mount_path)).await;
    }
    let path = normalize(path);
    if path == "/" {
        return Err(ApiError::bad_request("missing mount path"));
    }
    match req.operation {
        Operation::Read => match state.mounts.get(&path) {
            Some(m) => Ok(merged_envelope(req, as_map(m.to_json()))),
            None => Err(ApiError::bad_request(format!(
                "No secret engine mount at {path}"
            ))),
        },
        Operation::Update => enable(store, req, path).await,
        Operation::Delete => disable(store, state, path).await,
        _ => Err(ApiError::UnsupportedOperation),
    }
}

/// A finished move, for `sys/remount/status/<id>`.
#[derive(Serialize, Deserialize)]
struct Migration {
    source_mount: String,
    target_mount: String,
}

/// `sys/remount`: moves a mount to a new path. The data stays where it is (it lives under the
/// mount's uuid), so the move is one table write and is finished when the call returns.
pub async fn remount(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Update {
        return Err(ApiError::UnsupportedOperation);
    }
    let from = req
        .str_field("from")
        .filter(|s| !s.is_empty())
        .map(normalize)
        .ok_or_else(|| {
            ApiError::bad_request("both 'from' and 'to' path must be specified as a string")
        })?;
    let to = req
        .str_field("to")
        .filter(|s| !s.is_empty())
        .map(normalize)
        .ok_or_else(|| {
            ApiError::bad_request("both 'from' and 'to' path must be specified as a string")
        })?;
    for p in [&from, &to] {
        if RESERVED.iter().any(|r| p.starts_with(r)) {
            return Err(ApiError::bad_request(format!("cannot remount \"{p}\"")));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let migration = Migration {
        source_mount: from.clone(),
        target_mount: to.clone(),
    };
    let record = serde_json::to_vec(&migration).expect("migration serializes");
    update_table(store, |table| {
        if table.get(&from).is_none() {
            return Err(ApiError::bad_request(format!(
                "no matching mount at \"{from}\""
            )));
        }
        if let Some(existing) = table
            .entries
            .iter()
            .filter(|m| m.path != from)
            .find(|m| m.path.starts_with(&to) || to.starts_with(&m.path))
        {
            return Err(ApiError::bad_request(format!(
                "path already in use at \"{}\"",
                existing.path
            )));
        }
        if let Some(entry) = table.entries.iter_mut().find(|m| m.path == from) {
            entry.path = to.clone();
        }
        Ok(vec![PlainOp::put(
            format!("{MIGRATIONS_PREFIX}{id}"),
            record.clone(),
        )])
    })
    .await?;
    let mut resp = merged_envelope(req, as_map(json!({ "migration_id": id })));
    if let Some((_, Value::Object(body))) = resp.raw.as_mut() {
        body.insert(
            "warnings".into(),
            json!([
                "Mount move has been queued. Progress will be reported in the server log, \
                    tagged with the returned migration_id"
            ]),
        );
    }
    Ok(resp)
}

pub async fn remount_status(store: &Store, req: &Request, id: &str) -> Result<Response, ApiError> {
    if req.operation != Operation::Read {
        return Err(ApiError::UnsupportedOperation);
    }
    if id.is_empty() || id.contains('/') {
        return Err(ApiError::NotFound);
    }
    let Some(plain) = store
        .barrier
        .get(&format!("{MIGRATIONS_PREFIX}{id}"))
        .await?
    else {
        return Err(ApiError::NotFound);
    };
    let m: Migration = serde_json::from_slice(&plain.value)
        .map_err(|_| ApiError::Internal("corrupt mount migration record".into()))?;
    Ok(Response::data(json!({
        "migration_id": id,
        "migration_info": {
            "source_mount": m.source_mount,
            "target_mount": m.target_mount,
            "status": "success",
        },
    })))
}

/// Deletes every key under a logical prefix, folder by folder, in batches of 25 (DynamoDB's
/// transaction limit is 100 items; small batches keep each round trip cheap).
async fn purge_prefix(store: &Store, prefix: &str) -> Result<(), ApiError> {
    let mut folders = vec![prefix.to_string()];
    while let Some(folder) = folders.pop() {
        let mut keys = Vec::new();
        for child in store.barrier.list(&folder).await? {
            let full = format!("{folder}{child}");
            if child.ends_with('/') {
                folders.push(full);
            } else {
                keys.push(full);
            }
        }
        for chunk in keys.chunks(25) {
            store
                .barrier
                .write(chunk.iter().map(PlainOp::delete).collect())
                .await?;
        }
    }
    Ok(())
}
