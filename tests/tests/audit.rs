//! Audit devices with the real bao CLI and hvac: every request and response on record, secrets
//! and tokens HMAC'd, the same entry shapes as OpenBao, fail closed, SIGHUP reopens, and the
//! file-device refusals that close CVE-2025-54997's hole.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use coffer_blackbox::{on_both, shape, Flavor, Server, ServerOptions};
use serde_json::{json, Value};

/// A configured, initialised, unsealed server whose API may create file devices under `dir`,
/// with KV v2 at `secret/`. Returns the server and its root token.
fn audited_server(flavor: Flavor, dir: &Path, extra: &[&str]) -> (Server, String) {
    let mut opts = ServerOptions::memory();
    opts = match flavor {
        Flavor::Coffer => opts.line(&format!("audit_file_dir = \"{}\"", dir.display())),
        Flavor::OpenBao => opts.line("unsafe_allow_api_audit_creation = true"),
    };
    for line in extra {
        opts = opts.line(line);
    }
    let server = Server::with_config(flavor, opts);
    let keys = server.init_unsealed();
    server.ensure_kv2(&keys.root_token, "secret");
    (server, keys.root_token)
}

/// `bao audit enable file file_path=<log>` at the default path `file/`.
fn enable_file_device(server: &Server, root: &str, log: &Path) {
    server
        .bao(
            Some(root),
            &[
                "audit",
                "enable",
                "file",
                &format!("file_path={}", log.display()),
            ],
        )
        .assert_ok();
}

fn entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}"))
        })
        .collect()
}

fn audit_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// The product doc's secret lifecycle through hvac.
fn lifecycle(server: &Server, root: &str) {
    server.hvac(
        Some(root),
        r#"
        kv = client.secrets.kv.v2
        kv.create_or_update_secret(path="demo", secret={"password": "hunter2"}, mount_point="secret")
        read = kv.read_secret_version(path="demo", mount_point="secret", raise_on_deleted_version=True)
        assert read["data"]["data"]["password"] == "hunter2"
        kv.create_or_update_secret(path="demo", secret={"password": "hunter3"}, mount_point="secret")
        kv.delete_latest_version_of_secret(path="demo", mount_point="secret")
        result = True
        "#,
    );
}

