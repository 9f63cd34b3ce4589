//! The admin API: `/v1/stores` (create, list), `/v1/stores/{id}` (show, delete) and
//! `/v1/stores/{id}/plan` (upgrade), JSON in and out, Vault-style `{"errors":[...]}` on failure.
//!
//! Every route needs the admin credential (`Authorization: Bearer ...`, or
//! [`ADMIN_TOKEN_HEADER`] where `Authorization` carries something else, such as the SigV4
//! signature an `AWS_IAM` Function URL requires); a store's root token means nothing here.
//! Responses are `Cache-Control: no-store`: create's answer carries the root token and keys,
//! which exist nowhere else afterwards.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use coffer_core::tenancy::{Created, Registry, TenancyError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::console;
use super::credential::AdminCredential;

#[derive(Clone)]
pub(crate) struct Admin {
    pub registry: Arc<Registry>,
    credential: Arc<AdminCredential>,
}

/// The admin API (and the console page) as a Router.
pub fn router(registry: Arc<Registry>, credential: AdminCredential) -> Router {
    let admin = Admin {
        registry,
        credential: Arc::new(credential),
    };
    let api = Router::new()
        .route("/v1/stores", get(list).post(create))
        .route("/v1/stores/{id}", get(show).delete(delete))
        .route("/v1/stores/{id}/plan", post(upgrade))
        .route_layer(middleware::from_fn_with_state(admin.clone(), authenticate));
    api.merge(console::router(admin.clone()))
        .layer(middleware::map_response(no_store))
        .with_state(admin)
}

async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "errors": [message.into()] }))).into_response()
}

/// The admin credential's own header. Behind an `AWS_IAM` Function URL (the admin function's
/// default) `Authorization` holds the caller's SigV4 signature, so the credential needs another
/// place; when both are sent, this one is the admin credential.
pub const ADMIN_TOKEN_HEADER: &str = "x-coffer-admin-token";

fn bearer(req: &Request) -> Option<&str> {
    if let Some(value) = req.headers().get(ADMIN_TOKEN_HEADER) {
        return value.to_str().ok().map(str::trim);
    }
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

async fn authenticate(State(admin): State<Admin>, req: Request, next: Next) -> Response {
    match bearer(&req) {
        None => error(StatusCode::UNAUTHORIZED, "missing admin credential"),
        Some(token) if !admin.credential.matches(token) => {
            tracing::warn!("admin API: wrong credential");
            error(StatusCode::FORBIDDEN, "permission denied")
        }
        Some(_) => next.run(req).await,
    }
}

fn failure(e: TenancyError) -> Response {
    let status = match &e {
        TenancyError::NotFound(_) => StatusCode::NOT_FOUND,
        TenancyError::UnknownPlan(..) | TenancyError::NotConfirmed | TenancyError::Invalid(_) => {
            StatusCode::BAD_REQUEST
        }
        TenancyError::Init(api) if api.status().is_client_error() => StatusCode::BAD_REQUEST,
        TenancyError::Init(_) | TenancyError::Storage(_) => {
            tracing::error!(error = %e, "admin API failure");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the server log",
            );
        }
    };
    error(status, e.to_string())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRequest {
    pub plan: Option<String>,
    pub key_shares: Option<u32>,
    pub key_threshold: Option<u32>,
}

/// The one answer that carries the keys.
pub(crate) fn created_json(c: &Created) -> Value {
    json!({
        "id": c.record.id,
        "endpoint": c.endpoint,
        "plan": c.record.plan,
        "seal_type": c.record.seal,
        "created": c.record.created,
        "root_token": c.init.root_token,
        "keys": c.init.keys_hex(),
        "keys_base64": c.init.keys_base64(),
        "recovery_keys": c.init.recovery_keys_hex(),
        "recovery_keys_base64": c.init.recovery_keys_base64(),
        "key_threshold": c.threshold,
    })
}

pub(crate) async fn create_store(admin: &Admin, req: CreateRequest) -> Result<Created, Response> {
    admin
        .registry
        .create(req.plan.as_deref(), req.key_shares, req.key_threshold)
        .await
        .map_err(failure)
}

async fn create(State(admin): State<Admin>, body: Option<Json<CreateRequest>>) -> Response {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    match create_store(&admin, req).await {
        Ok(created) => Json(created_json(&created)).into_response(),
        Err(resp) => resp,
    }
}

async fn list(State(admin): State<Admin>) -> Response {
    match admin.registry.list().await {
        Ok(stores) => Json(json!({ "stores": stores })).into_response(),
        Err(e) => failure(e),
    }
}

async fn show(State(admin): State<Admin>, Path(id): Path<String>) -> Response {
    match admin.registry.show(&id).await {
        Ok(summary) => Json(json!(summary)).into_response(),
        Err(e) => failure(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanRequest {
    pub plan: String,
}

async fn upgrade(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Json(req): Json<PlanRequest>,
) -> Response {
    match admin.registry.change_plan(&id, &req.plan).await {
        Ok(summary) => Json(json!(summary)).into_response(),
        Err(e) => failure(e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Confirm {
    pub confirm: Option<String>,
}

async fn delete(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Query(confirm): Query<Confirm>,
) -> Response {
    let confirm = confirm.confirm.unwrap_or_default();
    match admin.registry.delete(&id, &confirm).await {
        Ok(removed) => Json(json!({ "id": id, "deleted_keys": removed })).into_response(),
        Err(e) => failure(e),
    }
}
