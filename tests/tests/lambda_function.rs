//! The release shape of the Lambda function, end to end: the real `coffer-lambda` binary under
//! a local Runtime API (`coffer_blackbox::lambda_runtime`), DynamoDB and KMS on moto's server,
//! hvac and raw HTTP driving it through the Function URL emulation.

use std::time::Duration;

use coffer_blackbox::lambda_runtime::{
    create_template_resources, template_env, LambdaFunction, TEMPLATE_SEAL_KEY as SEAL_KEY,
};
use coffer_blackbox::moto::Moto;
use serde_json::json;

/// The function's environment as the deploy template sets it, pointed at moto.
fn function_env(moto: &Moto, table: &str) -> Vec<(String, String)> {
    template_env(moto, table)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Initialises the store through the function (hvac's `sys.initialize` with recovery shares,
/// as for any auto seal) and returns the root token. The KMS seal unseals the store at once:
/// no unseal keys exist, only a recovery key.
fn initialise(function: &LambdaFunction) -> String {
    let init = function.hvac(
        None,
        r#"
        result = client.sys.initialize(recovery_shares=1, recovery_threshold=1)
        "#,
    );
    assert_eq!(init["keys"], json!([]), "{init}");
    assert_eq!(
        init["recovery_keys"].as_array().map(Vec::len),
        Some(1),
        "{init}"
    );
    let status = function.http().get("/v1/sys/seal-status", None);
    assert_eq!(status.json["sealed"], false, "{status:?}");
    assert_eq!(status.json["type"], "awskms", "{status:?}");
    assert_eq!(status.json["recovery_seal"], true, "{status:?}");
    init["root_token"].as_str().expect("root token").to_owned()
}

#[test]
fn hvac_runs_the_kv_lifecycle_through_the_function_url_on_dynamodb() {
    let moto = Moto::start();
    let table = moto.fresh_table();
    create_template_resources(&moto, &table);
    let mut function = LambdaFunction::start(&function_env(&moto, &table));
    let init = function.init_duration();

    let status = function.http().get("/v1/sys/seal-status", None);
    status.assert_status(200);
    assert_eq!(status.json["initialized"], false, "{status:?}");
    assert_eq!(status.json["storage_type"], "dynamodb", "{status:?}");

    let root = initialise(&function);
    let result = function.hvac(
        Some(&root),
        r#"
        client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        kv = client.secrets.kv.v2
        kv.create_or_update_secret(path="app", secret={"password": "hunter2"})
        kv.create_or_update_secret(path="app", secret={"password": "correct horse"}, cas=1)
        kv.create_or_update_secret(path="team/db", secret={"user": "admin"})
        latest = kv.read_secret_version(path="app", raise_on_deleted_version=True)
        first = kv.read_secret_version(path="app", version=1, raise_on_deleted_version=True)
        listed = kv.list_secrets(path="")
        kv.delete_latest_version_of_secret(path="app")
        try:
            kv.read_secret_version(path="app", raise_on_deleted_version=True)
            deleted = "readable"
        except hvac.exceptions.InvalidPath:
            deleted = "404"
        kv.undelete_secret_versions(path="app", versions=[2])
        back = kv.read_secret_version(path="app", raise_on_deleted_version=True)
        kv.destroy_secret_versions(path="app", versions=[1])
        meta = kv.read_secret_metadata(path="app")
        kv.delete_metadata_and_all_versions(path="app")
        try:
            kv.read_secret_version(path="app", raise_on_deleted_version=True)
            gone = "readable"
        except hvac.exceptions.InvalidPath:
            gone = "404"
        result = {
            "latest": latest["data"]["data"],
            "version": latest["data"]["metadata"]["version"],
            "first": first["data"]["data"],
            "listed": listed["data"]["keys"],
            "deleted": deleted,
            "back": back["data"]["data"],
            "destroyed": meta["data"]["versions"]["1"]["destroyed"],
            "gone": gone,
            "token": client.auth.token.lookup_self()["data"]["policies"],
        }
        "#,
    );
    assert_eq!(
        result,
        json!({
            "latest": {"password": "correct horse"},
            "version": 2,
            "first": {"password": "hunter2"},
            "listed": ["app", "team/"],
            "deleted": "404",
            "back": {"password": "correct horse"},
            "destroyed": true,
            "gone": "404",
            "token": ["root"],
        })
    );

    // The same status codes and bodies as server mode on the wire, including refusals.
    let http = function.http();
    let forbidden = http.get("/v1/secret/data/team/db", None);
    forbidden.assert_status(403);
    assert_eq!(forbidden.json, json!({"errors": ["permission denied"]}));
    let listed = http
        .req("GET", "/v1/secret/metadata/?list=true")
        .token(Some(&root))
        .header("X-Vault-Request", "true")
        .send();
    listed.assert_status(200);
    assert_eq!(listed.json["data"]["keys"], json!(["team/"]));
    let missing = http.get("/v1/secret/data/nothing", Some(&root));
    missing.assert_status(404);
    assert_eq!(missing.json, json!({"errors": []}));
    let malformed = http
        .req("POST", "/v1/secret/data/x")
        .token(Some(&root))
        .body("{not json")
        .send();
    malformed.assert_status(400);

    println!(
        "coffer-lambda cold start (debug build, fresh table): init {init:?}, first response {:?}",
        function.first_response()
    );
}

#[test]
fn every_fresh_instance_unseals_itself_and_serves_the_store_another_initialised() {
    let moto = Moto::start();
    let table = moto.fresh_table();
    create_template_resources(&moto, &table);
    let env = function_env(&moto, &table);
    let first = LambdaFunction::start(&env);
    let root = initialise(&first);
    first
        .http()
        .post(
            "/v1/sys/mounts/secret",
            Some(&root),
            &json!({"type": "kv", "options": {"version": "2"}}),
        )
        .assert_status(204);
    first
        .http()
        .post(
            "/v1/secret/data/app",
            Some(&root),
            &json!({"data": {"password": "hunter2"}}),
        )
        .assert_status(200);
    drop(first);

    // Each fresh process unseals itself with KMS during init: its very first request, an
    // authenticated KV read, is served.
    let mut inits = Vec::new();
    let mut responses = Vec::new();
    for _ in 0..5 {
        let mut function = LambdaFunction::start(&env);
        let read = function.http().get("/v1/secret/data/app", Some(&root));
        read.assert_status(200);
        assert_eq!(read.json["data"]["data"]["password"], "hunter2", "{read:?}");
        inits.push(function.init_duration());
        responses.push(function.first_response().expect("answered"));
        assert!(
            function.log().contains("unsealed by the auto seal"),
            "{}",
            function.log()
        );
    }
    println!(
        "coffer-lambda cold start over {} fresh processes (binary {}): init median {:?}, \
         spawn to first response median {:?} (all: {responses:?})",
        responses.len(),
        coffer_blackbox::lambda_runtime::coffer_lambda_bin().display(),
        median(inits),
        median(responses.clone()),
    );
}

#[test]
fn a_shamir_seal_stops_the_function_at_start_up_with_the_reason() {
    let mut function = LambdaFunction::start(&[
        ("COFFER_STORAGE".into(), "memory".into()),
        ("COFFER_SEAL".into(), "shamir".into()),
    ]);
    let status = function.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "{status}");
    let log = function.log();
    assert!(log.contains("COFFER_SEAL=shamir is refused"), "{log}");
    assert!(log.contains("every instance would need"), "{log}");
}

#[test]
fn a_bad_variable_stops_the_function_naming_it() {
    let mut function = LambdaFunction::start(&[
        ("COFFER_STORAGE".into(), "dynamodb".into()),
        ("COFFER_SEAL".into(), "awskms".into()),
        ("COFFER_AWSKMS_KEY_ID".into(), SEAL_KEY.into()),
    ]);
    let status = function.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "{status}");
    let log = function.log();
    assert!(log.contains("COFFER_DYNAMODB_TABLE is required"), "{log}");
}
