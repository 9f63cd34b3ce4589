//! The Router driven in-process with `oneshot`: JSON shapes, status codes, round trips.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::seal::InitParams;
use crate::storage::{CountingStorage, MemoryStorage};
use crate::store::{kv_v2_mount, Store};

async fn dev_router() -> Router {
    let storage = Arc::new(CountingStorage::new(Arc::new(MemoryStorage::new())));
    let store = Arc::new(Store::new(storage, "t"));
    store
        .initialize(
            InitParams::shamir(1, 1),
            Some("root"),
            vec![kv_v2_mount("secret")],
            true,
        )
        .await
        .unwrap();
    router(store, 1024)
}

async fn call(
    r: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value, u64) {
    let mut b = HttpRequest::builder().method(method).uri(path);
    if let Some(t) = token {
        b = b.header("X-Vault-Token", t);
    }
    let resp = r
        .clone()
        .oneshot(b.body(Body::from(body.unwrap_or("").to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let trips = resp.headers()[ROUND_TRIPS_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json, trips)
}

#[tokio::test]
async fn kv_write_then_read_in_the_round_trip_budget() {
    let r = dev_router().await;
    let (s, body, trips) = call(
        &r,
        "PUT",
        "/v1/secret/data/app",
        Some("root"),
        Some(r#"{"data":{"pw":"x"}}"#),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["version"], 1);
    // token lookup and record read in one batch, then one atomic write
    assert_eq!(trips, 2);
    let (s, body, trips) = call(&r, "GET", "/v1/secret/data/app", Some("root"), None).await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["data"], json!({"pw": "x"}));
    assert!(body["request_id"].as_str().unwrap().len() > 10);
    // token lookup and record read in one batch
    assert_eq!(trips, 1);
}

#[tokio::test]
async fn errors_have_vault_shapes_and_codes() {
    let r = dev_router().await;
    let (s, body, _) = call(&r, "GET", "/v1/secret/data/app", None, None).await;
    assert_eq!(
        (s, body),
        (
            StatusCode::FORBIDDEN,
            json!({"errors": ["permission denied"]})
        )
    );
    let (s, _, _) = call(&r, "GET", "/v1/secret/data/app", Some("nope"), None).await;
    assert_eq!(s, 403);
    let (s, body, _) = call(&r, "GET", "/v1/secret/data/missing", Some("root"), None).await;
    assert_eq!((s, body), (StatusCode::NOT_FOUND, json!({"errors": []})));
    let (s, _, _) = call(&r, "GET", "/v1/nothing/here", Some("root"), None).await;
    assert_eq!(s, 404);
    let (s, _, _) = call(&r, "PUT", "/v1/secret/data/app", None, Some("{bad")).await;
    assert_eq!(s, 400, "malformed JSON is 400 even without a token");
    let big = format!(r#"{{"data":{{"v":"{}"}}}}"#, "x".repeat(2000));
    let (s, _, _) = call(&r, "PUT", "/v1/secret/data/app", Some("root"), Some(&big)).await;
    assert_eq!(s, 413);
    let (s, _, _) = call(&r, "OPTIONS", "/v1/secret/data/app", Some("root"), None).await;
    assert_eq!(s, 405);
    let (s, _, _) = call(&r, "DELETE", "/v1/sys/seal-status", Some("root"), None).await;
    assert_eq!(s, 405);
}

#[tokio::test]
async fn bearer_token_is_accepted() {
    let r = dev_router().await;
    let req = HttpRequest::builder()
        .uri("/v1/auth/token/lookup-self")
        .header("Authorization", "Bearer root")
        .body(Body::empty())
        .unwrap();
    let resp = r.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn sealed_store_answers_503_and_health_reports_it() {
    let r = dev_router().await;
    let (s, _, _) = call(&r, "PUT", "/v1/sys/seal", Some("root"), None).await;
    assert_eq!(s, 204);
    let (s, body, _) = call(&r, "GET", "/v1/secret/data/app", Some("root"), None).await;
    assert_eq!(
        (s, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"errors": ["Vault is sealed"]})
        )
    );
    let (s, body, _) = call(&r, "GET", "/v1/sys/health", None, None).await;
    assert_eq!(s, 503);
    assert_eq!(body["sealed"], true);
    let (s, _, _) = call(&r, "GET", "/v1/sys/health?sealedcode=299", None, None).await;
    assert_eq!(s, 299);
    let (s, _, _) = call(&r, "GET", "/v1/sys/health?sealedcode=abc", None, None).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn rotation_keeps_secrets_readable() {
    let r = dev_router().await;
    call(
        &r,
        "PUT",
        "/v1/secret/data/a",
        Some("root"),
        Some(r#"{"data":{"k":"1"}}"#),
    )
    .await;
    let (s, _, _) = call(&r, "PUT", "/v1/sys/rotate", Some("root"), None).await;
    assert_eq!(s, 204);
    let (_, body, _) = call(&r, "GET", "/v1/sys/key-status", Some("root"), None).await;
    assert_eq!(body["data"]["term"], 2);
    let (s, body, _) = call(&r, "GET", "/v1/secret/data/a", Some("root"), None).await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["data"]["k"], "1");
}
