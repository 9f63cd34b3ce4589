//! `sys/init` over HTTP: its answer, its refusals, and that it works only once.

use coffer_blackbox::shape::assert_same_shapes;
use coffer_blackbox::{both_flavors, on_both, Flavor, Server, ServerOptions};
use serde_json::json;

fn fresh(flavor: Flavor) -> Server {
    Server::with_config(flavor, ServerOptions::memory())
}

fn get_init_reports_whether_the_server_is_initialised(flavor: Flavor) {
    let server = fresh(flavor);
    let before = server.http().get("/v1/sys/init", None);
    before.assert_status(200);
    assert_eq!(before.json, json!({"initialized": false}), "{before}");
    server.init(1, 1);
    let after = server.http().get("/v1/sys/init", None);
    assert_eq!(after.json, json!({"initialized": true}), "{after}");
}

fn init_returns_keys_in_hex_and_base64_and_a_root_token(flavor: Flavor) {
    let server = fresh(flavor);
    let resp = server.http().put(
        "/v1/sys/init",
        None,
        &json!({"secret_shares": 5, "secret_threshold": 3}),
    );
    resp.assert_status(200);
    let keys: Vec<&str> = resp.json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    let b64 = resp.json["keys_base64"].as_array().expect("keys_base64");
    assert_eq!(keys.len(), 5, "{resp}");
    assert_eq!(b64.len(), 5, "{resp}");
    // A share is the 32-byte key's share plus one byte for its x coordinate.
    assert!(keys.iter().all(|k| k.len() == 66), "{resp}");
    let mut distinct = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "shares must differ\n{resp}");
    assert!(
        resp.json["root_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("s.")),
        "{resp}"
    );
}

fn a_single_share_is_the_whole_32_byte_key(flavor: Flavor) {
    let keys = fresh(flavor).init(1, 1);
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].len(), 64, "{keys:?}");
}

fn a_second_init_is_refused_with_400(flavor: Flavor) {
    let server = fresh(flavor);
    server.init(1, 1);
    let body = json!({"secret_shares": 1, "secret_threshold": 1});
    for method in ["PUT", "POST"] {
        let resp = server
            .http()
            .request(method, "/v1/sys/init", None, Some(&body));
        resp.assert_status(400);
        assert_eq!(resp.errors(), ["Vault is already initialized"], "{resp}");
    }
}

fn an_impossible_seal_configuration_is_refused_with_400(flavor: Flavor) {
    let server = fresh(flavor);
    for body in [
        json!({"secret_shares": 3, "secret_threshold": 5}),
        json!({"secret_shares": 0, "secret_threshold": 0}),
        json!({}),
        json!({"secret_shares": 5, "secret_threshold": 1}),
    ] {
        let resp = server.http().put("/v1/sys/init", None, &body);
        resp.assert_status(400);
        assert!(
            resp.errors()[0].starts_with("invalid seal configuration: "),
            "{resp}"
        );
    }
    let status = server.http().get("/v1/sys/init", None);
    assert_eq!(status.json["initialized"], false, "{status}");
}

both_flavors!(
    get_init_reports_whether_the_server_is_initialised,
    init_returns_keys_in_hex_and_base64_and_a_root_token,
    a_single_share_is_the_whole_32_byte_key,
    a_second_init_is_refused_with_400,
    an_impossible_seal_configuration_is_refused_with_400,
);

#[test]
fn init_and_unseal_answers_have_the_same_shape_on_both_flavors() {
    assert_same_shapes(&on_both(|flavor| {
        let server = fresh(flavor);
        let http = server.http();
        let init = http
            .put(
                "/v1/sys/init",
                None,
                &json!({"secret_shares": 3, "secret_threshold": 2}),
            )
            .json;
        let key = |i: usize| json!({"key": init["keys"][i]});
        let first = http.put("/v1/sys/unseal", None, &key(0)).json;
        let last = http.put("/v1/sys/unseal", None, &key(1)).json;
        let refused = http
            .put("/v1/sys/init", None, &json!({"secret_shares": 1}))
            .json;
        vec![
            ("PUT sys/init", init),
            ("PUT sys/unseal (1 of 2)", first),
            ("PUT sys/unseal (2 of 2)", last),
            ("PUT sys/init again", refused),
        ]
    }));
}
