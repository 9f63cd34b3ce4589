//! The node-vault client (npm) runs the secret lifecycle against coffer, from
//! `tests/node/lifecycle.js`; `scripts/setup` installs node-vault into `tests/node`.

use std::process::Command;

use coffer_blackbox::binaries::repo_root;
use coffer_blackbox::{Flavor, Server};
use serde_json::{json, Value};

#[test]
fn node_vault_runs_the_secret_lifecycle_against_coffer() {
    let node_dir = repo_root().join("tests/node");
    assert!(
        node_dir.join("node_modules/node-vault").is_dir(),
        "node-vault is not installed in {}: run `scripts/setup`",
        node_dir.display()
    );
    let server = Server::dev(Flavor::Coffer);
    let output = Command::new("node")
        .arg(node_dir.join("lifecycle.js"))
        .current_dir(&node_dir)
        .env("COFFER_TEST_ADDR", server.addr())
        .env("COFFER_TEST_TOKEN", "root")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node-vault failed\n{stdout}\n{stderr}"
    );
    let out: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    assert!(
        out["mounts"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("secret1/"))),
        "{out}"
    );
    assert_eq!(out["created"]["version"], 1, "{out}");
    assert_eq!(out["first"]["data"]["pass"], "one", "{out}");
    assert_eq!(out["updated"]["version"], 2, "{out}");
    assert_eq!(out["stale"], 400, "{out}");
    assert_eq!(out["second"]["data"]["pass"], "two", "{out}");
    assert_eq!(out["list"]["keys"], json!(["demo"]), "{out}");
    assert_eq!(out["afterDelete"], 404, "{out}");
    assert_eq!(out["undeleted"]["data"]["pass"], "two", "{out}");
    assert_eq!(out["metadata"]["versions"]["1"]["destroyed"], true, "{out}");
    assert_eq!(out["missing"], 404, "{out}");
}
