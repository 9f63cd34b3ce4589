//! Secrets engines, the storage view each one sees, and the prefetch that keeps a request
//! within its round-trip budget.
//!
//! Routing a request to an engine happens in two steps, so `Store::handle` can read everything
//! the request needs in one storage round trip: [`prefetch_paths`] names the view keys the
//! engine will read first (without reading anything), the store fetches them together with the
//! token entry in one `Barrier::get_many`, checks the token and the policy, and only then hands
//! the fetched values to the engine inside its [`View`]. A value fetched for a request that is
//! then refused is dropped unread.

pub mod kv;
mod prefetch;

pub use prefetch::Prefetched;

use std::collections::HashMap;
use std::sync::Mutex;

use crate::barrier::{Barrier, BarrierError, Plain, PlainOp};
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::mounts::MountEntry;

/// Which engine serves a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    KvV1,
    KvV2,
    /// Per-token private storage: KV v1 semantics in a view of the token's own.
    Cubbyhole,
}

impl Engine {
    pub fn of(mount: &MountEntry) -> Option<Engine> {
        if mount.kind == "cubbyhole" {
            return Some(Engine::Cubbyhole);
        }
        match mount.kv_version() {
            Some(1) => Some(Engine::KvV1),
            Some(2) => Some(Engine::KvV2),
            _ => None,
        }
    }
}

/// The barrier prefix of the view `engine` serves a request in: the mount's own, and for the
/// cubbyhole a folder of it per token (named by the token's salted hash, never the token), so
/// one token can never reach another's cubbyhole.
pub fn view_prefix(engine: Engine, mount: &MountEntry, token_hash: &str) -> String {
    match engine {
        Engine::Cubbyhole => format!("{}{token_hash}/", mount.storage_prefix()),
        Engine::KvV1 | Engine::KvV2 => mount.storage_prefix(),
    }
}

/// The view keys `engine` will read first when serving `req` at `rel` (relative to the mount).
/// Reads nothing; a wrong guess costs only an extra round trip later.
pub fn prefetch_paths(engine: Engine, req: &Request, rel: &str) -> Vec<String> {
    match engine {
        Engine::KvV1 => kv::v1::prefetch_paths(req, rel),
        Engine::KvV2 => kv::v2::prefetch_paths(req, rel),
        // Its view depends on the token, which is not validated yet at prefetch time.
        Engine::Cubbyhole => Vec::new(),
    }
}

/// Serves an authorised request whose path is relative to the mount.
/// Whether the target of a write to `rel` exists, for policies that grant only one of
/// `create` and `update`. Served from the prefetch when the engine named the key.
pub async fn target_exists(engine: Engine, view: &View<'_>, rel: &str) -> Result<bool, ApiError> {
    let key = match engine {
        Engine::KvV2 => match kv::v2::existence_key(rel) {
            Some(key) => key,
            None => return Ok(true),
        },
        Engine::KvV1 | Engine::Cubbyhole => rel.to_string(),
    };
    Ok(view.peek(&key).await?)
}

pub async fn handle(
    engine: Engine,
    view: &View<'_>,
    req: &Request,
    rel: &str,
) -> Result<Response, ApiError> {
    match engine {
        Engine::KvV1 => kv::v1::handle(view, req, rel, kv::v1::Leases::Reported).await,
        Engine::KvV2 => kv::v2::handle(view, req, rel).await,
        Engine::Cubbyhole => kv::v1::handle(view, req, rel, kv::v1::Leases::None).await,
    }
}

/// A mount's window onto the barrier: every path is relative to `logical/<uuid>/`, so an engine
/// can neither name nor reach another mount's keys (a `..` segment is just a name here).
///
/// It may carry values the store prefetched for this request. Each is served at most once and
/// is forgotten as soon as the engine writes that path, so a read-modify-write retry after a
/// failed conditional write always reads storage again, never a stale prefetched value.
pub struct View<'a> {
    barrier: &'a Barrier,
    prefix: String,
    prefetched: Mutex<HashMap<String, Option<Plain>>>,
}

impl<'a> View<'a> {
    pub fn new(barrier: &'a Barrier, prefix: String) -> Self {
        Self {
            barrier,
            prefix,
            prefetched: Mutex::new(HashMap::new()),
        }
    }

    /// Hands the view values already read for it; paths are relative to the view.
    pub fn with_prefetched(
        self,
        values: impl IntoIterator<Item = (String, Option<Plain>)>,
    ) -> Self {
        self.cache().extend(values);
        self
    }

