//! Policies that grant only `create` or only `update` under a secrets mount: the write is
//! allowed or refused by whether the secret exists, as OpenBao decides it, on KV v2 and KV v1.

use coffer_blackbox::{both_flavors, Flavor, Server};
use serde_json::json;

fn token_with(server: &Server, name: &str, policy: &str) -> String {
    let http = server.http();
    http.put(
        &format!("/v1/sys/policies/acl/{name}"),
        Some("root"),
        &json!({ "policy": policy }),
    )
    .assert_status(204);
    let created = http.post(
        "/v1/auth/token/create",
        Some("root"),
        &json!({ "policies": [name] }),
    );
    created.assert_status(200);
    created.json["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_string()
}

fn create_only_may_write_new_secrets_but_not_overwrite(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    http.post(
        "/v1/sys/mounts/kv1",
        Some("root"),
        &json!({ "type": "kv", "options": { "version": "1" } }),
    )
    .assert_status(204);
    http.put(
        "/v1/secret/data/app/old",
        Some("root"),
        &json!({ "data": { "v": "1" } }),
    )
    .assert_status(200);
    http.put("/v1/kv1/app/old", Some("root"), &json!({ "v": "1" }))
        .assert_status(204);
    let creator = token_with(
        &server,
        "creator",
        "path \"secret/data/app/*\" { capabilities = [\"create\", \"read\"] }\n\
         path \"kv1/app/*\" { capabilities = [\"create\", \"read\"] }",
    );
    http.put(
        "/v1/secret/data/app/new",
        Some(&creator),
        &json!({ "data": { "v": "2" } }),
    )
    .assert_status(200);
    http.put(
        "/v1/secret/data/app/old",
        Some(&creator),
        &json!({ "data": { "v": "3" } }),
    )
    .assert_status(403);
    http.put("/v1/kv1/app/new", Some(&creator), &json!({ "v": "2" }))
        .assert_status(204);
    http.put("/v1/kv1/app/old", Some(&creator), &json!({ "v": "3" }))
        .assert_status(403);
    let old = http.get("/v1/secret/data/app/old", Some("root"));
    assert_eq!(
        old.json["data"]["data"]["v"], "1",
        "the refused write changed nothing"
    );
    let updater = token_with(
        &server,
        "updater",
        "path \"secret/data/app/*\" { capabilities = [\"update\", \"read\"] }\n\
         path \"kv1/app/*\" { capabilities = [\"update\", \"read\"] }",
    );
    http.put(
        "/v1/secret/data/app/old",
        Some(&updater),
        &json!({ "data": { "v": "4" } }),
    )
    .assert_status(200);
    http.put(
        "/v1/secret/data/app/other",
        Some(&updater),
        &json!({ "data": { "v": "5" } }),
    )
    .assert_status(403);
    http.put("/v1/kv1/app/old", Some(&updater), &json!({ "v": "4" }))
        .assert_status(204);
    http.put("/v1/kv1/app/other", Some(&updater), &json!({ "v": "5" }))
        .assert_status(403);
    http.get("/v1/secret/data/app/other", Some("root"))
        .assert_status(404);
    http.get("/v1/kv1/app/other", Some("root"))
        .assert_status(404);
}

both_flavors!(create_only_may_write_new_secrets_but_not_overwrite);
