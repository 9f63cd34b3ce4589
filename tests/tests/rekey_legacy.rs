//! The legacy unauthenticated rekey endpoints (`sys/rekey/*`, `sys/rekey-recovery-key/*`, what
//! `bao operator rekey` calls): off by default as in OpenBao 2.7 (405 and 404), and with
//! `disable_unauthed_rekey_endpoints = false` a full rekey with the real CLI, on both products.

use coffer_blackbox::{both_flavors, Flavor, Server, ServerOptions};
use serde_json::{json, Value};

fn off_by_default_with_openbao_codes(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::persistent());
    let keys = server.init_unsealed();
    let http = server.http();
    for (path, status, message) in [
        ("/v1/sys/rekey/init", 405, "unsupported operation"),
        ("/v1/sys/rekey/update", 405, "unsupported operation"),
        ("/v1/sys/rekey-recovery-key/init", 404, "unsupported path"),
        ("/v1/sys/rekey-recovery-key/update", 404, "unsupported path"),
    ] {
        for token in [None, Some(keys.root_token.as_str())] {
            let resp = http.put(
                path,
                token,
                &json!({"secret_shares": 1, "secret_threshold": 1}),
            );
            resp.assert_status(status);
            assert_eq!(resp.errors(), [message], "{path}: {resp}");
        }
    }
    let cli = server.bao(
        Some(&keys.root_token),
        &[
            "operator",
            "rekey",
            "-init",
            "-key-shares=1",
            "-key-threshold=1",
        ],
    );
    cli.assert_code(2);
}

fn bao_operator_rekey_replaces_the_unseal_keys_when_enabled(flavor: Flavor) {
    let server = Server::with_config(
        flavor,
        ServerOptions::persistent().listener_line("disable_unauthed_rekey_endpoints = false"),
    );
    let keys = server.init(3, 2);
    server.unseal(&keys.keys[..2]);
    let status = server.http().get("/v1/sys/rekey/init", None);
    status.assert_status(200);
    assert_eq!(status.json["started"], false, "{status}");
    assert_eq!(status.json["required"], 2, "{status}");

    let init = server.bao(
        None,
        &[
            "operator",
            "rekey",
            "-init",
            "-key-shares=5",
            "-key-threshold=3",
            "-format=json",
        ],
    );
    init.assert_ok();
    let nonce = init.json()["nonce"].as_str().unwrap().to_owned();
    let mut done = Value::Null;
    for key in &keys.keys[1..3] {
        let out = server.bao(
            None,
            &[
                "operator",
                "rekey",
                &format!("-nonce={nonce}"),
                "-format=json",
                key,
            ],
        );
        out.assert_ok();
        done = out.json();
    }
    assert_eq!(done["complete"], true, "{done}");
    let new: Vec<String> = done["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new.len(), 5);
    let seal_status = server.http().get("/v1/sys/seal-status", None).json;
    assert_eq!(
        (seal_status["t"].clone(), seal_status["n"].clone()),
        (json!(3), json!(5))
    );

    server
        .bao(Some(&keys.root_token), &["operator", "seal"])
        .assert_ok();
    server.unseal(&new[2..]);

    // Recovery keys do not exist on Shamir.
    let recovery = server.http().get("/v1/sys/rekey-recovery-key/init", None);
    recovery.assert_status(400);
    assert_eq!(
        recovery.errors(),
        ["recovery rekeying not supported"],
        "{recovery}"
    );
}

both_flavors!(
    off_by_default_with_openbao_codes,
    bao_operator_rekey_replaces_the_unseal_keys_when_enabled
);
