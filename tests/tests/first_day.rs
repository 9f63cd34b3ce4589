//! An operator's first day, with the real `bao` CLI against a server with persistent storage:
//! status while uninitialised, init, unseal key by key, login, write a secret, seal, restart,
//! unseal again and find the secret intact.

use coffer_blackbox::{both_flavors, CmdOutput, Flavor, Server, ServerOptions};
use serde_json::Value;

fn strings(value: &Value, out: &CmdOutput) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array\n{out}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect()
}

/// `bao status -format=json`, asserting its exit code (0 unsealed, 2 sealed or uninitialised).
fn status(server: &Server, code: i32) -> Value {
    let out = server.bao(None, &["status", "-format=json"]);
    out.assert_code(code);
    out.json()
}

fn unseal(server: &Server, key: &str) -> Value {
    let out = server.bao(None, &["operator", "unseal", "-format=json", key]);
    out.assert_ok();
    out.json()
}

fn an_operators_first_day_with_the_bao_cli(flavor: Flavor) {
    let mut server = Server::with_config(flavor, ServerOptions::persistent());

    let fresh = status(&server, 2);
    assert_eq!(fresh["initialized"], false, "{fresh}");
    assert_eq!(fresh["sealed"], true, "{fresh}");

    let init_out = server.bao(
        None,
        &[
            "operator",
            "init",
            "-key-shares=5",
            "-key-threshold=3",
            "-format=json",
        ],
    );
    init_out.assert_ok();
    let init = init_out.json();
    let hex = strings(&init["unseal_keys_hex"], &init_out);
    let b64 = strings(&init["unseal_keys_b64"], &init_out);
    assert_eq!(hex.len(), 5, "{init_out}");
    assert_eq!(b64.len(), 5, "{init_out}");
    assert_eq!(init["unseal_shares"], 5, "{init_out}");
    assert_eq!(init["unseal_threshold"], 3, "{init_out}");
    let root = init["root_token"].as_str().expect("root_token").to_owned();
    assert!(!root.is_empty());

    let sealed = status(&server, 2);
    assert_eq!(sealed["initialized"], true, "{sealed}");
    assert_eq!(sealed["sealed"], true, "{sealed}");
    assert_eq!(
        (sealed["t"].clone(), sealed["n"].clone()),
        (3.into(), 5.into())
    );
    assert_eq!(sealed["progress"], 0, "{sealed}");

    // One hex key, one base64 key, one hex key: progress 1/3, 2/3, then unsealed.
    let first = unseal(&server, &hex[0]);
    assert_eq!(
        (first["sealed"].clone(), first["progress"].clone()),
        (true.into(), 1.into())
    );
    assert!(
        !first["nonce"].as_str().unwrap_or_default().is_empty(),
        "{first}"
    );
    let second = unseal(&server, &b64[1]);
    assert_eq!(
        (second["sealed"].clone(), second["progress"].clone()),
        (true.into(), 2.into())
    );
    assert_eq!(
        second["nonce"], first["nonce"],
        "one unseal attempt keeps one nonce"
    );
    let third = unseal(&server, &hex[2]);
    assert_eq!(third["sealed"], false, "{third}");
    assert_eq!(third["progress"], 0, "{third}");
    server.wait_active();
    assert_eq!(status(&server, 0)["sealed"], false);

    server.bao(None, &["login", &root]).assert_ok();
    let lookup_out = server.bao(None, &["token", "lookup", "-format=json"]);
    lookup_out.assert_ok();
    let lookup = lookup_out.json();
    assert_eq!(lookup["data"]["id"], root.as_str(), "{lookup_out}");
    assert_eq!(
        lookup["data"]["policies"],
        serde_json::json!(["root"]),
        "{lookup_out}"
    );

    server.ensure_kv2(&root, "secret");
    server
        .bao(None, &["kv", "put", "secret/first-day", "colour=blue"])
        .assert_ok();

    server.bao(None, &["operator", "seal"]).assert_ok();
    server
        .http()
        .get("/v1/secret/data/first-day", Some(&root))
        .assert_status(503);
    assert_eq!(status(&server, 2)["sealed"], true);

    server.restart();
    let restarted = status(&server, 2);
    assert_eq!(restarted["initialized"], true, "{restarted}");
    assert_eq!(restarted["sealed"], true, "{restarted}");
    for key in &b64[2..5] {
        unseal(&server, key);
    }
    server.wait_active();
    let read_out = server.bao(None, &["kv", "get", "-format=json", "secret/first-day"]);
    read_out.assert_ok();
    assert_eq!(
        read_out.json()["data"]["data"]["colour"],
        "blue",
        "{read_out}"
    );
}

both_flavors!(an_operators_first_day_with_the_bao_cli);
