//! The ACL matcher against a table of paths × policies × expected capabilities. The expected
//! answers were taken from OpenBao 2.7's `sys/capabilities` for the same policies (the
//! black-box test `policy_capabilities_match_openbao` re-checks them against a live server).

use serde_json::{json, Map, Value};

use super::*;

fn acl(policies: &[&str]) -> Acl {
    let parsed: Vec<Policy> = policies
        .iter()
        .enumerate()
        .map(|(i, text)| Policy::parse(&format!("p{i}"), text).unwrap())
        .collect();
    Acl::new(parsed.iter())
}

const KV_APP: &str = r#"
path "secret/data/app*" { capabilities = ["read", "list"] }
path "secret/metadata/*" { capabilities = ["list"] }
"#;

const PRIORITY: &str = r#"
path "a/*" { capabilities = ["read"] }
path "a/b/*" { capabilities = ["update"] }
path "a/b/c" { capabilities = ["delete"] }
path "a/+/c" { capabilities = ["list"] }
path "a/+/c*" { capabilities = ["create"] }
path "a/b/+" { capabilities = ["patch"] }
path "+/b/c/d" { capabilities = ["sudo", "read"] }
path "x/+/+/z" { capabilities = ["read"] }
path "x/y/+/z" { capabilities = ["update"] }
"#;

#[test]
fn the_matcher_agrees_with_openbao_on_a_table_of_paths() {
    let table: &[(&[&str], &str, &[&str])] = &[
        (&[KV_APP], "secret/data/app", &["list", "read"]),
        (&[KV_APP], "secret/data/application/x", &["list", "read"]),
        (&[KV_APP], "secret/data/other", &["deny"]),
        (&[KV_APP], "secret/metadata/", &["list"]),
        (&[KV_APP], "secret/metadata/app", &["list"]),
        (&[KV_APP], "sys/mounts", &["deny"]),
        (&[PRIORITY], "a/b/c", &["delete"]),
        (&[PRIORITY], "a/b/d", &["patch"]),
        (&[PRIORITY], "a/b/cd", &["patch"]),
        (&[PRIORITY], "a/x/c", &["list"]),
        (&[PRIORITY], "a/x/cd", &["read"]),
        (&[PRIORITY], "a/x/y", &["read"]),
        (&[PRIORITY], "z/b/c/d", &["read", "sudo"]),
        (&[PRIORITY], "a/b/c/d", &["update"]),
        (&[PRIORITY], "x/y/w/z", &["update"]),
        (&[PRIORITY], "x/q/w/z", &["read"]),
        (&[PRIORITY], "x/q/w/z/extra", &["deny"]),
        (
            &[
                r#"path "s/*" { capabilities = ["read", "update"] }"#,
                r#"path "s/*" { capabilities = ["deny"] }"#,
            ],
            "s/x",
            &["deny"],
        ),
        (
            &[
                r#"path "s/*" { capabilities = ["read"] }"#,
                r#"path "s/*" { capabilities = ["create"] }"#,
            ],
            "s/x",
            &["create", "read"],
        ),
        (
            &[
                r#"path "s/*" { capabilities = ["read"] }"#,
                r#"path "s/x" { capabilities = ["deny"] }"#,
            ],
            "s/y",
            &["read"],
        ),
        (
            &[r#"path "s/x" { capabilities = ["list"] }"#],
            "s/x/",
            &["list"],
        ),
        (
            &[r#"{"path": {"j/*": {"capabilities": ["read", "sudo"]}}}"#],
            "j/k",
            &["read", "sudo"],
        ),
        (
            &[r#"path "old/*" { policy = "write" }"#],
            "old/x",
            &["create", "delete", "list", "read", "update"],
        ),
        (
            &[store::DEFAULT_POLICY],
            "auth/token/lookup-self",
            &["read"],
        ),
        (
            &[store::DEFAULT_POLICY],
            "cubbyhole/x",
            &["create", "delete", "list", "read", "update"],
        ),
        (&[store::DEFAULT_POLICY], "secret/data/x", &["deny"]),
    ];
    for (policies, path, expected) in table {
        assert_eq!(
            acl(policies).capabilities(path),
            *expected,
            "path {path} under {policies:?}"
        );
    }
}

#[test]
fn root_has_every_capability() {
    let root = Policy {
        name: "root".into(),
        raw: String::new(),
        paths: vec![],
    };
    let acl = Acl::new([&root]);
    assert_eq!(acl.capabilities("anything/at/all"), ["root"]);
    let d = acl.check(AclOperation::Delete, "sys/rotate", &Map::new());
    assert!(d.allowed && d.sudo);
}

fn data(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn parameters_are_allowed_denied_and_required_as_written() {
    let acl = acl(&[r#"
        path "p/allowed" {
          capabilities = ["update"]
          allowed_parameters = { "color" = ["red", "gr*"], "size" = [] }
        }
        path "p/denied" {
          capabilities = ["update"]
          denied_parameters = { "admin" = [] }
        }
        path "p/required" {
          capabilities = ["update"]
          required_parameters = ["owner"]
        }
    "#]);
    let ok = |path: &str, body: Value| acl.check(AclOperation::Update, path, &data(body)).allowed;
    assert!(ok("p/allowed", json!({"color": "red", "size": 3})));
    assert!(ok("p/allowed", json!({"color": "green"})));
    assert!(!ok("p/allowed", json!({"color": "blue"})));
    assert!(!ok("p/allowed", json!({"shape": "round"})));
    assert!(ok("p/denied", json!({"name": "x"})));
    assert!(!ok("p/denied", json!({"admin": true})));
    assert!(ok("p/required", json!({"owner": "me"})));
    assert!(!ok("p/required", json!({"name": "x"})));
}

#[test]
fn invalid_policies_say_why() {
    let err = |text: &str| Policy::parse("x", text).unwrap_err().to_string();
    assert_eq!(
        err(r#"path "x" { capabilities = ["red"] }"#),
        "failed to parse policy: path \"x\": path \"x\": invalid capability \"red\""
    );
    assert_eq!(
        err("foo = 1"),
        "failed to parse policy: 1 error occurred:\n\t* invalid key \"foo\" on line 1\n\n"
    );
    let syntax = err(r#"path "x" { capabilities = ["read" }"#);
    assert!(syntax.contains("1:"), "{syntax}");
    assert!(err(r#"path "a/+*" { capabilities = ["read"] }"#).contains("'+*' is forbidden"));
    assert!(err(r#"{"path": 3}"#).starts_with("failed to parse policy:"));
    let wrapping = err("path \"x\" {\n  min_wrapping_ttl = \"2h\"\n  max_wrapping_ttl = \"1h\"\n}");
    assert!(
        wrapping.contains("max_wrapping_ttl cannot be less than min_wrapping_ttl"),
        "{wrapping}"
    );
}

#[test]
fn sudo_paths_are_recognised() {
    assert!(requires_sudo("sys/rotate"));
    assert!(requires_sudo("sys/audit/file"));
    assert!(requires_sudo("auth/token/accessors/"));
    assert!(!requires_sudo("sys/mounts"));
    assert!(!requires_sudo("sys/policies/acl/x"));
    assert!(!requires_sudo("secret/data/x"));
}
