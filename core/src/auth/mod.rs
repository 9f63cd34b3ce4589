//! Authentication and authorisation of a request: the token store (auth methods come later),
//! and the ACL decision for a validated token.
//!
//! The hot path of an authenticated request is: one storage read of the token entry
//! ([`authenticate`], or [`token::validate`] on an entry the caller fetched together with
//! other keys), then [`authorize`] against policies cached in memory (no storage), then, only
//! for a use-limited token, [`use_token`] (one conditional write).

pub mod token;
pub mod token_backend;
mod token_tree;

use chrono::Utc;

use crate::barrier::{Barrier, BarrierError, PlainOp};
use crate::http::error::ApiError;
use crate::logical::{Operation, Request};
use crate::policy::{requires_sudo, Acl, AclOperation, Decision, PolicyStore};
use crate::storage::{Condition, StorageError};
use token::{TokenSalt, ValidToken};

pub use token_tree::{revoke, RevokeMode};

/// Reads and validates the presented token: one storage round trip. Unknown, expired and
/// revoked tokens are all "permission denied", as OpenBao answers. An expired entry found
/// here is reclaimed in the background, with its children.
pub async fn authenticate(
    barrier: &std::sync::Arc<Barrier>,
    salt: &TokenSalt,
    token: &str,
) -> Result<ValidToken, ApiError> {
    let (path, hash) = token::storage_key(salt, token).ok_or(ApiError::PermissionDenied)?;
    let plain = barrier.get(&path).await?;
    validate_fetched(barrier, hash, plain)
}

/// [`authenticate`] for an entry the caller already fetched (with other keys, in one round
/// trip) from the path `token::storage_key` gave with `hash`: the HMAC is computed once per
/// request (it was a quarter of a KV read's instructions when computed three times).
pub fn validate_fetched(
    barrier: &std::sync::Arc<Barrier>,
    hash: String,
    plain: Option<crate::barrier::Plain>,
) -> Result<ValidToken, ApiError> {
    match token::validate(plain, hash.clone(), Utc::now()) {
        Ok(valid) => Ok(valid),
        Err(token::Invalid::Expired) => {
            reclaim_in_background(barrier.clone(), hash);
            Err(ApiError::PermissionDenied)
        }
        Err(_) => Err(ApiError::PermissionDenied),
    }
}

/// Revokes an expired token's tree off the request path; `auth/token/tidy` catches what this
/// misses (a process that stops first).
fn reclaim_in_background(barrier: std::sync::Arc<Barrier>, hash: String) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            if let Err(e) = revoke(&barrier, &hash, RevokeMode::Tree).await {
                tracing::warn!(error = %e, "reclaiming an expired token failed");
            }
        });
    }
}

/// The ACL of a token, compiled from the policy cache once per set of policy versions and
/// shared (see `PolicyStore::acl`).
pub async fn acl_of(
    policies: &PolicyStore,
    entry: &token::TokenEntry,
) -> Result<std::sync::Arc<Acl>, ApiError> {
    Ok(policies.acl(&entry.policies).await?)
}

/// Paths where a write's capability depends on whether the target exists (OpenBao runs the
/// backend's existence check there): token roles, and everything under a secrets mount.
fn has_existence_check(path: &str) -> bool {
    if path.starts_with("auth/token/roles/") {
        return true;
    }
    !(path.starts_with("sys/") || path.starts_with("auth/"))
}

/// What [`authorize`] grants beyond "allowed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub sudo: bool,
    /// For a write on a path with an existence check whose policy grants only one of
    /// `create` / `update`: which one. The handler must enforce it.
    pub write_only_if: Option<WriteKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    Update,
}

/// Decides whether `caller` may make `req`: policies from the cache, no storage access.
pub async fn authorize(
    policies: &PolicyStore,
    caller: &ValidToken,
    req: &Request,
) -> Result<Grant, ApiError> {
    let acl = acl_of(policies, &caller.entry).await?;
    decide(&acl, req)
}

