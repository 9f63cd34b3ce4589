//! `sys/seal`, `sys/rotate`, `sys/key-status`.

use chrono::SecondsFormat;
use serde_json::json;

use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::store::Store;

pub fn seal(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Update {
        return Err(ApiError::UnsupportedOperation);
    }
    store.seal_by_operator();
    tracing::info!("store sealed by request");
    Ok(Response::empty())
}

pub async fn rotate(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Update {
        return Err(ApiError::UnsupportedOperation);
    }
    let status = store.barrier.rotate().await?;
    tracing::info!(term = status.term, "barrier key rotated");
    Ok(Response::empty())
}

pub fn key_status(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Read {
        return Err(ApiError::UnsupportedOperation);
    }
    let status = store.barrier.key_status()?;
    Ok(Response::data(json!({
        "term": status.term,
        "install_time": status.install_time.to_rfc3339_opts(SecondsFormat::Nanos, true),
        "encryptions": 0,
    })))
}
