//! KV v2 and v1 through the Router (`oneshot`): OpenBao's status codes and shapes, and the
//! storage round trips each operation costs.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request as HttpRequest;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::http::{router, ROUND_TRIPS_HEADER};
use crate::seal::InitParams;
use crate::storage::{CountingStorage, MemoryStorage, Storage};
use crate::store::{kv_v2_mount, Store};

struct Reply {
    status: u16,
    body: Value,
    trips: u64,
}

/// A dev-mode store (root token `root`, KV v2 at `secret/`) and its unseal key.
async fn dev_store(storage: Arc<dyn Storage>) -> (Arc<Store>, String) {
    let store = Arc::new(Store::new(storage, "t"));
    let init = store
        .initialize(
            InitParams::shamir(1, 1),
            Some("root"),
            vec![kv_v2_mount("secret")],
            true,
        )
        .await
        .unwrap();
    (store, init.keys_base64().remove(0))
}

async fn dev_router() -> Router {
    let storage = Arc::new(CountingStorage::new(Arc::new(MemoryStorage::new())));
    router(dev_store(storage).await.0, 1024 * 1024)
}

async fn call_as(r: &Router, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let req = HttpRequest::builder()
        .method(method)
        .uri(format!("/v1/{path}"))
        .header("X-Vault-Token", token)
        .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .unwrap();
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let trips = resp.headers()[ROUND_TRIPS_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        trips,
    }
}

async fn call(r: &Router, method: &str, path: &str, body: Option<Value>) -> Reply {
    call_as(r, "root", method, path, body).await
}

#[tokio::test]
async fn kv_v2_operations_stay_within_the_round_trip_budget() {
    let r = dev_router().await;
    let w = call(
        &r,
        "PUT",
        "secret/data/app",
        Some(json!({"data": {"pw": "1"}})),
    )
    .await;
    assert_eq!(
        (w.status, w.trips),
        (200, 2),
        "write: one prefetch + one atomic write"
    );
    let w = call(
        &r,
        "PUT",
        "secret/data/app",
        Some(json!({"data": {"pw": "2"}, "options": {"cas": 1}})),
    )
    .await;
    assert_eq!((w.status, w.trips), (200, 2), "write with cas");
    let g = call(&r, "GET", "secret/data/app", None).await;
    assert_eq!(
        (g.status, g.trips),
        (200, 1),
        "read of the latest version, token included"
    );
    assert_eq!(g.body["data"]["data"]["pw"], "2");
    let g = call(&r, "GET", "secret/data/app?version=1", None).await;
    assert_eq!((g.status, g.trips), (200, 1), "read of an older version");
    assert_eq!(g.body["data"]["data"]["pw"], "1");
    let p = call(
        &r,
        "PATCH",
        "secret/data/app",
        Some(json!({"data": {"x": "y"}})),
    )
    .await;
    assert_eq!((p.status, p.trips), (200, 2), "patch");
    let m = call(&r, "GET", "secret/metadata/app", None).await;
    assert_eq!((m.status, m.trips), (200, 1), "metadata read");
    let s = call(&r, "GET", "secret/subkeys/app", None).await;
    assert_eq!((s.status, s.trips), (200, 1), "subkeys");
    let d = call(&r, "DELETE", "secret/data/app", None).await;
    assert_eq!((d.status, d.trips), (204, 2), "soft delete of the latest");
    let l = call(&r, "LIST", "secret/metadata", None).await;
    assert_eq!(
        (l.status, l.trips),
        (200, 2),
        "list: prefetch + one storage list"
    );
    let t = call(&r, "GET", "auth/token/lookup-self", None).await;
    assert_eq!((t.status, t.trips), (200, 1), "token lookup");
    let miss = call(&r, "GET", "secret/data/nothing", None).await;
    assert_eq!((miss.status, miss.trips), (404, 1));
}

#[tokio::test]
async fn nothing_prefetched_is_returned_to_a_refused_request() {
    let r = dev_router().await;
    call(
        &r,
        "PUT",
        "secret/data/app",
        Some(json!({"data": {"pw": "hunter2"}})),
    )
    .await;
    let refused = call_as(&r, "s.bogus", "GET", "secret/data/app", None).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body, json!({"errors": ["permission denied"]}));
    assert_eq!(refused.trips, 1);
}

