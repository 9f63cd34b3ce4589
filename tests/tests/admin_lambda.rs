//! The serverless control plane end to end: the real `coffer-admin-lambda` and `coffer-lambda`
//! binaries as two functions under the local Runtime API (`coffer_blackbox::lambda_runtime`),
//! both on one DynamoDB table and one KMS seal key in moto, as `infra/coffer-lambda.yaml`
//! deploys them. Stores are created and deleted through the admin function's Function URL and
//! used through the data-plane function by `Host`, as an API Gateway custom domain
//! (`*.<base domain>`) hands it the client's host name.

use std::thread;
use std::time::{Duration, Instant};

use coffer_blackbox::admin::scan_table;
use coffer_blackbox::lambda_runtime::{
    coffer_admin_lambda_bin, create_template_resources, template_env, LambdaFunction,
};
use coffer_blackbox::moto::Moto;
use coffer_blackbox::{Req, Resp};
use serde_json::json;
use sha2::{Digest, Sha256};

const BASE_DOMAIN: &str = "secrets.test";
const CREDENTIAL: &str = "serverless-admin-credential-0123456789";
/// Both functions get the same block (the template passes one parameter to both).
const CONTROL_PLANE: &str = r#"
control_plane {
  base_domain   = "secrets.test"
  key_shares    = 3
  key_threshold = 2
  plan "free" {
    requests_per_second = 1000
    max_secrets         = 10
  }
  plan "pro" {
    max_secrets = 1000
  }
}
"#;

/// What the template sets on both functions, pointed at moto.
fn common_env(moto: &Moto, table: &str) -> Vec<(String, String)> {
    let mut env = template_env(moto, table);
    env.push(("COFFER_CONTROL_PLANE".into(), CONTROL_PLANE.into()));
    env
}

/// The admin function's environment: the credential only as its digest, as the template has it.
fn admin_env(moto: &Moto, table: &str) -> Vec<(String, String)> {
    let mut env = common_env(moto, table);
    env.push((
        "COFFER_ADMIN_TOKEN_SHA256".into(),
        hex::encode(Sha256::digest(CREDENTIAL.as_bytes())),
    ));
    env
}

fn admin_req(admin: &LambdaFunction, method: &str, path: &str) -> Req {
    admin
        .http()
        .req(method, path)
        .header("Authorization", &format!("Bearer {CREDENTIAL}"))
}

/// A request to store `id` through the data-plane function, by its host name.
fn store_req(data: &LambdaFunction, id: &str, method: &str, path: &str, token: &str) -> Req {
    data.http()
        .req(method, path)
        .header("Host", &format!("{id}.{BASE_DOMAIN}"))
        .header("X-Vault-Token", token)
}

fn field(resp: &Resp, name: &str) -> String {
    resp.json[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}\n{resp}"))
        .to_owned()
}

/// Every item of the table that belongs to store `id` (its keyspace or its record).
fn items_of(moto: &Moto, table: &str, id: &str) -> Vec<(String, String)> {
    let mut items: Vec<_> = scan_table(moto, table)
        .into_iter()
        .filter(|(pk, sk)| pk.contains(id) || sk.contains(id))
        .collect();
    items.sort();
    items
}

