//! The token store through the real `bao` CLI and raw HTTP: create with every flag, lookups,
//! renewals within max TTLs, revocation of trees and orphans, expiry, use limits, roles, and
//! OpenBao's failure codes and messages. Each scenario runs on coffer and on OpenBao.

use std::thread;
use std::time::Duration;

use coffer_blackbox::{both_flavors, Flavor, Http, Server};
use serde_json::{json, Value};

/// `POST auth/token/create` as root; returns the `auth` block.
fn create(http: &Http, body: Value) -> Value {
    let resp = http.post("/v1/auth/token/create", Some("root"), &body);
    resp.assert_status(200);
    resp.json["auth"].clone()
}

fn token_of(auth: &Value) -> String {
    auth["client_token"]
        .as_str()
        .expect("client_token")
        .to_owned()
}

fn lookup(http: &Http, token: &str) -> Value {
    let resp = http.get("/v1/auth/token/lookup-self", Some(token));
    resp.assert_status(200);
    resp.json["data"].clone()
}

fn bao_token_create_takes_every_flag(flavor: Flavor) {
    let server = Server::dev(flavor);
    let out = server.bao(
        Some("root"),
        &[
            "token",
            "create",
            "-format=json",
            "-ttl=24h",
            "-policy=readonly",
            "-display-name=myapp",
            "-use-limit=5",
            "-explicit-max-ttl=48h",
            "-metadata=team=a",
            "-renewable=false",
        ],
    );
    out.assert_ok();
    let auth = out.json()["auth"].clone();
    assert_eq!(auth["policies"], json!(["default", "readonly"]), "{out}");
    assert_eq!(
        auth["token_policies"],
        json!(["default", "readonly"]),
        "{out}"
    );
    assert_eq!(auth["lease_duration"], 86400, "{out}");
    assert_eq!(auth["renewable"], false, "{out}");
    assert_eq!(auth["orphan"], false, "{out}");
    assert_eq!(auth["metadata"], json!({"team": "a"}), "{out}");
    let token = token_of(&auth);
    assert!(token.starts_with("s."), "{token}");
    let data = lookup(&server.http(), &token);
    assert_eq!(data["display_name"], "token-myapp", "{data}");
    assert_eq!(data["explicit_max_ttl"], 172800, "{data}");
    assert_eq!(data["creation_ttl"], 86400, "{data}");
    // This lookup was one of the five uses.
    assert_eq!(data["num_uses"], 4, "{data}");
    assert_eq!(data["path"], "auth/token/create", "{data}");
    assert_eq!(data["meta"], json!({"team": "a"}), "{data}");
    assert!(data["expire_time"].is_string(), "{data}");

    let out = server.bao(
        Some("root"),
        &[
            "token",
            "create",
            "-format=json",
            "-period=1h",
            "-orphan",
            "-no-default-policy",
            "-policy=readonly",
        ],
    );
    out.assert_ok();
    let auth = out.json()["auth"].clone();
    assert_eq!(auth["policies"], json!(["readonly"]), "{out}");
    assert_eq!(auth["orphan"], true, "{out}");
    assert_eq!(auth["renewable"], true, "{out}");
    assert_eq!(auth["lease_duration"], 3600, "{out}");
    // Without the default policy it may not even look itself up; root looks it up.
    let resp = server.http().post(
        "/v1/auth/token/lookup",
        Some("root"),
        &json!({"token": token_of(&auth)}),
    );
    resp.assert_status(200);
    assert_eq!(resp.json["data"]["period"], 3600, "{resp}");
}

