//! The secret quota of a store: how many KV secrets it holds and how large one write may be.
//!
//! The count is one plain counter item per store, `<store id>/_coffer/secret-count`, next to
//! (not inside) the barrier's paths: a number is no secret, and the control plane shows it
//! without unsealing the store. It is maintained here, around the engine call, after the
//! request was authorised:
//! - reads never touch it (zero extra round trips on the hot path);
//! - a write to an existing secret costs nothing extra (existence comes from the prefetch);
//! - a write that creates a secret costs two more round trips (read the counter, check it
//!   against the plan, then a conditional put of counter + 1 after the engine's write); the
//!   same for a delete that removes one (`metadata/<key>` in KV v2, the key in KV v1).
//!
//! The counter and the secret are two writes, not one batch: concurrent creates of the same
//! new key can count it twice, and disabling a mount does not lower the count. The drift is
//! upwards only (never lets a store exceed its plan); docs/control-plane.md says so.

use std::sync::Arc;

use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::secrets::{self, Engine, View};
use crate::storage::{Condition, Storage, StorageError, WriteOp};

use super::plan::PlanCell;

/// Attempts at the counter's conditional write before giving up (another writer won each time).
const COUNTER_ATTEMPTS: usize = 20;

pub struct SecretQuota {
    storage: Arc<dyn Storage>,
    store_id: String,
    plan: Arc<PlanCell>,
}

/// What a request does to the number of secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// May create a secret; `data` says whether it carries secret data (size-limited).
    Write {
        data: bool,
    },
    /// May remove a secret.
    Remove,
    Neither,
}

impl Change {
    fn of(engine: Engine, req: &Request, rel: &str) -> Change {
        let write = matches!(req.operation, Operation::Update | Operation::Patch);
        let delete = req.operation == Operation::Delete;
        match engine {
            Engine::KvV1 if write => Change::Write { data: true },
            Engine::KvV1 if delete => Change::Remove,
            Engine::KvV2 if write && rel.starts_with("data/") => Change::Write { data: true },
            Engine::KvV2 if write && rel.starts_with("metadata/") => Change::Write { data: false },
            Engine::KvV2 if delete && rel.starts_with("metadata/") => Change::Remove,
            _ => Change::Neither,
        }
    }
}

pub fn counter_key(store_id: &str) -> String {
    format!("{store_id}/_coffer/secret-count")
}

impl SecretQuota {
    pub fn new(storage: Arc<dyn Storage>, store_id: &str, plan: Arc<PlanCell>) -> SecretQuota {
        SecretQuota {
            storage,
            store_id: store_id.to_string(),
            plan,
        }
    }

    /// Serves an authorised engine request within the plan's secret limits.
    pub(crate) async fn serve(
        &self,
        engine: Engine,
        view: &View<'_>,
        req: &Request,
        rel: &str,
    ) -> Result<Response, ApiError> {
        let change = Change::of(engine, req, rel);
        if change == Change::Neither {
            return secrets::handle(engine, view, req, rel).await;
        }
        let plan = self.plan.get();
        if let (Change::Write { data: true }, Some(max)) = (change, plan.max_secret_size) {
            let size = serde_json::to_vec(&req.data).map_or(0, |v| v.len()) as u64;
            if size > max {
                return Err(ApiError::TooLargeForPlan(format!(
                    "secret of {size} bytes is larger than the {max} bytes plan {:?} allows",
                    plan.name
                )));
            }
        }
        let existed = secrets::target_exists(engine, view, rel).await?;
        match change {
            Change::Write { .. } if !existed => {
                let (count, version) = self.count().await?;
                if let Some(max) = plan.max_secrets.filter(|max| count >= *max) {
                    return Err(ApiError::LimitExceeded(format!(
                        "secret count quota exceeded for store {}: plan {:?} allows {max}",
                        self.store_id, plan.name
                    )));
                }
                let resp = secrets::handle(engine, view, req, rel).await?;
                self.adjust(1, Some((count, version))).await;
                Ok(resp)
            }
            Change::Remove if existed => {
                let resp = secrets::handle(engine, view, req, rel).await?;
                self.adjust(-1, None).await;
                Ok(resp)
            }
            _ => secrets::handle(engine, view, req, rel).await,
        }
    }

    /// The current count and the counter's version (`None`: never written).
    pub async fn count(&self) -> Result<(u64, Option<u64>), StorageError> {
        read_count(self.storage.as_ref(), &self.store_id).await
    }

    /// Moves the counter by `delta`, starting from `seen` when the caller just read it. The
    /// secret is already written: a counter that cannot be updated is logged, not an error.
    async fn adjust(&self, delta: i64, mut seen: Option<(u64, Option<u64>)>) {
        for _ in 0..COUNTER_ATTEMPTS {
            let (count, version) = match seen.take() {
                Some(s) => s,
                None => match self.count().await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(store = %self.store_id, error = %e, "secret counter not updated");
                        return;
                    }
                },
            };
            let next = count.saturating_add_signed(delta);
            let op = WriteOp::Put {
                key: counter_key(&self.store_id),
                value: next.to_string().into_bytes(),
                condition: Some(version.map_or(Condition::Absent, Condition::Version)),
            };
            match self.storage.write(vec![op]).await {
                Ok(()) => return,
                Err(StorageError::ConditionFailed { .. }) => continue,
                Err(e) => {
                    tracing::error!(store = %self.store_id, error = %e, "secret counter not updated");
                    return;
                }
            }
        }
        tracing::error!(store = %self.store_id, "secret counter not updated: too much contention");
    }
}

/// A store's secret count as the control plane shows it.
pub async fn read_count(
    storage: &dyn Storage,
    store_id: &str,
) -> Result<(u64, Option<u64>), StorageError> {
    match storage.get(&counter_key(store_id)).await? {
        Some(entry) => {
            let count = std::str::from_utf8(&entry.value)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            Ok((count, Some(entry.version)))
        }
        None => Ok((0, None)),
    }
}