/// The pure part of [`authorize`].
pub fn decide(acl: &Acl, req: &Request) -> Result<Grant, ApiError> {
    let path = req.path.trim_start_matches('/');
    if let Some(ui) = ui_mounts_grant(acl, path) {
        return ui;
    }
    // OpenBao checks a LIST on the folder form of the path, `secret/metadata/`.
    let folder;
    let path = if req.operation == Operation::List && !path.ends_with('/') {
        folder = format!("{path}/");
        folder.as_str()
    } else {
        path
    };
    let check = |op| acl.check(op, path, &req.data);
    let (decision, write_only_if): (Decision, Option<WriteKind>) = match req.operation {
        Operation::Read => (check(AclOperation::Read), None),
        Operation::List => (check(AclOperation::List), None),
        Operation::Patch => (check(AclOperation::Patch), None),
        Operation::Delete => (check(AclOperation::Delete), None),
        Operation::Update if !has_existence_check(path) => (check(AclOperation::Update), None),
        Operation::Update => {
            let create = check(AclOperation::Create);
            let update = check(AclOperation::Update);
            match (create.allowed, update.allowed) {
                (true, true) => (update, None),
                // Only one of the two: whoever serves the path must check whether the target
                // exists (`Store::handle` for secrets engines, the roles handler for roles).
                (true, false) => (create, Some(WriteKind::Create)),
                (false, true) => (update, Some(WriteKind::Update)),
                (false, false) => (update, None),
            }
        }
    };
    if !decision.allowed || (requires_sudo(path) && !decision.sudo) {
        return Err(ApiError::AclDenied);
    }
    Ok(Grant {
        sudo: decision.sudo,
        write_only_if,
    })
}

/// `sys/internal/ui/mounts[/<path>]` are not ACL-checked in OpenBao: any token may list
/// mounts, and may see one mount if its policies grant anything under it. The mount is taken
/// to be the first segment of `<path>` (the mount table is not consulted here).
fn ui_mounts_grant(acl: &Acl, path: &str) -> Option<Result<Grant, ApiError>> {
    let grant = Grant {
        sudo: acl.is_root(),
        write_only_if: None,
    };
    let rest = path.strip_prefix("sys/internal/ui/mounts")?;
    let rest = rest.trim_matches('/');
    if rest.is_empty() {
        return Some(Ok(grant));
    }
    let mount = format!("{}/", rest.split('/').next().unwrap_or(rest));
    if acl.grants_anything_under(&mount) {
        Some(Ok(grant))
    } else {
        Some(Err(ApiError::AclDenied))
    }
}

/// Counts one use of a use-limited token with a conditional write (retried on conflict, so
/// concurrent uses in any number of processes each take one), revoking it at zero. A token
/// already used up by a concurrent request is refused. Returns the caller as it is after
/// this use (`num_uses` as OpenBao's lookup-self shows it).
pub async fn use_token(barrier: &Barrier, caller: ValidToken) -> Result<ValidToken, ApiError> {
    if caller.entry.num_uses == 0 {
        return Ok(caller);
    }
    let mut entry = caller.entry.clone();
    let mut version = caller.version;
    loop {
        let last = entry.num_uses <= 1;
        if last {
            // The last use claims the token: marked revoking, it is refused from now on,
            // then its tree is removed.
            entry.num_uses = 0;
            entry.revoking = true;
        } else {
            entry.num_uses -= 1;
        }
        let op = PlainOp::Put {
            path: token::id_path(&caller.hash),
            value: serde_json::to_vec(&entry).expect("token entry serializes"),
            condition: Some(Condition::Version(version)),
        };
        match barrier.write(vec![op]).await {
            Ok(()) => {
                if last {
                    revoke(barrier, &caller.hash, RevokeMode::Tree).await?;
                }
                // The version after the write is not known here; 0 makes a later conditional
                // write on this entry re-read it first.
                return Ok(ValidToken {
                    entry,
                    hash: caller.hash,
                    version: 0,
                });
            }
            Err(BarrierError::Storage(StorageError::ConditionFailed { .. })) => {
                let Some((fresh, v)) = token::by_hash(barrier, &caller.hash).await? else {
                    return Err(ApiError::PermissionDenied);
                };
                if fresh.num_uses == 0 || fresh.revoking {
                    return Err(ApiError::PermissionDenied);
                }
                entry = fresh;
                version = v;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
