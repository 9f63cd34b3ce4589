//! How a client presents its token: `X-Vault-Token` or `Authorization: Bearer`.

use coffer_blackbox::{both_flavors, Flavor, Server, ServerOptions};

fn the_token_is_accepted_in_x_vault_token(flavor: Flavor) {
    let server = Server::dev(flavor);
    let resp = server
        .http()
        .req("GET", "/v1/auth/token/lookup-self")
        .header("X-Vault-Token", "root")
        .send();
    resp.assert_status(200);
    assert_eq!(resp.json["data"]["id"], "root", "{resp}");
}

fn the_token_is_accepted_as_an_authorization_bearer(flavor: Flavor) {
    let server = Server::dev(flavor);
    let resp = server
        .http()
        .req("GET", "/v1/auth/token/lookup-self")
        .header("Authorization", "Bearer root")
        .send();
    resp.assert_status(200);
    assert_eq!(resp.json["data"]["id"], "root", "{resp}");
    assert_eq!(
        resp.json["data"]["policies"],
        serde_json::json!(["root"]),
        "{resp}"
    );
}

fn a_bad_bearer_token_is_403(flavor: Flavor) {
    let server = Server::dev(flavor);
    let resp = server
        .http()
        .req("GET", "/v1/auth/token/lookup-self")
        .header("Authorization", "Bearer s.bogus")
        .send();
    resp.assert_status(403);
    assert_eq!(resp.errors(), ["permission denied"], "{resp}");
}

fn the_dev_root_token_looks_up_with_the_bao_cli(flavor: Flavor) {
    let server = Server::dev(flavor);
    let out = server.bao(Some("root"), &["token", "lookup", "-format=json"]);
    out.assert_ok();
    let data = &out.json()["data"];
    assert_eq!(data["id"], "root", "{out}");
    assert_eq!(data["policies"], serde_json::json!(["root"]), "{out}");
    assert_eq!(data["type"], "service", "{out}");
    assert_eq!(data["orphan"], true, "{out}");
    assert_eq!(data["ttl"], 0, "{out}");
    assert_eq!(data["expire_time"], serde_json::Value::Null, "{out}");
}

fn the_initial_root_token_is_an_orphan_service_token_that_never_expires(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    let root = server.init_unsealed().root_token;
    assert!(
        root.starts_with("s."),
        "OpenBao service tokens start with `s.`: {root}"
    );
    let resp = server.http().get("/v1/auth/token/lookup-self", Some(&root));
    resp.assert_status(200);
    let data = &resp.json["data"];
    assert_eq!(data["id"], root.as_str(), "{resp}");
    assert_eq!(data["display_name"], "root", "{resp}");
    assert_eq!(data["path"], "auth/token/root", "{resp}");
    assert_eq!(data["policies"], serde_json::json!(["root"]), "{resp}");
    assert_eq!(data["orphan"], true, "{resp}");
    assert_eq!(data["ttl"], 0, "{resp}");
    assert_eq!(data["expire_time"], serde_json::Value::Null, "{resp}");
    assert!(
        data["accessor"].as_str().is_some_and(|a| !a.is_empty()),
        "{resp}"
    );
}

both_flavors!(
    the_token_is_accepted_in_x_vault_token,
    the_token_is_accepted_as_an_authorization_bearer,
    a_bad_bearer_token_is_403,
    the_dev_root_token_looks_up_with_the_bao_cli,
    the_initial_root_token_is_an_orphan_service_token_that_never_expires,
);