fn lookups_by_token_and_accessor(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    let auth = create(&http, json!({"policies": ["a"], "ttl": "1h"}));
    let token = token_of(&auth);
    let accessor = auth["accessor"].as_str().unwrap().to_owned();

    let out = server.bao(Some("root"), &["token", "lookup", "-format=json", &token]);
    out.assert_ok();
    assert_eq!(out.json()["data"]["id"], token.as_str(), "{out}");
    let out = server.bao(
        Some("root"),
        &["token", "lookup", "-format=json", "-accessor", &accessor],
    );
    out.assert_ok();
    assert_eq!(out.json()["data"]["id"], "", "{out}");
    assert_eq!(
        out.json()["data"]["policies"],
        json!(["a", "default"]),
        "{out}"
    );

    let resp = http.post(
        "/v1/auth/token/lookup",
        Some("root"),
        &json!({"token": "s.nope"}),
    );
    resp.assert_status(403);
    assert_eq!(resp.errors(), ["bad token"], "{resp}");
    let resp = http.post(
        "/v1/auth/token/lookup-accessor",
        Some("root"),
        &json!({"accessor": "nope"}),
    );
    resp.assert_status(400);
    assert_eq!(
        resp.errors(),
        ["1 error occurred:\n\t* invalid accessor\n\n"],
        "{resp}"
    );
    // The default policy lets a token look itself up, not others.
    let other = token_of(&create(&http, json!({"policies": ["a"]})));
    http.post(
        "/v1/auth/token/lookup",
        Some(&token),
        &json!({"token": other}),
    )
    .assert_status(403);
    lookup(&http, &token);
}

fn renewal_respects_the_explicit_max_ttl(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    let auth = create(
        &http,
        json!({"ttl": "10s", "explicit_max_ttl": "20s", "policies": ["a"]}),
    );
    let token = token_of(&auth);
    let resp = http.post(
        "/v1/auth/token/renew",
        Some("root"),
        &json!({"token": token, "increment": "1h"}),
    );
    resp.assert_status(200);
    let lease = resp.json["auth"]["lease_duration"].as_u64().unwrap();
    assert!((18..=20).contains(&lease), "{resp}");
    let warning = resp.json["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.starts_with("TTL of \"1h\" exceeded the effective max_ttl of"),
        "{resp}"
    );

    let out = server.bao(Some(&token), &["token", "renew", "-format=json"]);
    out.assert_ok();

    let fixed = token_of(&create(
        &http,
        json!({"renewable": false, "policies": ["a"]}),
    ));
    let resp = http.post(
        "/v1/auth/token/renew",
        Some("root"),
        &json!({"token": fixed}),
    );
    resp.assert_status(400);
    assert_eq!(resp.errors(), ["lease is not renewable"], "{resp}");
    let resp = http.post(
        "/v1/auth/token/renew",
        Some("root"),
        &json!({"token": "s.nope"}),
    );
    resp.assert_status(400);
    assert_eq!(resp.errors(), ["token not found"], "{resp}");
    let resp = http.post("/v1/auth/token/renew-self", Some("root"), &json!({}));
    resp.assert_status(400);
    assert_eq!(resp.errors(), ["lease is not renewable"], "{resp}");

    let accessor = create(&http, json!({"ttl": "1m", "policies": ["a"]}))["accessor"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = http.post(
        "/v1/auth/token/renew-accessor",
        Some("root"),
        &json!({"accessor": accessor, "increment": "2m"}),
    );
    resp.assert_status(200);
    assert_eq!(resp.json["auth"]["lease_duration"], 120, "{resp}");
    assert_eq!(resp.json["auth"]["client_token"], "", "{resp}");
}

