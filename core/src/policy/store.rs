//! `PolicyStore`: ACL policies in storage (`sys/policy/<name>`), and the per-process cache that
//! keeps them off the request path.
//!
//! A request never reads a policy from storage at steady state: parsed policies are cached by
//! name (also the absence of one, since a token may name a policy written later). This process's
//! own writes update the cache at once. Changes made by *other* processes sharing the store are
//! picked up by age: a cached entry older than [`REFRESH_AFTER`] is served once more while a
//! background task re-reads it, and one older than [`STALE_LIMIT`] is re-read before use. So a
//! policy change reaches every process within `STALE_LIMIT` at worst, and within about
//! `REFRESH_AFTER` while the process is busy. Token revocation is not cached at all.
//!
//! Compiled ACLs are cached too ([`AclCache`]), each tied to the cached policies it was
//! compiled from, so they follow this cache exactly: [`PolicyStore::acl`].
//!
//! `root` is never stored; `default` is stored only once changed, and its built-in text
//! applies until then, so no store needs a migration to have it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::acl::Acl;
use super::acl_cache::AclCache;
use super::parse::{Policy, PolicyError};
use crate::barrier::{Barrier, BarrierError, PlainOp};

/// Where policies live behind the barrier.
pub const POLICY_PREFIX: &str = "sys/policy/";

/// The built-in `default` policy, OpenBao's text.
pub const DEFAULT_POLICY: &str = include_str!("default.hcl");

/// Age after which a cached policy is refreshed in the background on use.
pub const REFRESH_AFTER: Duration = Duration::from_secs(2);
/// Age after which a cached policy is re-read before it is used: the staleness bound.
pub const STALE_LIMIT: Duration = Duration::from_secs(30);

/// The stored form of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyEntry {
    pub name: String,
    pub raw: String,
    pub version: u64,
    pub modified: DateTime<Utc>,
}

impl PolicyEntry {
    pub fn modified_rfc3339(&self) -> String {
        self.modified.to_rfc3339_opts(SecondsFormat::Nanos, true)
    }
}

