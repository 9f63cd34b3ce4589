//! Plans: the limits a store runs under, as data (the config's `plan` blocks).
//!
//! A plan changes limits only; nothing stored depends on it, so upgrading a store swaps the
//! `Plan` its [`PlanCell`] holds and the next request sees the new limits.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;

/// One plan. `None` means "no limit" for every limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub name: String,
    /// Requests per second per store, in each serving process (token bucket refill rate).
    pub requests_per_second: Option<u64>,
    /// Bucket size: how many requests may arrive at once; defaults to one second's worth.
    pub burst: Option<u64>,
    /// KV secrets (keys of KV v1 and v2 mounts) a store may hold.
    pub max_secrets: Option<u64>,
    /// Bytes of the JSON data of one KV write.
    pub max_secret_size: Option<u64>,
    /// How long audit entries are meant to be kept. Recorded and shown; not enforced yet.
    #[serde(serialize_with = "seconds")]
    pub audit_retention: Option<Duration>,
}

fn seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}

impl Plan {
    /// A plan without limits (tests, and the shape of a plan before any limit is set).
    pub fn unlimited(name: &str) -> Plan {
        Plan {
            name: name.to_string(),
            requests_per_second: None,
            burst: None,
            max_secrets: None,
            max_secret_size: None,
            audit_retention: None,
        }
    }

    /// The bucket size: the burst, else one second's worth of requests.
    pub fn burst_or_rate(&self) -> u64 {
        self.burst.or(self.requests_per_second).unwrap_or(1).max(1)
    }
}

/// The plan a store currently runs under, shared by its rate limiter and its secret quota.
/// A std lock: it is held only to clone an `Arc`, never across an `.await`.
pub struct PlanCell(RwLock<Arc<Plan>>);

impl PlanCell {
    pub fn new(plan: Plan) -> PlanCell {
        PlanCell(RwLock::new(Arc::new(plan)))
    }

    pub fn get(&self) -> Arc<Plan> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, plan: Plan) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(plan);
    }
}