fn revoking_a_parent_revokes_its_children_but_not_orphans(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    let maker = r#"
        path "auth/token/create" { capabilities = ["update"] }
        path "auth/token/create-orphan" { capabilities = ["update"] }
        path "auth/token/revoke-orphan" { capabilities = ["update"] }
    "#;
    http.put(
        "/v1/sys/policy/maker",
        Some("root"),
        &json!({"policy": maker}),
    )
    .assert_status(204);
    let parent = token_of(&create(&http, json!({"policies": ["maker"]})));
    let child = |body: Value| {
        let resp = http.post("/v1/auth/token/create", Some(&parent), &body);
        resp.assert_status(200);
        token_of(&resp.json["auth"])
    };
    // A non-root parent needs sudo for `no_parent`, but `create-orphan` is open to it.
    let resp = http.post(
        "/v1/auth/token/create",
        Some(&parent),
        &json!({"no_parent": true}),
    );
    resp.assert_status(400);
    assert_eq!(
        resp.errors(),
        ["root or sudo privileges required to create orphan token"],
        "{resp}"
    );
    let kid = child(json!({}));
    let grandkid = {
        let resp = http.post("/v1/auth/token/create", Some(&kid), &json!({}));
        resp.assert_status(200);
        token_of(&resp.json["auth"])
    };
    let orphan = {
        let resp = http.post("/v1/auth/token/create-orphan", Some(&parent), &json!({}));
        resp.assert_status(200);
        assert_eq!(resp.json["auth"]["orphan"], true, "{resp}");
        token_of(&resp.json["auth"])
    };
    let resp = http.post(
        "/v1/auth/token/create",
        Some(&parent),
        &json!({"policies": ["admin"]}),
    );
    resp.assert_status(400);
    assert_eq!(
        resp.errors(),
        ["child policies must be subset of parent"],
        "{resp}"
    );

    server
        .bao(Some("root"), &["token", "revoke", &parent])
        .assert_ok();
    for gone in [&parent, &kid, &grandkid] {
        http.get("/v1/auth/token/lookup-self", Some(gone))
            .assert_status(403);
    }
    lookup(&http, &orphan);

    // -mode=orphan keeps the children alive, as orphans.
    let parent = token_of(&create(&http, json!({"policies": ["maker"]})));
    let kid = {
        let resp = http.post("/v1/auth/token/create", Some(&parent), &json!({}));
        resp.assert_status(200);
        token_of(&resp.json["auth"])
    };
    server
        .bao(Some("root"), &["token", "revoke", "-mode=orphan", &parent])
        .assert_ok();
    http.get("/v1/auth/token/lookup-self", Some(&parent))
        .assert_status(403);
    assert_eq!(lookup(&http, &kid)["orphan"], true);
    let resp = http.post(
        "/v1/auth/token/revoke-orphan",
        Some(&kid),
        &json!({"token": kid}),
    );
    resp.assert_status(400);
    assert_eq!(
        resp.errors(),
        ["root or sudo privileges required to revoke and orphan"],
        "{resp}"
    );
}

fn revoke_self_accessor_and_unknown_tokens(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    let token = token_of(&create(&http, json!({"policies": ["a"]})));
    server
        .bao(Some(&token), &["token", "revoke", "-self"])
        .assert_ok();
    http.get("/v1/auth/token/lookup-self", Some(&token))
        .assert_status(403);

    let auth = create(&http, json!({"policies": ["a"]}));
    let accessor = auth["accessor"].as_str().unwrap();
    server
        .bao(Some("root"), &["token", "revoke", "-accessor", accessor])
        .assert_ok();
    http.get("/v1/auth/token/lookup-self", Some(&token_of(&auth)))
        .assert_status(403);

    http.post(
        "/v1/auth/token/revoke",
        Some("root"),
        &json!({"token": "s.nope"}),
    )
    .assert_status(204);
    let resp = http.post(
        "/v1/auth/token/revoke-accessor",
        Some("root"),
        &json!({"accessor": "nope"}),
    );
    resp.assert_status(200);
    assert_eq!(
        resp.json["warnings"],
        json!(["No token found with this accessor"]),
        "{resp}"
    );
}

fn an_expired_token_is_refused_and_tidied(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    let token = token_of(&create(&http, json!({"ttl": "2s", "policies": ["a"]})));
    lookup(&http, &token);
    thread::sleep(Duration::from_millis(2500));
    let resp = http.get("/v1/auth/token/lookup-self", Some(&token));
    resp.assert_status(403);
    assert_eq!(resp.errors(), ["permission denied"], "{resp}");
    let resp = http.post("/v1/auth/token/tidy", Some("root"), &json!({}));
    resp.assert_status(202);
}

