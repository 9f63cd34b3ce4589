//! A negative cache: store ids recently found to name no active store.
//!
//! Without it every request to a well-formed but unknown id (a deleted store, a typo, a
//! scanner) costs a storage read of its record. An entry lives [`UNKNOWN_TTL`], so a store
//! created by another process is served here at most that late; a store created by this
//! process is removed from the cache at once. The cache holds at most [`UNKNOWN_CAPACITY`]
//! ids: when full, expired ones are dropped, and if none has expired the new id is not
//! remembered (a flood of random ids costs what it cost before, and never memory).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an id is known to be unknown; the staleness bound for stores made elsewhere.
pub const UNKNOWN_TTL: Duration = Duration::from_secs(2);
/// At most this many ids are remembered.
pub const UNKNOWN_CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct UnknownStores {
    /// id -> when it was found unknown. A std lock: held for a map operation, never across
    /// an `.await`.
    ids: Mutex<HashMap<String, Instant>>,
}

impl UnknownStores {
    /// Whether `id` was found unknown less than [`UNKNOWN_TTL`] before `now`.
    pub fn contains(&self, id: &str, now: Instant) -> bool {
        let ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.get(id)
            .is_some_and(|seen| now.saturating_duration_since(*seen) < UNKNOWN_TTL)
    }

    pub fn insert(&self, id: &str, now: Instant) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.len() >= UNKNOWN_CAPACITY && !ids.contains_key(id) {
            ids.retain(|_, seen| now.saturating_duration_since(*seen) < UNKNOWN_TTL);
            if ids.len() >= UNKNOWN_CAPACITY {
                return;
            }
        }
        ids.insert(id.to_string(), now);
    }

    /// The store now exists (created by this process).
    pub fn remove(&self, id: &str) {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_id_is_remembered_for_the_ttl_only() {
        let cache = UnknownStores::default();
        let t0 = Instant::now();
        cache.insert("abc", t0);
        assert!(cache.contains("abc", t0 + UNKNOWN_TTL - Duration::from_millis(1)));
        assert!(!cache.contains("abc", t0 + UNKNOWN_TTL));
        assert!(!cache.contains("other", t0));
        cache.remove("abc");
        assert!(!cache.contains("abc", t0));
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = UnknownStores::default();
        let t0 = Instant::now();
        for i in 0..UNKNOWN_CAPACITY + 10 {
            cache.insert(&format!("id{i}"), t0);
        }
        assert_eq!(cache.remembered(), UNKNOWN_CAPACITY);
        // Full of live entries: a new id is simply not remembered.
        assert!(!cache.contains(&format!("id{}", UNKNOWN_CAPACITY + 5), t0));
        // Once they expired, a new id makes room by dropping them.
        let later = t0 + UNKNOWN_TTL;
        cache.insert("fresh", later);
        assert_eq!(cache.remembered(), 1);
        assert!(cache.contains("fresh", later));
    }
}
