//! `sys/rotate/root/*` and `sys/rotate/recovery/*`: new unseal or recovery key shares from a
//! threshold of the current ones (OpenBao 2.4+'s authenticated rotation, what
//! `bao operator rotate-keys` calls).
//!
//! An attempt (its nonce, the new split and the shares given so far) lives in this process
//! only, as unseal progress does. At the threshold the shares are checked exactly as unsealing
//! checks them; a wrong set forgets the shares but keeps the attempt. PGP-encrypted shares,
//! backups and verification are refused rather than ignored.

use std::sync::{Mutex, MutexGuard};

use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::seal::{RotationTarget, SealError, SealManager};
use crate::store::Store;

/// One rotation in progress.
struct Attempt {
    nonce: String,
    new_shares: u8,
    new_threshold: u8,
    shares: Vec<Zeroizing<Vec<u8>>>,
}

/// This process's rotation attempts, one per target.
#[derive(Default)]
pub struct Rotations {
    root: Mutex<Option<Attempt>>,
    recovery: Mutex<Option<Attempt>>,
}

impl Rotations {
    fn slot(&self, target: RotationTarget) -> MutexGuard<'_, Option<Attempt>> {
        let slot = match target {
            RotationTarget::Root => &self.root,
            RotationTarget::Recovery => &self.recovery,
        };
        slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn status_data(attempt: Option<&Attempt>, required: u8) -> Value {
    match attempt {
        None => json!({ "n": 0, "t": 0, "required": required, "started": false }),
        Some(a) => json!({
            "n": a.new_shares,
            "t": a.new_threshold,
            "nonce": a.nonce,
            "progress": a.shares.len(),
            "required": required,
            "started": true,
            "verification_nonce": "",
            "verification_required": false,
        }),
    }
}

fn split_field(req: &Request, name: &str) -> Result<u32, ApiError> {
    match req.data.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| ApiError::bad_request(format!("invalid value for {name}"))),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid value for {name}"))),
        Some(_) => Err(ApiError::bad_request(format!("invalid value for {name}"))),
    }
}

fn refuse_unsupported_options(req: &Request) -> Result<(), ApiError> {
    let set = |name: &str| match req.data.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::String(s)) => !s.is_empty() && s != "false",
        Some(_) => true,
    };
    if set("pgp_keys") {
        return Err(ApiError::bad_request(
            "PGP-encrypted key shares are not supported",
        ));
    }
    if set("backup") {
        return Err(ApiError::bad_request(
            "backing up key shares is not supported",
        ));
    }
    if set("require_verification") {
        return Err(ApiError::bad_request(
            "rotation verification is not supported",
        ));
    }
    Ok(())
}

/// `sys/rotate/<target>/init`: status (GET), start (PUT/POST), cancel (DELETE).
pub async fn init(
    store: &Store,
    req: &Request,
    target: RotationTarget,
) -> Result<Response, ApiError> {
    let (_, required) = store.seal.rotation_quorum(target).await?;
    let rotations = &store.rotations;
    match req.operation {
        Operation::Read => Ok(Response::data(status_data(
            rotations.slot(target).as_ref(),
            required,
        ))),
        Operation::Update => {
            refuse_unsupported_options(req)?;
            let shares = split_field(req, "secret_shares")?;
            let threshold = split_field(req, "secret_threshold")?;
            SealManager::check_rotation_split(shares, threshold).map_err(|e| match e {
                SealError::InvalidConfig(why) => {
                    ApiError::bad_request(format!("invalid rotate seal configuration: {why}"))
                }
                other => other.into(),
            })?;
            let mut slot = rotations.slot(target);
            if slot.is_some() {
                return Err(ApiError::bad_request("rotation already in progress"));
            }
            *slot = Some(Attempt {
                nonce: uuid::Uuid::new_v4().to_string(),
                new_shares: shares as u8,
                new_threshold: threshold as u8,
                shares: Vec::new(),
            });
            Ok(Response::data(status_data(slot.as_ref(), required)))
        }
        Operation::Delete => {
            *rotations.slot(target) = None;
            Ok(Response::empty())
        }
        _ => Err(ApiError::UnsupportedOperation),
    }
}

/// `sys/rotate/<target>/update`: one current share with the attempt's nonce; the new shares
/// at the threshold.
pub async fn update(
    store: &Store,
    req: &Request,
    target: RotationTarget,
) -> Result<Response, ApiError> {
    if req.operation != Operation::Update {
        return Err(ApiError::UnsupportedOperation);
    }
    let (_, required) = store.seal.rotation_quorum(target).await?;
    let key = req
        .str_field("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::bad_request("'key' must be specified in request body"))?;
    let nonce = req.str_field("nonce").unwrap_or_default();
    let share = store.seal.decode_share(key).await?;
    let (shares, new_shares, new_threshold) = {
        let mut slot = store.rotations.slot(target);
        let attempt = slot
            .as_mut()
            .ok_or_else(|| ApiError::bad_request("no rotation in progress"))?;
        if attempt.nonce != nonce {
            return Err(ApiError::bad_request(format!(
                "incorrect nonce supplied; nonce for rotation is {:?}",
                attempt.nonce
            )));
        }
        if attempt.shares.iter().any(|s| **s == *share) {
            return Err(ApiError::bad_request(
                "given key has already been provided during this rotation operation",
            ));
        }
        attempt.shares.push(share);
        if attempt.shares.len() < required as usize {
            return Ok(Response::data(status_data(Some(attempt), required)));
        }
        (
            std::mem::take(&mut attempt.shares),
            attempt.new_shares,
            attempt.new_threshold,
        )
    };
    let keys = store
        .seal
        .complete_rotation(target, &shares, new_shares, new_threshold)
        .await?;
    *store.rotations.slot(target) = None;
    tracing::info!(?target, shares = new_shares, "key shares rotated");
    Ok(Response::data(json!({
        "backup": false,
        "complete": true,
        "keys": keys.iter().map(hex::encode).collect::<Vec<_>>(),
        "keys_base64": keys.iter().map(|k| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(k.as_slice())
        }).collect::<Vec<_>>(),
        "nonce": nonce,
        "pgp_fingerprints": null,
        "verification_nonce": "",
        "verification_required": false,
    })))
}
