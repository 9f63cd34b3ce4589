//! coffer against a real OpenBao, side by side: the same policies and paths must give the same
//! `sys/capabilities` answers (a generated table of policies × paths), and the policy and
//! token endpoints must answer with the same status codes and JSON key sets.

use coffer_blackbox::shape::{assert_same_shape, keys};
use coffer_blackbox::{on_both, Flavor, Http, Server};
use serde_json::{json, Value};

/// A small deterministic generator (no external crate): the table is the same on every run,
/// so a disagreement is reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

const SEGMENTS: &[&str] = &["a", "b", "ab", "c"];
const CAPS: &[&str] = &[
    "create", "read", "update", "delete", "list", "sudo", "patch", "deny",
];

fn random_pattern(rng: &mut Lcg) -> String {
    let depth = 1 + rng.next() % 3;
    let mut parts: Vec<String> = (0..depth)
        .map(|_| match rng.next() % 5 {
            0 => "+".to_string(),
            _ => rng.pick(SEGMENTS).to_string(),
        })
        .collect();
    if rng.next() & 1 == 0 {
        let last = parts.pop().unwrap_or_default();
        let last = if last == "+" { "a".to_string() } else { last };
        let cut = (rng.next() as usize) % (last.len() + 1);
        parts.push(format!("{}*", &last[..cut]));
    }
    format!("t/{}", parts.join("/"))
}

fn random_policy(rng: &mut Lcg) -> String {
    let mut text = String::new();
    for _ in 0..(2 + rng.next() % 4) {
        let caps: Vec<String> = (0..(1 + rng.next() % 3))
            .map(|_| format!("{:?}", rng.pick(CAPS)))
            .collect();
        text.push_str(&format!(
            "path {:?} {{\n  capabilities = [{}]\n}}\n",
            random_pattern(rng),
            caps.join(", ")
        ));
    }
    text
}

fn random_path(rng: &mut Lcg) -> String {
    let depth = 1 + rng.next() % 4;
    let parts: Vec<&str> = (0..depth).map(|_| rng.pick(SEGMENTS)).collect();
    let slash = if rng.next() & 3 == 0 { "/" } else { "" };
    format!("t/{}{slash}", parts.join("/"))
}

/// Writes every policy, creates one token per group of policies, and asks `sys/capabilities`
/// for every path: the answers in order.
fn capability_table(
    flavor: Flavor,
    policies: &[String],
    groups: &[Vec<usize>],
    paths: &[String],
) -> Vec<Value> {
    let server = Server::dev(flavor);
    let http = server.http();
    for (i, text) in policies.iter().enumerate() {
        http.put(
            &format!("/v1/sys/policies/acl/gen{i}"),
            Some("root"),
            &json!({ "policy": text }),
        )
        .assert_status(204);
    }
    let mut answers = Vec::new();
    for group in groups {
        let names: Vec<String> = group.iter().map(|i| format!("gen{i}")).collect();
        let resp = http.post(
            "/v1/auth/token/create",
            Some("root"),
            &json!({ "policies": names, "no_default_policy": true }),
        );
        resp.assert_status(200);
        let token = resp.json["auth"]["client_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let resp = http.post(
            "/v1/sys/capabilities",
            Some("root"),
            &json!({ "token": token, "paths": paths }),
        );
        resp.assert_status(200);
        for path in paths {
            answers.push(json!([group, path, resp.json["data"][path]]));
        }
    }
    answers
}

