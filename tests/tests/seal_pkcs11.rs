//! The `pkcs11` auto seal end to end, with the real `bao` CLI against a coffer server whose
//! root key is encrypted inside SoftHSM2: init returns recovery keys, the server unseals itself
//! on every start, recovery keys authorise generate-root, unsealing after `bao operator seal`
//! and their own rotation; a wrong PIN, a missing key or a tampered wrapped root key leave the
//! server running and sealed, with a clear error in its log.
//!
//! OpenBao 2.7 from PyPI has no pkcs11 seal; the field sets and messages asserted here are the
//! ones its `transit` auto seal shows for the same steps.

use coffer_blackbox::softhsm::SoftHsm;
use coffer_blackbox::{Flavor, Server, ServerOptions};
use serde_json::{json, Value};

const PIN: &str = "4321";

/// A persistent coffer server sealed by a fresh SoftHSM2 token, not yet initialised.
fn hsm_server(hsm: &SoftHsm, key_label: &str) -> Server {
    Server::with_config(
        Flavor::Coffer,
        ServerOptions::persistent()
            .line(&hsm.seal_block(key_label))
            .env(hsm.env()),
    )
}

fn status(server: &Server) -> Value {
    let out = server.bao(None, &["status", "-format=json"]);
    out.json()
}

/// `bao operator init` with the CLI's defaults for an auto seal, as JSON.
fn bao_init(server: &Server) -> (Vec<String>, String) {
    let out = server.bao(None, &["operator", "init", "-format=json"]);
    out.assert_ok();
    let init = out.json();
    assert_eq!(init["unseal_keys_b64"], json!([]), "{init}");
    assert_eq!(init["recovery_keys_shares"], 5, "{init}");
    assert_eq!(init["recovery_keys_threshold"], 3, "{init}");
    let keys: Vec<String> = init["recovery_keys_b64"]
        .as_array()
        .expect("recovery keys")
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    (keys, init["root_token"].as_str().unwrap().to_owned())
}

#[test]
fn init_returns_recovery_keys_and_every_restart_unseals_by_itself() {
    let hsm = SoftHsm::start("coffer-init", PIN);
    let mut server = hsm_server(&hsm, "root-key");
    let before = status(&server);
    assert_eq!(before["type"], "pkcs11", "{before}");
    assert_eq!(before["recovery_seal"], true, "{before}");
    assert_eq!(before["initialized"], false, "{before}");

    let refused = server.http().put(
        "/v1/sys/init",
        None,
        &json!({"secret_shares": 5, "secret_threshold": 3}),
    );
    refused.assert_status(400);
    assert_eq!(
        refused.errors(),
        ["parameters secret_shares,secret_threshold not applicable to seal type pkcs11"]
    );

    let (keys, root) = bao_init(&server);
    assert_eq!(keys.len(), 5);
    let after = status(&server);
    assert_eq!(after["sealed"], false, "{after}");
    assert_eq!(
        (after["t"].clone(), after["n"].clone()),
        (json!(3), json!(5))
    );
    assert_eq!(after["recovery_seal_type"], "shamir", "{after}");

    server
        .bao(Some(&root), &["secrets", "enable", "-path=secret", "kv-v2"])
        .assert_ok();
    server
        .bao(
            Some(&root),
            &["kv", "put", "secret/app", "password=hunter2"],
        )
        .assert_ok();
    for _ in 0..2 {
        server.restart();
        assert_eq!(status(&server)["sealed"], false);
        let read = server.bao(Some(&root), &["kv", "get", "-field=password", "secret/app"]);
        read.assert_ok();
        assert_eq!(read.stdout.trim(), "hunter2");
    }
    let table = server.bao(None, &["status"]).stdout;
    assert!(
        table.contains("Seal Type") && table.contains("pkcs11"),
        "{table}"
    );
    assert!(table.contains("Recovery Seal Type"), "{table}");
}

#[test]
fn recovery_keys_generate_a_root_token_and_unseal_after_an_operator_seal() {
    let hsm = SoftHsm::start("coffer-recovery", PIN);
    let server = hsm_server(&hsm, "root-key");
    let (keys, root) = bao_init(&server);

    let start = server.bao(
        Some(&root),
        &["operator", "generate-root", "-init", "-format=json"],
    );
    let start = start.json();
    let (nonce, otp) = (
        start["nonce"].as_str().unwrap(),
        start["otp"].as_str().unwrap(),
    );
    assert_eq!(start["required"], 3, "{start}");
    let mut last = Value::Null;
    for key in &keys[1..4] {
        let out = server.bao(
            Some(&root),
            &[
                "operator",
                "generate-root",
                &format!("-nonce={nonce}"),
                "-format=json",
                key,
            ],
        );
        out.assert_ok();
        last = out.json();
    }
    assert_eq!(last["complete"], true, "{last}");
    // Decoding asks the server for the OTP length first, so it needs a token too.
    let decoded = server.bao(
        Some(&root),
        &[
            "operator",
            "generate-root",
            &format!("-decode={}", last["encoded_token"].as_str().unwrap()),
            &format!("-otp={otp}"),
            "-format=json",
        ],
    );
    decoded.assert_ok();
    let new_root = decoded.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(new_root, root);
    server
        .bao(Some(&new_root), &["token", "lookup"])
        .assert_ok();

    server.bao(Some(&root), &["operator", "seal"]).assert_ok();
    assert_eq!(status(&server)["sealed"], true);
    // Held sealed: requests do not unseal it again.
    server
        .http()
        .get("/v1/sys/mounts", Some(&root))
        .assert_status(503);
    let mut bad = keys[0].clone().into_bytes();
    bad[0] = if bad[0] == b'A' { b'B' } else { b'A' };
    server
        .bao(None, &["operator", "unseal", &keys[0]])
        .assert_ok();
    server
        .bao(None, &["operator", "unseal", &keys[1]])
        .assert_ok();
    let wrong = server.bao(
        None,
        &["operator", "unseal", std::str::from_utf8(&bad).unwrap()],
    );
    wrong.assert_code(2);
    assert!(
        wrong.stderr.contains("recovery key does not match"),
        "{wrong}"
    );
    assert_eq!(status(&server)["sealed"], true);
    for key in &keys[2..5] {
        server.bao(None, &["operator", "unseal", key]).assert_ok();
    }
    assert_eq!(status(&server)["sealed"], false);
    server
        .http()
        .get("/v1/sys/mounts", Some(&root))
        .assert_status(200);
}

