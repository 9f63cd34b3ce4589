//! The audit trail a managed store's plan promises: with `audit_dir`, every store's requests
//! are recorded (HMAC'd, OpenBao's format) in `<audit_dir>/<store id>/` only, hourly segments
//! past the plan's `audit_retention` are removed (in the background and at once on a plan
//! change), the tenant cannot switch the trail off, and deleting the store removes it.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use coffer_blackbox::admin::ControlPlane;
use coffer_blackbox::ServerOptions;
use coffer_core::audit::segment::{hour_of, segment_path};
use serde_json::Value;

const PLANS: &str = r#"
  plan "week" { audit_retention = "168h" }
  plan "twohours" { audit_retention = "2h" }
  plan "forever" {}
"#;

/// A control plane keeping trails in `dir`, pruning every `interval`.
fn start(dir: &Path, interval: &str) -> ControlPlane {
    ControlPlane::start(
        &format!(
            "  audit_dir = {:?}\n  audit_prune_interval = {interval:?}\n{PLANS}",
            dir.display().to_string()
        ),
        ServerOptions::memory(),
    )
}

fn audit_root() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("coffer-store-audit-")
        .tempdir()
        .unwrap()
}

fn create(cp: &ControlPlane, plan: &str) -> (String, String) {
    let created = cp.create_store(Some(plan));
    (
        created["id"].as_str().unwrap().to_owned(),
        created["root_token"].as_str().unwrap().to_owned(),
    )
}

