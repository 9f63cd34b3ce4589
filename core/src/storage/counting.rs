//! Round-trip accounting: the project's headline figure.
//!
//! `CountingStorage` wraps any backend and counts every call that reaches it, both in a process
//! total (a metric) and in a per-request counter that the HTTP layer scopes with
//! `with_round_trip_counter` and reports in the `X-Coffer-Storage-Round-Trips` header. A
//! task-local keeps the count out of every function signature; calls made outside a scope
//! (start-up, background tasks) count only in the total.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::{Entry, Storage, StorageError, WriteOp};

tokio::task_local! {
    static REQUEST_ROUND_TRIPS: Arc<AtomicU64>;
}

/// Runs `fut` with a fresh per-request round-trip counter; returns its output and the count.
pub async fn with_round_trip_counter<F: Future>(fut: F) -> (F::Output, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let out = REQUEST_ROUND_TRIPS.scope(counter.clone(), fut).await;
    (out, counter.load(Ordering::Relaxed))
}

/// The count so far in the current request scope, if any.
pub fn round_trips_in_scope() -> Option<u64> {
    REQUEST_ROUND_TRIPS
        .try_with(|c| c.load(Ordering::Relaxed))
        .ok()
}

pub struct CountingStorage {
    inner: Arc<dyn Storage>,
    total: AtomicU64,
}

impl CountingStorage {
    pub fn new(inner: Arc<dyn Storage>) -> Self {
        Self {
            inner,
            total: AtomicU64::new(0),
        }
    }

    /// Round trips since the process started.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let _ = REQUEST_ROUND_TRIPS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
    }
}

#[async_trait]
impl Storage for CountingStorage {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StorageError> {
        self.count();
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, StorageError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.count();
        self.inner.get_many(keys).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.count();
        self.inner.list(prefix).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.count();
        self.inner.write(ops).await
    }

    // Scans are not request round trips; they go straight to the backend's own (possibly
    // better than the default) implementation.
    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.keys_under(prefix).await
    }

    async fn purge(&self, prefix: &str) -> Result<usize, StorageError> {
        self.inner.purge(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[tokio::test]
    async fn counting_storage_counts_each_call_in_the_request_scope() {
        let storage = CountingStorage::new(Arc::new(MemoryStorage::new()));
        storage.put("k", b"v".to_vec()).await.unwrap();
        let ((), n) = with_round_trip_counter(async {
            storage.get("k").await.unwrap();
            storage.get_many(&["k".into(), "x".into()]).await.unwrap();
        })
        .await;
        assert_eq!(n, 2);
        assert_eq!(storage.total(), 3);
    }
}
