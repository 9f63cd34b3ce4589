//! The logical request and response: what the HTTP layer hands to the store and gets back.
//!
//! Nothing here knows about HTTP framing or JSON envelopes; backends see an operation, a path
//! relative to their mount, the request data and the authenticated token entry.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    List,
    /// POST and PUT. Vault's ACL tells create from update by existence; backends that care
    /// check existence themselves.
    Update,
    Patch,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::List => "list",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub operation: Operation,
    /// The path after `/v1/`, without leading or trailing slashes removed from folders: a LIST
    /// of `secret/metadata/a/` keeps its trailing slash.
    pub path: String,
    /// The JSON body (an object) for writes, the query parameters for reads.
    pub data: Map<String, Value>,
    pub token: Option<String>,
    /// The client as `ip:port`, when the host knows it.
    pub remote_addr: Option<String>,
}

impl Request {
    /// A string field, accepting JSON strings only.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.data.get(name).and_then(Value::as_str)
    }
}

/// The `auth` block of a response (login, token creation).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Auth {
    pub client_token: String,
    pub accessor: String,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    pub metadata: Option<Map<String, Value>>,
    pub lease_duration: u64,
    pub renewable: bool,
    pub entity_id: String,
    pub token_type: String,
    pub orphan: bool,
    /// Always null: no MFA yet, but OpenBao always sends the key.
    pub mfa_requirement: Option<Value>,
    pub num_uses: u64,
}

#[derive(Debug, Default)]
pub struct Response {
    pub data: Option<Value>,
    pub auth: Option<Auth>,
    pub warnings: Vec<String>,
    /// Set when the body is not the usual envelope (sys/health, sys/seal-status and friends
    /// answer with a bare object), with its status code.
    pub raw: Option<(u16, Value)>,
    /// A status other than 200 for an enveloped body (KV's 404 for a deleted version).
    pub status: Option<u16>,
    /// The envelope's `lease_duration` in seconds (KV v1 reads report the secret's TTL).
    pub lease_duration: u64,
}

impl Response {
    pub fn data(data: Value) -> Self {
        Response {
            data: Some(data),
            ..Default::default()
        }
    }

    /// A LIST answer, `{"keys": [...]}`. The names are moved into the JSON, not copied: a
    /// folder may hold thousands.
    pub fn list(keys: Vec<String>) -> Self {
        let keys = keys.into_iter().map(Value::String).collect();
        let mut data = serde_json::Map::new();
        data.insert("keys".to_string(), Value::Array(keys));
        Response::data(Value::Object(data))
    }

    pub fn raw(status: u16, body: Value) -> Self {
        Response {
            raw: Some((status, body)),
            ..Default::default()
        }
    }

    pub fn empty() -> Self {
        Response::default()
    }
}
