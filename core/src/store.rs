//! `Store`: one dedicated secret store — its barrier, seal, mounts and tokens — and the
//! dispatch of a logical request to the part of it that serves the path.
//!
//! The store keeps nothing a request needs in memory except what unsealing recovered (keys,
//! the token salt) and caches that are cheap to rebuild (the mount table). Everything else is
//! read from storage per request, so any number of processes can serve the same store.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Map};

use crate::audit::{AuditBroker, AuditPolicy, AuditTrail};
use crate::auth;
use crate::auth::token::{self, TokenSalt};
use crate::barrier::Barrier;
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::mounts::{MountEntry, MountTable};
use crate::policy::PolicyStore;
use crate::seal::{InitParams, SealError, SealManager, SealSetup};
use crate::secrets::{self, Prefetched, View};
use crate::storage::Storage;
use crate::sys;
use crate::sys::generate_root::GenerateRoot;
use crate::sys::rotate::Rotations;
use crate::tenancy::quota::SecretQuota;

/// The id of the store a single-tenant `coffer server` serves.
pub const DEFAULT_STORE_ID: &str = "default";

/// What only exists while unsealed.
pub(crate) struct Unsealed {
    pub salt: TokenSalt,
    pub mounts: MountTable,
}

pub struct Store {
    pub(crate) barrier: Arc<Barrier>,
    pub(crate) seal: SealManager,
    /// ACL policies, cached per process (see `policy::store` for the staleness bound).
    pub(crate) policies: PolicyStore,
    pub(crate) unsealed: RwLock<Option<Arc<Unsealed>>>,
    /// The audit devices, loaded at unseal from the stored table.
    pub(crate) audit: AuditBroker,
    /// This process's `sys/generate-root` attempt, and whether those endpoints are served.
    pub(crate) generate_root: GenerateRoot,
    /// This process's `sys/rotate/{root,recovery}` attempts.
    pub(crate) rotations: Rotations,
    /// A managed store's plan limits on KV writes (`tenancy::quota`); none when single-store.
    pub(crate) quota: Option<SecretQuota>,
}

/// What init returns to the operator, once.
pub struct InitResult {
    /// Unseal key shares (Shamir).
    pub keys: Vec<zeroize::Zeroizing<Vec<u8>>>,
    /// Recovery key shares (auto seals).
    pub recovery_keys: Vec<zeroize::Zeroizing<Vec<u8>>>,
    pub root_token: String,
}

impl InitResult {
    pub fn keys_hex(&self) -> Vec<String> {
        self.keys.iter().map(hex::encode).collect()
    }
    pub fn keys_base64(&self) -> Vec<String> {
        self.keys.iter().map(|k| B64.encode(k.as_slice())).collect()
    }
    pub fn recovery_keys_hex(&self) -> Vec<String> {
        self.recovery_keys.iter().map(hex::encode).collect()
    }
    pub fn recovery_keys_base64(&self) -> Vec<String> {
        self.recovery_keys
            .iter()
            .map(|k| B64.encode(k.as_slice()))
            .collect()
    }
}

impl Store {
    pub fn new(storage: Arc<dyn Storage>, store_id: &str) -> Self {
        let barrier = Arc::new(Barrier::new(storage, store_id));
        Store {
            seal: SealManager::new(barrier.clone()),
            policies: PolicyStore::new(barrier.clone()),
            barrier,
            unsealed: RwLock::new(None),
            audit: AuditBroker::new(AuditPolicy::default(), Vec::new()),
            generate_root: GenerateRoot::default(),
            rotations: Rotations::default(),
            quota: None,
        }
    }

