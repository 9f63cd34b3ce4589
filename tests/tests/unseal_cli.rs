//! Unsealing key by key with the real `bao` CLI: what counts towards the threshold, what is
//! refused, and how progress is reset. Behaviour as OpenBao 2.7 shows it.

use coffer_blackbox::{both_flavors, Flavor, InitKeys, Server, ServerOptions};
use serde_json::Value;

/// A memory-storage server initialised with 5 shares, threshold 3, still sealed.
fn sealed_server(flavor: Flavor) -> (Server, InitKeys) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    let keys = server.init(5, 3);
    (server, keys)
}

fn seal_status(server: &Server) -> Value {
    let resp = server.http().get("/v1/sys/seal-status", None);
    resp.assert_status(200);
    resp.json
}

/// A share whose x coordinate (the last byte) is genuine but whose value is not: well-formed,
/// right length, yet not part of this server's key.
fn corrupted(hex_key: &str) -> String {
    let first = u8::from_str_radix(&hex_key[..2], 16).expect("hex key");
    format!("{:02x}{}", first ^ 0xff, &hex_key[2..])
}

fn a_malformed_key_is_refused_and_does_not_count(flavor: Flavor) {
    let (server, keys) = sealed_server(flavor);
    server
        .bao(None, &["operator", "unseal", &keys.keys[0]])
        .assert_ok();
    for bad in ["not-a-key", "abcd"] {
        let out = server.bao(None, &["operator", "unseal", bad]);
        out.assert_code(2);
        assert!(out.stderr.contains("Code: 400"), "{out}");
    }
    let status = seal_status(&server);
    assert_eq!(status["progress"], 1, "{status}");
    assert_eq!(status["sealed"], true, "{status}");
}

fn a_wrong_share_is_only_detected_at_the_threshold_and_then_resets_progress(flavor: Flavor) {
    let (server, keys) = sealed_server(flavor);
    for key in &keys.keys[..2] {
        server.bao(None, &["operator", "unseal", key]).assert_ok();
    }
    let out = server.bao(None, &["operator", "unseal", &corrupted(&keys.keys[2])]);
    out.assert_code(2);
    assert!(out.stderr.contains("Code: 400"), "{out}");
    let status = seal_status(&server);
    assert_eq!(status["sealed"], true, "{status}");
    assert_eq!(status["progress"], 0, "{status}");

    for key in &keys.keys[2..5] {
        server.bao(None, &["operator", "unseal", key]).assert_ok();
    }
    assert_eq!(seal_status(&server)["sealed"], false);
}

fn a_repeated_key_does_not_advance_progress(flavor: Flavor) {
    let (server, keys) = sealed_server(flavor);
    for key in [&keys.keys[0], &keys.keys[0], &keys.keys_base64[0]] {
        server.bao(None, &["operator", "unseal", key]).assert_ok();
    }
    let status = seal_status(&server);
    assert_eq!(status["progress"], 1, "{status}");
    assert_eq!(status["sealed"], true, "{status}");
}

fn unseal_reset_discards_progress(flavor: Flavor) {
    let (server, keys) = sealed_server(flavor);
    for key in &keys.keys[..2] {
        server.bao(None, &["operator", "unseal", key]).assert_ok();
    }
    assert_eq!(seal_status(&server)["progress"], 2);

    let out = server.bao(None, &["operator", "unseal", "-reset", "-format=json"]);
    out.assert_ok();
    let reset = out.json();
    assert_eq!(reset["progress"], 0, "{out}");
    assert_eq!(reset["nonce"], "", "{out}");
    assert_eq!(reset["sealed"], true, "{out}");

    // The two keys given before the reset no longer count: three more are needed.
    for (i, key) in keys.keys_base64[2..5].iter().enumerate() {
        let out = server.bao(None, &["operator", "unseal", "-format=json", key]);
        out.assert_ok();
        assert_eq!(out.json()["sealed"], i < 2, "{out}");
    }
}

fn bao_status_exit_code_is_2_while_sealed_and_0_once_unsealed(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    server.bao(None, &["status"]).assert_code(2);
    let keys = server.init(1, 1);
    server.bao(None, &["status"]).assert_code(2);
    server.unseal(&keys.keys);
    server.bao(None, &["status"]).assert_ok();
}

fn sealing_needs_a_token(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    let keys = server.init_unsealed();
    let out = server.bao(None, &["operator", "seal"]);
    out.assert_code(2);
    assert!(out.stderr.contains("Code: 403"), "{out}");
    assert_eq!(seal_status(&server)["sealed"], false);
    server
        .bao(Some(&keys.root_token), &["operator", "seal"])
        .assert_ok();
    assert_eq!(seal_status(&server)["sealed"], true);
}

both_flavors!(
    a_malformed_key_is_refused_and_does_not_count,
    a_wrong_share_is_only_detected_at_the_threshold_and_then_resets_progress,
    a_repeated_key_does_not_advance_progress,
    unseal_reset_discards_progress,
    bao_status_exit_code_is_2_while_sealed_and_0_once_unsealed,
    sealing_needs_a_token,
);
