//! Two coffer processes on one DynamoDB table (moto's server) behave as one store: no leader,
//! no forwarding, each unsealed on its own; writes through either are read through the other;
//! concurrent check-and-set writes from both lose and duplicate no version; and each operation
//! costs the DynamoDB calls the design promises, counted from moto's side of the wire.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use coffer_blackbox::moto::{Moto, TwoProcesses};
use coffer_blackbox::Http;
use serde_json::json;

/// Acknowledged writes the concurrent test waits for: the 1000, split across both
/// processes.
const CAS_WRITES: usize = 1000;
/// Writer threads per process.
const WRITERS_PER_PROCESS: usize = 2;

/// Both processes up, and a KV v2 mount at `secret/` made through A.
fn two_processes_on_one_table() -> TwoProcesses {
    let pair = TwoProcesses::start();
    pair.a.ensure_kv2(&pair.root, "secret");
    pair
}

#[test]
fn two_processes_on_one_table_serve_one_store() {
    let TwoProcesses { moto, a, b, root } = two_processes_on_one_table();
    let root = Some(root.as_str());

    // B was unsealed by its own key submission and reports the store initialised.
    let status = b.http().get("/v1/sys/seal-status", None);
    assert_eq!(status.json["sealed"], false, "{status}");
    assert_eq!(status.json["storage_type"], "dynamodb", "{status}");

    a.http()
        .put(
            "/v1/secret/data/from-a",
            root,
            &json!({"data": {"by": "a"}}),
        )
        .assert_status(200);
    let seen = b.http().get("/v1/secret/data/from-a", root);
    seen.assert_status(200);
    assert_eq!(seen.json["data"]["data"]["by"], "a", "{seen}");

    b.http()
        .put(
            "/v1/secret/data/from-b",
            root,
            &json!({"data": {"by": "b"}}),
        )
        .assert_status(200);
    let seen = a.http().get("/v1/secret/data/from-b", root);
    seen.assert_status(200);
    assert_eq!(seen.json["data"]["data"]["by"], "b", "{seen}");

    // An update through B is what A reads next: no process serves from a stale copy.
    b.http()
        .put(
            "/v1/secret/data/from-a",
            root,
            &json!({"data": {"by": "b"}}),
        )
        .assert_status(200);
    let seen = a.http().get("/v1/secret/data/from-a", root);
    assert_eq!(seen.json["data"]["data"]["by"], "b", "{seen}");
    assert_eq!(seen.json["data"]["metadata"]["version"], 2, "{seen}");

    let listed = a.http().list("/v1/secret/metadata/", root);
    listed.assert_status(200);
    assert_eq!(
        listed.json["data"]["keys"],
        json!(["from-a", "from-b"]),
        "{listed}"
    );

    drop(moto);
}

/// How long a policy change made through one process may take to apply on another: the policy
/// cache's staleness bound (`core/src/policy/store.rs`, `STALE_LIMIT` = 30 s), plus slack.
const POLICY_BOUND: Duration = Duration::from_secs(35);