    /// The barrier path of a view path.
    pub fn full(&self, path: &str) -> String {
        format!("{}{}", self.prefix, path)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Plain>>> {
        self.prefetched.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn get(&self, path: &str) -> Result<Option<Plain>, BarrierError> {
        if let Some(hit) = self.cache().remove(path) {
            return Ok(hit);
        }
        self.barrier.get(&self.full(path)).await
    }

    /// Whether `path` holds a value, without using up the prefetched value: a value read
    /// here is kept for the engine's own `get`, so asking costs no extra round trip.
    pub async fn peek(&self, path: &str) -> Result<bool, BarrierError> {
        if let Some(hit) = self.cache().get(path) {
            return Ok(hit.is_some());
        }
        let value = self.barrier.get(&self.full(path)).await?;
        let exists = value.is_some();
        self.cache().insert(path.to_string(), value);
        Ok(exists)
    }

    /// Several paths; the ones not prefetched are read in one round trip.
    pub async fn get_many(&self, paths: &[String]) -> Result<Vec<Option<Plain>>, BarrierError> {
        let mut out: Vec<Option<Option<Plain>>> = {
            let mut cache = self.cache();
            paths.iter().map(|p| cache.remove(p)).collect()
        };
        let missing: Vec<String> = paths
            .iter()
            .zip(&out)
            .filter(|(_, hit)| hit.is_none())
            .map(|(p, _)| self.full(p))
            .collect();
        let mut fetched = self.barrier.get_many(&missing).await?.into_iter();
        for slot in out.iter_mut().filter(|s| s.is_none()) {
            *slot = Some(fetched.next().flatten());
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.barrier.list(&self.full(prefix)).await
    }

    /// Applies the ops atomically; their paths are relative to the view.
    pub async fn write(&self, ops: Vec<PlainOp>) -> Result<(), BarrierError> {
        let ops: Vec<PlainOp> = {
            let mut cache = self.cache();
            ops.into_iter()
                .map(|op| match op {
                    PlainOp::Put {
                        path,
                        value,
                        condition,
                    } => {
                        cache.remove(&path);
                        PlainOp::Put {
                            path: self.full(&path),
                            value,
                            condition,
                        }
                    }
                    PlainOp::Delete { path, condition } => {
                        cache.remove(&path);
                        PlainOp::Delete {
                            path: self.full(&path),
                            condition,
                        }
                    }
                })
                .collect()
        };
        self.barrier.write(ops).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::aead::AesKey;
    use crate::storage::{with_round_trip_counter, CountingStorage, MemoryStorage};
    use std::sync::Arc;

    async fn barrier() -> Barrier {
        let storage = Arc::new(CountingStorage::new(Arc::new(MemoryStorage::new())));
        let barrier = Barrier::new(storage, "s");
        barrier
            .initialize(&AesKey::generate(), vec![])
            .await
            .unwrap();
        barrier
    }

    #[tokio::test]
    async fn a_prefetched_value_is_served_once_without_a_round_trip() {
        let barrier = barrier().await;
        barrier.put("p/k", b"stored").await.unwrap();
        let fetched = barrier.get_many(&["p/k".into()]).await.unwrap();
        let view = View::new(&barrier, "p/".into())
            .with_prefetched([("k".to_string(), fetched[0].clone())]);
        let (value, trips) = with_round_trip_counter(view.get("k")).await;
        assert_eq!(value.unwrap().unwrap().value, b"stored");
        assert_eq!(trips, 0);
        let (_, trips) = with_round_trip_counter(view.get("k")).await;
        assert_eq!(trips, 1, "a second read goes to storage");
    }

    #[tokio::test]
    async fn a_write_forgets_the_prefetched_value() {
        let barrier = barrier().await;
        let view = View::new(&barrier, "p/".into()).with_prefetched([("k".to_string(), None)]);
        view.write(vec![PlainOp::put("k", b"new".to_vec())])
            .await
            .unwrap();
        assert_eq!(view.get("k").await.unwrap().unwrap().value, b"new");
    }

    #[tokio::test]
    async fn get_many_mixes_prefetched_and_stored_values_in_order() {
        let barrier = barrier().await;
        barrier.put("p/a", b"a").await.unwrap();
        barrier.put("p/b", b"b").await.unwrap();
        let view = View::new(&barrier, "p/".into()).with_prefetched([("c".to_string(), None)]);
        let (values, trips) =
            with_round_trip_counter(view.get_many(&["a".into(), "c".into(), "b".into()])).await;
        let values: Vec<Option<Vec<u8>>> = values
            .unwrap()
            .into_iter()
            .map(|v| v.map(|p| p.value))
            .collect();
        assert_eq!(values, vec![Some(b"a".to_vec()), None, Some(b"b".to_vec())]);
        assert_eq!(trips, 1);
    }
}
