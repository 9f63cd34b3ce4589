//! The DynamoDB emulator failing under load: while it is frozen (SIGSTOP, as a network
//! partition looks) or dead, requests fail with a 5xx within the storage deadline and the
//! server says why in its log; once it is back, every acknowledged write is there and no KV
//! version is half-written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use coffer_blackbox::moto::Moto;
use coffer_blackbox::{Flavor, Server};
use serde_json::json;

const KEYS: usize = 4;

#[test]
fn a_frozen_then_killed_emulator_fails_requests_cleanly_and_half_writes_nothing() {
    let mut moto = Moto::start();
    let table = moto.fresh_table();
    let server = Server::with_config(Flavor::Coffer, moto.coffer_options(&table));
    let keys = server.init_unsealed();
    let root = keys.root_token.as_str();
    server.ensure_kv2(root, "secret");

    let stop = AtomicBool::new(false);
    // (key, version, payload) of every acknowledged write; statuses of every failure.
    let acked = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for k in 0..KEYS {
            let (http, stop, acked, failures) = (server.http(), &stop, &acked, &failures);
            scope.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let payload = format!("k{k}-{i}");
                    let resp = http.put(
                        &format!("/v1/secret/data/load/{k}"),
                        Some(root),
                        &json!({"data": {"payload": payload}}),
                    );
                    match resp.status {
                        200 => {
                            let version = resp.json["data"]["version"].as_u64().expect("version");
                            acked.lock().unwrap().push((k, version, payload));
                        }
                        status => failures.lock().unwrap().push((status, resp.text.clone())),
                    }
                }
            });
        }
        thread::sleep(Duration::from_millis(1500));
        moto.freeze();
        thread::sleep(Duration::from_secs(8));
        moto.thaw();
        thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::SeqCst);
    });

    let failures = failures.into_inner().unwrap();
    assert!(
        !failures.is_empty(),
        "writes while the emulator was frozen must fail"
    );
    for (status, text) in &failures {
        assert!((500..600).contains(status), "{status}: {text}");
        assert!(
            text.contains("storage backend unavailable"),
            "a clear error: {text}"
        );
    }
    let log = server.log();
    assert!(
        log.contains("dynamodb") && log.contains("failed after"),
        "the server log must say which DynamoDB call gave up\n{log}"
    );

    // Back up: every acknowledged write is readable, and every version the metadata lists
    // is whole (its data decrypts and reads back).
    let acked = acked.into_inner().unwrap();
    assert!(!acked.is_empty());
    let http = server.http();
    for (k, version, payload) in &acked {
        let read = http.get(
            &format!("/v1/secret/data/load/{k}?version={version}"),
            Some(root),
        );
        if read.status == 404 {
            // Pruned by max_versions since: the metadata must then list newer versions only.
            continue;
        }
        read.assert_status(200);
        assert_eq!(
            read.json["data"]["data"]["payload"],
            payload.as_str(),
            "{read}"
        );
    }
    for k in 0..KEYS {
        let meta = http.get(&format!("/v1/secret/metadata/load/{k}"), Some(root));
        meta.assert_status(200);
        let current = meta.json["data"]["current_version"]
            .as_u64()
            .expect("current");
        let newest_acked = acked
            .iter()
            .filter(|(key, ..)| *key == k)
            .map(|(_, v, _)| *v)
            .max()
            .unwrap_or(0);
        assert!(current >= newest_acked, "{meta}");
        for v in meta.json["data"]["versions"]
            .as_object()
            .expect("versions")
            .keys()
        {
            let read = http.get(&format!("/v1/secret/data/load/{k}?version={v}"), Some(root));
            read.assert_status(200);
        }
    }

    // Dead emulator: refused connections fail within the deadline, the process stays up.
    moto.kill9();
    let start = Instant::now();
    let resp = http.get("/v1/secret/data/load/0", Some(root));
    assert!((500..600).contains(&resp.status), "{resp}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(
        server.pid().is_some() && server.log().contains("Connection refused"),
        "the server stays up and logs why\n{}",
        server.log()
    );
}
