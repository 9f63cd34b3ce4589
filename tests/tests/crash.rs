//! Durability: a write acknowledged to a client survives `kill -9` of the server.

use coffer_blackbox::{both_flavors, Flavor, Server, ServerOptions};
use serde_json::json;

const WRITES: usize = 50;

fn acknowledged_writes_survive_kill9(flavor: Flavor) {
    let mut server = Server::with_config(flavor, ServerOptions::persistent());
    let keys = server.init_unsealed();
    let root = keys.root_token.as_str();
    server.ensure_kv2(root, "secret");

    let http = server.http();
    for i in 0..WRITES {
        let resp = http.put(
            &format!("/v1/secret/data/crash/{i}"),
            Some(root),
            &json!({"data": {"i": i, "payload": format!("value-{i}")}}),
        );
        assert!(
            resp.status == 200 || resp.status == 204,
            "write {i} not acknowledged\n{resp}"
        );
    }

    server.kill9();
    server.restart();
    let status = server.http().get("/v1/sys/seal-status", None);
    assert_eq!(status.json["sealed"], true, "restarts sealed\n{status}");
    server.unseal(&keys.keys);

    let http = server.http();
    for i in 0..WRITES {
        let resp = http.get(&format!("/v1/secret/data/crash/{i}"), Some(root));
        resp.assert_status(200);
        assert_eq!(resp.json["data"]["data"]["i"], i, "{resp}");
        assert_eq!(
            resp.json["data"]["data"]["payload"],
            format!("value-{i}"),
            "{resp}"
        );
    }
}

fn a_graceful_restart_keeps_the_seal_config_and_mounts(flavor: Flavor) {
    let mut server = Server::with_config(flavor, ServerOptions::persistent());
    let keys = server.init(3, 2);
    server.unseal(&keys.keys);
    server.ensure_kv2(&keys.root_token, "secret");
    server.restart();

    let status = server.http().get("/v1/sys/seal-status", None);
    assert_eq!(status.json["initialized"], true, "{status}");
    assert_eq!(status.json["sealed"], true, "{status}");
    assert_eq!(status.json["t"], 2, "{status}");
    assert_eq!(status.json["n"], 3, "{status}");
    server.unseal(&keys.keys_base64[1..]);
    let mount = server
        .http()
        .get("/v1/sys/internal/ui/mounts/secret", Some(&keys.root_token));
    mount.assert_status(200);
    assert_eq!(mount.json["data"]["options"]["version"], "2", "{mount}");
}

both_flavors!(
    acknowledged_writes_survive_kill9,
    a_graceful_restart_keeps_the_seal_config_and_mounts,
);
