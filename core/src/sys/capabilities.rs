//! `sys/capabilities`, `sys/capabilities-self` and `sys/capabilities-accessor`: what a token's
//! policies grant on given paths, answered from the policy cache.

use serde_json::{json, Map, Value};

use super::policy::merged_envelope;
use crate::auth::acl_of;
use crate::auth::token::{self, TokenEntry};
use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::store::{Store, Unsealed};

fn paths_of(req: &Request) -> Result<Vec<String>, ApiError> {
    let mut paths = Vec::new();
    for key in ["paths", "path"] {
        match req.data.get(key) {
            Some(Value::String(s)) => paths.extend(s.split(',').map(|p| p.trim().to_string())),
            Some(Value::Array(items)) => {
                paths.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        }
    }
    paths.retain(|p| !p.is_empty());
    if paths.is_empty() {
        return Err(ApiError::bad_request("paths must be supplied"));
    }
    Ok(paths)
}

async fn answer(store: &Store, req: &Request, entry: &TokenEntry) -> Result<Response, ApiError> {
    let paths = paths_of(req)?;
    let acl = acl_of(&store.policies, entry).await?;
    let mut data = Map::new();
    for path in &paths {
        data.insert(path.clone(), json!(acl.capabilities(path)));
    }
    if paths.len() == 1 {
        data.insert("capabilities".into(), json!(acl.capabilities(&paths[0])));
    }
    Ok(merged_envelope(req, data))
}

fn only_update(req: &Request) -> Result<(), ApiError> {
    match req.operation {
        Operation::Update => Ok(()),
        _ => Err(ApiError::UnsupportedOperation),
    }
}

pub async fn capabilities(
    store: &Store,
    state: &Unsealed,
    req: &Request,
) -> Result<Response, ApiError> {
    only_update(req)?;
    let invalid = || ApiError::bad_request("1 error occurred:\n\t* invalid token\n\n");
    let other = req.str_field("token").ok_or_else(invalid)?;
    let found = token::lookup(&store.barrier, &state.salt, other)
        .await?
        .ok_or_else(invalid)?;
    answer(store, req, &found.entry).await
}

pub async fn capabilities_self(
    store: &Store,
    req: &Request,
    entry: &TokenEntry,
) -> Result<Response, ApiError> {
    only_update(req)?;
    answer(store, req, entry).await
}

pub async fn capabilities_accessor(store: &Store, req: &Request) -> Result<Response, ApiError> {
    only_update(req)?;
    let invalid = || ApiError::bad_request("1 error occurred:\n\t* invalid accessor\n\n");
    let accessor = req.str_field("accessor").ok_or_else(invalid)?;
    let hash = token::hash_of_accessor(&store.barrier, accessor)
        .await?
        .ok_or_else(invalid)?;
    let (entry, _) = token::by_hash(&store.barrier, &hash)
        .await?
        .filter(|(e, _)| !e.revoking && !e.is_expired(chrono::Utc::now()))
        .ok_or_else(invalid)?;
    answer(store, req, &entry).await
}
