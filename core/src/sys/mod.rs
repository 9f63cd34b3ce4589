//! The `sys/` backend: init, seal, unseal, status, health, mounts, keys.

mod audit;
mod capabilities;
pub(crate) mod generate_root;
mod keys;
mod mounts;
mod policy;
pub(crate) mod rotate;
mod status;

use crate::auth::token::TokenEntry;
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::seal::RotationTarget;
use crate::store::{Store, Unsealed};

/// Paths served without a token and whatever the seal state, as OpenBao's.
pub(crate) async fn handle_unauthenticated(
    store: &Store,
    req: &Request,
) -> Result<Option<Response>, ApiError> {
    let resp = match req.path.trim_end_matches('/') {
        "sys/health" => status::health(store, req).await?,
        "sys/seal-status" => status::seal_status(store, req).await?,
        "sys/init" => status::init(store, req).await?,
        "sys/unseal" => status::unseal(store, req).await?,
        "sys/leader" => status::leader(req).await?,
        "sys/generate-root/attempt" => generate_root::unauthed_attempt(store, req).await?,
        "sys/generate-root/update" => generate_root::unauthed_update(store, req).await?,
        _ => return Ok(None),
    };
    Ok(Some(resp))
}

pub(crate) async fn handle(
    store: &Store,
    state: &Unsealed,
    req: &Request,
    entry: &TokenEntry,
) -> Result<Response, ApiError> {
    let path = req.path.trim_end_matches('/');
    let rest = path.strip_prefix("sys/").unwrap_or("");
    match rest {
        "seal" => keys::seal(store, req),
        "rotate" => keys::rotate(store, req).await,
        "key-status" => keys::key_status(store, req),
        "audit" => audit::list(store, req),
        "mounts" => mounts::list(state, req),
        "remount" => mounts::remount(store, req).await,
        "internal/ui/mounts" => mounts::ui_list(state, req),
        "policy" => policy::list(store, req, policy::Flavor::Legacy).await,
        "policies/acl" => policy::list(store, req, policy::Flavor::Acl).await,
        "capabilities" => capabilities::capabilities(store, state, req).await,
        "capabilities-self" => capabilities::capabilities_self(store, req, entry).await,
        "capabilities-accessor" => capabilities::capabilities_accessor(store, req).await,
        "generate-root-token/attempt" => generate_root::authed_attempt(store, req).await,
        "generate-root-token/update" => generate_root::authed_update(store, req).await,
        "rotate/root/init" => rotate::init(store, req, RotationTarget::Root).await,
        "rotate/root/update" => rotate::update(store, req, RotationTarget::Root).await,
        "rotate/recovery/init" => rotate::init(store, req, RotationTarget::Recovery).await,
        "rotate/recovery/update" => rotate::update(store, req, RotationTarget::Recovery).await,
        _ => {
            if let Some(device) = rest.strip_prefix("audit/") {
                return audit::device(store, req, device).await;
            }
            if let Some(device) = rest.strip_prefix("audit-hash/") {
                return audit::hash(store, req, device);
            }
            if let Some(mount) = rest.strip_prefix("mounts/") {
                return mounts::mount(store, state, req, mount).await;
            }
            if let Some(id) = rest.strip_prefix("remount/status/") {
                return mounts::remount_status(store, req, id).await;
            }
            if let Some(name) = rest.strip_prefix("policy/") {
                return policy::policy(store, req, policy::Flavor::Legacy, name).await;
            }
            if let Some(name) = rest.strip_prefix("policies/acl/") {
                return policy::policy(store, req, policy::Flavor::Acl, name).await;
            }
            if let Some(mount) = rest.strip_prefix("internal/ui/mounts/") {
                return mounts::ui_mount(state, req, mount);
            }
            Err(ApiError::NoRoute(req.path.clone()))
        }
    }
}
