//! Revocation: a token and (unless orphaning) every token created under it.
//!
//! Children are found through the parent index (`sys/token/parent/<parent>/<child>`), never by
//! scanning. A token is first marked `revoking` with a conditional write, so it is refused
//! from that moment and can no longer create children (creation is conditional on the parent's
//! version); then its children are revoked, then its own keys deleted. An interrupted
//! revocation leaves a refused token that a retry (or `auth/token/tidy`) finishes.

use std::future::Future;
use std::pin::Pin;

use super::token::{self, TokenEntry, PARENT_PREFIX};
use crate::barrier::{Barrier, BarrierError, PlainOp};
use crate::storage::{Condition, StorageError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeMode {
    /// The token and all its descendants.
    Tree,
    /// The token only; its children become orphans.
    Orphan,
}

fn is_conflict(e: &BarrierError) -> bool {
    matches!(
        e,
        BarrierError::Storage(StorageError::ConditionFailed { .. })
    )
}

/// Marks the token refused; `None` if it does not exist.
async fn mark_revoking(barrier: &Barrier, hash: &str) -> Result<Option<TokenEntry>, BarrierError> {
    loop {
        let Some((mut entry, version)) = token::by_hash(barrier, hash).await? else {
            return Ok(None);
        };
        if entry.revoking {
            return Ok(Some(entry));
        }
        entry.revoking = true;
        let op = PlainOp::Put {
            path: token::id_path(hash),
            value: serde_json::to_vec(&entry).expect("token entry serializes"),
            condition: Some(Condition::Version(version)),
        };
        match barrier.write(vec![op]).await {
            Ok(()) => return Ok(Some(entry)),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}

async fn children(barrier: &Barrier, hash: &str) -> Result<Vec<String>, BarrierError> {
    let mut names = barrier.list(&format!("{PARENT_PREFIX}{hash}/")).await?;
    names.retain(|n| !n.ends_with('/'));
    Ok(names)
}

/// Makes a child an orphan: it loses its parent and survives the parent's revocation.
async fn orphan(barrier: &Barrier, parent: &str, child: &str) -> Result<(), BarrierError> {
    loop {
        let mut ops = vec![PlainOp::delete(token::child_index_path(parent, child))];
        let Some((mut entry, version)) = token::by_hash(barrier, child).await? else {
            return barrier.write(ops).await;
        };
        entry.orphan = true;
        entry.parent_hash = None;
        ops.push(PlainOp::Put {
            path: token::id_path(child),
            value: serde_json::to_vec(&entry).expect("token entry serializes"),
            condition: Some(Condition::Version(version)),
        });
        match barrier.write(ops).await {
            Ok(()) => return Ok(()),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Revokes the token whose hash is `hash`. Revoking an unknown token succeeds.
pub fn revoke<'a>(
    barrier: &'a Barrier,
    hash: &'a str,
    mode: RevokeMode,
) -> Pin<Box<dyn Future<Output = Result<(), BarrierError>> + Send + 'a>> {
    Box::pin(async move {
        let Some(entry) = mark_revoking(barrier, hash).await? else {
            return Ok(());
        };
        for child in children(barrier, hash).await? {
            match mode {
                RevokeMode::Tree => {
                    revoke(barrier, &child, RevokeMode::Tree).await?;
                }
                RevokeMode::Orphan => orphan(barrier, hash, &child).await?,
            }
        }
        let mut ops = vec![
            PlainOp::delete(token::id_path(hash)),
            PlainOp::delete(token::accessor_path(&entry.accessor)),
        ];
        if let Some(parent) = &entry.parent_hash {
            ops.push(PlainOp::delete(token::child_index_path(parent, hash)));
        }
        barrier.write(ops).await
    })
}
