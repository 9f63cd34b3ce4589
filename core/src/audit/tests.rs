use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use serde_json::Value;

use super::*;
use crate::barrier::aead::AesKey;
use crate::storage::MemoryStorage;

async fn barrier() -> Barrier {
    let b = Barrier::new(Arc::new(MemoryStorage::new()), "s");
    b.initialize(&AesKey::generate(), vec![]).await.unwrap();
    b
}

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sample() -> AuditRequest {
    AuditRequest {
        id: "r1".into(),
        operation: "read".into(),
        path: "secret/data/x".into(),
        data: None,
        remote_addr: None,
        mount: None,
        auth: AuditAuth {
            client_token: Some("s.secret-token".into()),
            ..Default::default()
        },
    }
}

fn broker(dir: &std::path::Path) -> AuditBroker {
    AuditBroker::new(
        AuditPolicy {
            file_dir: Some(dir.to_path_buf()),
            api_creation_disabled: false,
            ..AuditPolicy::default()
        },
        vec![],
    )
}

/// Enables a file device named `name` writing to `path`.
async fn enable_file(b: &AuditBroker, barrier: &Barrier, name: &str, path: &std::path::Path) {
    b.enable(
        barrier,
        name,
        "file",
        "",
        opts(&[("file_path", path.to_str().unwrap())]),
        false,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn no_device_means_nothing_is_required() {
    let b = broker(std::path::Path::new("/tmp"));
    assert!(b.log_request(&sample(), None).is_ok());
}

#[tokio::test]
async fn file_device_writes_hashed_json_lines_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let b = broker(dir.path());
    let path = dir.path().join("audit.log");
    enable_file(&b, &barrier, "file", &path).await;
    b.log_request(&sample(), None).unwrap();
    let resp = AuditResponse {
        data: Some(serde_json::json!({"pw": "hunter2"})),
        auth: Some(serde_json::json!({"client_token": "s.new-token", "accessor": "acc2"})),
    };
    b.log_response(&sample(), &resp, None).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("s.secret-token")
            && !text.contains("hunter2")
            && !text.contains("s.new-token")
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["type"], "request");
    assert_eq!(
        lines[1]["response"]["data"]["pw"],
        Value::String(b.hash("file", "hunter2").unwrap())
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn api_file_device_outside_audit_file_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let b = broker(dir.path());
    let outside = other.path().join("a.log");
    let err = b
        .enable(
            &barrier,
            "f",
            "file",
            "",
            opts(&[("file_path", outside.to_str().unwrap())]),
            false,
        )
        .await;
    assert!(
        matches!(err, Err(AuditError::Refused(_))),
        "outside the dir"
    );
    let dotdot = format!(
        "{}/../{}/b.log",
        dir.path().display(),
        other.path().file_name().unwrap().to_str().unwrap()
    );
    let err = b
        .enable(
            &barrier,
            "f",
            "file",
            "",
            opts(&[("file_path", &dotdot)]),
            false,
        )
        .await;
    assert!(
        matches!(err, Err(AuditError::Refused(_))),
        "escaping with .."
    );
    assert!(!outside.exists());
    let none = AuditBroker::new(AuditPolicy::default(), vec![]);
    let err = none
        .enable(
            &barrier,
            "f",
            "file",
            "",
            opts(&[("file_path", "/tmp/x.log")]),
            false,
        )
        .await;
    assert!(
        matches!(err, Err(AuditError::Refused(_))),
        "no audit_file_dir configured"
    );
    assert!(b.list().is_empty());
}

#[tokio::test]
async fn symlinks_and_non_log_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let b = broker(dir.path());
    let target = other.path().join("victim");
    std::fs::write(&target, "precious").unwrap();
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = b
        .enable(
            &barrier,
            "f",
            "file",
            "",
            opts(&[("file_path", link.to_str().unwrap())]),
            false,
        )
        .await;
    assert!(matches!(err, Err(AuditError::Refused(_))), "{err:?}");
    let linked_dir = dir.path().join("sub");
    std::os::unix::fs::symlink(other.path(), &linked_dir).unwrap();
    let through = linked_dir.join("new.log");
    let err = b
        .enable(
            &barrier,
            "f",
            "file",
            "",
            opts(&[("file_path", through.to_str().unwrap())]),
            false,
        )
        .await;
    assert!(
        matches!(err, Err(AuditError::Refused(_))),
        "a symlinked directory escapes"
    );
    let script = dir.path().join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let err = b
        .enable(
            &barrier,
            "f",
            "file",
            "",
            opts(&[("file_path", script.to_str().unwrap())]),
            false,
        )
        .await;
    assert!(
        matches!(err, Err(AuditError::Refused(_))),
        "not an audit log"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\necho hi\n"
    );
}

#[tokio::test]
async fn prefix_cannot_inject_a_line_break_and_bad_options_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let b = broker(dir.path());
    let path = dir.path().join("a.log");
    let p = path.to_str().unwrap();
    for bad in [
        opts(&[("file_path", p), ("prefix", "x\n{\"forged\":1}")]),
        opts(&[("file_path", p), ("format", "jsonx")]),
        opts(&[("file_path", p), ("mode", "999")]),
        opts(&[("file_path", p), ("nope", "1")]),
        opts(&[]),
    ] {
        let err = b.enable(&barrier, "f", "file", "", bad, false).await;
        assert!(matches!(err, Err(AuditError::Invalid(_))), "{err:?}");
    }
    assert!(!path.exists());
}

