//! The control plane on DynamoDB (moto) with a second, data-plane-only process on the same
//! table: a Shamir store is sealed there until its keys are submitted to that process (the
//! documented decision), and deleting a store removes every item of it from the table (a raw
//! Scan proves it), after which both processes answer 404.

use std::thread;
use std::time::Duration;

use coffer_blackbox::admin::{self, ControlPlane};
use coffer_blackbox::moto::Moto;
use serde_json::{json, Value};

const PLANS: &str = r#"plan "standard" { requests_per_second = 100000 }"#;

#[test]
fn stores_on_dynamodb_serve_from_a_second_process_and_delete_leaves_no_item() {
    let moto = Moto::start();
    let table = moto.fresh_table();
    let cp = ControlPlane::start(PLANS, moto.coffer_options(&table));
    let created_a = cp.create_store(None);
    let created_b = cp.create_store(None);
    let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    let root = |c: &Value| c["root_token"].as_str().unwrap().to_owned();
    let (a, b) = (id(&created_a), id(&created_b));
    for (c, value) in [(&created_a, "alpha"), (&created_b, "bravo")] {
        cp.bao(
            &id(c),
            Some(&root(c)),
            &["kv", "put", "secret/app", &format!("v={value}")],
        )
        .assert_ok();
    }

    let other = admin::start_data_plane(PLANS, moto.coffer_options(&table));
    let read_a = || {
        admin::store_req(
            &other,
            &a,
            "GET",
            "/v1/secret/data/app",
            Some(&root(&created_a)),
        )
        .send()
    };
    // Shamir: sealed in a process that was not given the keys.
    read_a().assert_status(503);
    for key in created_a["keys"].as_array().unwrap().iter().take(2) {
        admin::store_req(&other, &a, "PUT", "/v1/sys/unseal", None)
            .json(&json!({ "key": key }))
            .send()
            .assert_status(200);
    }
    let resp = read_a();
    resp.assert_status(200);
    assert_eq!(resp.json["data"]["data"]["v"], "alpha");
    // B is still sealed there: unsealing A opened nothing else.
    admin::store_req(
        &other,
        &b,
        "GET",
        "/v1/secret/data/app",
        Some(&root(&created_b)),
    )
    .send()
    .assert_status(503);

    let before = admin::scan_table(&moto, &table);
    assert!(before
        .iter()
        .any(|(pk, sk)| pk.contains(&a) || sk.contains(&a)));
    cp.admin(&["stores", "delete", &a, "-yes"]).assert_ok();
    let after = admin::scan_table(&moto, &table);
    let left: Vec<_> = after
        .iter()
        .filter(|(pk, sk)| pk.contains(&a) || sk.contains(&a))
        .collect();
    assert!(
        left.is_empty(),
        "items of the deleted store remain: {left:?}"
    );
    assert!(after
        .iter()
        .any(|(pk, _)| pk.starts_with(&format!("#{b}/"))));

    admin::store_req(&cp.server, &a, "GET", "/v1/sys/health", None)
        .send()
        .assert_status(404);
    // The other process drops the store on its next record check (at most RECORD_REFRESH).
    let mut status = 0;
    for _ in 0..60 {
        status = read_a().status;
        if status == 404 {
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        status, 404,
        "the second process still serves the deleted store"
    );
    cp.bao(&b, Some(&root(&created_b)), &["kv", "get", "secret/app"])
        .assert_ok();
}
