//! Tokens and policies across two coffer processes on one DynamoDB table (moto): use limits
//! count down exactly once per use whichever process serves it, a revocation through one is
//! refused by the other at once (tokens are never cached), and a policy change reaches the
//! other process within the documented refresh bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use coffer_blackbox::moto::TwoProcesses;
use coffer_blackbox::Server;
use serde_json::json;

fn create(server: &Server, root: &str, body: serde_json::Value) -> String {
    let resp = server
        .http()
        .post("/v1/auth/token/create", Some(root), &body);
    resp.assert_status(200);
    resp.json["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn use_limits_count_each_use_once_across_two_processes() {
    let TwoProcesses {
        moto: _keep,
        a,
        b,
        root,
    } = TwoProcesses::start();
    const USES: usize = 12;
    let token = create(&a, &root, json!({"num_uses": USES, "policies": ["x"]}));
    let served = AtomicUsize::new(0);
    thread::scope(|scope| {
        for i in 0..4 {
            let http = if i % 2 == 0 { a.http() } else { b.http() };
            let (served, token) = (&served, &token);
            scope.spawn(move || {
                for _ in 0..8 {
                    let resp = http.get("/v1/auth/token/lookup-self", Some(token));
                    match resp.status {
                        200 => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        403 => {}
                        other => panic!("unexpected {other}\n{resp}"),
                    }
                }
            });
        }
    });
    assert_eq!(served.load(Ordering::Relaxed), USES);
    for server in [&a, &b] {
        server
            .http()
            .get("/v1/auth/token/lookup-self", Some(&token))
            .assert_status(403);
    }
}

#[test]
fn a_token_revoked_through_one_process_is_refused_by_the_other_at_once() {
    let TwoProcesses {
        moto: _keep,
        a,
        b,
        root,
    } = TwoProcesses::start();
    let token = create(&a, &root, json!({"policies": ["x"]}));
    // The first request loads the token's policies into B's cache; from then on a token
    // lookup is one storage round trip.
    let counts: Vec<String> = (0..3)
        .map(|_| {
            let resp = b.http().get("/v1/auth/token/lookup-self", Some(&token));
            resp.assert_status(200);
            resp.header("x-coffer-storage-round-trips")
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    assert_eq!(counts, ["2", "1", "1"], "round trips of lookup-self on B");
    a.http()
        .post(
            "/v1/auth/token/revoke",
            Some(&root),
            &json!({"token": token}),
        )
        .assert_status(204);
    b.http()
        .get("/v1/auth/token/lookup-self", Some(&token))
        .assert_status(403);
}

#[test]
fn a_policy_written_through_one_process_applies_in_the_other_within_the_refresh_bound() {
    let TwoProcesses {
        moto: _keep,
        a,
        b,
        root,
    } = TwoProcesses::start();
    let token = create(&a, &root, json!({"policies": ["late"]}));
    let caps = |server: &Server| {
        let resp = server.http().post(
            "/v1/sys/capabilities-self",
            Some(&token),
            &json!({"path": "secret/data/x"}),
        );
        resp.assert_status(200);
        resp.json["data"]["capabilities"].clone()
    };
    // B caches that `late` does not exist.
    assert_eq!(caps(&b), json!(["deny"]));
    a.http()
        .put(
            "/v1/sys/policies/acl/late",
            Some(&root),
            &json!({"policy": "path \"secret/data/x\" { capabilities = [\"read\"] }"}),
        )
        .assert_status(204);
    assert_eq!(caps(&a), json!(["read"]));
    // Past the refresh age, one request starts a background re-read; soon after, B agrees.
    thread::sleep(Duration::from_millis(2100));
    caps(&b);
    let mut seen = json!(null);
    for _ in 0..20 {
        thread::sleep(Duration::from_millis(100));
        seen = caps(&b);
        if seen == json!(["read"]) {
            break;
        }
    }
    assert_eq!(seen, json!(["read"]));
}