#[tokio::test]
async fn fails_closed_when_no_device_can_write_and_one_success_is_enough() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let b = broker(dir.path());
    // Nothing listens on this port: the socket device cannot record.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    b.enable(
        &barrier,
        "sock",
        "socket",
        "",
        opts(&[("address", &format!("127.0.0.1:{port}"))]),
        false,
    )
    .await
    .unwrap();
    assert!(matches!(
        b.log_request(&sample(), None),
        Err(AuditError::NoDeviceSucceeded)
    ));
    let path = dir.path().join("ok.log");
    enable_file(&b, &barrier, "file", &path).await;
    assert!(b.log_request(&sample(), None).is_ok());
}

#[tokio::test]
async fn socket_device_delivers_lines() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(s), &mut line).unwrap();
        line
    });
    let barrier = barrier().await;
    let b = broker(std::path::Path::new("/tmp"));
    b.enable(
        &barrier,
        "sock",
        "socket",
        "",
        opts(&[("address", &addr.to_string()), ("socket_type", "tcp")]),
        false,
    )
    .await
    .unwrap();
    b.log_request(&sample(), None).unwrap();
    let line: Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert_eq!(line["request"]["path"], "secret/data/x");
}

#[tokio::test]
async fn table_survives_reload_and_a_lost_file_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let sub = dir.path().join("logs");
    std::fs::create_dir(&sub).unwrap();
    let b = broker(dir.path());
    let path = sub.join("a.log");
    enable_file(&b, &barrier, "file", &path).await;
    let salt_hash = b.hash("file", "v").unwrap();
    // Another process (or a restart) loads the same table and salt.
    std::fs::remove_dir_all(&sub).unwrap();
    let again = broker(dir.path());
    again.load(&barrier).await.unwrap();
    assert_eq!(again.list().len(), 1);
    assert_eq!(again.hash("file", "v").unwrap(), salt_hash);
    assert!(
        again.log_request(&sample(), None).is_err(),
        "its file cannot be opened: fail closed"
    );
    again.disable(&barrier, "file").await.unwrap();
    assert!(again.log_request(&sample(), None).is_ok());
}

#[tokio::test]
async fn reopen_follows_log_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let b = broker(dir.path());
    let path = dir.path().join("a.log");
    enable_file(&b, &barrier, "file", &path).await;
    b.log_request(&sample(), None).unwrap();
    std::fs::rename(&path, dir.path().join("a.log.1")).unwrap();
    b.reopen();
    b.log_request(&sample(), None).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.log.1"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[tokio::test]
async fn declared_devices_are_added_once_and_may_write_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let path = dir.path().join("cfg.log");
    let declared = vec![DeclaredDevice {
        kind: "file".into(),
        path: "cfg".into(),
        description: "from config".into(),
        options: opts(&[("file_path", path.to_str().unwrap())]),
    }];
    let b = AuditBroker::new(
        AuditPolicy {
            file_dir: None,
            api_creation_disabled: true,
            ..AuditPolicy::default()
        },
        declared.clone(),
    );
    b.load(&barrier).await.unwrap();
    b.load(&barrier).await.unwrap();
    assert_eq!(b.list().len(), 1);
    assert!(b.list()[0].from_config);
    let err = b
        .enable(
            &barrier,
            "x",
            "file",
            "",
            opts(&[("file_path", "stdout")]),
            false,
        )
        .await;
    assert!(
        matches!(err, Err(AuditError::Refused(_))),
        "API creation disabled"
    );
}

#[tokio::test]
async fn a_declared_device_cannot_be_disabled_through_the_api_and_leaves_with_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let declared = vec![DeclaredDevice {
        kind: "file".into(),
        path: "cfg".into(),
        description: String::new(),
        options: opts(&[("file_path", dir.path().join("cfg.log").to_str().unwrap())]),
    }];
    let with = AuditBroker::new(AuditPolicy::default(), declared);
    with.load(&barrier).await.unwrap();
    let err = with.disable(&barrier, "cfg").await;
    assert!(matches!(err, Err(AuditError::Refused(m)) if m.contains("declared")));
    assert_eq!(with.list().len(), 1);
    // The next unseal under a config that no longer declares it drops it.
    let without = AuditBroker::new(AuditPolicy::default(), vec![]);
    without.load(&barrier).await.unwrap();
    assert!(without.list().is_empty());
}

#[tokio::test]
async fn a_segmented_device_writes_the_current_hours_segment_and_never_the_reserved_file() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = barrier().await;
    let dir_path = dir.path().canonicalize().unwrap();
    let b = AuditBroker::new(
        AuditPolicy {
            file_dir: Some(dir_path.clone()),
            segmented: true,
            reserved_file: Some(dir_path.join("audit.log")),
            ..AuditPolicy::default()
        },
        vec![],
    );
    let err = b
        .enable(
            &barrier,
            "mine",
            "file",
            "",
            opts(&[("file_path", dir_path.join("./audit.log").to_str().unwrap())]),
            false,
        )
        .await;
    assert!(matches!(err, Err(AuditError::Refused(m)) if m.contains("service keeps")));
    let base = dir_path.join("team.log");
    enable_file(&b, &barrier, "mine", &base).await;
    b.log_request(&sample(), None).unwrap();
    assert!(!base.exists(), "entries go to segments, not the base path");
    let segment = segment::segment_path(&base, segment::hour_of(std::time::SystemTime::now()));
    let lines = std::fs::read_to_string(&segment).unwrap();
    assert_eq!(lines.lines().count(), 1, "{}", segment.display());
}
