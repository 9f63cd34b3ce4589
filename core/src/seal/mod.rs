//! Initialisation and the seal: how the root key is protected and recovered.
//!
//! Two ways to wrap the root key, chosen by the config:
//! - Shamir: init draws a key-encryption key (KEK), splits it into unseal key shares and stores
//!   the root key encrypted by it. Each process collects shares and unseals on its own, as each
//!   Vault node does.
//! - An auto seal (PKCS#11 HSM, AWS KMS; see coffer-seal): the provider encrypts the root key, so
//!   a process unseals itself at start-up (one decrypt plus the keyring read). Init returns
//!   recovery keys instead: shares of a recovery key that authorises `sys/generate-root`,
//!   rotation, unsealing after `bao operator seal`, and seal migration, but decrypts nothing.
//!
//! Seal migration (`bao operator unseal -migrate`) re-wraps the root key with the configured
//! seal once a threshold of the stored seal's operator keys is given; the operator key is kept,
//! so Shamir unseal keys become recovery keys and back, as in OpenBao.
//!
//! Shares, the KEK and the root key live in zeroizing buffers and never reach logs or errors.

mod config;
pub mod operator_key;
mod rotation;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coffer_seal::{AutoSeal, SealProviderError};
use zeroize::Zeroizing;

use crate::barrier::aead::{self, AesKey};
use crate::barrier::{Barrier, BarrierError};
use crate::storage::{Condition, StorageError, WriteOp};

pub(crate) use config::check_split;
pub use config::{InitParams, SealConfig};
pub use operator_key::decode_key;
pub use rotation::RotationTarget;

pub const SEAL_CONFIG_PATH: &str = "core/seal-config";
pub const ROOT_KEY_PATH: &str = "core/root-key";
pub const RECOVERY_CHECK_PATH: &str = "core/recovery-key-check";