    /// Applies a plan's secret count and size limits to KV writes (managed stores).
    pub fn with_quota(mut self, quota: SecretQuota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// Protects the root key with `setup` (an auto seal, or a migration between seals) instead
    /// of Shamir; set before the store is first used.
    pub fn with_seal(mut self, setup: SealSetup) -> Self {
        self.seal = SealManager::with_setup(self.barrier.clone(), setup);
        self
    }

    /// Serves the legacy unauthenticated `sys/rekey*` endpoints when `enabled` (OpenBao's
    /// `disable_unauthed_rekey_endpoints = false`); off by default, as in OpenBao 2.7.
    pub fn with_unauthed_rekey(mut self, enabled: bool) -> Self {
        self.rotations = Rotations::new(enabled);
        self
    }

    /// Serves the unauthenticated `sys/generate-root` endpoints when `enabled` (OpenBao's
    /// `disable_unauthed_generate_root_endpoints = false`); off by default.
    pub fn with_generate_root(mut self, enabled: bool) -> Self {
        self.generate_root = GenerateRoot::new(enabled);
        self
    }

    /// Replaces the audit rules (where API-created file devices may write, config-declared
    /// devices); set before the store is first unsealed.
    pub fn with_audit(mut self, audit: AuditBroker) -> Self {
        self.audit = audit;
        self
    }

    /// Reopens every file audit device (SIGHUP after log rotation).
    pub fn reopen_audit_devices(&self) {
        self.audit.reopen();
    }

    pub fn storage_kind(&self) -> &'static str {
        self.barrier.storage().kind()
    }

    pub(crate) fn state(&self) -> Result<Arc<Unsealed>, ApiError> {
        if self.barrier.is_sealed() {
            return Err(ApiError::Sealed);
        }
        self.unsealed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(ApiError::Sealed)
    }

    /// Initialises the store: seal, keyring, token salt, root token and default mounts.
    /// `extra_mounts` are added to OpenBao's defaults (dev mode adds `secret/`). A Shamir store
    /// is left sealed unless `stay_unsealed`; an auto-sealed one stays unsealed, as OpenBao's.
    pub async fn initialize(
        &self,
        params: InitParams,
        root_token_id: Option<&str>,
        extra_mounts: Vec<MountEntry>,
        stay_unsealed: bool,
    ) -> Result<InitResult, ApiError> {
        let out = self.seal.initialize(params).await?;
        let stay_unsealed = stay_unsealed || self.seal.is_auto();
        self.barrier.write(vec![token::new_salt_op()]).await?;
        let salt = token::load_salt(&self.barrier).await?;
        let (root_token, mut ops) = token::root_token_ops(&salt, root_token_id);
        let mut mounts = MountTable::defaults();
        mounts.entries.extend(extra_mounts);
        ops.push(mounts.write_op());
        self.barrier.write(ops).await?;
        if stay_unsealed {
            self.post_unseal().await?;
        } else {
            self.seal();
        }
        Ok(InitResult {
            keys: out.keys,
            recovery_keys: out.recovery_keys,
            root_token,
        })
    }

    /// Loads what the unsealed store keeps in memory.
    async fn post_unseal(&self) -> Result<(), ApiError> {
        let salt = token::load_salt(&self.barrier).await?;
        let (mounts, _) = MountTable::load(&self.barrier).await?;
        self.audit.load(&self.barrier).await?;
        *self.unsealed.write().unwrap_or_else(|p| p.into_inner()) =
            Some(Arc::new(Unsealed { salt, mounts }));
        Ok(())
    }

