//! Root token recovery with unseal keys and a one-time pad (`bao operator generate-root`),
//! against OpenBao 2.7 as the reference. Behaviour found there:
//! - the 2.7 CLI calls the token-authenticated `sys/generate-root-token/*`, which works
//!   whatever the config says; the unauthenticated `sys/generate-root/*` answers 405
//!   "unsupported operation" unless a listener sets `disable_unauthed_generate_root_endpoints
//!   = false` (OpenBao ignores the setting at the top level), and 503 while sealed;
//! - both paths share one attempt; a wrong set of shares aborts at the threshold and resets
//!   progress to 0 but keeps the attempt and its nonce.

use coffer_blackbox::shape::{assert_same_shapes, Answers};
use coffer_blackbox::{both_flavors, on_both, Flavor, InitKeys, Resp, Server, ServerOptions};
use serde_json::{json, Value};

const ENABLE: &str = "disable_unauthed_generate_root_endpoints = false";

/// A memory-storage server, 5 shares, threshold 3, unsealed; unauthenticated endpoints on
/// when `enabled`.
fn server(flavor: Flavor, enabled: bool) -> (Server, InitKeys) {
    let mut opts = ServerOptions::memory();
    if enabled {
        opts = opts.listener_line(ENABLE);
    }
    let server = Server::with_config(flavor, opts);
    let keys = server.init(5, 3);
    server.unseal(&keys.keys);
    (server, keys)
}

/// A share that is well-formed and of the right length but not part of this server's key.
fn corrupted(hex_key: &str) -> String {
    let first = u8::from_str_radix(&hex_key[..2], 16).expect("hex key");
    format!("{:02x}{}", first ^ 0xff, &hex_key[2..])
}

fn token_count(server: &Server, root: &str) -> usize {
    let resp = server.http().list("/v1/auth/token/accessors", Some(root));
    resp.assert_status(200);
    resp.json["data"]["keys"].as_array().map_or(0, Vec::len)
}

