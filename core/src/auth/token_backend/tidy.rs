//! `auth/token/tidy`: reclaims what no request path cleans up: expired tokens (with their
//! trees), and accessor or child-index entries whose token is gone.
//!
//! Expired tokens are refused on every request whether or not tidy ever runs; tidy only frees
//! their storage. It scans, so it is an operator action, not part of any request budget.

use chrono::Utc;

use super::Ctx;
use crate::auth::token::{self, ACCESSOR_PREFIX, ID_PREFIX, PARENT_PREFIX};
use crate::auth::{revoke, RevokeMode};
use crate::barrier::{Barrier, BarrierError, PlainOp};
use crate::http::error::ApiError;
use crate::logical::Response;

/// What one tidy run removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TidyReport {
    pub expired_tokens: usize,
    pub dangling_accessors: usize,
    pub dangling_children: usize,
}

pub async fn tidy(barrier: &Barrier) -> Result<TidyReport, BarrierError> {
    let mut report = TidyReport::default();
    let now = Utc::now();
    for hash in barrier.list(ID_PREFIX).await? {
        if let Some((entry, _)) = token::by_hash(barrier, &hash).await? {
            if entry.is_expired(now) || entry.revoking {
                revoke(barrier, &hash, RevokeMode::Tree).await?;
                report.expired_tokens += 1;
            }
        }
    }
    for accessor in barrier.list(ACCESSOR_PREFIX).await? {
        if let Some(hash) = token::hash_of_accessor(barrier, &accessor).await? {
            if token::by_hash(barrier, &hash).await?.is_none() {
                barrier.delete(&token::accessor_path(&accessor)).await?;
                report.dangling_accessors += 1;
            }
        }
    }
    for parent in barrier.list(PARENT_PREFIX).await? {
        let parent = parent.trim_end_matches('/');
        let parent_gone = token::by_hash(barrier, parent).await?.is_none();
        for child in barrier.list(&format!("{PARENT_PREFIX}{parent}/")).await? {
            if parent_gone || token::by_hash(barrier, &child).await?.is_none() {
                if parent_gone {
                    // The parent vanished without revoking this child (an interrupted
                    // revocation): finish the job.
                    revoke(barrier, &child, RevokeMode::Tree).await?;
                }
                barrier
                    .write(vec![PlainOp::delete(token::child_index_path(
                        parent, &child,
                    ))])
                    .await?;
                report.dangling_children += 1;
            }
        }
    }
    tracing::info!(?report, "token tidy finished");
    Ok(report)
}

pub async fn handle(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    tidy(ctx.barrier()).await?;
    Ok(Response {
        warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.".into()],
        status: Some(202),
        ..Default::default()
    })
}
