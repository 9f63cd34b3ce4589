//! `auth/token/lookup-self`, `lookup` and `lookup-accessor`.

use super::Ctx;
use crate::auth::token;
use crate::http::error::ApiError;
use crate::logical::Response;

pub fn lookup_self(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    Ok(Response::data(
        ctx.caller.entry.lookup_data(ctx.caller_token),
    ))
}

/// Another token by its value; without one, the caller itself (as OpenBao does).
pub async fn lookup(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let Some(other) = ctx.field("token") else {
        return lookup_self(ctx);
    };
    match token::lookup(ctx.barrier(), ctx.salt, &other).await? {
        Some(found) => Ok(Response::data(found.entry.lookup_data(&other))),
        None => Err(ApiError::Forbidden("bad token".into())),
    }
}

fn invalid_accessor() -> ApiError {
    ApiError::bad_request("1 error occurred:\n\t* invalid accessor\n\n")
}

/// A token by accessor: everything but its id.
pub async fn lookup_accessor(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let accessor = ctx.field("accessor").ok_or_else(invalid_accessor)?;
    let (entry, _) = by_accessor(ctx, &accessor)
        .await?
        .ok_or_else(invalid_accessor)?;
    Ok(Response::data(entry.lookup_data("")))
}

/// The live token an accessor names, with its hash.
pub async fn by_accessor(
    ctx: &Ctx<'_>,
    accessor: &str,
) -> Result<Option<(token::TokenEntry, String)>, ApiError> {
    let Some(hash) = token::hash_of_accessor(ctx.barrier(), accessor).await? else {
        return Ok(None);
    };
    let found = token::by_hash(ctx.barrier(), &hash).await?;
    Ok(found
        .filter(|(e, _)| !e.revoking && !e.is_expired(chrono::Utc::now()))
        .map(|(e, _)| (e, hash)))
}
