//! `AclCache`: compiled ACLs shared by the requests of every token that holds the same policies.
//!
//! Compiling a token's policies costs time in proportion to their rules (~150 µs for 50
//! policies of 20 paths), and a server sees few distinct policy sets, so an ACL is compiled
//! once per set and shared as an `Arc`. An entry is keyed by the sorted, deduplicated policy
//! names and keeps the very cached policies (the `Arc`s the [`PolicyStore`](super::PolicyStore)
//! served) it was compiled from. It is served only while the policy cache still serves those
//! same `Arc`s for those names: whatever replaces a cached policy (a write or delete through
//! this process, a refresh or re-read that found another version in storage) makes the next
//! request recompile, so an ACL is never older than the policies the store would serve. Holding
//! the `Arc`s also keeps their addresses from being reused while the entry lives.
//!
//! This cache never reads storage; the policy cache decides what is current.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::acl::Acl;
use super::parse::Policy;
use super::store::PolicyEntry;

/// Distinct policy sets kept; past this the cache starts over. A server with more distinct
/// sets than this in use recompiles more often, which is slower but still correct.
const ACL_CACHE_CAPACITY: usize = 4096;

/// A cached policy as the policy cache shares it.
pub(super) type Source = Arc<(PolicyEntry, Policy)>;

struct Compiled {
    sources: Vec<Source>,
    acl: Arc<Acl>,
}

