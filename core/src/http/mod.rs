//! The HTTP layer: translates HTTP into logical requests and logical responses into Vault's
//! JSON. It knows nothing of KV, tokens or seals; `Store::handle` does.

pub mod error;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Router;
use serde_json::{Map, Value};

use crate::logical::{Operation, Request, Response};
use crate::storage::with_round_trip_counter;
use crate::store::Store;
use crate::tenancy::Registry;
use error::ApiError;

/// The header that reports how many storage round trips a request cost.
pub const ROUND_TRIPS_HEADER: &str = "x-coffer-storage-round-trips";

/// OpenBao's default `max_request_size`: 32 MiB.
pub const DEFAULT_MAX_REQUEST_SIZE: u64 = 32 * 1024 * 1024;

#[derive(Clone)]
struct AppState {
    stores: Stores,
    max_request_size: usize,
}

/// Where a request's store comes from.
#[derive(Clone)]
enum Stores {
    /// The single-store server: every request, whatever its host.
    One(Arc<Store>),
    /// Managed stores, selected by the request's host name (`tenancy`).
    Hosted(Arc<Registry>),
}

impl Stores {
    async fn select(&self, uri: &Uri, headers: &HeaderMap) -> Result<Arc<Store>, ApiError> {
        match self {
            Stores::One(store) => Ok(store.clone()),
            Stores::Hosted(registry) => registry.resolve(request_host(uri, headers)).await,
        }
    }
}

/// The host a request is for: the authority of an absolute-form target (HTTP/2, proxies)
/// or the `Host` header.
fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
}

/// The Vault API as an axum `Router`; hosts (hyper server, Lambda, tests) serve it as they like.
pub fn router(store: Arc<Store>, max_request_size: u64) -> Router {
    app(Stores::One(store), max_request_size)
}

/// The Vault API of every managed store in `registry`, each at `<store id>.<base domain>`.
pub fn hosted_router(registry: Arc<Registry>, max_request_size: u64) -> Router {
    app(Stores::Hosted(registry), max_request_size)
}

fn app(stores: Stores, max_request_size: u64) -> Router {
    let state = AppState {
        stores,
        max_request_size: usize::try_from(max_request_size).unwrap_or(usize::MAX),
    };
    Router::new().fallback(serve).with_state(state)
}

async fn serve(
    State(app): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string());
    let started = std::time::Instant::now();
    let (result, round_trips) = with_round_trip_counter(async {
        let store = app.stores.select(&uri, &headers).await?;
        let logical = to_logical(
            &app,
            request_id.clone(),
            &method,
            &uri,
            &headers,
            remote,
            req.into_body(),
        )
        .await?;
        let operation = logical.operation;
        let path = logical.path.clone();
        store.handle(logical).await.map(|r| (r, operation, path))
    })
    .await;
    let mut resp = match result {
        Ok((r, _, _)) => to_http(r, &request_id),
        Err(e) => e.into_response(),
    };
    // Debug, not info: one synchronous log line per request was the largest cost on the read
    // path (bench/RESULTS.md). `log_level = "debug"` shows it; the header always carries the
    // round trips, and server errors are logged at error level where they happen.
    tracing::debug!(
        request_id = %request_id,
        method = %method,
        path = %uri.path(),
        status = resp.status().as_u16(),
        round_trips,
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    let headers = resp.headers_mut();
    headers.insert(ROUND_TRIPS_HEADER, HeaderValue::from(round_trips));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn token_from(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        if !t.is_empty() {
            return Some(t.to_string());
        }
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?;
    Some(token.trim().to_string()).filter(|t| !t.is_empty())
}

fn query_map(uri: &Uri) -> Map<String, Value> {
    uri.query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        })
        .unwrap_or_default()
}

async fn to_logical(
    app: &AppState,
    id: String,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    remote_addr: Option<String>,
    body: Body,
) -> Result<Request, ApiError> {
    let raw_path = uri.path();
    let Some(path) = raw_path.strip_prefix("/v1/") else {
        return Err(ApiError::NoRoute(
            raw_path.trim_start_matches('/').to_string(),
        ));
    };
    let path = percent_decode_path(path);
    let query = query_map(uri);
    let is_list_query = query
        .get("list")
        .and_then(Value::as_str)
        .is_some_and(|v| v == "true" || v == "1");
    let operation = match method.as_str() {
        "GET" | "HEAD" if is_list_query => Operation::List,
        "GET" | "HEAD" => Operation::Read,
        "LIST" => Operation::List,
        "POST" | "PUT" => Operation::Update,
        "PATCH" => Operation::Patch,
        "DELETE" => Operation::Delete,
        _ => return Err(ApiError::UnsupportedOperation),
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > app.max_request_size as u64 {
            return Err(ApiError::TooLarge);
        }
    }
    let bytes = to_bytes(body, app.max_request_size)
        .await
        .map_err(|_| ApiError::TooLarge)?;
    let data = match operation {
        Operation::Read | Operation::List => {
            let mut q = query;
            q.remove("list");
            q
        }
        _ if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
        _ => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => Map::new(),
            Ok(_) => {
                return Err(ApiError::bad_request(
                    "failed to parse JSON input: body must be a JSON object",
                ))
            }
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "failed to parse JSON input: {e}"
                )))
            }
        },
    };
    Ok(Request {
        id,
        operation,
        path,
        data,
        token: token_from(headers),
        remote_addr,
    })
}

/// Percent-decodes a path; a path that does not decode to UTF-8 keeps its escapes.
fn percent_decode_path(p: &str) -> String {
    percent_encoding::percent_decode_str(p)
        .decode_utf8()
        .map_or_else(|_| p.to_string(), |s| s.into_owned())
}

fn to_http(resp: Response, request_id: &str) -> HttpResponse {
    if let Some((status, body)) = resp.raw {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        return (status, axum::Json(body)).into_response();
    }
    if resp.data.is_none() && resp.auth.is_none() && resp.warnings.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let status = resp
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = Envelope {
        auth: resp.auth.as_ref(),
        data: resp.data.as_ref(),
        lease_duration: resp.lease_duration,
        lease_id: "",
        renewable: false,
        request_id,
        warnings: (!resp.warnings.is_empty()).then_some(resp.warnings.as_slice()),
        wrap_info: None,
    };
    (status, axum::Json(body)).into_response()
}

/// The response envelope every Vault client parses. Serialised straight from borrowed parts of
/// the logical response: building it with `json!` would first copy `data` into a second `Value`
/// (for a LIST of 1000 keys that copy and its drop were over half of the request's work).
/// Fields in alphabetical order, the order the body had as a `serde_json::Map`.
#[derive(serde::Serialize)]
struct Envelope<'a> {
    auth: Option<&'a crate::logical::Auth>,
    data: Option<&'a Value>,
    lease_duration: u64,
    lease_id: &'static str,
    renewable: bool,
    request_id: &'a str,
    warnings: Option<&'a [String]>,
    /// Response wrapping is not implemented: always `null`.
    wrap_info: Option<()>,
}

#[cfg(test)]
mod tests;
