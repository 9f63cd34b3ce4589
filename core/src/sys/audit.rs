//! `sys/audit`, `sys/audit/<path>`, `sys/audit-hash/<path>`: audit devices over HTTP.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::store::Store;

pub fn list(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Read {
        return Err(ApiError::UnsupportedOperation);
    }
    let devices: Map<String, Value> = store
        .audit
        .list()
        .iter()
        .map(|d| (d.path.clone(), d.to_json()))
        .collect();
    Ok(Response::data(Value::Object(devices)))
}

/// Options arrive as a JSON object of strings (the CLI) or of scalars (other clients).
fn options(req: &Request) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(value) = req.data.get("options") else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request("options must be an object"));
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            _ => Err(ApiError::bad_request(format!(
                "option {k:?} must be a string"
            ))),
        })
        .collect()
}

pub async fn device(store: &Store, req: &Request, path: &str) -> Result<Response, ApiError> {
    match req.operation {
        Operation::Update => {
            let kind = req
                .str_field("type")
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiError::bad_request("audit type must be specified"))?;
            let description = req.str_field("description").unwrap_or("");
            let local = req
                .data
                .get("local")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            store
                .audit
                .enable(
                    &store.barrier,
                    path,
                    kind,
                    description,
                    options(req)?,
                    local,
                )
                .await?;
            tracing::info!(path, kind, "audit device enabled");
            Ok(Response::empty())
        }
        Operation::Delete => {
            store.audit.disable(&store.barrier, path).await?;
            tracing::info!(path, "audit device disabled");
            Ok(Response::empty())
        }
        _ => Err(ApiError::UnsupportedOperation),
    }
}

pub fn hash(store: &Store, req: &Request, path: &str) -> Result<Response, ApiError> {
    if req.operation != Operation::Update {
        return Err(ApiError::UnsupportedOperation);
    }
    let input = req
        .str_field("input")
        .ok_or_else(|| ApiError::bad_request("the \"input\" parameter is required"))?;
    match store.audit.hash(path, input) {
        Some(hash) => Ok(Response::data(json!({ "hash": hash }))),
        None => Err(ApiError::bad_request(format!(
            "unknown audit backend {path}"
        ))),
    }
}
