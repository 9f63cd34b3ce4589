//! The audit entry: what is known about one request and its response, and its JSON in
//! OpenBao's format (one object per line, `type` = `request` or `response`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::hash::AuditSalt;

/// The authenticated caller, as far as it is known (nothing for a refused token).
#[derive(Clone, Default)]
pub struct AuditAuth {
    pub client_token: Option<String>,
    pub accessor: Option<String>,
    pub display_name: Option<String>,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    pub metadata: Option<Map<String, Value>>,
    pub token_type: Option<String>,
    pub token_ttl: Option<u64>,
    pub token_issue_time: Option<DateTime<Utc>>,
}

/// The mount that served the request.
#[derive(Clone)]
pub struct AuditMount {
    pub point: String,
    pub kind: String,
    /// Only known to be shown once the caller is authenticated, as OpenBao writes it.
    pub accessor: Option<String>,
}

#[derive(Clone)]
pub struct AuditRequest {
    pub id: String,
    pub operation: String,
    pub path: String,
    pub data: Option<Map<String, Value>>,
    /// `ip:port` of the client, when known (the HTTP layer fills it from the connection).
    pub remote_addr: Option<String>,
    pub mount: Option<AuditMount>,
    pub auth: AuditAuth,
}

/// What the response carried: its data and, for token creation, its `auth` block.
#[derive(Clone, Default)]
pub struct AuditResponse {
    pub data: Option<Value>,
    pub auth: Option<Value>,
}

/// How a device formats entries.
#[derive(Clone, Debug)]
pub struct FormatOptions {
    pub hmac_accessor: bool,
    pub log_raw: bool,
    pub prefix: String,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            hmac_accessor: true,
            log_raw: false,
            prefix: String::new(),
        }
    }
}

/// The mount fields OpenBao writes in both sections (the version key differs between them).
fn insert_mount(out: &mut Map<String, Value>, m: &AuditMount, version_key: &str) {
    out.insert("mount_point".into(), json!(m.point));
    out.insert("mount_type".into(), json!(m.kind));
    if let Some(a) = &m.accessor {
        out.insert("mount_accessor".into(), json!(a));
    }
    out.insert(
        version_key.into(),
        json!(format!("v{}+builtin.coffer", env!("CARGO_PKG_VERSION"))),
    );
    out.insert("mount_class".into(), json!("secret"));
}

/// OpenBao's client id for a token without an entity: a digest of its sorted policies, so a
/// client is counted once however many tokens it uses. Not secret.
fn client_id(auth: &AuditAuth) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    auth.display_name.as_ref()?;
    let mut policies = auth.policies.clone();
    policies.sort();
    let digest = sha2::Sha256::digest(policies.join("").as_bytes());
    Some(base64::engine::general_purpose::STANDARD.encode(digest))
}

fn time(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

struct Hasher<'a> {
    salt: &'a AuditSalt,
    opts: &'a FormatOptions,
}

impl Hasher<'_> {
    fn secret(&self, s: &str) -> Value {
        if self.opts.log_raw {
            json!(s)
        } else {
            json!(self.salt.hash(s))
        }
    }

    fn accessor(&self, s: &str) -> Value {
        if self.opts.log_raw || !self.opts.hmac_accessor {
            json!(s)
        } else {
            json!(self.salt.hash(s))
        }
    }

    fn data(&self, data: &Map<String, Value>) -> Value {
        let mut v = Value::Object(data.clone());
        if !self.opts.log_raw {
            self.salt.hash_strings(&mut v);
        }
        v
    }

    fn auth(&self, auth: &AuditAuth) -> Value {
        let mut out = Map::new();
        // A refused token is not the caller's identity: OpenBao records it in the request
        // section only.
        if let (Some(t), Some(_)) = (&auth.client_token, &auth.display_name) {
            out.insert("client_token".into(), self.secret(t));
        }
        if let Some(a) = &auth.accessor {
            out.insert("accessor".into(), self.accessor(a));
        }
        if let Some(d) = &auth.display_name {
            out.insert("display_name".into(), json!(d));
        }
        if auth.client_token.is_some() && auth.display_name.is_some() {
            out.insert("policies".into(), json!(auth.policies));
            out.insert("token_policies".into(), json!(auth.token_policies));
            if let Some(m) = &auth.metadata {
                out.insert("metadata".into(), json!(m));
            }
        }
        out.insert(
            "token_type".into(),
            json!(auth.token_type.as_deref().unwrap_or("default")),
        );
        if let Some(ttl) = auth.token_ttl.filter(|t| *t > 0) {
            out.insert("token_ttl".into(), json!(ttl));
        }
        if let Some(t) = auth.token_issue_time {
            out.insert(
                "token_issue_time".into(),
                json!(t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
        }
        if auth.display_name.is_some() {
            // Only authorised requests reach the backend, so a known caller was allowed.
            let granting: Vec<Value> = auth
                .policies
                .iter()
                .map(|p| json!({ "name": p, "namespace_id": "root", "type": "acl" }))
                .collect();
            out.insert(
                "policy_results".into(),
                json!({ "allowed": true, "granting_policies": granting }),
            );
        }
        Value::Object(out)
    }

    fn request(&self, req: &AuditRequest) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(req.id));
        if let Some(id) = client_id(&req.auth) {
            out.insert("client_id".into(), json!(id));
        }
        out.insert("operation".into(), json!(req.operation));
        if let Some(m) = &req.mount {
            insert_mount(&mut out, m, "mount_running_version");
        }
        if let Some(t) = &req.auth.client_token {
            out.insert("client_token".into(), self.secret(t));
        }
        if let Some(a) = &req.auth.accessor {
            out.insert("client_token_accessor".into(), self.accessor(a));
        }
        out.insert("namespace".into(), json!({ "id": "root" }));
        out.insert("path".into(), json!(req.path));
        if let Some(d) = req.data.as_ref().filter(|d| !d.is_empty()) {
            out.insert("data".into(), self.data(d));
        }
        if let Some(addr) = &req.remote_addr {
            match addr
                .rsplit_once(':')
                .and_then(|(ip, port)| Some((ip, port.parse::<u16>().ok()?)))
            {
                Some((ip, port)) => {
                    out.insert("remote_address".into(), json!(ip));
                    out.insert("remote_port".into(), json!(port));
                }
                None => {
                    out.insert("remote_address".into(), json!(addr));
                }
            }
        }
        Value::Object(out)
    }
}