impl Compiled {
    fn compiled_from(&self, sources: &[Source]) -> bool {
        self.sources.len() == sources.len()
            && self
                .sources
                .iter()
                .zip(sources)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

#[derive(Default)]
pub(super) struct AclCache {
    entries: RwLock<HashMap<Vec<String>, Compiled>>,
}

impl AclCache {
    /// The ACL of a token holding `names` (sorted and deduplicated), whose policies the policy
    /// cache serves as `sources` right now: the cached one if it was compiled from exactly
    /// those, else a new one, remembered for the next request.
    pub(super) fn get_or_compile(&self, names: &[String], sources: Vec<Source>) -> Arc<Acl> {
        {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = entries.get(names).filter(|c| c.compiled_from(&sources)) {
                return hit.acl.clone();
            }
        }
        let acl = Arc::new(compile(names, &sources));
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= ACL_CACHE_CAPACITY && !entries.contains_key(names) {
            entries.clear();
        }
        entries.insert(
            names.to_vec(),
            Compiled {
                sources,
                acl: acl.clone(),
            },
        );
        acl
    }

    /// Forgets every compiled ACL (on seal, with the policy cache).
    pub(super) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// `root` is never stored: a token naming it gets the allow-everything ACL.
fn compile(names: &[String], sources: &[Source]) -> Acl {
    let root = names.iter().any(|n| n == "root").then(|| Policy {
        name: "root".into(),
        raw: String::new(),
        paths: Vec::new(),
    });
    Acl::new(sources.iter().map(|s| &s.1).chain(root.as_ref()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::barrier::aead::AesKey;
    use crate::barrier::Barrier;
    use crate::policy::PolicyStore;
    use crate::storage::{with_round_trip_counter, CountingStorage, MemoryStorage, Storage};

    const READ_A: &str = r#"path "secret/a" { capabilities = ["read"] }"#;
    const LIST_A: &str = r#"path "secret/a" { capabilities = ["list"] }"#;
    const READ_B: &str = r#"path "secret/b" { capabilities = ["read"] }"#;

    /// An initialised store, counting round trips, and its root key.
    async fn unsealed_storage() -> (Arc<dyn Storage>, AesKey) {
        let storage: Arc<dyn Storage> =
            Arc::new(CountingStorage::new(Arc::new(MemoryStorage::new())));
        let root_key = AesKey::generate();
        Barrier::new(storage.clone(), "s")
            .initialize(&root_key, vec![])
            .await
            .unwrap();
        (storage, root_key)
    }

    /// One process's view of the store: its own policy and ACL caches.
    async fn store_on((storage, root_key): &(Arc<dyn Storage>, AesKey)) -> PolicyStore {
        let barrier = Arc::new(Barrier::new(storage.clone(), "s"));
        barrier.unseal(root_key).await.unwrap();
        PolicyStore::new(barrier)
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[tokio::test]
    async fn one_policy_set_gets_the_same_compiled_acl_without_a_round_trip() {
        let storage = unsealed_storage().await;
        let store = store_on(&storage).await;
        store.write("a", READ_A).await.unwrap();
        let first = store.acl(&names(&["a", "default"])).await.unwrap();
        let (again, round_trips) =
            with_round_trip_counter(store.acl(&names(&["a", "default"]))).await;
        assert!(Arc::ptr_eq(&first, &again.unwrap()));
        assert_eq!(round_trips, 0);
    }

    #[tokio::test]
    async fn names_in_another_order_or_repeated_share_one_acl() {
        let storage = unsealed_storage().await;
        let store = store_on(&storage).await;
        store.write("a", READ_A).await.unwrap();
        store.write("b", READ_B).await.unwrap();
        let sorted = store.acl(&names(&["a", "b"])).await.unwrap();
        let shuffled = store.acl(&names(&["b", "a", "b"])).await.unwrap();
        assert!(Arc::ptr_eq(&sorted, &shuffled));
    }

    #[tokio::test]
    async fn different_policy_sets_do_not_share_an_acl() {
        let storage = unsealed_storage().await;
        let store = store_on(&storage).await;
        store.write("a", READ_A).await.unwrap();
        store.write("b", READ_B).await.unwrap();
        let a = store.acl(&names(&["a"])).await.unwrap();
        let b = store.acl(&names(&["b"])).await.unwrap();
        let both = store.acl(&names(&["a", "b"])).await.unwrap();
        assert_eq!(a.capabilities("secret/a"), ["read"]);
        assert_eq!(a.capabilities("secret/b"), ["deny"]);
        assert_eq!(b.capabilities("secret/a"), ["deny"]);
        assert_eq!(both.capabilities("secret/a"), ["read"]);
        assert_eq!(both.capabilities("secret/b"), ["read"]);
    }

    #[tokio::test]
    async fn a_policy_written_through_the_store_is_in_the_next_acl() {
        let storage = unsealed_storage().await;
        let store = store_on(&storage).await;
        store.write("a", READ_A).await.unwrap();
        let before = store.acl(&names(&["a"])).await.unwrap();
        store.write("a", LIST_A).await.unwrap();
        let after = store.acl(&names(&["a"])).await.unwrap();
        assert_eq!(before.capabilities("secret/a"), ["read"]);
        assert_eq!(after.capabilities("secret/a"), ["list"]);
    }

    #[tokio::test]
    async fn a_policy_deleted_through_the_store_leaves_the_next_acl() {
        let storage = unsealed_storage().await;
        let store = store_on(&storage).await;
        store.write("a", READ_A).await.unwrap();
        assert_eq!(
            store
                .acl(&names(&["a"]))
                .await
                .unwrap()
                .capabilities("secret/a"),
            ["read"]
        );
        store.delete("a").await.unwrap();
        assert_eq!(
            store
                .acl(&names(&["a"]))
                .await
                .unwrap()
                .capabilities("secret/a"),
            ["deny"]
        );
    }

    #[tokio::test]
    async fn a_new_version_read_from_storage_is_in_the_next_acl() {
        let storage = unsealed_storage().await;
        let here = store_on(&storage).await;
        let elsewhere = store_on(&storage).await;
        here.write("a", READ_A).await.unwrap();
        let before = here.acl(&names(&["a"])).await.unwrap();
        elsewhere.write("a", LIST_A).await.unwrap();
        // What a refresh or a stale entry does: the policy cache re-reads the policy.
        here.read("a").await.unwrap();
        let after = here.acl(&names(&["a"])).await.unwrap();
        assert_eq!(before.capabilities("secret/a"), ["read"]);
        assert_eq!(after.capabilities("secret/a"), ["list"]);
    }

    #[tokio::test]
    async fn an_unchanged_policy_read_again_keeps_the_compiled_acl() {
        let storage = unsealed_storage().await;
        let store = store_on(&storage).await;
        store.write("a", READ_A).await.unwrap();
        let before = store.acl(&names(&["a", "default"])).await.unwrap();
        store.read("a").await.unwrap();
        store.read("default").await.unwrap();
        let after = store.acl(&names(&["a", "default"])).await.unwrap();
        assert!(Arc::ptr_eq(&before, &after));
    }

    #[tokio::test]
    async fn a_token_naming_root_gets_the_root_acl() {
        let storage = unsealed_storage().await;
        let store = store_on(&storage).await;
        let acl = store.acl(&names(&["root"])).await.unwrap();
        assert!(acl.is_root());
        assert!(!store.acl(&names(&["default"])).await.unwrap().is_root());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = AclCache::default();
        for i in 0..ACL_CACHE_CAPACITY + 10 {
            cache.get_or_compile(&[format!("p{i}")], Vec::new());
            assert!(cache.len() <= ACL_CACHE_CAPACITY);
        }
        let last = [format!("p{}", ACL_CACHE_CAPACITY + 9)];
        let acl = cache.get_or_compile(&last, Vec::new());
        assert!(Arc::ptr_eq(&acl, &cache.get_or_compile(&last, Vec::new())));
    }
}