/// How long an auto-sealed process that failed to unseal waits before trying again on demand.
const AUTO_UNSEAL_RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    #[error("Vault is not initialized")]
    NotInitialized,
    #[error("invalid seal configuration: {0}")]
    InvalidConfig(&'static str),
    #[error("parameters {0} not applicable to seal type {1}")]
    NotApplicable(&'static str, String),
    #[error("'key' must be a valid hex or base64 string")]
    KeyEncoding,
    #[error("invalid key length")]
    KeyLength,
    #[error("unable to retrieve stored keys: invalid key: failed to decrypt keys from storage")]
    WrongKey,
    #[error(
        "invalid key: failed to verify recovery key: recovery key does not match submitted values"
    )]
    WrongRecoveryKey,
    #[error("no recovery keys were created when this store was initialized")]
    NoRecoveryKeys,
    #[error("migrate option not provided and seal migration is pending")]
    MigrationPending,
    #[error("can't perform a seal migration, no migration seal found")]
    NoMigration,
    /// The stored root key was wrapped by a seal the config does not describe.
    #[error("the store is sealed by a \"{stored}\" seal but the config has no seal \"{stored}\" block; add it (with disabled = \"true\" to migrate away from it)")]
    SealMismatch { stored: String },
    #[error("rotating the unseal keys of an auto-sealed store is not supported: rotate its recovery keys (sys/rotate/recovery)")]
    RootRotationWithAutoSeal,
    #[error("recovery keys not supported")]
    RecoveryNotSupported,
    #[error("seal configuration is corrupt")]
    Corrupt,
    #[error(transparent)]
    Provider(#[from] SealProviderError),
    #[error(transparent)]
    Barrier(#[from] BarrierError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What wraps the root key.
#[derive(Clone)]
pub enum Protector {
    Shamir,
    Auto(Arc<dyn AutoSeal>),
}

impl Protector {
    pub fn kind(&self) -> &str {
        match self {
            Protector::Shamir => "shamir",
            Protector::Auto(seal) => seal.kind(),
        }
    }
}

/// The configured seal and, during a migration, the one the store is moving away from.
#[derive(Clone)]
pub struct SealSetup {
    pub active: Protector,
    pub migrate_from: Option<Protector>,
}

impl Default for SealSetup {
    fn default() -> Self {
        SealSetup {
            active: Protector::Shamir,
            migrate_from: None,
        }
    }
}

/// What init hands back to the operator, once.
pub struct InitOutput {
    /// Unseal key shares (Shamir); empty with an auto seal.
    pub keys: Vec<Zeroizing<Vec<u8>>>,
    /// Recovery key shares (auto seals).
    pub recovery_keys: Vec<Zeroizing<Vec<u8>>>,
    pub root_key: AesKey,
}

/// Unseal progress of this process.
#[derive(Default)]
struct Progress {
    shares: Vec<Zeroizing<Vec<u8>>>,
    nonce: String,
}

/// The seal status as `sys/seal-status` needs it.
pub struct SealStatus {
    pub config: Option<SealConfig>,
    /// The configured seal's type (OpenBao reports the new one during a migration).
    pub kind: String,
    pub recovery_seal: bool,
    pub migration: bool,
    pub sealed: bool,
    pub progress: usize,
    pub nonce: String,
}

pub struct SealManager {
    barrier: Arc<Barrier>,
    setup: SealSetup,
    progress: Mutex<Progress>,
    /// Set by `bao operator seal`: an auto-sealed process then stays sealed until it restarts
    /// or is given recovery keys, as OpenBao does. Cleared by every successful unseal.
    held_sealed: AtomicBool,
    /// When this process last tried to unseal itself, so a broken HSM is not hammered.
    last_auto_attempt: Mutex<Option<Instant>>,
}

/// Combines operator key shares; shares that do not combine at all (two with the same x) are
/// reported as the stored seal's wrong-key error, as a wrong share that combines would be.
fn combine_operator(
    config: &SealConfig,
    parts: &[Zeroizing<Vec<u8>>],
) -> Result<AesKey, SealError> {
    let (n, t) = config.operator_shares();
    operator_key::combine(n, t, parts).map_err(|e| match e {
        SealError::WrongKey if !config.is_shamir() => SealError::WrongRecoveryKey,
        other => other,
    })
}

impl SealManager {
    pub fn new(barrier: Arc<Barrier>) -> Self {
        Self::with_setup(barrier, SealSetup::default())
    }

    pub fn with_setup(barrier: Arc<Barrier>, setup: SealSetup) -> Self {
        Self {
            barrier,
            setup,
            progress: Mutex::new(Progress::default()),
            held_sealed: AtomicBool::new(false),
            last_auto_attempt: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, path: &str) -> String {
        self.barrier.physical_key(path)
    }

    /// The stored configuration and its storage version.
    async fn load_config(&self) -> Result<Option<(SealConfig, u64)>, SealError> {
        match self
            .barrier
            .storage()
            .get(&self.path(SEAL_CONFIG_PATH))
            .await?
        {
            Some(entry) => serde_json::from_slice(&entry.value)
                .map(|c| Some((c, entry.version)))
                .map_err(|_| SealError::Corrupt),
            None => Ok(None),
        }
    }

    pub async fn config(&self) -> Result<Option<SealConfig>, SealError> {
        Ok(self.load_config().await?.map(|(c, _)| c))
    }

    fn migration_pending(&self, config: &SealConfig) -> bool {
        config.kind != self.setup.active.kind()
    }

    pub fn is_auto(&self) -> bool {
        matches!(self.setup.active, Protector::Auto(_))
    }

    pub async fn status(&self) -> Result<SealStatus, SealError> {
        let config = self.config().await?;
        let sealed = self.barrier.is_sealed();
        let migration = config.as_ref().is_some_and(|c| self.migration_pending(c));
        let p = self.lock();
        Ok(SealStatus {
            kind: self.setup.active.kind().to_owned(),
            recovery_seal: self.is_auto(),
            migration,
            config,
            sealed,
            progress: p.shares.len(),
            nonce: p.nonce.clone(),
        })
    }

    /// Initialises the store: keyring, wrapped root key, recovery verifier and seal
    /// configuration in one atomic batch, so two processes racing to init cannot both win.
    /// Leaves the barrier unsealed so the caller can write the root token and default mounts.
    pub async fn initialize(&self, params: InitParams) -> Result<InitOutput, SealError> {
        let root_key = AesKey::generate();
        let root_path = self.path(ROOT_KEY_PATH);
        let cluster_name = format!("vault-cluster-{:08x}", rand::random::<u32>());
        let cluster_id = uuid::Uuid::new_v4().to_string();
        let (config, wrapped, keys, recovery_keys, recovery_check) = match &self.setup.active {
            Protector::Shamir => {
                if params.recovery_shares != 0 || params.recovery_threshold != 0 {
                    return Err(SealError::NotApplicable(
                        "recovery_shares,recovery_threshold",
                        "shamir".into(),
                    ));
                }
                check_split(params.secret_shares, params.secret_threshold, false)?;
                self.refuse_if_initialized().await?;
                let (n, t) = (params.secret_shares as u8, params.secret_threshold as u8);
                let kek = AesKey::generate();
                let keys = operator_key::split(&kek, n, t)?;
                let wrapped = aead::seal(&kek, 0, root_path.as_bytes(), root_key.as_bytes());
                let config = SealConfig {
                    kind: "shamir".into(),
                    secret_shares: n,
                    secret_threshold: t,
                    recovery_shares: 0,
                    recovery_threshold: 0,
                    cluster_name,
                    cluster_id,
                };
                (config, wrapped, keys, Vec::new(), None)
            }
            Protector::Auto(seal) => {
                if params.secret_shares != 0 || params.secret_threshold != 0 {
                    return Err(SealError::NotApplicable(
                        "secret_shares,secret_threshold",
                        seal.kind().into(),
                    ));
                }
                check_split(params.recovery_shares, params.recovery_threshold, true)?;
                self.refuse_if_initialized().await?;
                let (n, t) = (
                    params.recovery_shares as u8,
                    params.recovery_threshold as u8,
                );
                let wrapped = seal
                    .encrypt(root_key.as_bytes(), root_path.as_bytes())
                    .await?;
                let (recovery_keys, check) = if n == 0 {
                    (Vec::new(), None)
                } else {
                    let recovery = AesKey::generate();
                    let check = operator_key::verifier(&recovery, &self.path(RECOVERY_CHECK_PATH));
                    (operator_key::split(&recovery, n, t)?, Some(check))
                };
                let config = SealConfig {
                    kind: seal.kind().into(),
                    secret_shares: 1,
                    secret_threshold: 1,
                    recovery_shares: n,
                    recovery_threshold: t,
                    cluster_name,
                    cluster_id,
                };
                (config, wrapped, Vec::new(), recovery_keys, check)
            }
        };
        let mut extra = vec![
            WriteOp::Put {
                key: root_path,
                value: wrapped,
                condition: Some(Condition::Absent),
            },
            WriteOp::Put {
                key: self.path(SEAL_CONFIG_PATH),
                value: serde_json::to_vec(&config).expect("seal config serializes"),
                condition: Some(Condition::Absent),
            },
        ];
        if let Some(check) = recovery_check {
            extra.push(WriteOp::Put {
                key: self.path(RECOVERY_CHECK_PATH),
                value: check,
                condition: None,
            });
        }
        match self.barrier.initialize(&root_key, extra).await {
            Ok(()) => {}
            Err(BarrierError::AlreadyInitialized) => return Err(SealError::AlreadyInitialized),
            Err(e) => return Err(e.into()),
        }
        self.held_sealed.store(false, Ordering::SeqCst);
        Ok(InitOutput {
            keys,
            recovery_keys,
            root_key,
        })
    }

    async fn refuse_if_initialized(&self) -> Result<(), SealError> {
        if self.config().await?.is_some() {
            return Err(SealError::AlreadyInitialized);
        }
        Ok(())
    }

    /// Unseals with the configured auto seal, without operator keys: at start-up, and on demand
    /// when this process has not been sealed by an operator. `Ok(false)` when there is nothing
    /// to do that way (Shamir, not initialized, a migration pending, sealed by an operator).
    pub async fn auto_unseal(&self) -> Result<bool, SealError> {
        let Protector::Auto(seal) = &self.setup.active else {
            return Ok(false);
        };
        if !self.barrier.is_sealed() {
            return Ok(true);
        }
        if self.held_sealed.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let Some(config) = self.config().await? else {
            return Ok(false);
        };
        if self.migration_pending(&config) {
            return Ok(false);
        }
        let root_key = self.unwrap_root_auto(seal).await?;
        self.barrier.unseal(&root_key).await?;
        Ok(true)
    }

    /// Whether a sealed request may try [`SealManager::auto_unseal`] now: an auto seal, not
    /// sealed by an operator, and no attempt in the last [`AUTO_UNSEAL_RETRY`].
    pub fn may_try_auto_unseal(&self) -> bool {
        if !self.is_auto() || self.held_sealed.load(Ordering::SeqCst) {
            return false;
        }
        let mut last = self
            .last_auto_attempt
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < AUTO_UNSEAL_RETRY) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Adds one unseal (Shamir) or recovery (auto seal) key share. Returns `true` once the
    /// barrier is open. With `migrate`, the threshold also re-wraps the root key with the
    /// configured seal.
    pub async fn submit(&self, key: &str, migrate: bool) -> Result<bool, SealError> {
        let (config, version) = self.load_config().await?.ok_or(SealError::NotInitialized)?;
        if !self.barrier.is_sealed() {
            return Ok(true);
        }
        let migrating = self.migration_pending(&config);
        if migrating && !migrate {
            return Err(SealError::MigrationPending);
        }
        if !migrating && migrate {
            return Err(SealError::NoMigration);
        }
        let (n, t) = config.operator_shares();
        if n == 0 {
            return Err(SealError::NoRecoveryKeys);
        }
        let share = operator_key::decode_share(n, key)?;
        let collected: Vec<Zeroizing<Vec<u8>>> = {
            let mut p = self.lock();
            if p.shares.iter().any(|s| **s == *share) {
                return Ok(false);
            }
            if p.shares.is_empty() {
                p.nonce = uuid::Uuid::new_v4().to_string();
            }
            p.shares.push(share);
            if p.shares.len() < t as usize {
                return Ok(false);
            }
            let taken = std::mem::take(&mut p.shares);
            p.nonce.clear();
            taken
        };
        let operator = combine_operator(&config, &collected)?;
        let root_key = self.recover_root_key(&config, &operator).await?;
        if migrating {
            self.migrate(&config, version, &root_key, &operator).await?;
        }
        self.barrier.unseal(&root_key).await?;
        self.held_sealed.store(false, Ordering::SeqCst);
        Ok(true)
    }

    /// The seal that wrapped the stored root key, from the config's active or disabled block.
    fn stored_protector(&self, config: &SealConfig) -> Result<Protector, SealError> {
        if config.is_shamir() {
            return Ok(Protector::Shamir);
        }
        [Some(&self.setup.active), self.setup.migrate_from.as_ref()]
            .into_iter()
            .flatten()
            .find(|p| p.kind() == config.kind)
            .cloned()
            .ok_or_else(|| SealError::SealMismatch {
                stored: config.kind.clone(),
            })
    }

    /// Checks the operator key and recovers the root key with it: Shamir unwraps with the KEK;
    /// an auto seal verifies the recovery key, then asks the provider.
    async fn recover_root_key(
        &self,
        config: &SealConfig,
        operator: &AesKey,
    ) -> Result<AesKey, SealError> {
        match self.stored_protector(config)? {
            Protector::Shamir => self.unwrap_root_with_kek(operator).await,
            Protector::Auto(seal) => {
                self.verify_recovery_key(operator).await?;
                self.unwrap_root_auto(&seal).await
            }
        }
    }

    /// Checks the operator key without touching the barrier (generate-root, rotation).
    async fn verify_operator_key(
        &self,
        config: &SealConfig,
        operator: &AesKey,
    ) -> Result<(), SealError> {
        if config.is_shamir() {
            self.unwrap_root_with_kek(operator).await.map(drop)
        } else {
            self.verify_recovery_key(operator).await
        }
    }

    async fn verify_recovery_key(&self, recovery: &AesKey) -> Result<(), SealError> {
        let path = self.path(RECOVERY_CHECK_PATH);
        let entry = self
            .barrier
            .storage()
            .get(&path)
            .await?
            .ok_or(SealError::NoRecoveryKeys)?;
        operator_key::verify(recovery, &path, &entry.value)
    }

    async fn stored_root_key(&self) -> Result<Vec<u8>, SealError> {
        Ok(self
            .barrier
            .storage()
            .get(&self.path(ROOT_KEY_PATH))
            .await?
            .ok_or(SealError::NotInitialized)?
            .value)
    }

    async fn unwrap_root_with_kek(&self, kek: &AesKey) -> Result<AesKey, SealError> {
        let path = self.path(ROOT_KEY_PATH);
        let blob = self.stored_root_key().await?;
        let raw = Zeroizing::new(
            aead::open(kek, path.as_bytes(), &blob).map_err(|_| SealError::WrongKey)?,
        );
        AesKey::from_slice(&raw).ok_or(SealError::Corrupt)
    }

    async fn unwrap_root_auto(&self, seal: &Arc<dyn AutoSeal>) -> Result<AesKey, SealError> {
        let path = self.path(ROOT_KEY_PATH);
        let blob = self.stored_root_key().await?;
        let raw = seal.decrypt(&blob, path.as_bytes()).await?;
        AesKey::from_slice(&raw).ok_or(SealError::Corrupt)
    }

    /// Re-wraps the root key with the configured seal, keeping the operator key: to an auto
    /// seal, it becomes the recovery key; to Shamir, the KEK. One conditional batch on the
    /// configuration read at the start, so a concurrent migration in another process loses.
    async fn migrate(
        &self,
        old: &SealConfig,
        version: u64,
        root_key: &AesKey,
        operator: &AesKey,
    ) -> Result<(), SealError> {
        let root_path = self.path(ROOT_KEY_PATH);
        let check_path = self.path(RECOVERY_CHECK_PATH);
        let (n, t) = old.operator_shares();
        let mut config = old.clone();
        let mut ops = Vec::new();
        match &self.setup.active {
            Protector::Shamir => {
                let wrapped = aead::seal(operator, 0, root_path.as_bytes(), root_key.as_bytes());
                ops.push(WriteOp::put(root_path, wrapped));
                ops.push(WriteOp::delete(check_path));
                config.kind = "shamir".into();
                (config.secret_shares, config.secret_threshold) = (n, t);
                (config.recovery_shares, config.recovery_threshold) = (0, 0);
            }
            Protector::Auto(seal) => {
                let wrapped = seal
                    .encrypt(root_key.as_bytes(), root_path.as_bytes())
                    .await?;
                ops.push(WriteOp::put(root_path, wrapped));
                ops.push(WriteOp::put(
                    check_path.clone(),
                    operator_key::verifier(operator, &check_path),
                ));
                config.kind = seal.kind().into();
                (config.secret_shares, config.secret_threshold) = (1, 1);
                (config.recovery_shares, config.recovery_threshold) = (n, t);
            }
        }
        ops.push(WriteOp::Put {
            key: self.path(SEAL_CONFIG_PATH),
            value: serde_json::to_vec(&config).expect("seal config serializes"),
            condition: Some(Condition::Version(version)),
        });
        self.barrier.storage().write(ops).await?;
        tracing::info!(from = %old.kind, to = %config.kind, "seal migration complete");
        Ok(())
    }

    /// Decodes one operator key share as `submit` accepts it, for callers that collect shares
    /// themselves (`sys/generate-root`, rotation).
    pub async fn decode_share(&self, key: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let config = self.config().await?.ok_or(SealError::NotInitialized)?;
        let (n, _) = config.operator_shares();
        if n == 0 {
            return Err(SealError::NoRecoveryKeys);
        }
        operator_key::decode_share(n, key)
    }

    /// Checks that `shares` (decoded by [`SealManager::decode_share`], at least the threshold)
    /// combine to the operator key, without touching the barrier.
    pub async fn verify_shares(&self, shares: &[Zeroizing<Vec<u8>>]) -> Result<(), SealError> {
        let config = self.config().await?.ok_or(SealError::NotInitialized)?;
        let operator = combine_operator(&config, shares)?;
        self.verify_operator_key(&config, &operator).await
    }

    /// Forgets the shares submitted so far (`bao operator unseal -reset`).
    pub fn reset(&self) {
        *self.lock() = Progress::default();
    }

    /// Seals this process: drops the keyring and any unseal progress.
    pub fn seal(&self) {
        self.reset();
        self.barrier.seal();
    }

    /// `bao operator seal`: as [`SealManager::seal`], and an auto-sealed process stays sealed.
    pub fn seal_by_operator(&self) {
        self.held_sealed.store(true, Ordering::SeqCst);
        self.seal();
    }
}

#[cfg(test)]
mod tests;
