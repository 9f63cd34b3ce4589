//! The store registry: which stores exist, and the `Store` of each one this process serves.
//!
//! The truth is the store records in storage (`record`); this process keeps a cache of the
//! stores it has served (their unsealed keys, mount tables, rate limiters). A cached entry is
//! re-read from its record in the background at most every [`RECORD_REFRESH`], so a plan
//! change or a delete made by another process applies here within that bound, while a request
//! never waits for the re-read (the request path stays at its round-trip budget). Ids found
//! to name no active store are remembered briefly (`unknown`), so repeated requests for them
//! cost no storage read either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use crate::audit::{AuditBroker, AuditPolicy};
use crate::config::ControlPlaneConfig;
use crate::http::error::ApiError;
use crate::seal::{InitParams, Protector, SealSetup};
use crate::storage::{Condition, Storage, StorageError};
use crate::store::{kv_v2_mount, InitResult, Store};

use super::audit_dirs::AuditDirs;
use super::bucket::{RateMeter, TokenBucket};
use super::host::{is_valid_store_id, new_store_id, store_id_from_host};
use super::plan::{Plan, PlanCell};
use super::quota::{read_count, SecretQuota};
use super::record::{self, Lifecycle, StoreRecord};
use super::unknown::UnknownStores;

/// How stale a cached store's record (plan, existence) may get in a process that did not make
/// the change.
pub const RECORD_REFRESH: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("no store {0:?}")]
    NotFound(String),
    #[error("no plan {0:?}; plans: {1}")]
    UnknownPlan(String, String),
    #[error("deleting a store is irreversible: confirm with the store id")]
    NotConfirmed,
    #[error("{0}")]
    Invalid(String),
    #[error("store initialisation failed: {0}")]
    Init(ApiError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One store served by this process.
struct Tenant {
    store: Arc<Store>,
    record: RwLock<StoreRecord>,
    plan: Arc<PlanCell>,
    traffic: Mutex<Traffic>,
}

struct Traffic {
    bucket: TokenBucket,
    meter: RateMeter,
    checked: Instant,
}

/// What `create` hands back, once: nothing of it but the record is kept anywhere.
pub struct Created {
    pub record: StoreRecord,
    pub endpoint: String,
    pub init: InitResult,
    pub threshold: u32,
}

/// A store as `list`/`show` report it.
#[derive(Debug, Clone, Serialize)]
pub struct StoreSummary {
    pub id: String,
    pub endpoint: String,
    pub plan: Plan,
    pub created: chrono::DateTime<Utc>,
    pub seal_type: String,
    pub state: Lifecycle,
    /// As seen by this process (a Shamir store is sealed in every process not given its keys).
    pub sealed: bool,
    pub secret_count: u64,
    /// Requests this process served for the store in the last complete second.
    pub request_rate: u64,
}

pub struct Registry {
    storage: Arc<dyn Storage>,
    config: ControlPlaneConfig,
    seal: SealSetup,
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    unknown: UnknownStores,
    /// `audit_dir`: where the service keeps every store's audit trail.
    audit: Option<AuditDirs>,
}

impl Registry {
    pub fn new(storage: Arc<dyn Storage>, config: ControlPlaneConfig, seal: SealSetup) -> Self {
        Registry {
            audit: config.audit_dir.clone().map(AuditDirs::new),
            storage,
            config,
            seal,
            tenants: RwLock::new(HashMap::new()),
            unknown: UnknownStores::default(),
        }
    }

    /// The storage backend's name (`inmem`, `embedded`, `dynamodb`), for logs.
    pub fn storage_kind(&self) -> &'static str {
        self.storage.kind()
    }

    pub fn config(&self) -> &ControlPlaneConfig {
        &self.config
    }

    pub fn endpoint(&self, id: &str) -> String {
        self.config.endpoint_of(id)
    }

    fn cached(&self, id: &str) -> Option<Arc<Tenant>> {
        self.tenants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn plan_named(&self, name: &str) -> Plan {
        self.config.plan(name).cloned().unwrap_or_else(|| {
            tracing::warn!(
                plan = name,
                "store record names an unknown plan; using the default plan"
            );
            self.config.default_plan().clone()
        })
    }

    fn build(&self, record: StoreRecord) -> Arc<Tenant> {
        let plan = Arc::new(PlanCell::new(self.plan_named(&record.plan)));
        // Without an audit_dir tenants get no file audit devices: a store's root token must not
        // be able to make the server write files. With one, the store's trail is kept there
        // and the tenant's own file devices are confined to the store's directory.
        let audit = match &self.audit {
            Some(dirs) => dirs.broker(&record.id),
            None => AuditBroker::new(AuditPolicy::default(), Vec::new()),
        };
        let store = Store::new(self.storage.clone(), &record.id)
            .with_seal(self.seal.clone())
            .with_audit(audit)
            .with_quota(SecretQuota::new(
                self.storage.clone(),
                &record.id,
                plan.clone(),
            ));
        let now = Instant::now();
        let burst = plan.get().burst_or_rate();
        Arc::new(Tenant {
            store: Arc::new(store),
            record: RwLock::new(record),
            plan,
            traffic: Mutex::new(Traffic {
                bucket: TokenBucket::new(now, burst),
                meter: RateMeter::new(now),
                checked: now,
            }),
        })
    }

    /// The tenant of an active store, from the cache or its record (one round trip; none for
    /// an id found unknown within [`super::unknown::UNKNOWN_TTL`]).
    async fn tenant(&self, id: &str) -> Result<Option<Arc<Tenant>>, StorageError> {
        if let Some(t) = self.cached(id) {
            return Ok(Some(t));
        }
        if self.unknown.contains(id, Instant::now()) {
            return Ok(None);
        }
        let record = match record::load(self.storage.as_ref(), id).await? {
            Some((record, _)) if record.state == Lifecycle::Active => record,
            _ => {
                self.unknown.insert(id, Instant::now());
                return Ok(None);
            }
        };
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        let tenant = tenants
            .entry(id.to_string())
            .or_insert_with(|| self.build(record));
        Ok(Some(tenant.clone()))
    }

    /// The store a request with this `Host` is for, after its plan's rate limit.
    pub async fn resolve(self: &Arc<Self>, host: Option<&str>) -> Result<Arc<Store>, ApiError> {
        let unknown = || {
            let mut shown = host.unwrap_or("").to_string();
            shown.truncate(255);
            ApiError::UnknownStore(shown)
        };
        let id = host
            .and_then(|h| store_id_from_host(h, &self.config.base_domain))
            .ok_or_else(unknown)?;
        let tenant = self.tenant(&id).await?.ok_or_else(unknown)?;
        let now = Instant::now();
        let plan = tenant.plan.get();
        let (admitted, refresh) = {
            let mut traffic = tenant.traffic.lock().unwrap_or_else(|p| p.into_inner());
            traffic.meter.record(now);
            let refresh = now.saturating_duration_since(traffic.checked) >= RECORD_REFRESH;
            if refresh {
                traffic.checked = now;
            }
            let admitted = match plan.requests_per_second {
                Some(rate) => traffic.bucket.try_take(now, rate, plan.burst_or_rate()),
                None => true,
            };
            (admitted, refresh)
        };
        if refresh {
            let registry = self.clone();
            tokio::spawn(async move { registry.refresh(&id).await });
        }
        if !admitted {
            return Err(ApiError::LimitExceeded(format!(
                "rate limit exceeded for store {}: plan {:?} allows {} requests per second",
                tenant.record.read().unwrap_or_else(|p| p.into_inner()).id,
                plan.name,
                plan.requests_per_second.unwrap_or(0)
            )));
        }
        Ok(tenant.store.clone())
    }

    /// Re-reads a cached store's record: a new plan applies, a deleted store is dropped (and
    /// its keys with it).
    async fn refresh(&self, id: &str) {
        match record::load(self.storage.as_ref(), id).await {
            Ok(Some((record, _))) if record.state == Lifecycle::Active => {
                if let Some(tenant) = self.cached(id) {
                    tenant.plan.set(self.plan_named(&record.plan));
                    *tenant.record.write().unwrap_or_else(|p| p.into_inner()) = record;
                }
            }
            Ok(_) => self.evict(id),
            Err(e) => tracing::warn!(store = id, error = %e, "store record not refreshed"),
        }
    }

    fn evict(&self, id: &str) {
        let removed = self
            .tenants
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(tenant) = removed {
            tenant.store.seal();
        }
    }

    /// Provisions and initialises a store. The root token and the unseal (or recovery) keys
    /// are in the result only; the store stays unsealed in this process.
    pub async fn create(
        &self,
        plan: Option<&str>,
        shares: Option<u32>,
        threshold: Option<u32>,
    ) -> Result<Created, TenancyError> {
        self.create_as(new_store_id(), plan, shares, threshold)
            .await
    }

    /// `create` with a given id (tests choose it, to probe the id before it exists).
    pub(super) async fn create_as(
        &self,
        id: String,
        plan: Option<&str>,
        shares: Option<u32>,
        threshold: Option<u32>,
    ) -> Result<Created, TenancyError> {
        let plan = match plan {
            Some(name) => self.known_plan(name)?.clone(),
            None => self.config.default_plan().clone(),
        };
        let shares = shares.unwrap_or(self.config.key_shares);
        let threshold = threshold.unwrap_or(self.config.key_threshold);
        let mut record = StoreRecord {
            id,
            plan: plan.name.clone(),
            created: Utc::now(),
            seal: self.seal.active.kind().to_string(),
            state: Lifecycle::Provisioning,
        };
        record::save(self.storage.as_ref(), &record, Condition::Absent).await?;
        let params = match self.seal.active {
            Protector::Shamir => InitParams::shamir(shares, threshold),
            Protector::Auto(_) => InitParams {
                recovery_shares: shares,
                recovery_threshold: threshold,
                ..Default::default()
            },
        };
        let tenant = self.build(record.clone());
        let init = match tenant
            .store
            .initialize(params, None, vec![kv_v2_mount("secret")], true)
            .await
        {
            Ok(init) => init,
            Err(e) => {
                self.storage.purge(&format!("{}/", record.id)).await?;
                self.storage.delete(&record::record_key(&record.id)).await?;
                self.remove_audit_trail(&record.id);
                return Err(TenancyError::Init(e));
            }
        };
        let (_, version) = record::load(self.storage.as_ref(), &record.id)
            .await?
            .ok_or_else(|| TenancyError::NotFound(record.id.clone()))?;
        record.state = Lifecycle::Active;
        record::save(self.storage.as_ref(), &record, Condition::Version(version)).await?;
        *tenant.record.write().unwrap_or_else(|p| p.into_inner()) = record.clone();
        self.tenants
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(record.id.clone(), tenant);
        self.unknown.remove(&record.id);
        tracing::info!(store = %record.id, plan = %record.plan, "store created");
        Ok(Created {
            endpoint: self.endpoint(&record.id),
            record,
            init,
            threshold,
        })
    }

    fn known_plan(&self, name: &str) -> Result<&Plan, TenancyError> {
        self.config.plan(name).ok_or_else(|| {
            let names: Vec<&str> = self.config.plans.iter().map(|p| p.name.as_str()).collect();
            TenancyError::UnknownPlan(name.to_string(), names.join(", "))
        })
    }

    async fn active_record(&self, id: &str) -> Result<(StoreRecord, u64), TenancyError> {
        if !is_valid_store_id(id) {
            return Err(TenancyError::NotFound(id.to_string()));
        }
        match record::load(self.storage.as_ref(), id).await? {
            Some((record, version)) if record.state == Lifecycle::Active => Ok((record, version)),
            _ => Err(TenancyError::NotFound(id.to_string())),
        }
    }

    /// Moves a store to another plan: its record only; secrets are untouched and the store
    /// keeps serving (here at once, elsewhere within [`RECORD_REFRESH`]).
    pub async fn change_plan(&self, id: &str, plan: &str) -> Result<StoreSummary, TenancyError> {
        let plan = self.known_plan(plan)?.clone();
        loop {
            let (mut record, version) = self.active_record(id).await?;
            record.plan = plan.name.clone();
            match record::save(self.storage.as_ref(), &record, Condition::Version(version)).await {
                Ok(()) => break,
                Err(StorageError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(tenant) = self.cached(id) {
            tenant.plan.set(plan.clone());
            tenant
                .record
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .plan = plan.name.clone();
        }
        // A shorter retention applies at once, not at the next pruning round.
        self.prune_audit_trail(id, &plan);
        tracing::info!(store = id, plan = %plan.name, "store plan changed");
        self.show(id).await
    }

    /// Deletes a store for good: every item of its keyspace, then its record. `confirm` must
    /// be the store id. Returns how many keys were removed.
    pub async fn delete(&self, id: &str, confirm: &str) -> Result<usize, TenancyError> {
        if !is_valid_store_id(id) {
            return Err(TenancyError::NotFound(id.to_string()));
        }
        if confirm != id {
            return Err(TenancyError::NotConfirmed);
        }
        let Some((mut record, version)) = record::load(self.storage.as_ref(), id).await? else {
            return Err(TenancyError::NotFound(id.to_string()));
        };
        if record.state != Lifecycle::Deleting {
            record.state = Lifecycle::Deleting;
            record::save(self.storage.as_ref(), &record, Condition::Version(version)).await?;
        }
        self.evict(id);
        let removed = self.storage.purge(&format!("{id}/")).await?;
        self.remove_audit_trail(id);
        self.storage.delete(&record::record_key(id)).await?;
        tracing::info!(store = id, keys = removed, "store deleted");
        Ok(removed)
    }

    pub async fn show(&self, id: &str) -> Result<StoreSummary, TenancyError> {
        let (record, _) = self.active_record(id).await?;
        self.summary(record).await
    }

    pub async fn list(&self) -> Result<Vec<StoreSummary>, TenancyError> {
        let mut out = Vec::new();
        for record in record::list(self.storage.as_ref()).await? {
            if record.state == Lifecycle::Active {
                out.push(self.summary(record).await?);
            }
        }
        Ok(out)
    }

    async fn summary(&self, record: StoreRecord) -> Result<StoreSummary, TenancyError> {
        let (secret_count, _) = read_count(self.storage.as_ref(), &record.id).await?;
        let (sealed, request_rate) = match self.cached(&record.id) {
            Some(tenant) => {
                let mut traffic = tenant.traffic.lock().unwrap_or_else(|p| p.into_inner());
                (
                    tenant.store.barrier.is_sealed(),
                    traffic.meter.per_second(Instant::now()),
                )
            }
            None => (true, 0),
        };
        Ok(StoreSummary {
            endpoint: self.endpoint(&record.id),
            plan: self.plan_named(&record.plan),
            id: record.id,
            created: record.created,
            seal_type: record.seal,
            state: record.state,
            sealed,
            secret_count,
            request_rate,
        })
    }
}

/// The service-kept audit trails (`audit_dir`): retention and removal.
impl Registry {
    fn prune_audit_trail(&self, id: &str, plan: &Plan) {
        let Some(dirs) = &self.audit else { return };
        match dirs.prune(id, plan.audit_retention) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                store = id,
                segments = n,
                "audit segments past retention removed"
            ),
            Err(e) => tracing::error!(store = id, error = %e, "pruning the audit trail failed"),
        }
    }

    fn remove_audit_trail(&self, id: &str) {
        if let Some(dirs) = &self.audit {
            if let Err(e) = dirs.remove(id) {
                tracing::error!(store = id, error = %e, "removing the audit trail failed");
            }
        }
    }

    /// One pruning round over `audit_dir`: each store's segments past its plan's retention go;
    /// the directory of a store that no longer exists (deleted by another process of this
    /// host, or during a crash) goes entirely. One record read per store directory, off the
    /// request path.
    pub async fn prune_audit_trails(&self) {
        let Some(dirs) = &self.audit else { return };
        let ids = match dirs.store_ids() {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(dir = %dirs.root().display(), error = %e, "audit_dir not readable");
                return;
            }
        };
        for id in ids {
            match record::load(self.storage.as_ref(), &id).await {
                Ok(Some((record, _))) if record.state != Lifecycle::Deleting => {
                    self.prune_audit_trail(&id, &self.plan_named(&record.plan));
                }
                // The record is written before the directory and deleted after it, so no
                // record (or a store being deleted) means the trail's store is gone.
                Ok(_) => self.remove_audit_trail(&id),
                Err(e) => tracing::warn!(store = %id, error = %e, "audit trail not pruned"),
            }
        }
    }

    /// Runs [`Registry::prune_audit_trails`] now and then every `audit_prune_interval`, for the
    /// life of the process (long-running servers; a Lambda function has no idle time for it).
    pub fn spawn_audit_pruner(self: &Arc<Self>) {
        if self.audit.is_none() {
            return;
        }
        let registry = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(registry.config.audit_prune_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                registry.prune_audit_trails().await;
            }
        });
    }
}
