//! The mount table lives in storage: mounts enabled, tuned and moved before a restart are all
//! there after it, with their data, and a disabled mount stays gone.

use coffer_blackbox::{both_flavors, Flavor, Server, ServerOptions};
use serde_json::json;

fn the_mount_table_survives_a_restart(flavor: Flavor) {
    let mut server = Server::with_config(flavor, ServerOptions::persistent());
    let keys = server.init_unsealed();
    let root = keys.root_token.clone();
    let token = Some(root.as_str());
    let http = server.http();
    http.post(
        "/v1/sys/mounts/kept",
        token,
        &json!({"type": "kv-v2", "description": "kept"}),
    )
    .assert_status(204);
    http.post("/v1/sys/mounts/old-v1", token, &json!({"type": "kv"}))
        .assert_status(204);
    http.post("/v1/sys/mounts/gone", token, &json!({"type": "kv-v2"}))
        .assert_status(204);
    http.put("/v1/kept/data/app", token, &json!({"data": {"v": "2"}}))
        .assert_status(200);
    http.put("/v1/old-v1/k", token, &json!({"v": "1"}))
        .assert_status(204);
    http.post(
        "/v1/sys/remount",
        token,
        &json!({"from": "old-v1", "to": "new-v1"}),
    )
    .assert_status(200);
    http.post(
        "/v1/sys/mounts/kept/tune",
        token,
        &json!({"max_lease_ttl": "1h"}),
    )
    .assert_status(204);
    http.delete("/v1/sys/mounts/gone", token).assert_status(204);

    server.restart();
    server.unseal(&keys.keys);
    server.wait_active();
    let http = server.http();
    let mounts = http.get("/v1/sys/mounts", token);
    mounts.assert_status(200);
    let data = &mounts.json["data"];
    assert_eq!(data["kept/"]["description"], "kept", "{mounts}");
    assert_eq!(data["kept/"]["options"]["version"], "2", "{mounts}");
    assert_eq!(data["kept/"]["config"]["max_lease_ttl"], 3600, "{mounts}");
    assert_eq!(data["new-v1/"]["type"], "kv", "{mounts}");
    assert!(data.get("old-v1/").is_none(), "{mounts}");
    assert!(data.get("gone/").is_none(), "{mounts}");
    let read = http.get("/v1/kept/data/app", token);
    read.assert_status(200);
    assert_eq!(read.json["data"]["data"]["v"], "2", "{read}");
    let v1 = http.get("/v1/new-v1/k", token);
    v1.assert_status(200);
    assert_eq!(v1.json["data"]["v"], "1", "{v1}");
}

both_flavors!(the_mount_table_survives_a_restart);