/// Why a policy change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyStoreError {
    #[error(transparent)]
    Parse(#[from] PolicyError),
    #[error("cannot update {0:?} policy")]
    Immutable(String),
    #[error("cannot delete {0} policy")]
    Undeletable(String),
    #[error(transparent)]
    Barrier(#[from] BarrierError),
}

#[derive(Clone)]
struct Cached {
    /// `None`: no such policy (an absence is cached too).
    policy: Option<Arc<(PolicyEntry, Policy)>>,
    loaded_at: Instant,
}

type Cache = Arc<RwLock<HashMap<String, Cached>>>;

pub struct PolicyStore {
    barrier: Arc<Barrier>,
    cache: Cache,
    acls: AclCache,
}

/// Policy names are case-insensitive, stored lower-case, as OpenBao's.
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

fn path_of(name: &str) -> String {
    format!("{POLICY_PREFIX}{name}")
}

fn builtin_default() -> Arc<(PolicyEntry, Policy)> {
    let policy = Policy::parse("default", DEFAULT_POLICY).expect("the built-in policy parses");
    let entry = PolicyEntry {
        name: "default".into(),
        raw: DEFAULT_POLICY.into(),
        version: 1,
        modified: DateTime::<Utc>::UNIX_EPOCH,
    };
    Arc::new((entry, policy))
}

/// Decodes a stored entry; an unreadable one is treated as absent (and logged) rather than
/// failing every request of every token naming it.
fn decode(name: &str, bytes: Option<&[u8]>) -> Option<Arc<(PolicyEntry, Policy)>> {
    let Some(bytes) = bytes else {
        return (name == "default").then(builtin_default);
    };
    let parsed = serde_json::from_slice::<PolicyEntry>(bytes)
        .ok()
        .and_then(|e| Policy::parse(name, &e.raw).ok().map(|p| (e, p)));
    if parsed.is_none() {
        tracing::error!(policy = name, "stored policy is unreadable; ignoring it");
    }
    parsed.map(Arc::new)
}

impl PolicyStore {
    pub fn new(barrier: Arc<Barrier>) -> Self {
        PolicyStore {
            barrier,
            cache: Arc::default(),
            acls: AclCache::default(),
        }
    }

    /// Forgets every cached policy and compiled ACL (on seal).
    pub fn clear(&self) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.acls.clear();
    }

    /// The ACL of a token holding the policies `names` (`root` among them: allow everything).
    /// The policies come from [`PolicyStore::get_many`], with its staleness bound and round
    /// trips; the compiled ACL is reused while those cached policies are unchanged.
    pub async fn acl(&self, names: &[String]) -> Result<Arc<Acl>, BarrierError> {
        // Token entries hold sanitised (sorted, deduplicated) names; others are sorted here so
        // that one policy set has one cache key.
        let names: Cow<'_, [String]> = if names.windows(2).all(|w| w[0] < w[1]) {
            Cow::Borrowed(names)
        } else {
            let mut sorted = names.to_vec();
            sorted.sort();
            sorted.dedup();
            Cow::Owned(sorted)
        };
        let sources = self.get_many(&names).await?;
        Ok(self.acls.get_or_compile(&names, sources))
    }

    /// The named policies that exist, from the cache when it is fresh enough; at most one
    /// storage round trip for those that are missing or too old. `root` is not looked up.
    pub async fn get_many(
        &self,
        names: &[String],
    ) -> Result<Vec<Arc<(PolicyEntry, Policy)>>, BarrierError> {
        let now = Instant::now();
        let mut found = Vec::with_capacity(names.len());
        let mut missing = Vec::new();
        let mut to_refresh = Vec::new();
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            for name in names.iter().filter(|n| *n != "root") {
                match cache.get(name) {
                    Some(c) if now.duration_since(c.loaded_at) < STALE_LIMIT => {
                        if now.duration_since(c.loaded_at) >= REFRESH_AFTER {
                            to_refresh.push(name.clone());
                        }
                        found.extend(c.policy.clone());
                    }
                    _ => missing.push(name.clone()),
                }
            }
        }
        if !to_refresh.is_empty() {
            self.refresh_in_background(to_refresh);
        }
        if !missing.is_empty() {
            let loaded = load(&self.barrier, &self.cache, &missing).await?;
            found.extend(loaded.into_iter().flatten());
        }
        Ok(found)
    }

    fn refresh_in_background(&self, names: Vec<String>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        {
            // Mark them fresh now so one burst of requests starts one refresh, not many.
            let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
            for name in &names {
                if let Some(c) = cache.get_mut(name) {
                    c.loaded_at = Instant::now() - REFRESH_AFTER / 2;
                }
            }
        }
        let barrier = self.barrier.clone();
        let cache = self.cache.clone();
        runtime.spawn(async move {
            if let Err(e) = load(&barrier, &cache, &names).await {
                tracing::warn!(error = %e, "background policy refresh failed");
            }
        });
    }

    /// One policy, read through to storage (for `sys/policy` reads, which must be exact).
    pub async fn read(
        &self,
        name: &str,
    ) -> Result<Option<Arc<(PolicyEntry, Policy)>>, BarrierError> {
        let names = [name.to_string()];
        Ok(load(&self.barrier, &self.cache, &names)
            .await?
            .pop()
            .flatten())
    }

    /// Names of every policy, `default` and `root` included, sorted.
    pub async fn list(&self) -> Result<Vec<String>, BarrierError> {
        let mut names = self.barrier.list(POLICY_PREFIX).await?;
        names.retain(|n| !n.ends_with('/'));
        names.push("default".into());
        names.push("root".into());
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Parses and stores a policy; the cache of this process is updated at once.
    pub async fn write(&self, name: &str, raw: &str) -> Result<(), PolicyStoreError> {
        if name == "root" {
            return Err(PolicyStoreError::Immutable(name.into()));
        }
        let policy = Policy::parse(name, raw)?;
        let version = self.read(name).await?.map_or(0, |p| p.0.version) + 1;
        let entry = PolicyEntry {
            name: name.into(),
            raw: raw.into(),
            version,
            modified: Utc::now(),
        };
        let bytes = serde_json::to_vec(&entry).expect("policy entry serializes");
        self.barrier
            .write(vec![PlainOp::put(path_of(name), bytes)])
            .await?;
        self.remember(name, Some(Arc::new((entry, policy))));
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<(), PolicyStoreError> {
        match name {
            "root" => return Err(PolicyStoreError::Undeletable("\"root\"".into())),
            "default" => return Err(PolicyStoreError::Undeletable("default".into())),
            _ => {}
        }
        self.barrier.delete(&path_of(name)).await?;
        self.remember(name, None);
        Ok(())
    }

    fn remember(&self, name: &str, policy: Option<Arc<(PolicyEntry, Policy)>>) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                name.to_string(),
                Cached {
                    policy,
                    loaded_at: Instant::now(),
                },
            );
    }
}

/// Reads `names` in one round trip and caches what was read, unless this process changed one
/// of them after the read began (its own write is newer than what storage returned then).
/// A policy read back unchanged keeps its cached `Arc`, so the ACLs compiled from it stay valid.
async fn load(
    barrier: &Barrier,
    cache: &Cache,
    names: &[String],
) -> Result<Vec<Option<Arc<(PolicyEntry, Policy)>>>, BarrierError> {
    let started = Instant::now();
    let paths: Vec<String> = names.iter().map(|n| path_of(n)).collect();
    let plains = barrier.get_many(&paths).await?;
    let mut decoded: Vec<_> = names
        .iter()
        .zip(&plains)
        .map(|(name, plain)| decode(name, plain.as_ref().map(|p| p.value.as_slice())))
        .collect();
    let mut cache = cache.write().unwrap_or_else(|p| p.into_inner());
    for (name, policy) in names.iter().zip(&mut decoded) {
        let cached = cache.get(name);
        let newer_local_write =
            cached.is_some_and(|c| c.loaded_at > started && c.loaded_at <= Instant::now());
        if newer_local_write {
            continue;
        }
        if let Some(same) = cached.filter(|c| same_entry(&c.policy, policy)) {
            *policy = same.policy.clone();
        }
        cache.insert(
            name.clone(),
            Cached {
                policy: policy.clone(),
                loaded_at: Instant::now(),
            },
        );
    }
    Ok(decoded)
}

fn same_entry(
    a: &Option<Arc<(PolicyEntry, Policy)>>,
    b: &Option<Arc<(PolicyEntry, Policy)>>,
) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.0 == b.0,
        _ => false,
    }
}
