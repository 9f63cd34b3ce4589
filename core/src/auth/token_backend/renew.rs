//! `auth/token/renew`, `renew-self` and `renew-accessor`: a new TTL from the increment, within
//! the token's max TTL and explicit max TTL; periodic tokens get their period back. The entry
//! is rewritten with a conditional write, retried on conflict.

use chrono::Utc;

use super::fields;
use super::ttl;
use super::{auth_block, Ctx};
use crate::auth::token::{self, TokenEntry};
use crate::barrier::{BarrierError, PlainOp};
use crate::http::error::ApiError;
use crate::logical::Response;
use crate::storage::{Condition, StorageError};

async fn renew_hash(ctx: &Ctx<'_>, hash: &str, client_token: String) -> Result<Response, ApiError> {
    let increment = fields::duration_secs(&ctx.req.data, "increment")?.unwrap_or(0);
    loop {
        let Some((mut entry, version)) = token::by_hash(ctx.barrier(), hash).await? else {
            return Err(ApiError::bad_request("token not found"));
        };
        let now = Utc::now();
        if entry.revoking || entry.is_expired(now) {
            return Err(ApiError::bad_request("token not found"));
        }
        if !entry.renewable || entry.expire_time.is_none() {
            return Err(ApiError::bad_request("lease is not renewable"));
        }
        let (ttl, warnings) = ttl::calculate(
            increment,
            entry.period_seconds,
            entry.explicit_max_ttl_seconds,
            entry.creation_time,
            now,
        )?;
        entry.expire_time = Some(now + chrono::Duration::seconds(ttl as i64));
        entry.last_renewal = Some(now);
        let op = PlainOp::Put {
            path: token::id_path(hash),
            value: serde_json::to_vec(&entry).expect("token entry serializes"),
            condition: Some(Condition::Version(version)),
        };
        match ctx.barrier().write(vec![op]).await {
            Ok(()) => return Ok(renewed(client_token, &entry, ttl, warnings)),
            Err(BarrierError::Storage(StorageError::ConditionFailed { .. })) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn renewed(client_token: String, entry: &TokenEntry, ttl: u64, warnings: Vec<String>) -> Response {
    Response {
        auth: Some(auth_block(client_token, entry, ttl)),
        warnings,
        ..Default::default()
    }
}

pub async fn renew_self(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    renew_hash(ctx, &ctx.caller.hash, ctx.caller_token.to_string()).await
}

pub async fn renew(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let Some(other) = ctx.field("token") else {
        return Err(ApiError::bad_request("missing token"));
    };
    let Some((_, hash)) = token::storage_key(ctx.salt, &other) else {
        return Err(ApiError::bad_request("token not found"));
    };
    renew_hash(ctx, &hash, other).await
}

pub async fn renew_accessor(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let invalid = || ApiError::bad_request("1 error occurred:\n\t* invalid accessor\n\n");
    let accessor = ctx.field("accessor").ok_or_else(invalid)?;
    let (_, hash) = super::lookup::by_accessor(ctx, &accessor)
        .await?
        .ok_or_else(invalid)?;
    renew_hash(ctx, &hash, String::new()).await
}
