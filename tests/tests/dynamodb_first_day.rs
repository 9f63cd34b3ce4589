//! An operator's first day on `storage "dynamodb"` (moto's server as DynamoDB): the bao CLI
//! initialises, unseals and writes; hvac reads; a restarted process unseals against the same
//! table and finds everything intact.

use coffer_blackbox::moto::Moto;
use coffer_blackbox::{Flavor, Server};
use serde_json::Value;

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn an_operators_first_day_on_dynamodb_with_the_bao_cli_and_hvac() {
    let moto = Moto::start();
    let table = moto.fresh_table();
    let mut server = Server::with_config(Flavor::Coffer, moto.coffer_options(&table));

    let fresh = server.bao(None, &["status", "-format=json"]);
    fresh.assert_code(2);
    assert_eq!(fresh.json()["initialized"], false, "{fresh}");
    assert_eq!(fresh.json()["storage_type"], "dynamodb", "{fresh}");

    let init_out = server.bao(
        None,
        &[
            "operator",
            "init",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
        ],
    );
    init_out.assert_ok();
    let init = init_out.json();
    let keys = strings(&init["unseal_keys_b64"]);
    let root = init["root_token"].as_str().expect("root_token").to_owned();
    for key in &keys[..2] {
        server
            .bao(None, &["operator", "unseal", "-format=json", key])
            .assert_ok();
    }
    server.wait_active();
    server.bao(None, &["login", &root]).assert_ok();
    server.ensure_kv2(&root, "secret");
    server
        .bao(None, &["kv", "put", "secret/team/db", "password=hunter2"])
        .assert_ok();

    let read = server.hvac(
        Some(&root),
        r#"result = client.secrets.kv.v2.read_secret_version(path="team/db", mount_point="secret", raise_on_deleted_version=True)"#,
    );
    assert_eq!(read["data"]["data"]["password"], "hunter2", "{read}");
    let listed = server.bao(None, &["kv", "list", "-format=json", "secret/"]);
    listed.assert_ok();
    assert_eq!(listed.json(), serde_json::json!(["team/"]), "{listed}");

    // The process keeps nothing: a new one on the same table is initialised, sealed, and
    // unseals to the same data.
    server.restart();
    let restarted = server.bao(None, &["status", "-format=json"]);
    restarted.assert_code(2);
    assert_eq!(restarted.json()["initialized"], true, "{restarted}");
    for key in &keys[1..] {
        server
            .bao(None, &["operator", "unseal", "-format=json", key])
            .assert_ok();
    }
    server.wait_active();
    let again = server.bao(
        Some(&root),
        &["kv", "get", "-format=json", "secret/team/db"],
    );
    again.assert_ok();
    assert_eq!(
        again.json()["data"]["data"]["password"],
        "hunter2",
        "{again}"
    );
}
