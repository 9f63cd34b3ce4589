//! Error answers: `{"errors":[...]}` with OpenBao's status code for each kind of failure.
//!
//! Each case was first run against OpenBao 2.7.2; the table below is what it answered.

use coffer_blackbox::{both_flavors, Flavor, Resp, Server, ServerOptions};
use serde_json::json;

fn assert_vault_error(resp: &Resp, status: u16) {
    resp.assert_status(status);
    let errors = resp.json["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no `errors` array\n{resp}"));
    assert!(errors.iter().all(|e| e.is_string()), "{resp}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json"),
        "{resp}"
    );
}

/// A memory server, unsealed, KV v2 at `secret/`, requests limited to 1024 bytes.
fn limited_server(flavor: Flavor) -> (Server, String) {
    let server = Server::with_config(
        flavor,
        ServerOptions::memory().listener_line("max_request_size = 1024"),
    );
    let root = server.init_unsealed().root_token;
    server.ensure_kv2(&root, "secret");
    (server, root)
}

fn malformed_json_is_400_with_or_without_a_token(flavor: Flavor) {
    let (server, root) = limited_server(flavor);
    let http = server.http();
    for token in [Some(root.as_str()), None] {
        let resp = http
            .req("PUT", "/v1/secret/data/x")
            .token(token)
            .body("{bad")
            .send();
        assert_vault_error(&resp, 400);
        assert!(!resp.errors().is_empty(), "{resp}");
    }
}

fn a_missing_or_bad_token_is_403_permission_denied(flavor: Flavor) {
    let (server, _) = limited_server(flavor);
    let http = server.http();
    for token in [None, Some("s.bogus")] {
        for path in ["/v1/sys/mounts", "/v1/secret/data/x", "/v1/no/such/path"] {
            let resp = http.get(path, token);
            assert_vault_error(&resp, 403);
            assert_eq!(resp.errors(), ["permission denied"], "{resp}");
        }
    }
}

fn an_unknown_path_with_a_valid_token_is_404(flavor: Flavor) {
    let (server, root) = limited_server(flavor);
    let resp = server.http().get("/v1/no/such/path", Some(&root));
    assert_vault_error(&resp, 404);
    assert!(!resp.errors().is_empty(), "{resp}");
}

fn a_body_over_max_request_size_is_413(flavor: Flavor) {
    let (server, root) = limited_server(flavor);
    let big = json!({"data": {"blob": "x".repeat(2000)}});
    for token in [Some(root.as_str()), None] {
        let resp = server.http().put("/v1/secret/data/big", token, &big);
        assert_vault_error(&resp, 413);
    }
    let small = json!({"data": {"blob": "x".repeat(100)}});
    server
        .http()
        .put("/v1/secret/data/small", Some(&root), &small)
        .assert_status(200);
}

fn a_sealed_server_answers_503_to_authenticated_paths(flavor: Flavor) {
    let (server, root) = limited_server(flavor);
    server.bao(Some(&root), &["operator", "seal"]).assert_ok();
    for token in [Some(root.as_str()), None] {
        for path in [
            "/v1/sys/mounts",
            "/v1/secret/data/x",
            "/v1/auth/token/lookup-self",
        ] {
            let resp = server.http().get(path, token);
            assert_vault_error(&resp, 503);
            assert_eq!(resp.errors(), ["Vault is sealed"], "{resp}");
        }
    }
}

fn an_uninitialised_server_answers_503_to_authenticated_paths(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    let resp = server.http().get("/v1/sys/mounts", Some("s.anything"));
    assert_vault_error(&resp, 503);
}

both_flavors!(
    malformed_json_is_400_with_or_without_a_token,
    a_missing_or_bad_token_is_403_permission_denied,
    an_unknown_path_with_a_valid_token_is_404,
    a_body_over_max_request_size_is_413,
    a_sealed_server_answers_503_to_authenticated_paths,
    an_uninitialised_server_answers_503_to_authenticated_paths,
);
