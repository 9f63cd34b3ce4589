//! `sys/mounts` and `sys/internal/ui/mounts`: the mount table over HTTP.

use serde_json::{json, Map, Value};

use crate::barrier::{BarrierError, PlainOp};
use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::mounts::{normalize, MountEntry, MountTable, MOUNTS_PATH};
use crate::storage::{Condition, StorageError};
use crate::store::{Store, Unsealed};

pub fn list(state: &Unsealed, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Read {
        return Err(ApiError::UnsupportedOperation);
    }
    let mut data = Map::new();
    for m in &state.mounts.entries {
        data.insert(m.path.clone(), m.to_json());
    }
    Ok(Response::data(Value::Object(data)))
}

pub fn ui_mount(state: &Unsealed, req: &Request, path: &str) -> Result<Response, ApiError> {
    if req.operation != Operation::Read {
        return Err(ApiError::UnsupportedOperation);
    }
    let Some(mount) = state.mounts.route(path) else {
        return Err(ApiError::bad_request(format!(
            "preflight capability check returned 403, please ensure client's policies grant access to path \"{path}/\""
        )));
    };
    let mut data = mount.to_json();
    data["path"] = json!(mount.path);
    Ok(Response::data(data))
}

/// Applies a change to the stored mount table with a conditional write, so concurrent
/// changes from other processes are never lost.
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
                store.set_mounts(table.clone());
                return Ok(table);
            }
            Err(BarrierError::Storage(StorageError::ConditionFailed { .. })) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

pub async fn mount(
    store: &Store,
    state: &Unsealed,
    req: &Request,
    path: &str,
) -> Result<Response, ApiError> {
    let path = normalize(path);
    if path == "/" {
        return Err(ApiError::bad_request("missing mount path"));
    }
    match req.operation {
        Operation::Read => match state.mounts.get(&path) {
            Some(m) => Ok(Response::data(m.to_json())),
            None => Err(ApiError::bad_request(format!(
                "No secret engine mount at {path}"
            ))),
        },
        Operation::Update => {
            let kind = req.str_field("type").ok_or_else(|| {
                ApiError::bad_request("backend type must be specified as a string")
            })?;
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
                if v != "1" && v != "2" {
                    return Err(ApiError::bad_request(format!("invalid version {v:?}")));
                }
                options.insert("version".into(), json!(v));
            }
            if ["sys/", "auth/", "cubbyhole/", "identity/"]
                .iter()
                .any(|r| path.starts_with(r))
            {
                return Err(ApiError::bad_request(format!(
                    "cannot mount at reserved path {path:?}"
                )));
            }
            let description = req.str_field("description").unwrap_or("").to_string();
            let entry = MountEntry::new(&path, kind, &description, options);
            update_table(store, |table| {
                if let Some(existing) = table.conflicts(&path) {
                    return Err(ApiError::bad_request(if existing.path == path {
                        format!("path is already in use at {path}")
                    } else {
                        format!("existing mount at {}", existing.path)
                    }));
                }
                table.entries.push(entry.clone());
                Ok(vec![])
            })
            .await?;
            Ok(Response::empty())
        }
        Operation::Delete => {
            if ["sys/", "cubbyhole/", "identity/"].contains(&path.as_str()) {
                return Err(ApiError::bad_request(format!("cannot unmount {path:?}")));
            }
            let Some(mount) = state.mounts.get(&path).cloned() else {
                return Ok(Response::empty());
            };
            // The mount leaves the table first; its data under logical/<uuid>/ is unreachable
            // from then on (a new mount gets a new uuid) and is deleted below.
            update_table(store, |table| {
                table.entries.retain(|m| m.uuid != mount.uuid);
                Ok(vec![])
            })
            .await?;
            purge_prefix(store, &mount.storage_prefix()).await?;
            Ok(Response::empty())
        }
        _ => Err(ApiError::UnsupportedOperation),
    }
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