/// The `request` entry, written before the operation runs.
pub fn request_entry(
    salt: &AuditSalt,
    opts: &FormatOptions,
    req: &AuditRequest,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Value {
    let h = Hasher { salt, opts };
    let mut entry = json!({
        "time": time(now),
        "type": "request",
        "auth": h.auth(&req.auth),
        "request": h.request(req),
    });
    if let Some(e) = error {
        entry["error"] = json!(e);
    }
    entry
}

/// The `response` entry, written after the operation.
pub fn response_entry(
    salt: &AuditSalt,
    opts: &FormatOptions,
    req: &AuditRequest,
    response: &AuditResponse,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Value {
    let h = Hasher { salt, opts };
    let mut section = Map::new();
    if let Some(m) = &req.mount {
        insert_mount(&mut section, m, "mount_running_plugin_version");
    }
    if let Some(auth) = &response.auth {
        // A login or token creation answers with a new token: hashed like the caller's.
        let mut a = auth.clone();
        if let Some(t) = auth["client_token"].as_str() {
            a["client_token"] = h.secret(t);
        }
        if let Some(acc) = auth["accessor"].as_str() {
            a["accessor"] = h.accessor(acc);
        }
        section.insert("auth".into(), a);
    }
    if let Some(Value::Object(d)) = &response.data {
        section.insert("data".into(), h.data(d));
    }
    let mut entry = json!({
        "time": time(now),
        "type": "response",
        "auth": h.auth(&req.auth),
        "request": h.request(req),
        "response": Value::Object(section),
    });
    if let Some(e) = error {
        entry["error"] = json!(e);
    }
    entry
}

/// One line of the log: the prefix (checked to hold no line break), the JSON, a newline.
pub fn to_line(opts: &FormatOptions, entry: &Value) -> Vec<u8> {
    let mut line = opts.prefix.clone().into_bytes();
    line.extend_from_slice(entry.to_string().as_bytes());
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditRequest {
        AuditRequest {
            id: "rid".into(),
            operation: "update".into(),
            path: "secret/data/demo".into(),
            data: Some(serde_json::from_value(json!({"data": {"pw": "hunter2"}})).unwrap()),
            remote_addr: Some("127.0.0.1:5555".into()),
            mount: Some(AuditMount {
                point: "secret/".into(),
                kind: "kv".into(),
                accessor: Some("kv_1".into()),
            }),
            auth: AuditAuth {
                client_token: Some("s.tok".into()),
                accessor: Some("acc".into()),
                display_name: Some("root".into()),
                policies: vec!["root".into()],
                token_policies: vec!["root".into()],
                token_type: Some("service".into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn secrets_and_tokens_are_hashed_and_the_rest_is_plain() {
        let salt = AuditSalt::new(b"k".to_vec());
        let e = request_entry(
            &salt,
            &FormatOptions::default(),
            &sample(),
            None,
            Utc::now(),
        );
        let text = e.to_string();
        assert!(!text.contains("hunter2"));
        assert!(!text.contains("s.tok"));
        assert!(!text.contains("\"acc\""));
        assert_eq!(
            e["request"]["data"]["data"]["pw"],
            json!(salt.hash("hunter2"))
        );
        assert_eq!(e["auth"]["client_token"], json!(salt.hash("s.tok")));
        assert_eq!(e["request"]["remote_address"], json!("127.0.0.1"));
        assert_eq!(e["request"]["remote_port"], json!(5555));
        assert_eq!(e["auth"]["policies"], json!(["root"]));
    }

    #[test]
    fn log_raw_and_hmac_accessor_false_keep_values() {
        let salt = AuditSalt::new(b"k".to_vec());
        let raw = FormatOptions {
            log_raw: true,
            ..Default::default()
        };
        let resp = AuditResponse {
            data: Some(json!({"pw": "hunter2"})),
            auth: None,
        };
        let e = response_entry(&salt, &raw, &sample(), &resp, None, Utc::now());
        assert_eq!(e["response"]["data"]["pw"], json!("hunter2"));
        let plain_accessor = FormatOptions {
            hmac_accessor: false,
            ..Default::default()
        };
        let e = request_entry(&salt, &plain_accessor, &sample(), None, Utc::now());
        assert_eq!(e["auth"]["accessor"], json!("acc"));
        assert_eq!(e["auth"]["client_token"], json!(salt.hash("s.tok")));
    }

    #[test]
    fn a_line_is_prefix_json_newline() {
        let opts = FormatOptions {
            prefix: "coffer:".into(),
            ..Default::default()
        };
        let line = to_line(&opts, &json!({"a": 1}));
        assert_eq!(line, b"coffer:{\"a\":1}\n");
    }
}