#[tokio::test]
async fn check_and_set_refuses_a_stale_version_and_writes_nothing() {
    let r = dev_router().await;
    call(
        &r,
        "PUT",
        "secret/data/c",
        Some(json!({"data": {"v": "1"}})),
    )
    .await;
    let bad = call(
        &r,
        "PUT",
        "secret/data/c",
        Some(json!({"data": {"v": "2"}, "options": {"cas": 0}})),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["errors"][0],
        "check-and-set parameter did not match the current version"
    );
    let meta = call(&r, "GET", "secret/metadata/c", None).await;
    assert_eq!(meta.body["data"]["current_version"], 1);
    // cas_required on the key: a write without cas is refused
    let set = call(
        &r,
        "PUT",
        "secret/metadata/c",
        Some(json!({"cas_required": true})),
    )
    .await;
    assert_eq!(set.status, 204);
    let no_cas = call(
        &r,
        "PUT",
        "secret/data/c",
        Some(json!({"data": {"v": "2"}})),
    )
    .await;
    assert_eq!(no_cas.status, 400);
    assert_eq!(
        no_cas.body["errors"][0],
        "check-and-set parameter required for this call"
    );
    let ok = call(
        &r,
        "PUT",
        "secret/data/c",
        Some(json!({"data": {"v": "2"}, "options": {"cas": 1}})),
    )
    .await;
    assert_eq!(ok.body["data"]["version"], 2);
    // cas 0 creates only when the key does not exist yet
    let create = call(
        &r,
        "PUT",
        "secret/data/new",
        Some(json!({"data": {"v": "1"}, "options": {"cas": 0}})),
    )
    .await;
    assert_eq!(create.status, 200);
}