#[test]
fn recovery_keys_rotate_from_three_of_five_to_two_of_three() {
    let hsm = SoftHsm::start("coffer-rotate", PIN);
    let server = hsm_server(&hsm, "root-key");
    let (keys, root) = bao_init(&server);
    let init = server.bao(
        Some(&root),
        &[
            "operator",
            "rotate-keys",
            "-target=recovery",
            "-init",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
        ],
    );
    init.assert_ok();
    let nonce = init.json()["nonce"].as_str().unwrap().to_owned();
    let mut done = Value::Null;
    for key in &keys[..3] {
        let out = server.bao(
            Some(&root),
            &[
                "operator",
                "rotate-keys",
                "-target=recovery",
                &format!("-nonce={nonce}"),
                "-format=json",
                key,
            ],
        );
        out.assert_ok();
        done = out.json();
    }
    assert_eq!(done["complete"], true, "{done}");
    let new: Vec<String> = done["keys_base64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new.len(), 3);
    let after = status(&server);
    assert_eq!(
        (after["t"].clone(), after["n"].clone()),
        (json!(2), json!(3))
    );

    // The unseal-key target does not fit an auto seal.
    let refused = server.http().put(
        "/v1/sys/rotate/root/init",
        Some(&root),
        &json!({"secret_shares": 3, "secret_threshold": 2}),
    );
    refused.assert_status(400);

    server.bao(Some(&root), &["operator", "seal"]).assert_ok();
    server
        .bao(None, &["operator", "unseal", &keys[3]])
        .assert_ok();
    let stale = server.bao(None, &["operator", "unseal", &keys[4]]);
    stale.assert_code(2);
    server.unseal(&new[1..]);
}

#[test]
fn a_wrong_pin_leaves_the_server_running_sealed_with_a_clear_error() {
    let hsm = SoftHsm::start("coffer-pin", PIN);
    let mut server = hsm_server(&hsm, "root-key");
    let (_, root) = bao_init(&server);
    server.restart_with(|opts| {
        let block = opts.extra_lines.pop().expect("seal block");
        opts.extra_lines
            .push(block.replace(&format!("pin = {PIN:?}"), "pin = \"0000\""));
    });
    let log = server.wait_for_log("stays sealed");
    assert!(
        log.contains("PIN"),
        "the log should say the PIN was refused:\n{log}"
    );
    assert!(!log.contains("0000"), "the PIN must not be logged:\n{log}");
    let st = status(&server);
    assert_eq!(
        (st["initialized"].clone(), st["sealed"].clone()),
        (json!(true), json!(true))
    );
    server
        .http()
        .get("/v1/sys/mounts", Some(&root))
        .assert_status(503);
    assert!(server.pid().is_some());

    server.restart_with(|opts| {
        let block = opts.extra_lines.pop().expect("seal block");
        opts.extra_lines
            .push(block.replace("pin = \"0000\"", &format!("pin = {PIN:?}")));
    });
    assert_eq!(status(&server)["sealed"], false);
}

#[test]
fn a_missing_key_without_generate_key_is_named_and_init_is_refused() {
    let hsm = SoftHsm::start("coffer-nokey", PIN);
    let server = Server::with_config(
        Flavor::Coffer,
        ServerOptions::persistent()
            .line(
                &hsm.seal_block("absent-key")
                    .replace("generate_key = \"true\"", "generate_key = \"false\""),
            )
            .env(hsm.env()),
    );
    let log = server.wait_for_log("stays sealed");
    assert!(
        log.contains("absent-key") && log.contains("coffer-nokey"),
        "the log should name the key and the token:\n{log}"
    );
    let init = server.http().put(
        "/v1/sys/init",
        None,
        &json!({"recovery_shares": 1, "recovery_threshold": 1}),
    );
    init.assert_status(500);
    assert_eq!(status(&server)["initialized"], false);
}

#[test]
fn a_flipped_byte_in_the_stored_root_key_is_detected_and_the_server_stays_sealed() {
    let hsm = SoftHsm::start("coffer-tamper", PIN);
    let mut server = hsm_server(&hsm, "root-key");
    bao_init(&server);
    server.kill9();
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use coffer_core::storage::{EmbeddedStorage, Storage};
            let storage = EmbeddedStorage::open(&server.data_dir()).unwrap();
            let key = "default/core/root-key";
            let mut entry = storage.get(key).await.unwrap().expect("stored root key");
            let middle = entry.value.len() / 2;
            entry.value[middle] ^= 0x01;
            storage.put(key, entry.value).await.unwrap();
        });
    }
    server.restart();
    let log = server.wait_for_log("auto-unseal failed");
    assert!(log.contains("decrypt"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(status(&server)["sealed"], true);
}
