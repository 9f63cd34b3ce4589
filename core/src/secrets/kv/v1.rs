//! KV version 1: one JSON object per path, no versions. The mount-relative path is the view
//! key itself, so LIST of a folder is one storage list. The cubbyhole is the same engine in a
//! per-token view, without leases.

use serde_json::{Map, Value};

use crate::barrier::PlainOp;
use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::secrets::kv::fields;
use crate::secrets::View;

/// OpenBao's system default lease (768h), reported as `lease_duration` of a read unless the
/// secret carries its own `ttl` (or legacy `lease`).
const DEFAULT_LEASE_SECONDS: u64 = 768 * 3600;

/// Whether reads report a lease (`kv`) or not (`cubbyhole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leases {
    Reported,
    None,
}

pub fn prefetch_paths(req: &Request, rel: &str) -> Vec<String> {
    match req.operation {
        Operation::Read if !rel.is_empty() && !rel.ends_with('/') => vec![rel.to_string()],
        _ => Vec::new(),
    }
}

pub async fn handle(
    view: &View<'_>,
    req: &Request,
    rel: &str,
    leases: Leases,
) -> Result<Response, ApiError> {
    match req.operation {
        Operation::List => list(view, rel).await,
        _ if rel.is_empty() || rel.ends_with('/') => match req.operation {
            Operation::Read => Err(ApiError::NotFound),
            _ => Err(ApiError::UnsupportedOperation),
        },
        Operation::Read => read(view, rel, leases).await,
        Operation::Update => write(view, req, rel).await,
        Operation::Delete => {
            view.write(vec![PlainOp::delete(rel)]).await?;
            Ok(Response::empty())
        }
        Operation::Patch => Err(ApiError::UnsupportedOperation),
    }
}

/// The lease a secret asks for with `ttl` (or `lease`), else the default.
fn lease_seconds(data: &Map<String, Value>) -> u64 {
    ["ttl", "lease"]
        .iter()
        .find_map(|k| fields::seconds(data.get(*k), k).ok().flatten())
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(DEFAULT_LEASE_SECONDS)
}

async fn read(view: &View<'_>, rel: &str, leases: Leases) -> Result<Response, ApiError> {
    let Some(plain) = view.get(rel).await? else {
        return Err(ApiError::NotFound);
    };
    let data: Map<String, Value> = serde_json::from_slice(&plain.value)
        .map_err(|_| ApiError::Internal(format!("corrupt KV value at {rel:?}")))?;
    let mut resp = Response::data(Value::Object(data.clone()));
    if leases == Leases::Reported {
        resp.lease_duration = lease_seconds(&data);
    }
    Ok(resp)
}

async fn write(view: &View<'_>, req: &Request, rel: &str) -> Result<Response, ApiError> {
    if req.data.is_empty() {
        return Err(ApiError::bad_request("missing data fields"));
    }
    if let Some(ttl) = req.data.get("ttl") {
        fields::seconds(Some(ttl), "ttl")?;
    }
    let value = serde_json::to_vec(&req.data).expect("JSON object serializes");
    view.write(vec![PlainOp::put(rel, value)]).await?;
    Ok(Response::empty())
}

async fn list(view: &View<'_>, rel: &str) -> Result<Response, ApiError> {
    let folder = if rel.is_empty() || rel.ends_with('/') {
        rel.to_string()
    } else {
        format!("{rel}/")
    };
    let keys = view.list(&folder).await?;
    if keys.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Response::list(keys))
}