#[tokio::test]
async fn deleted_and_destroyed_versions_read_404_with_their_metadata() {
    let r = dev_router().await;
    for v in ["1", "2", "3"] {
        call(&r, "PUT", "secret/data/k", Some(json!({"data": {"v": v}}))).await;
    }
    assert_eq!(call(&r, "DELETE", "secret/data/k", None).await.status, 204);
    let gone = call(&r, "GET", "secret/data/k", None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["data"]["data"], Value::Null);
    assert_eq!(gone.body["data"]["metadata"]["version"], 3);
    assert!(
        gone.body["data"]["metadata"]["deletion_time"]
            .as_str()
            .unwrap()
            .len()
            > 10
    );
    let undel = call(
        &r,
        "POST",
        "secret/undelete/k",
        Some(json!({"versions": [3]})),
    )
    .await;
    assert_eq!(undel.status, 204);
    assert_eq!(
        call(&r, "GET", "secret/data/k", None).await.body["data"]["data"]["v"],
        "3"
    );

    let del = call(
        &r,
        "POST",
        "secret/delete/k",
        Some(json!({"versions": [1, "2"]})),
    )
    .await;
    assert_eq!(del.status, 204);
    assert_eq!(
        call(&r, "GET", "secret/data/k?version=2", None)
            .await
            .status,
        404
    );
    let destroy = call(
        &r,
        "PUT",
        "secret/destroy/k",
        Some(json!({"versions": [1, 3]})),
    )
    .await;
    assert_eq!(destroy.status, 204);
    let d = call(&r, "GET", "secret/data/k?version=3", None).await;
    assert_eq!(d.status, 404);
    assert_eq!(d.body["data"]["metadata"]["destroyed"], true);
    // a destroyed version cannot be undeleted
    call(
        &r,
        "POST",
        "secret/undelete/k",
        Some(json!({"versions": [1, 2]})),
    )
    .await;
    let meta = call(&r, "GET", "secret/metadata/k", None).await.body;
    assert_eq!(meta["data"]["versions"]["1"]["destroyed"], true);
    assert_eq!(meta["data"]["versions"]["2"]["deletion_time"], "");
    assert_eq!(
        call(&r, "GET", "secret/data/k?version=2", None).await.body["data"]["data"]["v"],
        "2"
    );
    // out of range, missing list
    assert_eq!(
        call(&r, "GET", "secret/data/k?version=99", None)
            .await
            .status,
        404
    );
    let none = call(&r, "POST", "secret/delete/k", Some(json!({}))).await;
    assert_eq!(none.status, 400);
    assert_eq!(none.body["errors"][0], "No version number provided");
    let bad = call(&r, "GET", "secret/data/k?version=abc", None).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn max_versions_prunes_the_oldest_and_reports_oldest_version() {
    let r = dev_router().await;
    call(&r, "POST", "secret/metadata/m", Some(json!({"max_versions": 2, "custom_metadata": {"owner": "ops"}, "delete_version_after": "1h"}))).await;
    for v in ["1", "2", "3"] {
        let w = call(&r, "POST", "secret/data/m", Some(json!({"data": {"v": v}}))).await;
        assert_eq!(w.body["data"]["custom_metadata"]["owner"], "ops");
        assert_ne!(
            w.body["data"]["deletion_time"], "",
            "delete_version_after schedules a deletion"
        );
    }
    let meta = call(&r, "GET", "secret/metadata/m", None).await.body["data"].clone();
    assert_eq!(meta["oldest_version"], 2);
    assert_eq!(meta["current_version"], 3);
    assert_eq!(meta["delete_version_after"], "1h0m0s");
    assert_eq!(meta["current_metadata_version"], 1);
    let keys: Vec<&String> = meta["versions"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["2", "3"]);
    assert_eq!(
        call(&r, "GET", "secret/data/m?version=1", None)
            .await
            .status,
        404
    );
    assert_eq!(
        call(&r, "GET", "secret/data/m?version=2", None).await.body["data"]["data"]["v"],
        "2"
    );
}

#[tokio::test]
async fn mount_config_applies_to_every_key() {
    let r = dev_router().await;
    let c = call(&r, "GET", "secret/config", None).await;
    assert_eq!(
        c.body["data"],
        json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 0, "metadata_cas_required": false})
    );
    call(
        &r,
        "POST",
        "secret/config",
        Some(json!({"max_versions": 1, "cas_required": true})),
    )
    .await;
    let refused = call(
        &r,
        "POST",
        "secret/data/a",
        Some(json!({"data": {"v": "1"}})),
    )
    .await;
    assert_eq!(refused.status, 400);
    call(
        &r,
        "POST",
        "secret/data/a",
        Some(json!({"data": {"v": "1"}, "options": {"cas": 0}})),
    )
    .await;
    call(
        &r,
        "POST",
        "secret/data/a",
        Some(json!({"data": {"v": "2"}, "options": {"cas": 1}})),
    )
    .await;
    let meta = call(&r, "GET", "secret/metadata/a", None).await.body["data"].clone();
    assert_eq!(meta["versions"].as_object().unwrap().len(), 1);
    let bad = call(
        &r,
        "POST",
        "secret/config",
        Some(json!({"max_versions": "x"})),
    )
    .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn patch_merges_into_the_latest_version() {
    let r = dev_router().await;
    let missing = call(
        &r,
        "PATCH",
        "secret/data/p",
        Some(json!({"data": {"a": "1"}})),
    )
    .await;
    assert_eq!(missing.status, 404);
    call(
        &r,
        "POST",
        "secret/data/p",
        Some(json!({"data": {"a": "1", "b": {"c": "d", "e": "f"}}})),
    )
    .await;
    let p = call(
        &r,
        "PATCH",
        "secret/data/p",
        Some(json!({"data": {"a": null, "b": {"c": "x"}, "n": "new"}})),
    )
    .await;
    assert_eq!(
        (p.status, p.body["data"]["version"].clone()),
        (200, json!(2))
    );
    let g = call(&r, "GET", "secret/data/p", None).await;
    assert_eq!(
        g.body["data"]["data"],
        json!({"b": {"c": "x", "e": "f"}, "n": "new"})
    );
    let stale = call(
        &r,
        "PATCH",
        "secret/data/p",
        Some(json!({"data": {"a": "1"}, "options": {"cas": 1}})),
    )
    .await;
    assert_eq!(stale.status, 400);
    call(&r, "DELETE", "secret/data/p", None).await;
    let deleted = call(
        &r,
        "PATCH",
        "secret/data/p",
        Some(json!({"data": {"a": "1"}})),
    )
    .await;
    assert_eq!(deleted.status, 404);
    assert_eq!(deleted.body["data"]["version"], 2);
}

