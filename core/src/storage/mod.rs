//! Physical storage: the `Storage` trait and its backends.
//!
//! This layer owns durability and atomicity of opaque byte values. It must never see plaintext:
//! everything it stores, except the seal configuration, was encrypted by the barrier above it.
//! Keys are `/`-separated paths that begin with the store id, so several stores (tenants) can
//! share one physical table.

mod counting;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod embedded;
mod memory;

pub use counting::{round_trips_in_scope, with_round_trip_counter, CountingStorage};
#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoDbOptions, DynamoDbStorage};
pub use embedded::EmbeddedStorage;
pub use memory::MemoryStorage;

use async_trait::async_trait;

/// One stored value and the version the backend assigned to it.
///
/// The version is what conditional writes compare against: it increases on every put of the
/// key, so a read-modify-write can detect a concurrent writer without any process-local lock.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    pub version: u64,
}

impl std::fmt::Debug for Entry {
    // Values are ciphertext, but still say nothing about them in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("len", &self.value.len())
            .field("version", &self.version)
            .finish()
    }
}

/// A precondition on the current state of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The key must not exist.
    Absent,
    /// The key must exist with exactly this version.
    Version(u64),
}

/// One write of an atomic batch.
#[derive(Clone)]
pub enum WriteOp {
    Put {
        key: String,
        value: Vec<u8>,
        condition: Option<Condition>,
    },
    Delete {
        key: String,
        condition: Option<Condition>,
    },
}

impl WriteOp {
    pub fn put(key: impl Into<String>, value: Vec<u8>) -> Self {
        WriteOp::Put {
            key: key.into(),
            value,
            condition: None,
        }
    }

    pub fn delete(key: impl Into<String>) -> Self {
        WriteOp::Delete {
            key: key.into(),
            condition: None,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key, .. } => key,
        }
    }

    pub fn condition(&self) -> Option<Condition> {
        match self {
            WriteOp::Put { condition, .. } | WriteOp::Delete { condition, .. } => *condition,
        }
    }
}

impl std::fmt::Debug for WriteOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteOp::Put {
                key,
                value,
                condition,
            } => f
                .debug_struct("Put")
                .field("key", key)
                .field("len", &value.len())
                .field("condition", condition)
                .finish(),
            WriteOp::Delete { key, condition } => f
                .debug_struct("Delete")
                .field("key", key)
                .field("condition", condition)
                .finish(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A conditional write found the key in another state; nothing of the batch was applied.
    #[error("storage condition failed for {key:?}")]
    ConditionFailed { key: String },
    /// The value cannot be stored by this backend (e.g. over an item size limit).
    #[error("value for {key:?} is too large: {size} bytes, limit {limit}")]
    TooLarge {
        key: String,
        size: usize,
        limit: usize,
    },
    /// The backend failed; the message names the operation, never a value.
    #[error("storage backend error: {0}")]
    Backend(String),
}

/// The physical storage contract every backend implements.
///
/// Every method is one round trip to the backend; callers that need several keys use
/// `get_many` and `write` so that a request stays within its round-trip budget.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// A short name for `sys/seal-status`'s `storage_type`.
    fn kind(&self) -> &'static str;

    async fn get(&self, key: &str) -> Result<Option<Entry>, StorageError>;

    /// Reads several keys in one round trip; the result is in the order of `keys`.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, StorageError>;

    /// Lists one level below `prefix` (which ends in `/` or is empty), Vault style: child keys
    /// by name and child folders as `name/`, sorted, without duplicates.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;

    /// Applies every op or none. A failed condition yields `ConditionFailed`.
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError>;

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.write(vec![WriteOp::put(key, value)]).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.write(vec![WriteOp::delete(key)]).await
    }

    /// Every key that begins with `prefix` (empty or ending in `/`), at any depth, sorted.
    /// A scan for the control plane (counting, deleting a store), never on a request path: the
    /// default walks the tree with one `list` per folder.
    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::new();
        let mut folders = vec![prefix.to_string()];
        while let Some(folder) = folders.pop() {
            for child in self.list(&folder).await? {
                let full = format!("{folder}{child}");
                if child.ends_with('/') {
                    folders.push(full);
                } else {
                    keys.push(full);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Removes every item below `prefix` (ending in `/`), including whatever the backend keeps
    /// to make keys listable (DynamoDB's folder items), and returns how many keys it removed.
    /// Not atomic, but idempotent: after a failure, run it again. Only for a keyspace that is
    /// gone for good (a deleted store), since other processes may still remember its folders.
    async fn purge(&self, prefix: &str) -> Result<usize, StorageError> {
        let keys = self.keys_under(prefix).await?;
        for chunk in keys.chunks(PURGE_BATCH) {
            self.write(chunk.iter().map(WriteOp::delete).collect())
                .await?;
        }
        Ok(keys.len())
    }
}

/// Deletes per atomic batch in the default `purge`: DynamoDB's transaction limit.
const PURGE_BATCH: usize = 100;

/// Vault's one-level listing over a sorted sequence of keys that all start with `prefix`.
pub(crate) fn list_one_level<'a>(prefix: &str, keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        let child = match rest.find('/') {
            Some(i) => &rest[..=i],
            None => rest,
        };
        if child.is_empty() {
            continue;
        }
        if out.last().map(String::as_str) != Some(child) {
            out.push(child.to_string());
        }
    }
    out
}

/// Checks a batch's conditions against the current versions (`None` = absent).
pub(crate) fn check_condition(
    key: &str,
    condition: Option<Condition>,
    current: Option<u64>,
) -> Result<(), StorageError> {
    let ok = match (condition, current) {
        (None, _) => true,
        (Some(Condition::Absent), None) => true,
        (Some(Condition::Version(want)), Some(have)) => want == have,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(StorageError::ConditionFailed {
            key: key.to_string(),
        })
    }
}

#[cfg(test)]
pub(crate) mod contract_tests;
