//! The control plane's record of a store: id, plan, created time, seal kind and lifecycle.
//!
//! Records live at `_coffer/stores/<id>` in the shared storage, outside every store's
//! keyspace, in plain JSON: like the seal configuration they hold no secret (no key, token or
//! secret data), and a data-plane process must read them before any store is unsealed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::{Condition, Storage, StorageError, WriteOp};

/// Where the records are.
pub const RECORDS_PREFIX: &str = "_coffer/stores/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Created, being initialised: not served yet, so nobody else can race the init.
    Provisioning,
    Active,
    /// Being deleted: not served any more; a repeated delete finishes the job.
    Deleting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRecord {
    pub id: String,
    pub plan: String,
    pub created: DateTime<Utc>,
    /// `shamir`, `awskms`, `pkcs11`.
    pub seal: String,
    pub state: Lifecycle,
}

pub fn record_key(id: &str) -> String {
    format!("{RECORDS_PREFIX}{id}")
}

/// The record and the storage version it was read at.
pub async fn load(
    storage: &dyn Storage,
    id: &str,
) -> Result<Option<(StoreRecord, u64)>, StorageError> {
    let Some(entry) = storage.get(&record_key(id)).await? else {
        return Ok(None);
    };
    let record = serde_json::from_slice(&entry.value)
        .map_err(|_| StorageError::Backend(format!("corrupt store record for {id:?}")))?;
    Ok(Some((record, entry.version)))
}

/// Writes `record` if the stored one is still at `condition`.
pub async fn save(
    storage: &dyn Storage,
    record: &StoreRecord,
    condition: Condition,
) -> Result<(), StorageError> {
    let value = serde_json::to_vec(record)
        .map_err(|e| StorageError::Backend(format!("encoding store record: {e}")))?;
    storage
        .write(vec![WriteOp::Put {
            key: record_key(&record.id),
            value,
            condition: Some(condition),
        }])
        .await
}

/// Every record, sorted by id (a scan: control plane only).
pub async fn list(storage: &dyn Storage) -> Result<Vec<StoreRecord>, StorageError> {
    let keys = storage.keys_under(RECORDS_PREFIX).await?;
    let entries = storage.get_many(&keys).await?;
    Ok(entries
        .into_iter()
        .flatten()
        .filter_map(|e| serde_json::from_slice(&e.value).ok())
        .collect())
}