/// Every entry in a store's trail directory (all segment files, the tenant's included).
fn entries(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for file in fs::read_dir(dir).unwrap() {
        let text = fs::read_to_string(file.unwrap().path()).unwrap();
        out.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The name of the segment `hours_ago` hours before the current one.
fn segment_name(hours_ago: u64) -> String {
    let hour = hour_of(SystemTime::now()) - hours_ago;
    segment_path(Path::new("audit.log"), hour)
        .to_str()
        .unwrap()
        .to_owned()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn each_stores_requests_are_audited_in_its_own_directory_only_and_go_with_the_store() {
    let root = audit_root();
    let cp = start(root.path(), "5m");
    let (a, root_a) = create(&cp, "week");
    let (b, root_b) = create(&cp, "week");
    cp.bao(
        &a,
        Some(&root_a),
        &["kv", "put", "secret/only-in-a", "password=alpha-secret"],
    )
    .assert_ok();
    cp.bao(
        &b,
        Some(&root_b),
        &["kv", "put", "secret/only-in-b", "password=bravo-secret"],
    )
    .assert_ok();
    let read = cp
        .store_req(&a, "GET", "/v1/secret/data/only-in-a", Some(&root_a))
        .send();
    read.assert_status(200);
    // The trail is a local append: the KV read is still one storage round trip.
    assert_eq!(read.header("x-coffer-storage-round-trips"), Some("1"));

    let dir_a: PathBuf = root.path().join(&a);
    let dir_b: PathBuf = root.path().join(&b);
    assert_eq!(names(&dir_a), [segment_name(0)]);
    let (in_a, in_b) = (entries(&dir_a), entries(&dir_b));
    let paths = |entries: &[Value]| -> Vec<String> {
        entries
            .iter()
            .map(|e| e["request"]["path"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(paths(&in_a).iter().any(|p| p == "secret/data/only-in-a"));
    assert!(paths(&in_b).iter().any(|p| p == "secret/data/only-in-b"));
    assert!(!paths(&in_a).iter().any(|p| p.contains("only-in-b")));
    assert!(!paths(&in_b).iter().any(|p| p.contains("only-in-a")));
    // OpenBao's format, HMAC'd: the secret and the token are never in clear, and the hash
    // the store computes with its own salt is what the trail holds.
    let text_a = fs::read_to_string(dir_a.join(segment_name(0))).unwrap();
    assert!(!text_a.contains("alpha-secret") && !text_a.contains(&root_a));
    let hash = cp
        .store_req(&a, "POST", "/v1/sys/audit-hash/managed", Some(&root_a))
        .json(&serde_json::json!({ "input": "alpha-secret" }))
        .send();
    hash.assert_status(200);
    let hash = hash.json["data"]["hash"].as_str().unwrap().to_owned();
    assert!(
        hash.starts_with("hmac-sha256:") && text_a.contains(&hash),
        "{hash}"
    );
    assert!(!fs::read_to_string(dir_b.join(segment_name(0)))
        .unwrap()
        .contains(&hash));

    // The tenant sees the trail, cannot switch it off, and may add file devices only inside
    // its own directory (and never onto the trail's file).
    let listed = cp
        .bao(&a, Some(&root_a), &["audit", "list", "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(listed["managed/"]["type"], "file");
    let off = cp.bao(&a, Some(&root_a), &["audit", "disable", "managed"]);
    assert_eq!(off.code, 2);
    assert!(off.stderr.contains("declared"), "{}", off.stderr);
    let own = dir_a.join("team.log");
    cp.bao(
        &a,
        Some(&root_a),
        &[
            "audit",
            "enable",
            "file",
            &format!("file_path={}", own.display()),
        ],
    )
    .assert_ok();
    for (path, why) in [
        (dir_b.join("steal.log"), "outside"),
        (root.path().join("top.log"), "outside"),
        (dir_a.join("audit.log"), "service keeps"),
    ] {
        let out = cp.bao(
            &a,
            Some(&root_a),
            &[
                "audit",
                "enable",
                "-path=other",
                "file",
                &format!("file_path={}", path.display()),
            ],
        );
        assert_eq!(out.code, 2, "{}", path.display());
        assert!(out.stderr.contains(why), "{}", out.stderr);
    }
    cp.store_req(&a, "GET", "/v1/secret/data/only-in-a", Some(&root_a))
        .send()
        .assert_status(200);
    // The tenant's device writes hourly segments too, so retention covers it.
    assert_eq!(
        names(&dir_a),
        [
            segment_name(0),
            format!("team.log.{}", &segment_name(0)[10..])
        ]
    );
    assert!(names(&dir_b).iter().all(|n| !n.starts_with("team")));

    cp.admin(&["stores", "delete", &a, "--yes"]).assert_ok();
    assert!(!dir_a.exists(), "the deleted store's trail is gone");
    assert!(
        !entries(&dir_b).is_empty(),
        "the other store's trail is kept"
    );
}

#[test]
fn segments_past_the_plans_retention_are_pruned_in_the_background_and_fresh_ones_kept() {
    let root = audit_root();
    let cp = start(root.path(), "1s");
    let (short, token) = create(&cp, "twohours");
    let (kept, _) = create(&cp, "forever");
    cp.store_req(&short, "GET", "/v1/sys/mounts", Some(&token))
        .send()
        .assert_status(200);
    let (dir_short, dir_kept) = (root.path().join(&short), root.path().join(&kept));
    // Segments named by hour: three hours back ends two hours ago (past a 2h retention);
    // the previous hour's may hold entries younger than 2h.
    for dir in [&dir_short, &dir_kept] {
        for name in [
            "audit.log.2020010100".to_owned(),
            segment_name(3),
            segment_name(1),
        ] {
            fs::write(dir.join(name), "{}\n").unwrap();
        }
    }
    // A directory of a store that does not exist (deleted while this process was down) goes;
    // what is not a store's directory stays.
    fs::create_dir(root.path().join("gone0store1")).unwrap();
    fs::write(
        root.path().join("gone0store1").join(segment_name(0)),
        "{}\n",
    )
    .unwrap();
    fs::create_dir(root.path().join("not_a_store")).unwrap();

    wait_until("pruning", || {
        !dir_short.join("audit.log.2020010100").exists()
            && !root.path().join("gone0store1").exists()
    });
    assert_eq!(names(&dir_short), [segment_name(1), segment_name(0)]);
    let mut all = vec![
        "audit.log.2020010100".to_owned(),
        segment_name(3),
        segment_name(1),
        segment_name(0),
    ];
    all.sort();
    assert_eq!(
        names(&dir_kept),
        all,
        "a plan without retention keeps everything"
    );
    assert!(root.path().join("not_a_store").is_dir());
    // Still recording after pruning.
    cp.store_req(&short, "GET", "/v1/sys/mounts", Some(&token))
        .send()
        .assert_status(200);
    assert!(entries(&dir_short)
        .iter()
        .any(|e| e["request"]["path"] == "sys/mounts"));
}

#[test]
fn moving_to_a_plan_with_a_shorter_retention_prunes_at_once() {
    let root = audit_root();
    // Pruned at start and then only hourly: what goes below goes because of the upgrade.
    let cp = start(root.path(), "1h");
    let (id, token) = create(&cp, "forever");
    cp.store_req(&id, "GET", "/v1/sys/mounts", Some(&token))
        .send()
        .assert_status(200);
    let dir = root.path().join(&id);
    let old = dir.join(segment_name(5));
    fs::write(&old, "{}\n").unwrap();
    assert!(old.exists());
    cp.admin(&["stores", "upgrade", &id, "-plan", "twohours"])
        .assert_ok();
    assert!(!old.exists(), "the upgrade pruned the old segment");
    assert_eq!(names(&dir), [segment_name(0)]);
}
