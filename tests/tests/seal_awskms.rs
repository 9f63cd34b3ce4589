//! The `awskms` auto seal end to end against moto's KMS: init returns recovery keys, the key
//! may be named by id, alias or ARN, every restart unseals by itself, and a disabled or missing
//! key leaves the server running sealed with an error naming the key (never plaintext, never a
//! panic); enabling the key again and restarting recovers.

use coffer_blackbox::moto::Moto;
use coffer_blackbox::{Flavor, Server, ServerOptions};
use serde_json::{json, Value};

fn kms_server(moto: &Moto, key: &str) -> Server {
    Server::with_config(
        Flavor::Coffer,
        ServerOptions::persistent()
            .line(&moto.awskms_seal_block(key))
            .env(moto.client_env()),
    )
}

fn status(server: &Server) -> Value {
    server.http().get("/v1/sys/seal-status", None).json
}

#[test]
fn init_with_an_alias_then_restarts_unseal_by_themselves() {
    let moto = Moto::start();
    moto.create_kms_key("coffer-seal");
    let mut server = kms_server(&moto, "alias/coffer-seal");
    let keys = server.init_recovery(3, 2);
    assert_eq!(keys.keys.len(), 3);
    let st = status(&server);
    assert_eq!(st["type"], "awskms", "{st}");
    assert_eq!(st["sealed"], false, "{st}");
    assert_eq!((st["t"].clone(), st["n"].clone()), (json!(2), json!(3)));
    let root = keys.root_token.clone();
    server
        .bao(Some(&root), &["secrets", "enable", "-path=secret", "kv-v2"])
        .assert_ok();
    server
        .bao(Some(&root), &["kv", "put", "secret/db", "password=s3cr3t"])
        .assert_ok();
    server.restart();
    assert_eq!(status(&server)["sealed"], false);
    let out = server.bao(Some(&root), &["kv", "get", "-field=password", "secret/db"]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "s3cr3t");
}

#[test]
fn the_key_id_form_works_and_a_disabled_key_keeps_the_server_sealed_until_enabled() {
    let moto = Moto::start();
    let key_id = moto.create_kms_key("by-id");
    let mut server = kms_server(&moto, &key_id);
    let keys = server.init_recovery(1, 1);
    moto.disable_kms_key(&key_id);
    server.restart();
    let log = server.wait_for_log("stays sealed");
    assert!(log.contains("disabled") && log.contains(&key_id), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    let st = status(&server);
    assert_eq!(
        (st["initialized"].clone(), st["sealed"].clone()),
        (json!(true), json!(true))
    );
    server
        .http()
        .get("/v1/sys/mounts", Some(&keys.root_token))
        .assert_status(503);

    moto.enable_kms_key(&key_id);
    server.restart();
    assert_eq!(status(&server)["sealed"], false);
    server
        .http()
        .get("/v1/sys/mounts", Some(&keys.root_token))
        .assert_status(200);
}

#[test]
fn a_missing_key_is_named_and_init_is_refused() {
    let moto = Moto::start();
    let server = kms_server(&moto, "alias/does-not-exist");
    let log = server.wait_for_log("stays sealed");
    assert!(log.contains("alias/does-not-exist"), "{log}");
    let init = server.http().put(
        "/v1/sys/init",
        None,
        &json!({"recovery_shares": 1, "recovery_threshold": 1}),
    );
    init.assert_status(500);
    assert_eq!(status(&server)["initialized"], false);
}
