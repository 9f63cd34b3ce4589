//! Unauthenticated status endpoints: health, seal-status, init, unseal, leader.

use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::seal::{InitParams, SealConfig};
use crate::store::Store;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A status-code query parameter of `sys/health` (`sealedcode=200` and friends).
fn code_param(req: &Request, name: &str, default: u16) -> Result<u16, ApiError> {
    match req.data.get(name) {
        None => Ok(default),
        Some(Value::String(s)) => s
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=999).contains(c))
            .ok_or_else(|| ApiError::bad_request(format!("unable to parse {name} value: {s:?}"))),
        Some(_) => Err(ApiError::bad_request(format!(
            "unable to parse {name} value"
        ))),
    }
}

pub async fn health(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if !matches!(req.operation, Operation::Read) {
        return Err(ApiError::UnsupportedOperation);
    }
    let config = store.seal.config().await?;
    let initialized = config.is_some();
    let sealed = store.barrier.is_sealed();
    let code = if !initialized {
        code_param(req, "uninitcode", 501)?
    } else if sealed {
        code_param(req, "sealedcode", 503)?
    } else {
        code_param(req, "activecode", 200)?
    };
    // Every process is active: there are no standbys to report (see docs/architecture.md).
    // As OpenBao, replication modes are "unknown" until unsealed and the cluster identity is
    // shown only once unsealed.
    let replication = if sealed { "unknown" } else { "disabled" };
    let mut body = json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": sealed,
        "replication_performance_mode": replication,
        "replication_dr_mode": replication,
        "server_time_utc": chrono::Utc::now().timestamp(),
        "version": VERSION,
    });
    if let (false, Some(c)) = (sealed, &config) {
        set_cluster_identity(&mut body, c);
    }
    Ok(Response::raw(code, body))
}

pub async fn seal_status_body(store: &Store) -> Result<Value, ApiError> {
    let status = store.seal.status().await?;
    // With an auto seal, t and n describe the recovery keys, as OpenBao reports them.
    let (n, t) = status
        .config
        .as_ref()
        .map_or((0, 0), SealConfig::operator_shares);
    let mut body = json!({
        "type": status.kind,
        "initialized": status.config.is_some(),
        "sealed": status.sealed,
        "t": t,
        "n": n,
        "progress": status.progress,
        "nonce": status.nonce,
        "recovery_seal": status.recovery_seal,
        "version": VERSION,
        "commit_date": env!("COFFER_BUILD_DATE"),
        "migration": status.migration,
        "storage_type": store.storage_kind(),
    });
    if status.recovery_seal {
        body["recovery_seal_type"] = json!("shamir");
    }
    if let (false, Some(c)) = (status.sealed, &status.config) {
        set_cluster_identity(&mut body, c);
    }
    Ok(body)
}

/// `cluster_name` and `cluster_id`, drawn at init and kept with the seal configuration;
/// OpenBao shows them only while unsealed.
fn set_cluster_identity(body: &mut Value, config: &SealConfig) {
    body["cluster_name"] = json!(config.cluster_name);
    body["cluster_id"] = json!(config.cluster_id);
}

pub async fn seal_status(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if !matches!(req.operation, Operation::Read) {
        return Err(ApiError::UnsupportedOperation);
    }
    Ok(Response::raw(200, seal_status_body(store).await?))
}

fn u32_field(req: &Request, name: &str) -> Result<u32, ApiError> {
    match req.data.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| ApiError::bad_request(format!("invalid value for {name}"))),
        Some(_) => Err(ApiError::bad_request(format!("invalid value for {name}"))),
    }
}

pub async fn init(store: &Store, req: &Request) -> Result<Response, ApiError> {
    match req.operation {
        Operation::Read => Ok(Response::raw(
            200,
            json!({ "initialized": store.is_initialized().await? }),
        )),
        Operation::Update => {
            if req.data.get("pgp_keys").is_some_and(|v| !v.is_null())
                || req
                    .data
                    .get("root_token_pgp_key")
                    .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            {
                return Err(ApiError::bad_request(
                    "PGP-encrypted keys are not supported",
                ));
            }
            let params = InitParams {
                secret_shares: u32_field(req, "secret_shares")?,
                secret_threshold: u32_field(req, "secret_threshold")?,
                recovery_shares: u32_field(req, "recovery_shares")?,
                recovery_threshold: u32_field(req, "recovery_threshold")?,
            };
            let out = store.initialize(params, None, vec![], false).await?;
            let mut body = json!({
                "keys": out.keys_hex(),
                "keys_base64": out.keys_base64(),
                "root_token": out.root_token,
            });
            if !out.recovery_keys.is_empty() {
                body["recovery_keys"] = json!(out.recovery_keys_hex());
                body["recovery_keys_base64"] = json!(out.recovery_keys_base64());
            }
            Ok(Response::raw(200, body))
        }
        _ => Err(ApiError::UnsupportedOperation),
    }
}

pub async fn unseal(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Update {
        return Err(ApiError::UnsupportedOperation);
    }
    if req.data.get("reset").and_then(Value::as_bool) == Some(true) {
        store.seal.reset();
    } else {
        let key = req
            .str_field("key")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "'key' must be specified in request body as JSON, or 'reset' set to true",
                )
            })?;
        if !store.is_initialized().await? {
            return Err(ApiError::bad_request("Vault is not initialized"));
        }
        let migrate = match req.data.get("migrate") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => return Err(ApiError::bad_request("invalid value for migrate")),
        };
        store.submit_unseal_key(key, migrate).await?;
    }
    Ok(Response::raw(200, seal_status_body(store).await?))
}

pub async fn leader(req: &Request) -> Result<Response, ApiError> {
    if !matches!(req.operation, Operation::Read) {
        return Err(ApiError::UnsupportedOperation);
    }
    // No HA protocol: every process serves reads and writes (docs/architecture.md).
    Ok(Response::raw(200, json!({ "ha_enabled": false })))
}
