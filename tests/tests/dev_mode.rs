//! `server -dev`: in memory, unsealed, root token `root`, KV v2 at `secret/`, and the banner
//! an operator reads the unseal key and root token from.

use coffer_blackbox::shape::assert_same_shapes;
use coffer_blackbox::{both_flavors, on_both, Flavor, Server};
use serde_json::json;

fn dev_server_prints_the_root_token_and_an_unseal_key(flavor: Flavor) {
    let server = Server::dev(flavor);
    let log = server.wait_for_log("Root Token: root");
    let unseal_key = log
        .lines()
        .find_map(|l| l.strip_prefix("Unseal Key: "))
        .unwrap_or_else(|| panic!("no `Unseal Key: ` line\n{log}"));
    assert!(!unseal_key.trim().is_empty(), "{log}");
    assert!(
        log.contains(&format!("export BAO_ADDR='{}'", server.addr())),
        "{log}"
    );
}

fn dev_server_is_unsealed_with_a_single_key_share(flavor: Flavor) {
    let server = Server::dev(flavor);
    server.http().get("/v1/sys/health", None).assert_status(200);
    let status = server.http().get("/v1/sys/seal-status", None).json;
    assert_eq!(status["initialized"], true, "{status}");
    assert_eq!(status["sealed"], false, "{status}");
    assert_eq!(
        (&status["t"], &status["n"]),
        (&1.into(), &1.into()),
        "{status}"
    );
}

fn dev_server_mounts_kv_v2_at_secret(flavor: Flavor) {
    let server = Server::dev(flavor);
    let resp = server
        .http()
        .get("/v1/sys/internal/ui/mounts/secret", Some("root"));
    resp.assert_status(200);
    let data = &resp.json["data"];
    assert_eq!(data["type"], "kv", "{resp}");
    assert_eq!(data["path"], "secret/", "{resp}");
    assert_eq!(data["options"]["version"], "2", "{resp}");
}

fn dev_server_stores_and_reads_a_secret_with_bao_kv(flavor: Flavor) {
    let server = Server::dev(flavor);
    server
        .bao(
            Some("root"),
            &["kv", "put", "secret/app", "user=alice", "pass=s3cret"],
        )
        .assert_ok();
    let out = server.bao(Some("root"), &["kv", "get", "-format=json", "secret/app"]);
    out.assert_ok();
    let data = &out.json()["data"];
    assert_eq!(data["data"]["user"], "alice", "{out}");
    assert_eq!(data["data"]["pass"], "s3cret", "{out}");
    assert_eq!(data["metadata"]["version"], 1, "{out}");
}

both_flavors!(
    dev_server_prints_the_root_token_and_an_unseal_key,
    dev_server_is_unsealed_with_a_single_key_share,
    dev_server_mounts_kv_v2_at_secret,
    dev_server_stores_and_reads_a_secret_with_bao_kv,
);

#[test]
fn dev_answers_have_the_same_shape_on_both_flavors() {
    assert_same_shapes(&on_both(|flavor| {
        let server = Server::dev(flavor);
        let http = server.http();
        let root = Some("root");
        let secret = json!({"data": {"user": "alice"}});
        vec![
            (
                "GET sys/internal/ui/mounts/secret",
                http.get("/v1/sys/internal/ui/mounts/secret", root).json,
            ),
            (
                "GET auth/token/lookup-self",
                http.get("/v1/auth/token/lookup-self", root).json,
            ),
            (
                "PUT secret/data/app",
                http.put("/v1/secret/data/app", root, &secret).json,
            ),
            (
                "GET secret/data/app",
                http.get("/v1/secret/data/app", root).json,
            ),
            (
                "GET secret/data/missing",
                http.get("/v1/secret/data/missing", root).json,
            ),
        ]
    }));
}