    /// Submits one unseal (or recovery) key share; `Ok(true)` once unsealed. `migrate` is
    /// `bao operator unseal -migrate`.
    pub async fn submit_unseal_key(&self, key: &str, migrate: bool) -> Result<bool, ApiError> {
        if self.seal.submit(key, migrate).await? {
            self.finish_unseal().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Unseals with the configured auto seal (start-up, or on demand when another process did
    /// the init); `Ok(false)` when that is not possible without operator keys.
    pub async fn auto_unseal(&self) -> Result<bool, ApiError> {
        if self.seal.auto_unseal().await? {
            self.finish_unseal().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Loads the unsealed state once the barrier is open, or seals again if that fails.
    async fn finish_unseal(&self) -> Result<(), ApiError> {
        if self
            .unsealed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
        {
            if let Err(e) = self.post_unseal().await {
                self.seal();
                return Err(e);
            }
        }
        Ok(())
    }

    /// `bao operator seal`: seals, and an auto-sealed process stays sealed until it restarts
    /// or is given recovery keys.
    pub fn seal_by_operator(&self) {
        self.seal();
        self.seal.seal_by_operator();
    }

    pub fn seal(&self) {
        *self.unsealed.write().unwrap_or_else(|p| p.into_inner()) = None;
        self.policies.clear();
        self.audit.clear();
        self.seal.seal();
    }

    pub async fn is_initialized(&self) -> Result<bool, SealError> {
        Ok(self.seal.config().await?.is_some())
    }

    /// Replaces the cached mount table after a change made here or seen in storage; never
    /// with a table read at an older storage version than the cached one.
    pub(crate) fn set_mounts(&self, mounts: MountTable) {
        let mut guard = self.unsealed.write().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = guard
            .as_ref()
            .filter(|s| s.mounts.version <= mounts.version)
        {
            *guard = Some(Arc::new(Unsealed {
                salt: state.salt.clone(),
                mounts,
            }));
        }
    }

    /// Serves one logical request.
    pub async fn handle(&self, req: Request) -> Result<Response, ApiError> {
        if self.barrier.is_sealed() && self.seal.may_try_auto_unseal() {
            if let Err(e) = self.auto_unseal().await {
                tracing::error!(error = %e, "auto-unseal failed; the store stays sealed");
            }
        }
        if let Some(resp) = sys::handle_unauthenticated(self, &req).await? {
            return Ok(resp);
        }
        let trail = AuditTrail::new(&self.audit, &req);
        let result = self.handle_authenticated(req, &trail).await;
        let state = self.state().ok();
        trail.finish(&result, state.as_deref().map(|s| &s.mounts))?;
        result
    }

    /// Everything that needs a token: seal check, authentication, authorisation, the audit
    /// request entry (before anything is performed), then the backend.
    async fn handle_authenticated(
        &self,
        req: Request,
        trail: &AuditTrail<'_>,
    ) -> Result<Response, ApiError> {
        let mut state = self.state()?;
        let token = req.token.as_deref().ok_or(ApiError::PermissionDenied)?;
        let (token_path, token_hash) =
            token::storage_key(&state.salt, token).ok_or(ApiError::PermissionDenied)?;
        // One round trip: the token entry, the mount table and what the routed engine reads
        // first (`secrets::Prefetched`). Nothing fetched reaches an engine before `authorize`.
        let mut fetched = Prefetched::fetch(&self.barrier, token_path, &state.mounts, &req).await?;
        let caller =
            auth::validate_fetched(&self.barrier, token_hash.clone(), fetched.token.take())?;
        let grant = auth::authorize(&self.policies, &caller, &req).await?;
        trail.authorized(&caller.entry, &state.mounts)?;
        let caller = auth::use_token(&self.barrier, caller).await?;
        if let Some(table) = fetched.newer_mount_table(&state.mounts)? {
            self.set_mounts(table);
            state = self.state()?;
        }
        let path = req.path.as_str();
        if path == "sys" || path.starts_with("sys/") {
            return sys::handle(self, &state, &req, &caller.entry).await;
        }
        if let Some(rest) = path.strip_prefix("auth/token/") {
            let ctx = auth::token_backend::Ctx {
                store: self,
                salt: &state.salt,
                req: &req,
                caller: &caller,
                caller_token: token,
                grant,
            };
            return auth::token_backend::handle(&ctx, rest).await;
        }
        let Some(mount) = state.mounts.route(path) else {
            return Err(ApiError::NoRoute(req.path.clone()));
        };
        let Some(engine) = secrets::Engine::of(mount) else {
            return Err(ApiError::NoRoute(req.path.clone()));
        };
        let rel = path.strip_prefix(mount.path.as_str()).unwrap_or("");
        let prefix = secrets::view_prefix(engine, mount, &token_hash);
        let view =
            View::new(&self.barrier, prefix).with_prefetched(fetched.view_values(&mount.uuid));
        if let Some(kind) = grant.write_only_if {
            let exists = secrets::target_exists(engine, &view, rel).await?;
            if exists != (kind == auth::WriteKind::Update) {
                return Err(ApiError::AclDenied);
            }
        }
        match &self.quota {
            Some(quota) => quota.serve(engine, &view, &req, rel).await,
            None => secrets::handle(engine, &view, &req, rel).await,
        }
    }
}

/// Options of a `kv` mount at version 2.
pub fn kv_v2_mount(path: &str) -> MountEntry {
    let mut options = Map::new();
    options.insert("version".into(), json!("2"));
    MountEntry::new(path, "kv", "key/value secret storage", options)
}