#[test]
fn changes_made_through_one_process_are_seen_by_the_other() {
    let TwoProcesses { moto, a, b, root } = two_processes_on_one_table();
    let root = Some(root.as_str());
    let (ha, hb) = (a.http(), b.http());

    // A mount enabled through A after B unsealed is routed by B on its next request (the
    // mount table's version rides along in every request's prefetch).
    let enabled = ha.post(
        "/v1/sys/mounts/other",
        root,
        &json!({"type": "kv", "options": {"version": "2"}}),
    );
    assert!(enabled.status < 300, "{enabled}");
    hb.put("/v1/other/data/x", root, &json!({"data": {"by": "b"}}))
        .assert_status(200);
    let seen = ha.get("/v1/other/data/x", root);
    assert_eq!(seen.json["data"]["data"]["by"], "b", "{seen}");

    // A token with a policy, both made through A, works through B.
    let policy =
        |path: &str| json!({"policy": format!("path \"{path}\" {{ capabilities = [\"read\"] }}")});
    ha.put(
        "/v1/sys/policies/acl/reader",
        root,
        &policy("secret/data/shared"),
    )
    .assert_status(204);
    ha.put("/v1/secret/data/shared", root, &json!({"data": {"v": 1}}))
        .assert_status(200);
    let created = ha.post(
        "/v1/auth/token/create",
        root,
        &json!({"policies": ["reader"]}),
    );
    created.assert_status(200);
    let token = created.json["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_owned();
    hb.get("/v1/secret/data/shared", Some(&token))
        .assert_status(200);

    // The policy narrowed through A applies on B within the policy cache's bound.
    ha.put(
        "/v1/sys/policies/acl/reader",
        root,
        &policy("secret/data/elsewhere"),
    )
    .assert_status(204);
    let start = Instant::now();
    loop {
        let resp = hb.get("/v1/secret/data/shared", Some(&token));
        if resp.status == 403 {
            break;
        }
        resp.assert_status(200);
        assert!(
            start.elapsed() < POLICY_BOUND,
            "B still applies the old policy after {:?}",
            start.elapsed()
        );
        thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "policy change through A applied on B after {:?}",
        start.elapsed()
    );

    // A token revoked through A is refused by B on the very next request (not cached).
    hb.get("/v1/auth/token/lookup-self", Some(&token))
        .assert_status(200);
    ha.post("/v1/auth/token/revoke", root, &json!({"token": token}))
        .assert_status(204);
    hb.get("/v1/auth/token/lookup-self", Some(&token))
        .assert_status(403);
    drop(moto);
}

/// One writer: reads the current version through its process, writes with `cas` = that
/// version, and records each acknowledged version with what it wrote.
fn cas_writer(
    http: Http,
    root: &str,
    writer: String,
    acked: &AtomicUsize,
    versions: &Mutex<BTreeMap<u64, String>>,
) {
    let mut attempt = 0;
    while acked.load(Ordering::SeqCst) < CAS_WRITES {
        attempt += 1;
        let meta = http.get("/v1/secret/metadata/counter", Some(root));
        let current = match meta.status {
            200 => meta.json["data"]["current_version"]
                .as_u64()
                .expect("current_version"),
            404 => 0,
            _ => panic!("metadata read failed\n{meta}"),
        };
        let payload = format!("{writer}-{attempt}");
        let resp = http.put(
            "/v1/secret/data/counter",
            Some(root),
            &json!({"data": {"payload": payload}, "options": {"cas": current}}),
        );
        match resp.status {
            200 => {
                let version = resp.json["data"]["version"].as_u64().expect("version");
                let previous = versions.lock().unwrap().insert(version, payload);
                assert!(previous.is_none(), "version {version} acknowledged twice");
                acked.fetch_add(1, Ordering::SeqCst);
            }
            // Another writer took this version: read again and retry.
            400 => assert!(
                resp.text.contains("check-and-set"),
                "unexpected refusal\n{resp}"
            ),
            _ => panic!("cas write failed\n{resp}"),
        }
    }
}

#[test]
fn concurrent_cas_writes_from_two_processes_lose_and_duplicate_no_version() {
    let TwoProcesses { moto, a, b, root } = two_processes_on_one_table();
    // Keep every version, so every acknowledged write can be read back from both processes.
    a.http()
        .post(
            "/v1/secret/metadata/counter",
            Some(&root),
            &json!({"max_versions": 2 * CAS_WRITES}),
        )
        .assert_status(204);
    let acked = AtomicUsize::new(0);
    let versions = Mutex::new(BTreeMap::new());
    thread::scope(|scope| {
        for (name, server) in [("a", &a), ("b", &b)] {
            for i in 0..WRITERS_PER_PROCESS {
                let (http, root, acked, versions) = (server.http(), &root, &acked, &versions);
                scope.spawn(move || cas_writer(http, root, format!("{name}{i}"), acked, versions));
            }
        }
    });
    let versions = versions.into_inner().unwrap();
    let n = versions.len() as u64;
    assert!(n >= CAS_WRITES as u64);
    assert_eq!(
        versions.keys().copied().collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>(),
        "acknowledged versions must be exactly 1..={n}: no gap, no duplicate"
    );
    for server in [&a, &b] {
        let meta = server
            .http()
            .get("/v1/secret/metadata/counter", Some(&root));
        meta.assert_status(200);
        assert_eq!(meta.json["data"]["current_version"], n, "{meta}");
        // Every version still kept is readable from this process with what its writer wrote.
        let kept: Vec<u64> = meta.json["data"]["versions"]
            .as_object()
            .expect("versions")
            .keys()
            .map(|v| v.parse().expect("numeric version"))
            .collect();
        assert_eq!(
            kept.len() as u64,
            n,
            "every acknowledged version is kept\n{meta}"
        );
        for v in kept {
            let read = server
                .http()
                .get(&format!("/v1/secret/data/counter?version={v}"), Some(&root));
            read.assert_status(200);
            assert_eq!(
                read.json["data"]["data"]["payload"], versions[&v],
                "version {v}\n{read}"
            );
        }
    }
    drop(moto);
}

/// The round trips the server reports for one request, and the DynamoDB calls moto served
/// for it; they must agree (the backend hides no call).
fn costs(moto: &Moto, what: &str, send: impl FnOnce() -> coffer_blackbox::Resp) -> u64 {
    let before = moto.calls();
    let resp = send();
    assert!(resp.status < 300, "{what} failed\n{resp}");
    let reported: u64 = resp
        .header("x-coffer-storage-round-trips")
        .unwrap_or_else(|| panic!("{what}: no round-trip header\n{resp}"))
        .parse()
        .expect("a number");
    // moto writes its access log line after answering: give it a moment.
    let mut served = moto.calls() - before;
    for _ in 0..50 {
        if served as u64 >= reported {
            break;
        }
        thread::sleep(Duration::from_millis(20));
        served = moto.calls() - before;
    }
    assert_eq!(
        served as u64, reported,
        "{what}: moto served {served} DynamoDB calls, the server reported {reported}"
    );
    eprintln!("dynamodb calls: {what} = {served}");
    reported
}

#[test]
fn each_operation_costs_the_dynamodb_calls_it_reports() {
    let TwoProcesses { moto, a, b, root } = two_processes_on_one_table();
    let root = Some(root.as_str());
    let (ha, hb) = (a.http(), b.http());
    // Warm both processes' folder knowledge with one write each.
    ha.put("/v1/secret/data/app/one", root, &json!({"data": {"v": 1}}))
        .assert_status(200);
    hb.put("/v1/secret/data/app/two", root, &json!({"data": {"v": 1}}))
        .assert_status(200);

    let write = costs(&moto, "KV v2 write (new version)", || {
        hb.put("/v1/secret/data/app/one", root, &json!({"data": {"v": 2}}))
    });
    let read = costs(&moto, "KV v2 read", || {
        ha.get("/v1/secret/data/app/one", root)
    });
    let list = costs(&moto, "KV v2 LIST", || {
        ha.list("/v1/secret/metadata/app/", root)
    });
    let lookup = costs(&moto, "token lookup-self", || {
        hb.get("/v1/auth/token/lookup-self", root)
    });
    // DESIGN.md's budget: a read is one call (token, mount table and record in one
    // BatchGetItem), a write at most two (that read, then one conditional write or transaction).
    assert_eq!(read, 1, "KV v2 read took {read} DynamoDB calls");
    assert!(write <= 2, "KV v2 write took {write} DynamoDB calls");
    assert!(list <= 2, "LIST took {list} DynamoDB calls");
    assert_eq!(lookup, 1, "token lookup-self");
}
