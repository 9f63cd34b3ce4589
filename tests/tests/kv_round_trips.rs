//! The headline figure on the real binary with persistent storage (embedded redb; DynamoDB on
//! moto with `COFFER_TEST_STORAGE=dynamodb`): at steady state an authenticated KV v2 read
//! costs one storage round trip, token lookup included, and a write two, as reported by
//! `X-Coffer-Storage-Round-Trips`.

use coffer_blackbox::{Flavor, Server, ServerOptions};
use serde_json::json;

const HEADER: &str = "x-coffer-storage-round-trips";

#[test]
fn kv_v2_read_costs_one_round_trip_and_a_write_two_on_persistent_storage() {
    let server = Server::with_config(Flavor::Coffer, ServerOptions::persistent());
    let keys = server.init_unsealed();
    let root = keys.root_token.as_str();
    server.ensure_kv2(root, "secret");
    let http = server.http();
    let trips = |resp: &coffer_blackbox::Resp| -> u64 {
        resp.header(HEADER)
            .unwrap_or_else(|| panic!("no {HEADER} header\n{resp}"))
            .parse()
            .expect("a number")
    };
    // Warm up: the first request after unseal may refresh caches.
    http.get("/v1/secret/data/warm", Some(root));

    let write = http.put(
        "/v1/secret/data/app",
        Some(root),
        &json!({"data": {"pw": "1"}}),
    );
    write.assert_status(200);
    assert_eq!(trips(&write), 2, "new key: {write}");
    let update = http.put(
        "/v1/secret/data/app",
        Some(root),
        &json!({"data": {"pw": "2"}, "options": {"cas": 1}}),
    );
    update.assert_status(200);
    assert_eq!(trips(&update), 2, "new version with cas: {update}");
    for _ in 0..3 {
        let read = http.get("/v1/secret/data/app", Some(root));
        read.assert_status(200);
        assert_eq!(read.json["data"]["data"]["pw"], "2");
        assert_eq!(trips(&read), 1, "latest version: {read}");
    }
    let old = http.get("/v1/secret/data/app?version=1", Some(root));
    assert_eq!(trips(&old), 1, "older version: {old}");
    let lookup = http.get("/v1/auth/token/lookup-self", Some(root));
    assert_eq!(trips(&lookup), 1, "token lookup: {lookup}");
}