#[test]
fn policy_capabilities_match_openbao_on_generated_policies_and_paths() {
    let mut rng = Lcg(0x00c0_ffee);
    let policies: Vec<String> = (0..16).map(|_| random_policy(&mut rng)).collect();
    let groups: Vec<Vec<usize>> = (0..16)
        .map(|i| {
            let mut g = vec![i];
            if i % 3 == 0 {
                g.push((i + 5) % 16);
            }
            if i % 4 == 0 {
                g.push((i + 7) % 16);
            }
            g
        })
        .collect();
    let paths: Vec<String> = (0..60).map(|_| random_path(&mut rng)).collect();
    let both = on_both(|flavor| capability_table(flavor, &policies, &groups, &paths));
    let mut disagreements = Vec::new();
    for (theirs, ours) in both.openbao.iter().zip(&both.coffer) {
        if theirs != ours {
            disagreements.push(format!("openbao {theirs}\n    coffer  {ours}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} answers differ:\n{}\npolicies:\n{}",
        disagreements.len(),
        both.openbao.len(),
        disagreements.join("\n"),
        policies
            .iter()
            .enumerate()
            .map(|(i, p)| format!("gen{i}:\n{p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Status and body of one request, for side-by-side comparison.
fn call(
    http: &Http,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let resp = http.request(method, path, token, body.as_ref());
    (resp.status, resp.json)
}

fn endpoint_answers(flavor: Flavor) -> Vec<(String, u16, Value)> {
    let server = Server::dev(flavor);
    let http = server.http();
    let policy = r#"path "secret/data/app*" { capabilities = ["read", "list"] }"#;
    let mut out = Vec::new();
    let mut record =
        |what: &str, answer: (u16, Value)| out.push((what.to_owned(), answer.0, answer.1));
    record(
        "write acl",
        call(
            &http,
            "PUT",
            "/v1/sys/policies/acl/app",
            Some("root"),
            Some(json!({"policy": policy})),
        ),
    );
    record(
        "read acl",
        call(&http, "GET", "/v1/sys/policies/acl/app", Some("root"), None),
    );
    record(
        "list acl",
        call(&http, "LIST", "/v1/sys/policies/acl", Some("root"), None),
    );
    record(
        "read legacy",
        call(&http, "GET", "/v1/sys/policy/app", Some("root"), None),
    );
    record(
        "list legacy",
        call(&http, "GET", "/v1/sys/policy", Some("root"), None),
    );
    record(
        "read root",
        call(
            &http,
            "GET",
            "/v1/sys/policies/acl/root",
            Some("root"),
            None,
        ),
    );
    record(
        "missing",
        call(
            &http,
            "GET",
            "/v1/sys/policies/acl/nope",
            Some("root"),
            None,
        ),
    );
    record(
        "bad hcl",
        call(
            &http,
            "PUT",
            "/v1/sys/policies/acl/bad",
            Some("root"),
            Some(json!({"policy": "path \"x\" { capabilities = [\"red\"] }"})),
        ),
    );
    record(
        "empty",
        call(
            &http,
            "PUT",
            "/v1/sys/policies/acl/bad",
            Some("root"),
            Some(json!({"policy": ""})),
        ),
    );
    record(
        "update root",
        call(
            &http,
            "PUT",
            "/v1/sys/policies/acl/root",
            Some("root"),
            Some(json!({"policy": policy})),
        ),
    );
    record(
        "delete default",
        call(
            &http,
            "DELETE",
            "/v1/sys/policies/acl/default",
            Some("root"),
            None,
        ),
    );
    record(
        "delete root",
        call(
            &http,
            "DELETE",
            "/v1/sys/policies/acl/root",
            Some("root"),
            None,
        ),
    );
    let (_, created) = call(
        &http,
        "POST",
        "/v1/auth/token/create",
        Some("root"),
        Some(json!({"policies": ["app"], "ttl": "1h", "meta": {"k": "v"}})),
    );
    let token = created["auth"]["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    record("create", (200, created));
    record(
        "lookup-self",
        call(
            &http,
            "GET",
            "/v1/auth/token/lookup-self",
            Some(&token),
            None,
        ),
    );
    record(
        "lookup",
        call(
            &http,
            "POST",
            "/v1/auth/token/lookup",
            Some("root"),
            Some(json!({"token": token})),
        ),
    );
    record(
        "renew-self",
        call(
            &http,
            "POST",
            "/v1/auth/token/renew-self",
            Some(&token),
            Some(json!({"increment": "2h"})),
        ),
    );
    record(
        "capabilities",
        call(
            &http,
            "POST",
            "/v1/sys/capabilities",
            Some("root"),
            Some(json!({"token": token, "path": "secret/data/app"})),
        ),
    );
    record(
        "capabilities-self",
        call(
            &http,
            "POST",
            "/v1/sys/capabilities-self",
            Some(&token),
            Some(json!({"paths": ["secret/data/app", "sys/mounts"]})),
        ),
    );
    record(
        "denied",
        call(&http, "GET", "/v1/sys/mounts", Some(&token), None),
    );
    record(
        "revoke-self",
        call(
            &http,
            "POST",
            "/v1/auth/token/revoke-self",
            Some(&token),
            Some(json!({})),
        ),
    );
    record(
        "revoked",
        call(
            &http,
            "GET",
            "/v1/auth/token/lookup-self",
            Some(&token),
            None,
        ),
    );
    out
}

#[test]
fn policy_and_token_endpoints_answer_like_openbao() {
    let both = on_both(endpoint_answers);
    for ((what, bao_status, bao_body), (_, our_status, our_body)) in
        both.openbao.iter().zip(&both.coffer)
    {
        assert_eq!(
            bao_status, our_status,
            "{what}: status\nopenbao: {bao_body}\ncoffer:  {our_body}"
        );
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("mount_type");
            }
            v
        };
        assert_same_shape(what, &strip(bao_body), &strip(our_body));
        if keys(bao_body).contains("errors") {
            assert_eq!(bao_body["errors"], our_body["errors"], "{what}: errors");
        }
    }
}
