//! `auth/token/revoke`, `revoke-self`, `revoke-accessor` and `revoke-orphan`.

use super::Ctx;
use crate::auth::token;
use crate::auth::{revoke as revoke_tree, RevokeMode};
use crate::http::error::ApiError;
use crate::logical::Response;

pub async fn revoke_self(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    revoke_tree(ctx.barrier(), &ctx.caller.hash, RevokeMode::Tree).await?;
    Ok(Response::empty())
}

/// Revoking an unknown token succeeds, as OpenBao's does.
pub async fn revoke(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let Some(other) = ctx.field("token") else {
        return Err(ApiError::bad_request("missing token"));
    };
    if let Some((_, hash)) = token::storage_key(ctx.salt, &other) {
        revoke_tree(ctx.barrier(), &hash, RevokeMode::Tree).await?;
    }
    Ok(Response::empty())
}

pub async fn revoke_accessor(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let accessor = ctx.field("accessor").unwrap_or_default();
    match token::hash_of_accessor(ctx.barrier(), &accessor).await? {
        Some(hash) => {
            revoke_tree(ctx.barrier(), &hash, RevokeMode::Tree).await?;
            Ok(Response::empty())
        }
        None => Ok(Response {
            warnings: vec!["No token found with this accessor".into()],
            ..Default::default()
        }),
    }
}

/// Revokes the token only; its children become orphans. Needs root or sudo.
pub async fn revoke_orphan(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    if !ctx.privileged() {
        return Err(ApiError::bad_request(
            "root or sudo privileges required to revoke and orphan",
        ));
    }
    let Some(other) = ctx.field("token") else {
        return Err(ApiError::bad_request("missing token"));
    };
    if let Some((_, hash)) = token::storage_key(ctx.salt, &other) {
        revoke_tree(ctx.barrier(), &hash, RevokeMode::Orphan).await?;
    }
    Ok(Response::empty())
}