fn a_use_limited_token_is_revoked_after_its_last_use(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    let token = token_of(&create(&http, json!({"num_uses": 2, "policies": ["a"]})));
    assert_eq!(lookup(&http, &token)["num_uses"], 1);
    lookup(&http, &token);
    http.get("/v1/auth/token/lookup-self", Some(&token))
        .assert_status(403);
    let resp = http.post(
        "/v1/auth/token/create",
        Some("root"),
        &json!({"num_uses": -1}),
    );
    resp.assert_status(400);
    assert_eq!(
        resp.errors(),
        ["number of uses cannot be negative"],
        "{resp}"
    );
    let resp = http.post(
        "/v1/auth/token/create",
        Some("root"),
        &json!({"ttl": "bogus"}),
    );
    resp.assert_status(400);
    assert_eq!(
        resp.errors(),
        ["time: invalid duration \"bogus\""],
        "{resp}"
    );
}

fn token_roles_limit_and_preset_what_they_create(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    http.post(
        "/v1/auth/token/roles/app",
        Some("root"),
        &json!({"allowed_policies": ["p1", "readonly"], "orphan": true, "period": "1h"}),
    )
    .assert_status(204);
    let role = http.get("/v1/auth/token/roles/app", Some("root"));
    role.assert_status(200);
    assert_eq!(
        role.json["data"]["allowed_policies"],
        json!(["p1", "readonly"]),
        "{role}"
    );
    assert_eq!(role.json["data"]["token_period"], 3600, "{role}");
    let list = http.list("/v1/auth/token/roles", Some("root"));
    list.assert_status(200);
    assert_eq!(list.json["data"]["keys"], json!(["app"]), "{list}");

    let out = server.bao(
        Some("root"),
        &["token", "create", "-role=app", "-format=json"],
    );
    out.assert_ok();
    let auth = out.json()["auth"].clone();
    assert_eq!(
        auth["policies"],
        json!(["default", "p1", "readonly"]),
        "{out}"
    );
    assert_eq!(auth["orphan"], true, "{out}");
    assert_eq!(auth["lease_duration"], 3600, "{out}");
    let data = lookup(&http, &token_of(&auth));
    assert_eq!(data["path"], "auth/token/create/app", "{data}");
    assert_eq!(data["role"], "app", "{data}");

    let resp = http.post(
        "/v1/auth/token/create/app",
        Some("root"),
        &json!({"policies": ["admin"]}),
    );
    resp.assert_status(400);
    assert!(
        resp.errors()[0].starts_with("token policies ([\"admin\" \"default\"]) must be subset of the role's allowed policies"),
        "{resp}"
    );
    let resp = http.post("/v1/auth/token/create/nope", Some("root"), &json!({}));
    resp.assert_status(400);
    assert_eq!(resp.errors(), ["unknown role nope"], "{resp}");
    http.get("/v1/auth/token/roles/nope", Some("root"))
        .assert_status(404);
    http.delete("/v1/auth/token/roles/app", Some("root"))
        .assert_status(204);
    http.get("/v1/auth/token/roles/app", Some("root"))
        .assert_status(404);
}

fn the_root_token_can_be_revoked(flavor: Flavor) {
    let server = Server::dev(flavor);
    let http = server.http();
    let other_root = token_of(&create(&http, json!({"policies": ["root"]})));
    server
        .bao(Some(&other_root), &["token", "revoke", "-self"])
        .assert_ok();
    http.get("/v1/auth/token/lookup-self", Some(&other_root))
        .assert_status(403);
    server
        .bao(Some("root"), &["token", "revoke", "root"])
        .assert_ok();
    http.get("/v1/auth/token/lookup-self", Some("root"))
        .assert_status(403);
}

both_flavors!(
    bao_token_create_takes_every_flag,
    lookups_by_token_and_accessor,
    renewal_respects_the_explicit_max_ttl,
    revoking_a_parent_revokes_its_children_but_not_orphans,
    revoke_self_accessor_and_unknown_tokens,
    an_expired_token_is_refused_and_tidied,
    a_use_limited_token_is_revoked_after_its_last_use,
    token_roles_limit_and_preset_what_they_create,
    the_root_token_can_be_revoked,
);