#[tokio::test]
async fn malformed_writes_are_refused() {
    let r = dev_router().await;
    let not_object = call(&r, "POST", "secret/data/x", Some(json!({"data": "str"}))).await;
    assert_eq!(not_object.status, 400);
    let no_data = call(&r, "POST", "secret/data/x", Some(json!({}))).await;
    assert_eq!(no_data.status, 400);
    assert_eq!(no_data.body["errors"][0], "no data provided");
    assert_eq!(
        call(&r, "GET", "secret/metadata/x", None).await.status,
        404,
        "nothing written"
    );
    let bad_meta = call(
        &r,
        "POST",
        "secret/metadata/x",
        Some(json!({"delete_version_after": "bogus"})),
    )
    .await;
    assert_eq!(bad_meta.status, 400);
    let wrong_path = call(&r, "GET", "secret/bogus/x", None).await;
    assert_eq!(wrong_path.status, 404);
    assert!(wrong_path.body["warnings"][0]
        .as_str()
        .unwrap()
        .contains("Invalid path"));
}

#[tokio::test]
async fn list_is_one_level_sorted_with_folders_and_404_when_empty() {
    let r = dev_router().await;
    for k in ["b", "a", "a/x", "a/y/z"] {
        call(
            &r,
            "POST",
            &format!("secret/data/{k}"),
            Some(json!({"data": {"k": k}})),
        )
        .await;
    }
    let top = call(&r, "LIST", "secret/metadata", None).await;
    assert_eq!(top.body["data"]["keys"], json!(["a", "a/", "b"]));
    let sub = call(&r, "GET", "secret/metadata/a/?list=true", None).await;
    assert_eq!(sub.body["data"]["keys"], json!(["x", "y/"]));
    let empty = call(&r, "LIST", "secret/metadata/nothing/", None).await;
    assert_eq!(
        (empty.status, empty.body.clone()),
        (404, json!({"errors": []}))
    );
}