#[test]
fn stores_created_by_the_admin_function_are_served_by_the_data_plane_function_until_deleted() {
    let moto = Moto::start();
    let table = moto.fresh_table();
    create_template_resources(&moto, &table);
    let mut admin =
        LambdaFunction::start_bin(&coffer_admin_lambda_bin(), &admin_env(&moto, &table));
    let data = LambdaFunction::start(&common_env(&moto, &table));

    // Cold start: spawn to the first admin answer (a list: the init plus one Query).
    let list = admin_req(&admin, "GET", "/v1/stores").send();
    list.assert_status(200);
    assert_eq!(list.json["stores"], json!([]), "{list}");
    let init = admin.init_duration();
    let first = admin.first_response().expect("answered");

    let calls = moto.calls();
    let created_a = admin_req(&admin, "POST", "/v1/stores")
        .json(&json!({}))
        .send();
    created_a.assert_status(200);
    let create_calls = moto.calls() - calls;
    let created_b = admin_req(&admin, "POST", "/v1/stores")
        .json(&json!({ "plan": "pro" }))
        .send();
    created_b.assert_status(200);
    let (a, b) = (field(&created_a, "id"), field(&created_b, "id"));
    let (root_a, root_b) = (
        field(&created_a, "root_token"),
        field(&created_b, "root_token"),
    );
    for created in [&created_a, &created_b] {
        // An auto seal: recovery keys, no unseal keys; the endpoint is the store's host.
        assert_eq!(created.json["seal_type"], "awskms", "{created}");
        assert_eq!(created.json["keys"], json!([]), "{created}");
        assert_eq!(
            created.json["recovery_keys"].as_array().map(Vec::len),
            Some(3)
        );
        assert_eq!(
            created.json["endpoint"],
            json!(format!(
                "https://{}.{BASE_DOMAIN}",
                created.json["id"].as_str().unwrap()
            ))
        );
    }

    // The data-plane function, another process, unseals each store with KMS on first contact.
    for (id, token, value) in [(&a, &root_a, "alpha"), (&b, &root_b, "bravo")] {
        store_req(&data, id, "POST", "/v1/secret/data/app", token)
            .json(&json!({ "data": { "v": value } }))
            .send()
            .assert_status(200);
    }
    for (id, token, value) in [(&a, &root_a, "alpha"), (&b, &root_b, "bravo")] {
        let read = store_req(&data, id, "GET", "/v1/secret/data/app", token).send();
        read.assert_status(200);
        assert_eq!(read.json["data"]["data"]["v"], value, "{read}");
        assert_eq!(
            read.header("x-coffer-storage-round-trips"),
            Some("1"),
            "{read}"
        );
    }
    // Isolation: B's root token is nothing on A, and A's host never shows B's secret.
    store_req(&data, &a, "GET", "/v1/secret/data/app", &root_b)
        .send()
        .assert_status(403);
    let status = data
        .http()
        .req("GET", "/v1/sys/seal-status")
        .header("Host", &format!("{a}.{BASE_DOMAIN}"))
        .send();
    assert_eq!(status.json["type"], "awskms", "{status}");
    assert_eq!(status.json["sealed"], false, "{status}");
    // The function's own host (no store) is 404.
    let own = data.http().get("/v1/sys/health", None);
    own.assert_status(404);

    // list, show and upgrade through the admin function.
    let list = admin_req(&admin, "GET", "/v1/stores").send();
    let mut ids: Vec<&str> = list.json["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![a.as_str(), b.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "{list}");
    let show = admin_req(&admin, "GET", &format!("/v1/stores/{a}")).send();
    show.assert_status(200);
    assert_eq!(show.json["plan"]["name"], "free", "{show}");
    assert_eq!(show.json["secret_count"], 1, "{show}");
    let upgraded = admin_req(&admin, "POST", &format!("/v1/stores/{a}/plan"))
        .json(&json!({ "plan": "pro" }))
        .send();
    upgraded.assert_status(200);
    assert_eq!(upgraded.json["plan"]["name"], "pro", "{upgraded}");
    store_req(&data, &a, "GET", "/v1/secret/data/app", &root_a)
        .send()
        .assert_status(200);

    // A store's root token is refused by the admin function; a wrong credential too.
    let refused = admin
        .http()
        .req("GET", "/v1/stores")
        .header("Authorization", &format!("Bearer {root_a}"))
        .send();
    refused.assert_status(403);
    assert_eq!(refused.errors(), ["permission denied"]);
    admin.http().get("/v1/stores", None).assert_status(401);

    // Delete A: not one item of it is left in the table, B's are all there.
    assert!(!items_of(&moto, &table, &a).is_empty());
    let b_before = items_of(&moto, &table, &b);
    let calls = moto.calls();
    let deleted = admin_req(&admin, "DELETE", &format!("/v1/stores/{a}?confirm={a}")).send();
    deleted.assert_status(200);
    let delete_calls = moto.calls() - calls;
    let left = items_of(&moto, &table, &a);
    assert!(
        left.is_empty(),
        "items of the deleted store remain: {left:?}"
    );
    assert_eq!(items_of(&moto, &table, &b), b_before);

    // The data plane had A cached: it drops it within RECORD_REFRESH (2 s), then A's host
    // is 404 while B keeps serving.
    let deadline = Instant::now() + Duration::from_secs(15);
    let gone = loop {
        let resp = store_req(&data, &a, "GET", "/v1/secret/data/app", &root_a).send();
        if resp.status == 404 && resp.text.contains("no secret store is served") {
            break resp;
        }
        assert!(
            Instant::now() < deadline,
            "still served after delete: {resp}"
        );
        thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        gone.errors(),
        [format!(
            "no secret store is served at host \"{a}.{BASE_DOMAIN}\""
        )]
    );
    let read_b = store_req(&data, &b, "GET", "/v1/secret/data/app", &root_b).send();
    read_b.assert_status(200);
    assert_eq!(read_b.json["data"]["data"]["v"], "bravo");
    admin_req(&admin, "GET", &format!("/v1/stores/{a}"))
        .send()
        .assert_status(404);

    println!(
        "coffer-admin-lambda ({}): init {init:?}, spawn to first admin answer {first:?}; \
         AWS calls (DynamoDB + KMS, moto's log): create {create_calls}, delete {delete_calls} \
         (store of {} keys)",
        coffer_admin_lambda_bin().display(),
        deleted.json["deleted_keys"]
    );
}

#[test]
fn the_admin_function_stops_at_start_up_without_a_usable_credential() {
    let moto = Moto::start();
    let table = moto.fresh_table();
    for (extra, needle) in [
        (
            vec![],
            "COFFER_ADMIN_TOKEN_SHA256: the admin API needs its credential",
        ),
        (
            vec![("COFFER_ADMIN_TOKEN", "too-short")],
            "COFFER_ADMIN_TOKEN: the admin credential must be at least 16 characters",
        ),
    ] {
        let mut env = common_env(&moto, &table);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut admin = LambdaFunction::start_bin(&coffer_admin_lambda_bin(), &env);
        let status = admin.wait_exit(Duration::from_secs(30));
        assert!(!status.success(), "{status}");
        let log = admin.log();
        assert!(log.contains(needle), "{log}");
        assert!(
            !log.contains("too-short"),
            "the credential is never printed: {log}"
        );
    }
    let mut env: Vec<(String, String)> = common_env(&moto, &table)
        .into_iter()
        .filter(|(k, _)| k != "COFFER_CONTROL_PLANE")
        .collect();
    env.push(("COFFER_ADMIN_TOKEN".into(), CREDENTIAL.into()));
    let mut admin = LambdaFunction::start_bin(&coffer_admin_lambda_bin(), &env);
    assert!(!admin.wait_exit(Duration::from_secs(30)).success());
    let log = admin.log();
    assert!(log.contains("COFFER_CONTROL_PLANE is required"), "{log}");
}

#[test]
fn a_data_plane_function_with_a_bad_control_plane_block_stops_naming_the_variable() {
    let moto = Moto::start();
    let table = moto.fresh_table();
    let mut env: Vec<(String, String)> = common_env(&moto, &table)
        .into_iter()
        .filter(|(k, _)| k != "COFFER_CONTROL_PLANE")
        .collect();
    env.push((
        "COFFER_CONTROL_PLANE".into(),
        "control_plane {\n  plan \"free\" {}\n}\n".into(),
    ));
    let mut data = LambdaFunction::start(&env);
    assert!(!data.wait_exit(Duration::from_secs(30)).success());
    let log = data.log();
    assert!(
        log.contains("COFFER_CONTROL_PLANE: control_plane.base_domain"),
        "{log}"
    );
}
