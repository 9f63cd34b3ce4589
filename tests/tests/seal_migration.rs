//! Operators start on Shamir and move to an HSM: rotate the unseal keys (5 shares, threshold 3
//! -> 3 shares, threshold 2) with `bao operator rotate-keys`, add a `seal "pkcs11"` block,
//! `bao operator unseal -migrate`, and the data stays readable while the old unseal keys become
//! the recovery keys. Then back to Shamir with the pkcs11 block marked `disabled`.
//! The steps and answers follow what OpenBao 2.7 shows for a Shamir -> transit migration.

use coffer_blackbox::softhsm::SoftHsm;
use coffer_blackbox::{Flavor, Server, ServerOptions};
use serde_json::{json, Value};

fn status(server: &Server) -> Value {
    server.http().get("/v1/sys/seal-status", None).json
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array of keys")
        .iter()
        .map(|k| k.as_str().expect("key").to_owned())
        .collect()
}

#[test]
fn shamir_to_pkcs11_and_back_keeps_the_data_and_the_operator_keys() {
    let hsm = SoftHsm::start("coffer-migrate", "7777");
    let mut server =
        Server::with_config(Flavor::Coffer, ServerOptions::persistent().env(hsm.env()));
    let init = server.bao(
        None,
        &[
            "operator",
            "init",
            "-key-shares=5",
            "-key-threshold=3",
            "-format=json",
        ],
    );
    init.assert_ok();
    let init = init.json();
    let old = strings(&init["unseal_keys_b64"]);
    let root = init["root_token"].as_str().unwrap().to_owned();
    server.unseal(&old[..3]);
    server
        .bao(Some(&root), &["secrets", "enable", "-path=secret", "kv-v2"])
        .assert_ok();
    server
        .bao(Some(&root), &["kv", "put", "secret/app", "api_key=abc123"])
        .assert_ok();

    // Rotate 3-of-5 -> 2-of-3.
    let start = server.bao(
        Some(&root),
        &[
            "operator",
            "rotate-keys",
            "-init",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
        ],
    );
    start.assert_ok();
    let nonce = start.json()["nonce"].as_str().unwrap().to_owned();
    let mut done = Value::Null;
    for key in &old[1..4] {
        let out = server.bao(
            Some(&root),
            &[
                "operator",
                "rotate-keys",
                &format!("-nonce={nonce}"),
                "-format=json",
                key,
            ],
        );
        out.assert_ok();
        done = out.json();
    }
    assert_eq!(done["complete"], true, "{done}");
    let keys = strings(&done["keys_base64"]);
    assert_eq!(keys.len(), 3);
    let st = status(&server);
    assert_eq!((st["t"].clone(), st["n"].clone()), (json!(2), json!(3)));

    // The old keys no longer unseal (the new threshold of 2 is reached, and they do not
    // combine to the new key); the new ones do.
    server.restart();
    server
        .bao(None, &["operator", "unseal", &old[0]])
        .assert_ok();
    server
        .bao(None, &["operator", "unseal", &old[1]])
        .assert_code(2);
    server.unseal(&keys[..2]);

    // Add the HSM: the server waits for a migration instead of unsealing.
    server.restart_with(|opts| opts.extra_lines.push(hsm.seal_block("migrated-root")));
    let st = status(&server);
    assert_eq!(st["migration"], true, "{st}");
    assert_eq!(st["type"], "pkcs11", "{st}");
    assert_eq!(st["sealed"], true, "{st}");
    let plain = server.bao(None, &["operator", "unseal", &keys[0]]);
    plain.assert_code(2);
    assert!(
        plain
            .stderr
            .contains("migrate option not provided and seal migration is pending"),
        "{plain}"
    );
    server
        .bao(None, &["operator", "unseal", "-migrate", &keys[0]])
        .assert_ok();
    server
        .bao(None, &["operator", "unseal", "-migrate", &keys[2]])
        .assert_ok();
    let st = status(&server);
    assert_eq!(
        (st["sealed"].clone(), st["migration"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(st["recovery_seal"], true, "{st}");
    assert_eq!((st["t"].clone(), st["n"].clone()), (json!(2), json!(3)));

    // Restarts unseal by themselves; the data is intact.
    server.restart();
    assert_eq!(status(&server)["sealed"], false);
    let read = server.bao(Some(&root), &["kv", "get", "-field=api_key", "secret/app"]);
    read.assert_ok();
    assert_eq!(read.stdout.trim(), "abc123");

    // The former unseal keys are now recovery keys: they unseal after an operator seal.
    server.bao(Some(&root), &["operator", "seal"]).assert_ok();
    server.unseal(&keys[1..]);

    // And back to Shamir: the pkcs11 block is kept, disabled.
    server.restart_with(|opts| {
        let block = opts.extra_lines.pop().expect("seal block");
        opts.extra_lines
            .push(block.replacen('{', "{\n  disabled = \"true\"", 1));
    });
    let st = status(&server);
    assert_eq!(
        (st["type"].clone(), st["migration"].clone()),
        (json!("shamir"), json!(true))
    );
    server
        .bao(None, &["operator", "unseal", "-migrate", &keys[0]])
        .assert_ok();
    server
        .bao(None, &["operator", "unseal", "-migrate", &keys[1]])
        .assert_ok();
    assert_eq!(status(&server)["sealed"], false);
    server.restart_with(|opts| {
        opts.extra_lines.pop();
    });
    let st = status(&server);
    assert_eq!(
        (st["sealed"].clone(), st["migration"].clone()),
        (json!(true), json!(false))
    );
    server.unseal(&keys[1..]);
    let read = server.bao(Some(&root), &["kv", "get", "-field=api_key", "secret/app"]);
    read.assert_ok();
    assert_eq!(read.stdout.trim(), "abc123");
}
