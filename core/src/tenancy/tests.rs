//! The hosted Router driven in-process: every byte a store writes stays under its own id, a
//! store that is not active is not served, and a deleted store leaves nothing behind.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::record::{self, Lifecycle, StoreRecord};
use super::{Plan, Registry};
use crate::config::ControlPlaneConfig;
use crate::http::hosted_router;
use crate::seal::SealSetup;
use crate::storage::{Condition, MemoryStorage, Storage};

fn config() -> ControlPlaneConfig {
    ControlPlaneConfig {
        base_domain: "stores.test".into(),
        endpoint: None,
        admin_address: None,
        admin_token_env: "UNUSED".into(),
        admin_tls: None,
        audit_dir: None,
        audit_prune_interval: crate::config::DEFAULT_AUDIT_PRUNE_INTERVAL,
        plans: vec![Plan::unlimited("standard")],
        default_plan: "standard".into(),
        key_shares: 1,
        key_threshold: 1,
    }
}

async fn call(
    r: &Router,
    host: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = HttpRequest::builder()
        .method(method)
        .uri(path)
        .header("Host", host)
        .header("X-Vault-Token", token)
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn crafted_paths_never_write_outside_the_stores_keyspace() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let registry = Arc::new(Registry::new(
        storage.clone(),
        config(),
        SealSetup::default(),
    ));
    let a = registry.create(None, None, None).await.unwrap();
    let b = registry.create(None, None, None).await.unwrap();
    let router = hosted_router(registry.clone(), 1 << 20);
    let host_a = format!("{}.stores.test", a.record.id);
    let before_b = storage
        .keys_under(&format!("{}/", b.record.id))
        .await
        .unwrap();
    for path in [
        format!("/v1/secret/data/../../{}/core/x", b.record.id),
        format!("/v1/secret/data/..%2F..%2F{}%2Fcore%2Fx", b.record.id),
        "/v1/secret/data/%2e%2e/%2e%2e/%2e%2e/x".to_string(),
        "/v1/secret/data/%00/x".to_string(),
    ] {
        let (status, body) = call(
            &router,
            &host_a,
            "POST",
            &path,
            &a.init.root_token,
            Some(json!({"data": {"k": "v"}})),
        )
        .await;
        assert!(
            status.is_success() || status.is_client_error(),
            "{path}: {status} {body}"
        );
    }
    // Whatever A wrote is below A's id; B's keyspace and the records are as they were.
    for key in storage.keys_under("").await.unwrap() {
        assert!(
            key.starts_with(&format!("{}/", a.record.id))
                || key.starts_with(&format!("{}/", b.record.id))
                || key.starts_with(record::RECORDS_PREFIX),
            "{key}"
        );
    }
    let after_b = storage
        .keys_under(&format!("{}/", b.record.id))
        .await
        .unwrap();
    assert_eq!(before_b, after_b);
    // A's token is not B's.
    let host_b = format!("{}.stores.test", b.record.id);
    let (status, _) = call(
        &router,
        &host_b,
        "GET",
        "/v1/sys/mounts",
        &a.init.root_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn only_active_stores_are_served_and_a_deleted_one_leaves_nothing() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let registry = Arc::new(Registry::new(
        storage.clone(),
        config(),
        SealSetup::default(),
    ));
    let router = hosted_router(registry.clone(), 1 << 20);
    let provisioning = StoreRecord {
        id: "pending1".into(),
        plan: "standard".into(),
        created: chrono::Utc::now(),
        seal: "shamir".into(),
        state: Lifecycle::Provisioning,
    };
    record::save(storage.as_ref(), &provisioning, Condition::Absent)
        .await
        .unwrap();
    let (status, body) = call(
        &router,
        "pending1.stores.test",
        "GET",
        "/v1/sys/health",
        "",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let a = registry.create(None, None, None).await.unwrap();
    let host = format!("{}.stores.test", a.record.id);
    let (status, _) = call(&router, &host, "GET", "/v1/sys/health", "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(registry.delete(&a.record.id, "wrong").await.is_err());
    assert!(registry.delete("../x", "../x").await.is_err());
    let removed = registry.delete(&a.record.id, &a.record.id).await.unwrap();
    assert!(removed > 0);
    let left: Vec<_> = storage
        .keys_under("")
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.contains(&a.record.id))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let (status, body) = call(&router, &host, "GET", "/v1/sys/health", "", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["errors"][0]
        .as_str()
        .unwrap()
        .contains("no secret store"));
}

/// `GET sys/health` on `host`: the status and the storage round trips it cost.
async fn health(r: &Router, host: &str) -> (StatusCode, String) {
    let req = HttpRequest::builder()
        .uri("/v1/sys/health")
        .header("Host", host)
        .body(Body::empty())
        .unwrap();
    let resp = r.clone().oneshot(req).await.unwrap();
    let trips = resp.headers()[crate::http::ROUND_TRIPS_HEADER]
        .to_str()
        .unwrap()
        .to_string();
    (resp.status(), trips)
}

#[tokio::test]
async fn an_unknown_id_is_read_once_and_a_store_created_here_is_served_at_once() {
    let storage: Arc<dyn Storage> = Arc::new(crate::storage::CountingStorage::new(Arc::new(
        MemoryStorage::new(),
    )));
    let registry = Arc::new(Registry::new(storage, config(), SealSetup::default()));
    let router = hosted_router(registry.clone(), 1 << 20);
    let host = "fixedid1.stores.test";
    assert_eq!(
        health(&router, host).await,
        (StatusCode::NOT_FOUND, "1".into())
    );
    assert_eq!(
        health(&router, host).await,
        (StatusCode::NOT_FOUND, "0".into())
    );
    // Each unknown id pays its own read.
    assert_eq!(
        health(&router, "fixedid2.stores.test").await,
        (StatusCode::NOT_FOUND, "1".into())
    );
    registry
        .create_as("fixedid1".into(), None, None, None)
        .await
        .unwrap();
    let (status, _) = health(&router, host).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "created here: no waiting for the TTL"
    );
}
