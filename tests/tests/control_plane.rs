//! The managed service end to end: a control plane creates stores through `coffer admin`,
//! the real `bao` CLI reaches each store by host name alone, stores are isolated, plans limit
//! and are changed under load, and a deleted store leaves no item behind.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use coffer_blackbox::admin::{ControlPlane, ADMIN_TOKEN};
use coffer_blackbox::ServerOptions;
use serde_json::{json, Value};

const PLANS: &str = r#"
  plan "standard" {
    requests_per_second = 100000
    max_secrets = 1000
  }
  plan "pro" {
    requests_per_second = 1000000
    max_secrets = 100000
  }
  plan "tiny" {
    requests_per_second = 2
    burst = 2
  }
  plan "small" {
    max_secrets = 2
    max_secret_size = 200
  }
"#;

fn id_and_token(created: &Value) -> (String, String) {
    (
        created["id"].as_str().unwrap().to_owned(),
        created["root_token"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn create_returns_endpoint_root_token_and_unseal_keys_once() {
    let cp = ControlPlane::start(PLANS, ServerOptions::memory());
    let created = cp.create_store(None);
    let (id, _) = id_and_token(&created);
    assert_eq!(created["endpoint"], format!("https://{id}.stores.test"));
    assert_eq!(created["plan"], "standard");
    assert_eq!(created["seal_type"], "shamir");
    assert_eq!(created["keys"].as_array().unwrap().len(), 3);
    assert_eq!(created["key_threshold"], 2);
    assert!(created["root_token"].as_str().unwrap().starts_with("s."));
    // show and list never carry the token or keys again.
    let shown = cp
        .admin(&["stores", "show", &id, "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["sealed"], false);
    for field in ["root_token", "keys", "keys_base64", "recovery_keys"] {
        assert!(shown.get(field).is_none(), "show must not carry {field}");
    }
    let listed = cp
        .admin(&["stores", "list", "-format=json"])
        .assert_ok()
        .json();
    let text = listed.to_string();
    assert!(text.contains(&id));
    assert!(!text.contains(created["root_token"].as_str().unwrap()));
    assert!(!text.contains(created["keys"][0].as_str().unwrap()));
    // The human form says the keys are shown once.
    let table = cp.admin(&["stores", "create"]).assert_ok().stdout.clone();
    assert!(
        table.contains("Unseal Key 3:") && table.contains("Initial Root Token: s."),
        "{table}"
    );
}

#[test]
fn the_admin_api_wants_its_own_credential_never_a_store_token() {
    let cp = ControlPlane::start(PLANS, ServerOptions::memory());
    let (_, root) = id_and_token(&cp.create_store(None));
    let http = cp.admin_http();
    http.req("GET", "/v1/stores").send().assert_status(401);
    http.req("GET", "/v1/stores")
        .header("Authorization", &format!("Bearer {root}"))
        .send()
        .assert_status(403);
    http.req("GET", "/v1/stores")
        .header("Authorization", "Bearer test-admin-credential-012345678")
        .send()
        .assert_status(403);
    cp.admin_req("GET", "/v1/stores").send().assert_status(200);
    assert!(
        !cp.server.log().contains(ADMIN_TOKEN),
        "the credential must never be logged"
    );
    // The Vault listener does not serve the admin API.
    let resp = cp.server.http().req("GET", "/v1/stores").send();
    assert_eq!(resp.status, 404, "{resp}");
}

#[test]
fn two_stores_run_the_bao_workflow_by_host_name_and_are_isolated() {
    let cp = ControlPlane::start(PLANS, ServerOptions::memory());
    let (a, root_a) = id_and_token(&cp.create_store(None));
    let (b, root_b) = id_and_token(&cp.create_store(None));
    for (id, root, value) in [(&a, &root_a, "alpha"), (&b, &root_b, "bravo")] {
        cp.bao(id, Some(root), &["status"]).assert_ok();
        cp.bao(
            id,
            Some(root),
            &["kv", "put", "secret/app", &format!("password={value}")],
        )
        .assert_ok();
        let got = cp
            .bao(id, Some(root), &["kv", "get", "-format=json", "secret/app"])
            .assert_ok()
            .json();
        assert_eq!(got["data"]["data"]["password"], value);
        cp.bao(
            id,
            Some(root),
            &["secrets", "enable", "-path=team", "-version=2", "kv"],
        )
        .assert_ok();
        cp.bao(id, Some(root), &["policy", "list"]).assert_ok();
    }
    // A's root token means nothing on B, and B's secret is not visible through A.
    let resp = cp
        .store_req(&b, "GET", "/v1/secret/data/app", Some(&root_a))
        .send();
    resp.assert_status(403);
    cp.bao(&b, Some(&root_a), &["kv", "get", "secret/app"])
        .assert_failed();
    let a_reads = cp
        .store_req(&a, "GET", "/v1/secret/data/app", Some(&root_a))
        .send();
    a_reads.assert_status(200);
    assert_eq!(a_reads.json["data"]["data"]["password"], "alpha");
    // Storage round trips per request with host routing: the store is cached, so a KV v2
    // read is still one round trip.
    assert_eq!(a_reads.header("x-coffer-storage-round-trips"), Some("1"));
    // Crafted paths stay inside A's keyspace: `..` and encoded slashes are names there.
    for path in [
        format!("/v1/secret/data/../../{b}/secret/data/app"),
        format!("/v1/secret/data/..%2F..%2F{b}%2Fsecret%2Fdata%2Fapp"),
        "/v1/secret/data/%2e%2e/%2e%2e/app".to_string(),
    ] {
        let resp = cp.store_req(&a, "GET", &path, Some(&root_a)).send();
        assert!(
            resp.status == 404 || resp.status == 403 || resp.status == 400,
            "{resp}"
        );
        assert!(!resp.text.contains("bravo"), "{resp}");
    }
    // Unknown and crafted hosts are no store: 404 with a Vault-style error.
    for host in [
        "nosuchstore.stores.test".to_string(),
        format!("{a}.other.test"),
        format!("x.{a}.stores.test"),
        "127.0.0.1".to_string(),
    ] {
        let resp = cp
            .server
            .http()
            .req("GET", "/v1/sys/health")
            .header("Host", &host)
            .send();
        resp.assert_status(404);
        assert!(resp.errors()[0].contains("no secret store"), "{resp}");
    }
}

#[test]
fn a_plan_of_n_requests_per_second_answers_429_beyond_it_and_recovers() {
    let cp = ControlPlane::start(PLANS, ServerOptions::memory());
    let (id, root) = id_and_token(&cp.create_store(Some("tiny")));
    let statuses: Vec<_> = (0..20)
        .map(|_| cp.store_req(&id, "GET", "/v1/sys/health", None).send())
        .collect();
    let limited: Vec<_> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(
        !limited.is_empty() && limited.len() < 20,
        "a burst of 2 at 2/s admits some of 20 back-to-back requests and refuses the rest"
    );
    assert_eq!(
        limited[0].errors()[0],
        format!("rate limit exceeded for store {id}: plan \"tiny\" allows 2 requests per second")
    );
    // Another store is not limited by this one's plan.
    let (other, _) = id_and_token(&cp.create_store(None));
    cp.store_req(&other, "GET", "/v1/sys/health", None)
        .send()
        .assert_status(200);
    // Recovers: the bucket refills.
    let mut recovered = false;
    for _ in 0..50 {
        thread::sleep(Duration::from_millis(200));
        if cp
            .store_req(&id, "GET", "/v1/secret/data/none", Some(&root))
            .send()
            .status
            != 429
        {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "the store never recovered from its rate limit");
}

#[test]
fn a_plan_limits_secret_count_and_size() {
    let cp = ControlPlane::start(PLANS, ServerOptions::memory());
    let (id, root) = id_and_token(&cp.create_store(Some("small")));
    let put = |key: &str, value: &str| {
        cp.store_req(&id, "POST", &format!("/v1/secret/data/{key}"), Some(&root))
            .json(&json!({ "data": { "v": value } }))
            .send()
    };
    let first = put("one", "1");
    first.assert_status(200);
    // Creating a secret pays for the counter: measured, reported, not hidden.
    println!(
        "round trips: create {:?}",
        first.header("x-coffer-storage-round-trips")
    );
    put("two", "2").assert_status(200);
    let update = put("one", "1b");
    update.assert_status(200);
    println!(
        "round trips: update {:?}",
        update.header("x-coffer-storage-round-trips")
    );
    let third = put("three", "3");
    third.assert_status(429);
    assert!(
        third.errors()[0].contains("secret count quota exceeded"),
        "{third}"
    );
    let big = put("one", &"x".repeat(300));
    big.assert_status(413);
    assert!(big.errors()[0].contains("200 bytes"), "{big}");
    let shown = cp
        .admin(&["stores", "show", &id, "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(shown["secret_count"], 2);
    cp.store_req(&id, "DELETE", "/v1/secret/metadata/two", Some(&root))
        .send()
        .assert_status(204);
    put("three", "3").assert_status(200);
}

#[test]
fn upgrading_a_plan_under_load_fails_no_request_and_keeps_every_secret() {
    let cp = ControlPlane::start(PLANS, ServerOptions::memory());
    let (id, root) = id_and_token(&cp.create_store(None));
    for i in 0..5 {
        cp.store_req(&id, "POST", &format!("/v1/secret/data/k{i}"), Some(&root))
            .json(&json!({ "data": { "v": i } }))
            .send()
            .assert_status(200);
    }
    let stop = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    let failures: Vec<String> = thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|w| {
                let (cp, id, root, stop, done) = (&cp, &id, &root, &stop, &done);
                s.spawn(move || {
                    let mut failed = Vec::new();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) || n < 20 {
                        let key = format!("k{}", n % 5);
                        let resp = if n % 3 == 0 {
                            cp.store_req(id, "POST", &format!("/v1/secret/data/w{w}"), Some(root))
                                .json(&json!({ "data": { "n": n } }))
                                .send()
                        } else {
                            cp.store_req(id, "GET", &format!("/v1/secret/data/{key}"), Some(root))
                                .send()
                        };
                        if resp.status != 200 {
                            failed.push(resp.to_string());
                        }
                        n += 1;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    failed
                })
            })
            .collect();
        while done.load(Ordering::Relaxed) < 30 {
            thread::sleep(Duration::from_millis(10));
        }
        let upgraded = cp
            .admin(&["stores", "upgrade", &id, "-plan", "pro", "-format=json"])
            .assert_ok()
            .json();
        assert_eq!(upgraded["plan"]["name"], "pro");
        let before = done.load(Ordering::Relaxed);
        while done.load(Ordering::Relaxed) < before + 30 {
            thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "failed requests:\n{}",
        failures.join("\n")
    );
    for i in 0..5 {
        let resp = cp
            .store_req(&id, "GET", &format!("/v1/secret/data/k{i}"), Some(&root))
            .send();
        resp.assert_status(200);
        assert_eq!(resp.json["data"]["data"]["v"], i);
    }
    let shown = cp
        .admin(&["stores", "show", &id, "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(shown["plan"]["name"], "pro");
}

#[test]
fn delete_needs_confirmation_removes_every_item_and_the_endpoint_answers_404() {
    let mut cp = ControlPlane::start(PLANS, ServerOptions::persistent());
    let (a, root_a) = id_and_token(&cp.create_store(None));
    let (b, root_b) = id_and_token(&cp.create_store(None));
    for (id, root) in [(&a, &root_a), (&b, &root_b)] {
        cp.bao(id, Some(root), &["kv", "put", "secret/app", "password=p"])
            .assert_ok();
        cp.bao(id, Some(root), &["token", "create", "-format=json"])
            .assert_ok();
    }
    let refused = cp.admin(&["stores", "delete", &a]);
    refused.assert_failed();
    assert!(refused.stderr.contains("--yes"), "{refused}");
    cp.admin_req("DELETE", &format!("/v1/stores/{a}"))
        .send()
        .assert_status(400);
    cp.store_req(&a, "GET", "/v1/secret/data/app", Some(&root_a))
        .send()
        .assert_status(200);
    let deleted = cp
        .admin(&["stores", "delete", &a, "-yes", "-format=json"])
        .assert_ok()
        .json();
    assert!(deleted["deleted_keys"].as_u64().unwrap() > 5, "{deleted}");
    let gone = cp
        .store_req(&a, "GET", "/v1/secret/data/app", Some(&root_a))
        .send();
    gone.assert_status(404);
    assert!(gone.errors()[0].contains("no secret store"), "{gone}");
    cp.admin(&["stores", "show", &a]).assert_failed();
    cp.bao(&b, Some(&root_b), &["kv", "get", "secret/app"])
        .assert_ok();

    // Scan the whole table: nothing of A is left, B is whole.
    cp.server.kill9();
    let keys = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let storage = coffer_core::storage::EmbeddedStorage::open(&cp.server.data_dir()).unwrap();
        coffer_core::storage::Storage::keys_under(&storage, "")
            .await
            .unwrap()
    });
    let of_a: Vec<_> = keys.iter().filter(|k| k.contains(a.as_str())).collect();
    assert!(
        of_a.is_empty(),
        "items of the deleted store remain: {of_a:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with(&format!("{b}/core/"))),
        "{keys:?}"
    );
    assert!(keys.contains(&format!("_coffer/stores/{b}")), "{keys:?}");
}

#[test]
fn an_unknown_store_id_costs_one_storage_read_then_none_until_the_ttl() {
    let cp = ControlPlane::start(PLANS, ServerOptions::memory());
    let trips = |id: &str| {
        let resp = cp
            .store_req(id, "GET", "/v1/secret/data/x", Some("s.nothing"))
            .send();
        resp.assert_status(404);
        assert!(resp.errors()[0].contains("no secret store"), "{resp}");
        resp.header("x-coffer-storage-round-trips")
            .unwrap()
            .to_owned()
    };
    assert_eq!(trips("nosuchstore1"), "1");
    assert_eq!(trips("nosuchstore1"), "0");
    assert_eq!(trips("nosuchstore1"), "0");
    assert_eq!(trips("nosuchstore2"), "1");
    // The answer is remembered for 2 s (UNKNOWN_TTL), then the record is read again.
    thread::sleep(Duration::from_millis(2100));
    assert_eq!(trips("nosuchstore1"), "1");
    // A malformed host never costs a read.
    let resp = cp
        .server
        .http()
        .req("GET", "/v1/sys/health")
        .header("Host", "Not_A.stores.test")
        .send();
    resp.assert_status(404);
    assert_eq!(resp.header("x-coffer-storage-round-trips"), Some("0"));
}