#[test]
fn every_call_is_recorded_twice_with_secrets_and_tokens_hashed() {
    let dir = audit_dir();
    let log = dir.path().join("audit.log");
    let (server, root) = audited_server(Flavor::Coffer, dir.path(), &[]);
    enable_file_device(&server, &root, &log);
    lifecycle(&server, &root);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("hunter3"),
        "secret values in plain text"
    );
    assert!(!text.contains(&root), "a token in plain text");
    let all = entries(&log);
    let demo: Vec<&Value> = all
        .iter()
        .filter(|e| e["request"]["path"] == "secret/data/demo")
        .collect();
    // write, read, write, delete: a request and a response entry each.
    assert_eq!(demo.len(), 8, "{demo:#?}");
    for pair in demo.chunks(2) {
        assert_eq!(pair[0]["type"], "request");
        assert_eq!(pair[1]["type"], "response");
        assert_eq!(pair[0]["request"]["id"], pair[1]["request"]["id"]);
    }
    // The operator can find a known value in the log through sys/audit-hash.
    let hash = server.http().post(
        "/v1/sys/audit-hash/file",
        Some(&root),
        &json!({"input": "hunter2"}),
    );
    hash.assert_status(200);
    let hash = hash.json["data"]["hash"].as_str().unwrap().to_string();
    assert!(hash.starts_with("hmac-sha256:"));
    assert_eq!(demo[0]["request"]["data"]["data"]["password"], json!(hash));
    assert_eq!(demo[3]["response"]["data"]["data"]["password"], json!(hash));
    // The listing shows the device as OpenBao does.
    let listed = server
        .bao(Some(&root), &["audit", "list", "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(listed["file/"]["type"], "file");
    assert_eq!(
        listed["file/"]["options"]["file_path"],
        json!(log.display().to_string())
    );
    let detailed = server.bao(Some(&root), &["audit", "list", "-detailed"]);
    detailed.assert_ok();
    assert!(
        detailed.stdout.contains("file_path="),
        "{}",
        detailed.stdout
    );
    // A token created while audited appears only hashed, in the response's auth block.
    let created = server
        .bao(
            Some(&root),
            &["token", "create", "-policy=default", "-format=json"],
        )
        .assert_ok()
        .json();
    let new_token = created["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!std::fs::read_to_string(&log).unwrap().contains(&new_token));
    let create_entry = entries(&log)
        .into_iter()
        .find(|e| e["request"]["path"] == "auth/token/create" && e["type"] == "response")
        .expect("token create response entry");
    assert!(create_entry["response"]["auth"]["client_token"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
    server
        .bao(Some(&root), &["audit", "disable", "file"])
        .assert_ok();
    let before = entries(&log).len();
    server.http().get("/v1/secret/data/demo", Some(&root));
    assert_eq!(
        entries(&log).len(),
        before,
        "a disabled device records nothing"
    );
}

fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(map) = v {
        for (k, child) in map {
            let path = format!("{prefix}{k}");
            out.insert(path.clone());
            // Request and response data are the caller's and the engine's own: shapes differ
            // by content, not by the audit format.
            if k != "data" {
                key_paths(child, &format!("{path}."), out);
            }
        }
    }
}

#[test]
fn audit_entries_have_the_same_keys_as_openbaos() {
    let dirs = [audit_dir(), audit_dir()];
    let both = on_both(|flavor| {
        let dir = &dirs[usize::from(flavor == Flavor::Coffer)];
        let log = dir.path().join("audit.log");
        let (server, root) = audited_server(flavor, dir.path(), &[]);
        enable_file_device(&server, &root, &log);
        lifecycle(&server, &root);
        server
            .http()
            .get("/v1/secret/data/demo", Some("s.not-a-token"))
            .assert_status(403);
        entries(&log)
    });
    let pick = |all: &[Value], path: &str, kind: &str, error: bool| -> BTreeSet<String> {
        let e = all
            .iter()
            .find(|e| {
                e["request"]["path"] == path
                    && e["type"] == kind
                    && e.get("error").is_some() == error
            })
            .unwrap_or_else(|| panic!("no {kind} entry for {path} (error: {error})"));
        let mut keys = BTreeSet::new();
        key_paths(e, "", &mut keys);
        keys
    };
    for (kind, error) in [
        ("request", false),
        ("response", false),
        ("request", true),
        ("response", true),
    ] {
        let ours = pick(&both.coffer, "secret/data/demo", kind, error);
        let theirs = pick(&both.openbao, "secret/data/demo", kind, error);
        assert_eq!(ours, theirs, "{kind} entry keys (error: {error}) differ");
    }
    // And the data sections carry the same secret fields, hashed on both.
    let write = |all: &[Value]| {
        all.iter()
            .find(|e| e["request"]["path"] == "secret/data/demo" && e["type"] == "request")
            .map(|e| e["request"]["data"]["data"].clone())
            .unwrap()
    };
    shape::assert_same_shape(
        "hashed secret data",
        &write(&both.openbao),
        &write(&both.coffer),
    );
}

#[test]
fn a_request_no_device_can_record_fails_and_is_not_performed() {
    let dir = audit_dir();
    let (server, root) = audited_server(Flavor::Coffer, dir.path(), &[]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let collector = std::thread::spawn(move || {
        // Accept the device's connection, read what comes, then go away.
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_millis(300)))
            .unwrap();
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut buf);
        buf
    });
    server
        .bao(
            Some(&root),
            &[
                "audit",
                "enable",
                "socket",
                &format!("address={addr}"),
                "socket_type=tcp",
            ],
        )
        .assert_ok();
    server
        .http()
        .get("/v1/sys/mounts", Some(&root))
        .assert_status(200);
    let received = collector.join().unwrap();
    assert!(String::from_utf8_lossy(&received).contains("sys/mounts"));
    // The collector is gone: nothing can record, so the write is refused and not done.
    let write = server.http().put(
        "/v1/secret/data/kept-out",
        Some(&root),
        &json!({"data": {"v": "1"}}),
    );
    write.assert_status(500);
    assert_eq!(write.json, json!({"errors": ["internal error"]}));
    // A second device that works is enough again (one success suffices).
    let log = dir.path().join("second.log");
    let listener = std::net::TcpListener::bind(addr).expect("rebind the collector's port");
    let again = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        drop(stream);
    });
    server
        .bao(
            Some(&root),
            &[
                "audit",
                "enable",
                "-path=second",
                "file",
                &format!("file_path={}", log.display()),
            ],
        )
        .assert_ok();
    again.join().unwrap();
    let read = server.http().get("/v1/secret/data/kept-out", Some(&root));
    read.assert_status(404);
    assert!(entries(&log)
        .iter()
        .any(|e| e["request"]["path"] == "secret/data/kept-out"));
}