fn str_of(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{key}` in {value}"))
        .to_owned()
}

fn the_cli_recovers_a_root_token_that_lookup_shows_with_policy_root(flavor: Flavor) {
    let (server, keys) = server(flavor, false);
    let root = Some(keys.root_token.as_str());
    let init = server
        .bao(
            root,
            &["operator", "generate-root", "-init", "-format=json"],
        )
        .assert_ok()
        .json();
    assert_eq!(init["started"], true, "{init}");
    assert_eq!(init["required"], 3, "{init}");
    let (nonce, otp) = (str_of(&init, "nonce"), str_of(&init, "otp"));
    assert_eq!(
        otp.len() as u64,
        init["otp_length"].as_u64().unwrap(),
        "{init}"
    );
    let nonce_flag = format!("-nonce={nonce}");
    let mut last = Value::Null;
    for (i, key) in keys.keys[..3].iter().enumerate() {
        last = server
            .bao(
                root,
                &[
                    "operator",
                    "generate-root",
                    &nonce_flag,
                    "-format=json",
                    key,
                ],
            )
            .assert_ok()
            .json();
        assert_eq!(last["progress"], i as u64 + 1, "{last}");
    }
    assert_eq!(last["complete"], true, "{last}");
    let encoded = str_of(&last, "encoded_token");
    // Decoding asks the server for the OTP length first, so it needs a token too.
    let decoded = server
        .bao(
            root,
            &[
                "operator",
                "generate-root",
                &format!("-decode={encoded}"),
                &format!("-otp={otp}"),
                "-format=json",
            ],
        )
        .assert_ok()
        .json();
    let new_root = str_of(&decoded, "token");
    assert_ne!(new_root, keys.root_token);
    let lookup = server
        .bao(Some(&new_root), &["token", "lookup", "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(lookup["data"]["policies"], json!(["root"]), "{lookup}");
    let status = server
        .bao(
            root,
            &["operator", "generate-root", "-status", "-format=json"],
        )
        .assert_ok()
        .json();
    assert_eq!(status["started"], false, "{status}");
}

fn a_wrong_key_at_the_threshold_resets_progress_and_creates_no_token(flavor: Flavor) {
    let (server, keys) = server(flavor, true);
    let http = server.http();
    let before = token_count(&server, &keys.root_token);
    let start = http.put("/v1/sys/generate-root/attempt", None, &json!({}));
    start.assert_status(200);
    let nonce = str_of(&start.json, "nonce");
    for key in &keys.keys[..2] {
        http.put(
            "/v1/sys/generate-root/update",
            None,
            &json!({"key": key, "nonce": nonce}),
        )
        .assert_status(200);
    }
    let wrong = http.put(
        "/v1/sys/generate-root/update",
        None,
        &json!({"key": corrupted(&keys.keys[2]), "nonce": nonce}),
    );
    wrong.assert_status(400);
    assert!(
        wrong.errors()[0].starts_with("root generation aborted"),
        "{wrong}"
    );
    let status = http.get("/v1/sys/generate-root/attempt", None);
    assert_eq!(status.json["progress"], 0, "{status}");
    assert_eq!(status.json["started"], true, "{status}");
    assert_eq!(status.json["nonce"], nonce.as_str(), "{status}");
    assert_eq!(token_count(&server, &keys.root_token), before);
    // The same attempt still completes with good keys.
    let mut last = Value::Null;
    for key in &keys.keys[2..5] {
        let resp = http.put(
            "/v1/sys/generate-root/update",
            None,
            &json!({"key": key, "nonce": nonce}),
        );
        resp.assert_status(200);
        last = resp.json;
    }
    assert_eq!(last["complete"], true, "{last}");
    assert_eq!(token_count(&server, &keys.root_token), before + 1);
}

fn cancel_forgets_the_attempt(flavor: Flavor) {
    let (server, keys) = server(flavor, false);
    let root = Some(keys.root_token.as_str());
    let init = server
        .bao(
            root,
            &["operator", "generate-root", "-init", "-format=json"],
        )
        .assert_ok()
        .json();
    let nonce_flag = format!("-nonce={}", str_of(&init, "nonce"));
    server
        .bao(
            root,
            &["operator", "generate-root", &nonce_flag, &keys.keys[0]],
        )
        .assert_ok();
    server
        .bao(root, &["operator", "generate-root", "-cancel"])
        .assert_ok();
    let status = server
        .bao(
            root,
            &["operator", "generate-root", "-status", "-format=json"],
        )
        .assert_ok()
        .json();
    assert_eq!(status["started"], false, "{status}");
    assert_eq!(status["progress"], 0, "{status}");
    let late = server.bao(
        root,
        &["operator", "generate-root", &nonce_flag, &keys.keys[1]],
    );
    late.assert_failed();
}

fn the_cli_needs_a_token(flavor: Flavor) {
    let (server, _) = server(flavor, true);
    let out = server.bao(None, &["operator", "generate-root", "-status"]);
    out.assert_code(2);
    assert!(out.stderr.contains("Code: 403"), "{out}");
}

fn unauthenticated_endpoints_answer_405_by_default_and_503_while_sealed(flavor: Flavor) {
    let (server, keys) = server(flavor, false);
    let http = server.http();
    let answers = [
        http.get("/v1/sys/generate-root/attempt", None),
        http.put("/v1/sys/generate-root/attempt", None, &json!({})),
        http.delete("/v1/sys/generate-root/attempt", None),
        http.put(
            "/v1/sys/generate-root/update",
            None,
            &json!({"key": keys.keys[0], "nonce": "x"}),
        ),
    ];
    for resp in answers {
        resp.assert_status(405);
        assert_eq!(resp.errors(), ["unsupported operation"], "{resp}");
    }
    server
        .bao(Some(&keys.root_token), &["operator", "seal"])
        .assert_ok();
    http.get("/v1/sys/generate-root/attempt", None)
        .assert_status(503);
}

/// A labelled answer: its status and body, compared by shape.
fn answer(label: &'static str, resp: Resp) -> (&'static str, Value) {
    (label, json!({"status": resp.status, "body": resp.json}))
}

/// Every step of both paths, for comparing status codes and key sets with OpenBao. Errors of
/// the token path are left out: OpenBao answers them 500 (its multierror), coffer 400.
fn scenario(flavor: Flavor) -> Answers {
    let (server, keys) = server(flavor, true);
    let http = server.http();
    let root = Some(keys.root_token.as_str());
    let update = |nonce: &str, key: &str| {
        http.put(
            "/v1/sys/generate-root/update",
            None,
            &json!({"key": key, "nonce": nonce}),
        )
    };
    let mut out = vec![
        answer(
            "status, none",
            http.get("/v1/sys/generate-root/attempt", None),
        ),
        answer("update, none", update("x", &keys.keys[0])),
        answer(
            "update, no key",
            http.put("/v1/sys/generate-root/update", None, &json!({})),
        ),
    ];
    let start = http.put("/v1/sys/generate-root/attempt", None, &json!({}));
    let nonce = str_of(&start.json, "nonce");
    out.push(answer("start", start));
    out.push(answer(
        "start again",
        http.put("/v1/sys/generate-root/attempt", None, &json!({})),
    ));
    out.push(answer(
        "status, started",
        http.get("/v1/sys/generate-root/attempt", None),
    ));
    out.push(answer("update, wrong nonce", update("nope", &keys.keys[0])));
    out.push(answer("update, not a key", update(&nonce, "zz!")));
    out.push(answer("update, first", update(&nonce, &keys.keys[0])));
    out.push(answer("update, repeated", update(&nonce, &keys.keys[0])));
    out.push(answer("update, second", update(&nonce, &keys.keys[1])));
    out.push(answer(
        "update, wrong third",
        update(&nonce, &corrupted(&keys.keys[2])),
    ));
    for key in &keys.keys[..2] {
        update(&nonce, key).assert_status(200);
    }
    out.push(answer("update, complete", update(&nonce, &keys.keys[2])));
    out.push(answer(
        "status, after",
        http.get("/v1/sys/generate-root/attempt", None),
    ));
    out.push(answer(
        "cancel, none",
        http.delete("/v1/sys/generate-root/attempt", None),
    ));
    out.push(answer(
        "start by POST",
        http.post("/v1/sys/generate-root/attempt", None, &json!({})),
    ));
    out.push(answer(
        "cancel",
        http.delete("/v1/sys/generate-root/attempt", None),
    ));

    let authed = "/v1/sys/generate-root-token/attempt";
    out.push(answer("token path, status, none", http.get(authed, root)));
    let start = http.put(authed, root, &json!({}));
    let nonce = str_of(&start.json["data"], "nonce");
    out.push(answer("token path, start", start));
    out.push(answer(
        "token path, status, started",
        http.get(authed, root),
    ));
    out.push(answer(
        "status shared by both paths",
        http.get("/v1/sys/generate-root/attempt", None),
    ));
    let update = |key: &str| {
        http.put(
            "/v1/sys/generate-root-token/update",
            root,
            &json!({"key": key, "nonce": nonce}),
        )
    };
    out.push(answer("token path, first", update(&keys.keys[0])));
    update(&keys.keys[1]).assert_status(200);
    out.push(answer("token path, complete", update(&keys.keys[2])));
    out.push(answer("token path, cancel", http.delete(authed, root)));
    out.push(answer("token path, no token", http.get(authed, None)));
    out
}

#[test]
fn both_paths_answer_with_openbaos_status_codes_and_shapes() {
    let both = on_both(scenario);
    for ((label, openbao), (_, coffer)) in both.openbao.iter().zip(&both.coffer) {
        assert_eq!(
            openbao["status"], coffer["status"],
            "{label}: status differs\nopenbao: {openbao}\ncoffer:  {coffer}"
        );
    }
    assert_same_shapes(&both);
}

both_flavors!(
    the_cli_recovers_a_root_token_that_lookup_shows_with_policy_root,
    a_wrong_key_at_the_threshold_resets_progress_and_creates_no_token,
    cancel_forgets_the_attempt,
    the_cli_needs_a_token,
    unauthenticated_endpoints_answer_405_by_default_and_503_while_sealed,
);
