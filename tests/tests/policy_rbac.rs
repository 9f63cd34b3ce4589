//! The product's RBAC flow with the real `bao` CLI: an application token reaches exactly what
//! its policy allows, and nothing once revoked. Same scenario on coffer and OpenBao.

use std::fs;

use coffer_blackbox::{both_flavors, CmdOutput, Flavor, Server};

const READONLY: &str = r#"
path "secret/data/app*" {
  capabilities = ["read", "list"]
}
path "secret/metadata/*" {
  capabilities = ["list"]
}
"#;

#[track_caller]
fn denied(out: &CmdOutput) {
    out.assert_code(2);
    assert!(
        out.stderr.contains("Code: 403") && out.stderr.contains("permission denied"),
        "expected 403 permission denied\n{out}"
    );
}

fn write_policy(server: &Server, name: &str, text: &str) {
    let file = server.data_dir().join(format!("{name}.hcl"));
    fs::write(&file, text).expect("write policy file");
    server
        .bao(
            Some("root"),
            &["policy", "write", name, file.to_str().unwrap()],
        )
        .assert_ok();
}

fn a_readonly_token_reaches_exactly_what_its_policy_allows(flavor: Flavor) {
    let server = Server::dev(flavor);
    write_policy(&server, "readonly", READONLY);
    server
        .bao(
            Some("root"),
            &["kv", "put", "secret/app", "password=s3cret"],
        )
        .assert_ok();
    server
        .bao(Some("root"), &["kv", "put", "secret/other", "x=1"])
        .assert_ok();
    let out = server.bao(
        Some("root"),
        &["token", "create", "-policy=readonly", "-field=token"],
    );
    out.assert_ok();
    let app_token = out.stdout.trim().to_owned();
    let app = Some(app_token.as_str());

    let read = server.bao(app, &["kv", "get", "-field=password", "secret/app"]);
    read.assert_ok();
    assert_eq!(read.stdout.trim(), "s3cret", "{read}");
    server.bao(app, &["kv", "list", "secret/"]).assert_ok();

    denied(&server.bao(app, &["kv", "put", "secret/app", "password=mine"]));
    denied(&server.bao(app, &["kv", "get", "secret/other"]));
    denied(&server.bao(app, &["secrets", "list"]));
    let file = server.data_dir().join("x.hcl");
    fs::write(&file, READONLY).unwrap();
    denied(&server.bao(app, &["policy", "write", "x", file.to_str().unwrap()]));

    server
        .bao(Some("root"), &["token", "revoke", &app_token])
        .assert_ok();
    denied(&server.bao(app, &["kv", "get", "secret/app"]));
}

fn a_policy_change_applies_to_existing_tokens_at_once(flavor: Flavor) {
    let server = Server::dev(flavor);
    server
        .bao(Some("root"), &["kv", "put", "secret/app", "a=1"])
        .assert_ok();
    let out = server.bao(
        Some("root"),
        &["token", "create", "-policy=later", "-field=token"],
    );
    out.assert_ok();
    let token = out.stdout.trim().to_owned();
    let http = server.http();
    http.get("/v1/secret/data/app", Some(&token))
        .assert_status(403);
    write_policy(
        &server,
        "later",
        r#"path "secret/data/app" { capabilities = ["read"] }"#,
    );
    http.get("/v1/secret/data/app", Some(&token))
        .assert_status(200);
    server
        .bao(Some("root"), &["policy", "delete", "later"])
        .assert_ok();
    http.get("/v1/secret/data/app", Some(&token))
        .assert_status(403);
}

fn sudo_protected_paths_need_sudo(flavor: Flavor) {
    let server = Server::dev(flavor);
    write_policy(
        &server,
        "rotator",
        r#"path "sys/rotate" { capabilities = ["update"] }"#,
    );
    write_policy(
        &server,
        "sudo-rotator",
        r#"path "sys/rotate" { capabilities = ["update", "sudo"] }"#,
    );
    let http = server.http();
    let token = |policy: &str| {
        let out = server.bao(
            Some("root"),
            &[
                "token",
                "create",
                &format!("-policy={policy}"),
                "-field=token",
            ],
        );
        out.assert_ok();
        out.stdout.trim().to_owned()
    };
    let plain = token("rotator");
    let sudo = token("sudo-rotator");
    let resp = http.post("/v1/sys/rotate", Some(&plain), &serde_json::json!({}));
    resp.assert_status(403);
    assert_eq!(
        resp.errors(),
        ["1 error occurred:\n\t* permission denied\n\n"],
        "{resp}"
    );
    http.post("/v1/sys/rotate", Some(&sudo), &serde_json::json!({}))
        .assert_status(204);
}

both_flavors!(
    a_readonly_token_reaches_exactly_what_its_policy_allows,
    a_policy_change_applies_to_existing_tokens_at_once,
    sudo_protected_paths_need_sudo,
);
