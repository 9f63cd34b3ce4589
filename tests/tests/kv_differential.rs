//! The same sequence of KV and mount requests against a real `bao server -dev` and against
//! coffer: every response must have the same status code and the same JSON shape (keys and
//! value types, recursively); ids, timestamps and other values are not compared.

use coffer_blackbox::shape::shape_differences;
use coffer_blackbox::{on_both, Flavor, Server};
use serde_json::{json, Value};

/// (method, path, body)
fn sequence() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        (
            "POST",
            "/v1/sys/mounts/diff",
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        ),
        ("POST", "/v1/sys/mounts/diff", Some(json!({"type": "kv"}))),
        ("POST", "/v1/sys/mounts/diffv1", Some(json!({"type": "kv"}))),
        ("GET", "/v1/sys/mounts", None),
        ("GET", "/v1/sys/mounts/diff", None),
        ("GET", "/v1/sys/mounts/diff/tune", None),
        (
            "POST",
            "/v1/sys/mounts/diff/tune",
            Some(json!({"description": "tuned"})),
        ),
        ("GET", "/v1/sys/internal/ui/mounts/diff", None),
        ("GET", "/v1/sys/internal/ui/mounts/nowhere", None),
        ("GET", "/v1/diff/config", None),
        ("POST", "/v1/diff/config", Some(json!({"max_versions": 3}))),
        (
            "PUT",
            "/v1/diff/data/app",
            Some(json!({"data": {"user": "a", "nested": {"k": 1}}})),
        ),
        (
            "PUT",
            "/v1/diff/data/app",
            Some(json!({"data": {"user": "b"}, "options": {"cas": 1}})),
        ),
        (
            "PUT",
            "/v1/diff/data/app",
            Some(json!({"data": {"user": "c"}, "options": {"cas": 1}})),
        ),
        (
            "PUT",
            "/v1/diff/data/app",
            Some(json!({"data": "not an object"})),
        ),
        ("PUT", "/v1/diff/data/app", Some(json!({}))),
        ("GET", "/v1/diff/data/app", None),
        ("GET", "/v1/diff/data/app?version=1", None),
        ("GET", "/v1/diff/data/app?version=99", None),
        ("GET", "/v1/diff/data/missing", None),
        ("GET", "/v1/diff/subkeys/app", None),
        ("GET", "/v1/diff/metadata/app", None),
        (
            "POST",
            "/v1/diff/metadata/app",
            Some(json!({"custom_metadata": {"team": "x"}, "max_versions": 2})),
        ),
        ("GET", "/v1/diff/metadata/app", None),
        (
            "PUT",
            "/v1/diff/data/app",
            Some(json!({"data": {"user": "d"}})),
        ),
        ("GET", "/v1/diff/metadata/app", None),
        ("DELETE", "/v1/diff/data/app", None),
        ("GET", "/v1/diff/data/app", None),
        (
            "POST",
            "/v1/diff/undelete/app",
            Some(json!({"versions": [3]})),
        ),
        (
            "POST",
            "/v1/diff/delete/app",
            Some(json!({"versions": [3]})),
        ),
        ("POST", "/v1/diff/delete/app", Some(json!({}))),
        (
            "POST",
            "/v1/diff/destroy/app",
            Some(json!({"versions": [2]})),
        ),
        ("GET", "/v1/diff/data/app?version=2", None),
        ("GET", "/v1/diff/subkeys/app?version=2", None),
        (
            "PUT",
            "/v1/diff/data/folder/one",
            Some(json!({"data": {"a": "1"}})),
        ),
        ("LIST", "/v1/diff/metadata", None),
        ("GET", "/v1/diff/metadata/folder/?list=true", None),
        ("LIST", "/v1/diff/metadata/empty/", None),
        ("GET", "/v1/diff/bogus/path", None),
        ("DELETE", "/v1/diff/metadata/app", None),
        ("GET", "/v1/diff/metadata/app", None),
        ("PUT", "/v1/diffv1/k", Some(json!({"a": "b"}))),
        ("PUT", "/v1/diffv1/k", Some(json!({}))),
        ("GET", "/v1/diffv1/k", None),
        ("LIST", "/v1/diffv1", None),
        ("DELETE", "/v1/diffv1/k", None),
        ("GET", "/v1/diffv1/k", None),
        (
            "POST",
            "/v1/sys/remount",
            Some(json!({"from": "diffv1", "to": "moved"})),
        ),
        (
            "POST",
            "/v1/sys/remount",
            Some(json!({"from": "nope", "to": "other"})),
        ),
        ("DELETE", "/v1/sys/mounts/diff", None),
        ("GET", "/v1/diff/data/folder/one", None),
    ]
}

fn run(flavor: Flavor) -> Vec<(u16, Value)> {
    let server = Server::dev(flavor);
    let http = server.http();
    sequence()
        .into_iter()
        .map(|(method, path, body)| {
            let resp = http.request(method, path, Some("root"), body.as_ref());
            (resp.status, resp.json)
        })
        .collect()
}

#[test]
fn kv_requests_answer_like_openbao_in_status_and_shape() {
    let both = on_both(run);
    let mut problems = Vec::new();
    for (i, (method, path, _)) in sequence().iter().enumerate() {
        let (bao_status, bao_body) = &both.openbao[i];
        let (coffer_status, coffer_body) = &both.coffer[i];
        if bao_status != coffer_status {
            problems.push(format!(
                "{method} {path}: status {bao_status} in OpenBao, {coffer_status} in coffer"
            ));
        }
        for d in shape_differences(bao_body, coffer_body) {
            problems.push(format!("{method} {path}: {d}"));
        }
    }
    assert!(
        problems.is_empty(),
        "differences:\n  {}",
        problems.join("\n  ")
    );
}