fn sighup(server: &Server) {
    let pid = server.pid().expect("running server") as i32;
    // SAFETY: sending a signal to a child process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

fn wait_until(mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("condition not reached in 5 s");
}

#[test]
fn sighup_reopens_the_file_and_an_unwritable_one_fails_closed() {
    let dir = audit_dir();
    let sub = dir.path().join("logs");
    std::fs::create_dir(&sub).unwrap();
    let log = sub.join("audit.log");
    let (server, root) = audited_server(Flavor::Coffer, dir.path(), &[]);
    enable_file_device(&server, &root, &log);
    server
        .http()
        .get("/v1/sys/mounts", Some(&root))
        .assert_status(200);
    // Log rotation: move the file away, SIGHUP, the next entries go to a new file.
    let rotated: PathBuf = sub.join("audit.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    sighup(&server);
    wait_until(|| {
        server
            .http()
            .get("/v1/sys/mounts", Some(&root))
            .assert_status(200);
        entries(&log)
            .iter()
            .any(|e| e["request"]["path"] == "sys/mounts")
    });
    let rotated_len = entries(&rotated).len();
    // The directory disappears: after SIGHUP the device cannot write, requests fail closed.
    std::fs::remove_dir_all(&sub).unwrap();
    sighup(&server);
    wait_until(|| server.http().get("/v1/sys/mounts", Some(&root)).status == 500);
    server
        .http()
        .put(
            "/v1/secret/data/x",
            Some(&root),
            &json!({"data": {"a": "b"}}),
        )
        .assert_status(500);
    std::fs::create_dir(&sub).unwrap();
    wait_until(|| server.http().get("/v1/secret/data/x", Some(&root)).status == 404);
    assert!(!rotated.exists() || entries(&rotated).len() == rotated_len);
}

#[test]
fn file_devices_outside_audit_file_dir_symlinks_and_bad_prefixes_are_refused() {
    let dir = audit_dir();
    let elsewhere = audit_dir();
    let (server, root) = audited_server(Flavor::Coffer, dir.path(), &[]);
    let victim = elsewhere.path().join("victim.conf");
    std::fs::write(&victim, "precious = true\n").unwrap();
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let not_a_log = dir.path().join("script.sh");
    std::fs::write(&not_a_log, "#!/bin/sh\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![format!("file_path={}", victim.display())],
            "outside the allowed audit_file_dir",
        ),
        (
            vec![format!("file_path={}/../x.log", dir.path().display())],
            "outside the allowed audit_file_dir",
        ),
        (
            vec![format!("file_path={}", link.display())],
            "symbolic link",
        ),
        (
            vec![format!("file_path={}", not_a_log.display())],
            "not an audit log",
        ),
        (
            vec![
                format!("file_path={}/p.log", dir.path().display()),
                "prefix=a\nb".into(),
            ],
            "line breaks",
        ),
        (vec!["file_path=relative.log".into()], "absolute"),
    ];
    for (args, expect) in cases {
        let mut cmd = vec!["audit", "enable", "file"];
        cmd.extend(args.iter().map(String::as_str));
        let out = server.bao(Some(&root), &cmd);
        assert_eq!(out.code, 2, "{args:?} must be refused: {}", out.stdout);
        assert!(
            out.stderr.contains(expect),
            "{args:?}: expected {expect:?} in {}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious = true\n"
    );
    assert_eq!(std::fs::read_to_string(&not_a_log).unwrap(), "#!/bin/sh\n");
    assert!(server
        .bao(Some(&root), &["audit", "list", "-format=json"])
        .assert_ok()
        .json()
        .as_object()
        .unwrap()
        .is_empty());
}

#[test]
fn config_declared_devices_record_and_api_creation_can_be_disabled() {
    let dir = audit_dir();
    let log = dir.path().join("declared.log");
    let (server, root) = audited_server(
        Flavor::Coffer,
        dir.path(),
        &[
            &format!(
                "audit \"file\" \"declared\" {{\n  file_path = \"{}\"\n}}",
                log.display()
            ),
            "disable_api_audit_creation = true",
        ],
    );
    server
        .http()
        .get("/v1/sys/mounts", Some(&root))
        .assert_status(200);
    assert!(entries(&log)
        .iter()
        .any(|e| e["request"]["path"] == "sys/mounts"));
    let listed = server
        .bao(Some(&root), &["audit", "list", "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(listed["declared/"]["type"], "file");
    let out = server.bao(
        Some(&root),
        &[
            "audit",
            "enable",
            "-path=more",
            "file",
            &format!("file_path={}/more.log", dir.path().display()),
        ],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("disable_api_audit_creation"),
        "{}",
        out.stderr
    );
}
