//! `sys/policy` (the legacy API hvac uses) and `sys/policies/acl` (what `bao policy` uses):
//! list, read, write and delete ACL policies.
//!
//! The legacy endpoints also copy `data` to the top level of the body, as OpenBao does for
//! old clients (hvac reads `rules` from either place).

use serde_json::{json, Map, Value};

use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::policy::store::{normalize_name, PolicyStoreError};
use crate::store::Store;

/// Which of the two APIs a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `sys/policy`: the text is `rules`, the data is also at the top level.
    Legacy,
    /// `sys/policies/acl`: the text is `policy`.
    Acl,
}

/// OpenBao's envelope with `data` also copied to the top level of the body, as its `sys/` read
/// endpoints answer (a legacy of Vault's first API; clients read either). Shared by every
/// `sys/` handler that answers so.
pub(crate) fn merged_envelope(req: &Request, data: Map<String, Value>) -> Response {
    let mut body = data.clone();
    body.insert("request_id".into(), json!(req.id));
    body.insert("lease_id".into(), json!(""));
    body.insert("renewable".into(), json!(false));
    body.insert("lease_duration".into(), json!(0));
    body.insert("data".into(), Value::Object(data));
    body.insert("wrap_info".into(), Value::Null);
    body.insert("warnings".into(), Value::Null);
    body.insert("auth".into(), Value::Null);
    Response::raw(200, Value::Object(body))
}

fn store_error(e: PolicyStoreError) -> ApiError {
    match e {
        PolicyStoreError::Barrier(b) => b.into(),
        other => ApiError::bad_request(other.to_string()),
    }
}

pub async fn list(store: &Store, req: &Request, flavor: Flavor) -> Result<Response, ApiError> {
    match (flavor, req.operation) {
        (Flavor::Legacy, Operation::Read | Operation::List) | (Flavor::Acl, Operation::List) => {}
        _ => return Err(ApiError::UnsupportedOperation),
    }
    let mut names = store.policies.list().await?;
    // OpenBao lists the stored policies sorted, then `root`.
    names.retain(|n| n != "root");
    names.push("root".into());
    match flavor {
        Flavor::Legacy => {
            let mut data = Map::new();
            data.insert("keys".into(), json!(names));
            data.insert("policies".into(), json!(names));
            Ok(merged_envelope(req, data))
        }
        Flavor::Acl => Ok(Response::list(names)),
    }
}

pub async fn policy(
    store: &Store,
    req: &Request,
    flavor: Flavor,
    name: &str,
) -> Result<Response, ApiError> {
    let name = normalize_name(name.trim_end_matches('/'));
    if name.is_empty() || name.contains('/') {
        return Err(ApiError::NoRoute(req.path.clone()));
    }
    let text_key = match flavor {
        Flavor::Legacy => "rules",
        Flavor::Acl => "policy",
    };
    match req.operation {
        Operation::Read => read(store, req, flavor, &name, text_key).await,
        Operation::Update => {
            let text = req
                .str_field("policy")
                .or_else(|| req.str_field("rules"))
                .filter(|t| !t.trim().is_empty());
            if name == "root" {
                return Err(ApiError::bad_request("cannot update \"root\" policy"));
            }
            let Some(text) = text else {
                return Err(ApiError::bad_request(
                    "'policy' parameter not supplied or empty",
                ));
            };
            let text = decode_text(text)?;
            store
                .policies
                .write(&name, &text)
                .await
                .map_err(store_error)?;
            Ok(Response::empty())
        }
        Operation::Delete => {
            store.policies.delete(&name).await.map_err(store_error)?;
            Ok(Response::empty())
        }
        _ => Err(ApiError::UnsupportedOperation),
    }
}

/// A policy may be sent base64-encoded, as OpenBao accepts.
fn decode_text(text: &str) -> Result<String, ApiError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let trimmed = text.trim();
    if !trimmed.contains(['"', '{', ' ', '\n']) {
        if let Ok(bytes) = STANDARD.decode(trimmed) {
            if let Ok(decoded) = String::from_utf8(bytes) {
                return Ok(decoded);
            }
        }
    }
    Ok(text.to_string())
}

async fn read(
    store: &Store,
    req: &Request,
    flavor: Flavor,
    name: &str,
    text_key: &str,
) -> Result<Response, ApiError> {
    let mut data = Map::new();
    data.insert("allow_slashes_in_identity_templates".into(), json!(false));
    data.insert("allow_wildcards_in_identity_templates".into(), json!(false));
    data.insert("cas_required".into(), json!(false));
    data.insert("name".into(), json!(name));
    if name == "root" {
        data.insert(text_key.into(), json!(""));
        data.insert("version".into(), json!(0));
    } else {
        let Some(found) = store.policies.read(name).await? else {
            return Err(ApiError::NotFound);
        };
        let (entry, _) = found.as_ref();
        data.insert(text_key.into(), json!(entry.raw));
        data.insert("version".into(), json!(entry.version));
        data.insert("modified".into(), json!(entry.modified_rfc3339()));
    }
    match flavor {
        Flavor::Legacy => Ok(merged_envelope(req, data)),
        Flavor::Acl => Ok(Response::data(Value::Object(data))),
    }
}