#[tokio::test]
async fn metadata_write_patch_and_delete() {
    let r = dev_router().await;
    call(
        &r,
        "POST",
        "secret/data/md",
        Some(json!({"data": {"v": "1"}})),
    )
    .await;
    call(
        &r,
        "POST",
        "secret/data/md",
        Some(json!({"data": {"v": "2"}})),
    )
    .await;
    call(
        &r,
        "POST",
        "secret/metadata/md",
        Some(json!({"custom_metadata": {"a": "1", "b": 2}})),
    )
    .await;
    let p = call(
        &r,
        "PATCH",
        "secret/metadata/md",
        Some(json!({"custom_metadata": {"a": null, "c": "3"}, "max_versions": 5})),
    )
    .await;
    assert_eq!(p.status, 204);
    let meta = call(&r, "GET", "secret/metadata/md", None).await.body["data"].clone();
    assert_eq!(meta["custom_metadata"], json!({"b": "2", "c": "3"}));
    assert_eq!(meta["max_versions"], 5);
    assert_eq!(
        call(
            &r,
            "PATCH",
            "secret/metadata/none",
            Some(json!({"max_versions": 1}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(&r, "DELETE", "secret/metadata/md", None).await.status,
        204
    );
    assert_eq!(
        call(&r, "GET", "secret/metadata/md", None).await.status,
        404
    );
    assert_eq!(
        call(&r, "GET", "secret/data/md?version=1", None)
            .await
            .status,
        404
    );
    // a new secret at the same key starts again at version 1
    let w = call(
        &r,
        "POST",
        "secret/data/md",
        Some(json!({"data": {"v": "new"}})),
    )
    .await;
    assert_eq!(w.body["data"]["version"], 1);
}

#[tokio::test]
async fn subkeys_show_structure_without_values() {
    let r = dev_router().await;
    call(
        &r,
        "POST",
        "secret/data/s",
        Some(json!({"data": {"a": "1", "b": {"c": {"d": 1}}}})),
    )
    .await;
    let all = call(&r, "GET", "secret/subkeys/s", None).await;
    assert_eq!(
        all.body["data"]["subkeys"],
        json!({"a": null, "b": {"c": {"d": null}}})
    );
    let shallow = call(&r, "GET", "secret/subkeys/s?depth=1", None).await;
    assert_eq!(
        shallow.body["data"]["subkeys"],
        json!({"a": null, "b": null})
    );
    assert_eq!(
        call(&r, "GET", "secret/subkeys/none", None).await.status,
        404
    );
}

#[tokio::test]
async fn kv_v1_reads_writes_lists_and_deletes() {
    let r = dev_router().await;
    assert_eq!(
        call(&r, "POST", "sys/mounts/kv1", Some(json!({"type": "kv"})))
            .await
            .status,
        204
    );
    assert_eq!(
        call(&r, "POST", "kv1/foo", Some(json!({"a": "b", "n": 1})))
            .await
            .status,
        204
    );
    call(
        &r,
        "POST",
        "kv1/foo/bar",
        Some(json!({"ttl": "1h", "x": "y"})),
    )
    .await;
    let g = call(&r, "GET", "kv1/foo", None).await;
    assert_eq!((g.status, g.trips), (200, 1));
    assert_eq!(g.body["data"], json!({"a": "b", "n": 1}));
    assert_eq!(g.body["lease_duration"], 2_764_800);
    assert_eq!(
        call(&r, "GET", "kv1/foo/bar", None).await.body["lease_duration"],
        3600
    );
    assert_eq!(
        call(&r, "LIST", "kv1", None).await.body["data"]["keys"],
        json!(["foo", "foo/"])
    );
    assert_eq!(
        call(&r, "GET", "kv1/foo/?list=true", None).await.body["data"]["keys"],
        json!(["bar"])
    );
    assert_eq!(call(&r, "LIST", "kv1/none/", None).await.status, 404);
    let empty = call(&r, "POST", "kv1/e", Some(json!({}))).await;
    assert_eq!(empty.status, 400);
    assert_eq!(empty.body["errors"][0], "missing data fields");
    assert_eq!(call(&r, "DELETE", "kv1/foo", None).await.status, 204);
    assert_eq!(call(&r, "GET", "kv1/foo", None).await.status, 404);
}

#[tokio::test]
async fn mounts_are_isolated_and_a_re_enabled_mount_starts_empty() {
    let r = dev_router().await;
    call(&r, "POST", "sys/mounts/one", Some(json!({"type": "kv-v2"}))).await;
    call(
        &r,
        "POST",
        "sys/mounts/two",
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    call(&r, "POST", "one/data/k", Some(json!({"data": {"v": "1"}}))).await;
    assert_eq!(call(&r, "GET", "two/data/k", None).await.status, 404);
    let taken = call(&r, "POST", "sys/mounts/one", Some(json!({"type": "kv"}))).await;
    assert_eq!(taken.status, 400);
    assert_eq!(taken.body["errors"][0], "path is already in use at one/");
    let nested = call(
        &r,
        "POST",
        "sys/mounts/one/deeper",
        Some(json!({"type": "kv"})),
    )
    .await;
    assert_eq!(nested.status, 400);
    assert_eq!(call(&r, "DELETE", "sys/mounts/one", None).await.status, 204);
    assert_eq!(call(&r, "GET", "one/data/k", None).await.status, 404);
    call(&r, "POST", "sys/mounts/one", Some(json!({"type": "kv-v2"}))).await;
    assert_eq!(call(&r, "GET", "one/data/k", None).await.status, 404);
}

#[tokio::test]
async fn mounts_can_be_tuned_and_moved_with_their_data() {
    let r = dev_router().await;
    let e = call(&r, "POST", "sys/mounts/t", Some(json!({"type": "kv", "description": "d", "options": {"version": "2"}, "config": {"max_lease_ttl": "1h", "default_lease_ttl": "30m"}}))).await;
    assert_eq!(e.status, 204);
    let tune = call(&r, "GET", "sys/mounts/t/tune", None).await;
    assert_eq!(tune.body["data"]["max_lease_ttl"], 3600);
    assert_eq!(
        tune.body["default_lease_ttl"], 1800,
        "copied to the top level as OpenBao does"
    );
    assert_eq!(
        call(
            &r,
            "POST",
            "sys/mounts/t/tune",
            Some(json!({"description": "new", "max_lease_ttl": "2h"}))
        )
        .await
        .status,
        204
    );
    let bad = call(
        &r,
        "POST",
        "sys/mounts/t/tune",
        Some(json!({"default_lease_ttl": "5h"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let read = call(&r, "GET", "sys/mounts/t", None).await;
    assert_eq!(read.body["data"]["description"], "new");
    call(
        &r,
        "POST",
        "t/data/k",
        Some(json!({"data": {"v": "moved"}})),
    )
    .await;
    let mv = call(
        &r,
        "POST",
        "sys/remount",
        Some(json!({"from": "t", "to": "u"})),
    )
    .await;
    assert_eq!(mv.status, 200);
    let id = mv.body["data"]["migration_id"]
        .as_str()
        .unwrap()
        .to_string();
    let st = call(&r, "GET", &format!("sys/remount/status/{id}"), None).await;
    assert_eq!(st.body["data"]["migration_info"]["status"], "success");
    assert_eq!(
        call(&r, "GET", "u/data/k", None).await.body["data"]["data"]["v"],
        "moved"
    );
    assert_eq!(call(&r, "GET", "t/data/k", None).await.status, 404);
    let nope = call(
        &r,
        "POST",
        "sys/remount",
        Some(json!({"from": "nope", "to": "x"})),
    )
    .await;
    assert_eq!(nope.status, 400);
    let list = call(&r, "GET", "sys/mounts", None).await;
    assert_eq!(list.body["u/"]["type"], "kv");
    assert_eq!(list.body["data"]["u/"]["options"]["version"], "2");
    assert_eq!(list.body["data"]["cubbyhole/"]["local"], true);
}

#[tokio::test]
async fn a_mount_change_in_one_process_is_seen_by_another_on_its_next_request() {
    let storage: Arc<dyn Storage> = Arc::new(CountingStorage::new(Arc::new(MemoryStorage::new())));
    let (first, key) = dev_store(storage.clone()).await;
    let second = Arc::new(Store::new(storage, "t"));
    assert!(second.submit_unseal_key(&key, false).await.unwrap());
    let a = router(first, 1024 * 1024);
    let b = router(second, 1024 * 1024);
    // b has cached the table; a adds a mount
    assert_eq!(call(&b, "GET", "shared/data/k", None).await.status, 404);
    call(
        &a,
        "POST",
        "sys/mounts/shared",
        Some(json!({"type": "kv-v2"})),
    )
    .await;
    call(
        &a,
        "POST",
        "shared/data/k",
        Some(json!({"data": {"v": "1"}})),
    )
    .await;
    let seen = call(&b, "GET", "shared/data/k", None).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["data"]["data"]["v"], "1");
    call(&a, "DELETE", "sys/mounts/shared", None).await;
    assert_eq!(call(&b, "GET", "shared/data/k", None).await.status, 404);
    let steady = call(&b, "GET", "secret/data/none", None).await;
    assert_eq!(steady.trips, 1, "a current cache costs nothing extra");
}

#[tokio::test]
async fn a_policy_token_reads_kv_v2_in_one_round_trip_once_its_policy_is_cached() {
    let r = dev_router().await;
    let policy = r#"path "secret/data/*" { capabilities = ["create", "read", "update"] }"#;
    let p = call(
        &r,
        "PUT",
        "sys/policies/acl/reader",
        Some(json!({"policy": policy})),
    )
    .await;
    assert_eq!(p.status, 204, "{}", p.body);
    let t = call(
        &r,
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["reader"]})),
    )
    .await;
    let token = t.body["auth"]["client_token"].as_str().unwrap().to_string();
    call(
        &r,
        "PUT",
        "secret/data/app",
        Some(json!({"data": {"pw": "1"}})),
    )
    .await;
    // The first use loads the policy into the process cache.
    call_as(&r, &token, "GET", "secret/data/app", None).await;
    let read = call_as(&r, &token, "GET", "secret/data/app", None).await;
    assert_eq!((read.status, read.trips), (200, 1), "{}", read.body);
    let write = call_as(
        &r,
        &token,
        "PUT",
        "secret/data/app",
        Some(json!({"data": {"pw": "2"}})),
    )
    .await;
    assert_eq!((write.status, write.trips), (200, 2), "{}", write.body);
    let denied = call_as(&r, &token, "GET", "secret/metadata/app", None).await;
    assert_eq!(denied.status, 403);
    assert!(denied.body.get("data").is_none(), "{}", denied.body);
}

#[tokio::test]
async fn lowering_max_versions_far_prunes_in_batches_of_at_most_100_writes() {
    let r = dev_router().await;
    call(
        &r,
        "POST",
        "secret/metadata/many",
        Some(json!({"max_versions": 150})),
    )
    .await;
    for v in 0..150 {
        call(
            &r,
            "POST",
            "secret/data/many",
            Some(json!({"data": {"v": v}})),
        )
        .await;
    }
    call(
        &r,
        "POST",
        "secret/metadata/many",
        Some(json!({"max_versions": 1})),
    )
    .await;
    let w = call(
        &r,
        "POST",
        "secret/data/many",
        Some(json!({"data": {"v": "last"}})),
    )
    .await;
    assert_eq!(w.status, 200);
    assert_eq!(
        w.trips, 3,
        "prefetch, the atomic batch, one batch of leftover deletes"
    );
    let meta = call(&r, "GET", "secret/metadata/many", None).await.body;
    assert_eq!(meta["data"]["versions"].as_object().unwrap().len(), 1);
    assert_eq!(meta["data"]["oldest_version"], 151);
    assert_eq!(
        call(&r, "GET", "secret/data/many?version=150", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_policy_token_can_ask_which_kv_version_a_mount_it_may_use_runs() {
    let r = dev_router().await;
    let policy = r#"path "secret/data/*" { capabilities = ["read"] }"#;
    call(
        &r,
        "PUT",
        "sys/policies/acl/reader",
        Some(json!({"policy": policy})),
    )
    .await;
    let t = call(
        &r,
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["reader"]})),
    )
    .await;
    let token = t.body["auth"]["client_token"].as_str().unwrap().to_string();
    let ui = call_as(&r, &token, "GET", "sys/internal/ui/mounts/secret/app", None).await;
    assert_eq!(ui.status, 200, "{}", ui.body);
    assert_eq!(ui.body["data"]["options"]["version"], "2");
    call(
        &r,
        "POST",
        "sys/mounts/other",
        Some(json!({"type": "kv-v2"})),
    )
    .await;
    let other = call_as(&r, &token, "GET", "sys/internal/ui/mounts/other", None).await;
    assert_eq!(other.status, 403, "{}", other.body);
}

#[tokio::test]
async fn each_token_has_its_own_cubbyhole() {
    let r = dev_router().await;
    let t = call(
        &r,
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["default"]})),
    )
    .await;
    let other = t.body["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(
        call(&r, "POST", "cubbyhole/note", Some(json!({"x": "root's"})))
            .await
            .status,
        204
    );
    let mine = call(&r, "GET", "cubbyhole/note", None).await;
    assert_eq!(mine.body["data"], json!({"x": "root's"}));
    assert_eq!(mine.body["lease_duration"], 0);
    assert_eq!(
        call_as(&r, &other, "GET", "cubbyhole/note", None)
            .await
            .status,
        404
    );
    assert_eq!(
        call_as(&r, &other, "LIST", "cubbyhole/", None).await.status,
        404
    );
    call_as(
        &r,
        &other,
        "POST",
        "cubbyhole/note",
        Some(json!({"x": "other's"})),
    )
    .await;
    let theirs = call_as(&r, &other, "GET", "cubbyhole/note", None).await;
    assert_eq!(theirs.body["data"], json!({"x": "other's"}));
    assert_eq!(
        call(&r, "GET", "cubbyhole/note", None).await.body["data"]["x"],
        "root's"
    );
    assert_eq!(
        call(&r, "LIST", "cubbyhole/", None).await.body["data"]["keys"],
        json!(["note"])
    );
    assert_eq!(call(&r, "DELETE", "cubbyhole/note", None).await.status, 204);
    assert_eq!(call(&r, "GET", "cubbyhole/note", None).await.status, 404);
}
