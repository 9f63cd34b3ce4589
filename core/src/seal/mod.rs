//! Initialisation and the seal: how the root key is protected and recovered.
//!
//! With the Shamir seal, init draws a random key-encryption key (KEK), splits it into unseal
//! key shares and stores the root key encrypted by the KEK at `core/root-key`. Unsealing
//! collects shares in this process (each process unseals on its own, as each Vault node does),
//! combines them at the threshold and opens the barrier with the recovered root key. The seal
//! configuration is the one value stored in plaintext: status must be readable while sealed.
//!
//! Shares, the KEK and the root key live in zeroizing buffers and never reach logs or errors.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::barrier::aead::{self, AesKey};
use crate::barrier::{Barrier, BarrierError};
use crate::storage::{Condition, StorageError, WriteOp};

pub const SEAL_CONFIG_PATH: &str = "core/seal-config";
pub const ROOT_KEY_PATH: &str = "core/root-key";

/// The stored seal configuration (plaintext), as `sys/seal-status` reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub secret_shares: u8,
    pub secret_threshold: u8,
    /// The store's identity as OpenBao reports it (`vault-cluster-<hex>` and a uuid); not
    /// secret, drawn at init.
    pub cluster_name: String,
    pub cluster_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    #[error("Vault is not initialized")]
    NotInitialized,
    #[error("invalid seal configuration: {0}")]
    InvalidConfig(&'static str),
    #[error("'key' must be a valid hex or base64 string")]
    KeyEncoding,
    #[error("invalid key length")]
    KeyLength,
    #[error("unable to retrieve stored keys: invalid key: failed to decrypt keys from storage")]
    WrongKey,
    #[error("seal configuration is corrupt")]
    Corrupt,
    #[error(transparent)]
    Barrier(#[from] BarrierError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What init hands back to the operator, once.
pub struct InitOutput {
    pub keys: Vec<Zeroizing<Vec<u8>>>,
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
    pub sealed: bool,
    pub progress: usize,
    pub nonce: String,
}

pub struct SealManager {
    barrier: Arc<Barrier>,
    progress: Mutex<Progress>,
}

const KEK_SHARE_LEN: usize = 33;

/// Unseal keys are accepted in hex or base64, as OpenBao does.
pub fn decode_key(key: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let key = key.trim();
    if let Ok(raw) = hex::decode(key) {
        return Ok(Zeroizing::new(raw));
    }
    B64.decode(key)
        .map(Zeroizing::new)
        .map_err(|_| SealError::KeyEncoding)
}

/// Decodes a share and checks its length against the seal: the KEK itself with one share,
/// a Shamir share (KEK plus its x coordinate) otherwise.
fn check_share(config: &SealConfig, key: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let share = decode_key(key)?;
    let expected = if config.secret_shares == 1 {
        32
    } else {
        KEK_SHARE_LEN
    };
    if share.len() != expected {
        return Err(SealError::KeyLength);
    }
    Ok(share)
}

impl SealManager {
    pub fn new(barrier: Arc<Barrier>) -> Self {
        Self {
            barrier,
            progress: Mutex::new(Progress::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn config(&self) -> Result<Option<SealConfig>, SealError> {
        let key = self.barrier.physical_key(SEAL_CONFIG_PATH);
        match self.barrier.storage().get(&key).await? {
            Some(entry) => serde_json::from_slice(&entry.value)
                .map(Some)
                .map_err(|_| SealError::Corrupt),
            None => Ok(None),
        }
    }

    pub async fn status(&self) -> Result<SealStatus, SealError> {
        let config = self.config().await?;
        let sealed = self.barrier.is_sealed();
        let p = self.lock();
        Ok(SealStatus {
            config,
            sealed,
            progress: p.shares.len(),
            nonce: p.nonce.clone(),
        })
    }

    /// Initialises the store: keyring, wrapped root key and seal configuration in one atomic
    /// batch, so two processes racing to init cannot both win. Leaves the barrier unsealed so
    /// the caller can write the root token and default mounts, then seal it.
    pub async fn initialize(&self, shares: u32, threshold: u32) -> Result<InitOutput, SealError> {
        if shares < 1 {
            return Err(SealError::InvalidConfig("shares must be at least one"));
        }
        if shares > 255 {
            return Err(SealError::InvalidConfig("shares must be less than 256"));
        }
        if threshold > shares {
            return Err(SealError::InvalidConfig(
                "threshold cannot be larger than shares",
            ));
        }
        if shares > 1 && threshold < 2 {
            return Err(SealError::InvalidConfig(
                "threshold must be greater than one for multiple shares",
            ));
        }
        if threshold < 1 {
            return Err(SealError::InvalidConfig("threshold must be at least one"));
        }
        if self.config().await?.is_some() {
            return Err(SealError::AlreadyInitialized);
        }
        let kek = AesKey::generate();
        let keys = if shares == 1 {
            vec![Zeroizing::new(kek.as_bytes().to_vec())]
        } else {
            coffer_seal::shamir::split(kek.as_bytes(), shares as usize, threshold as usize)
                .map_err(|_| SealError::InvalidConfig("cannot split key"))?
                .into_iter()
                .map(|s| s.into_bytes())
                .collect()
        };
        let root_key = AesKey::generate();
        let config = SealConfig {
            kind: "shamir".into(),
            secret_shares: shares as u8,
            secret_threshold: threshold as u8,
            cluster_name: format!("vault-cluster-{:08x}", rand::random::<u32>()),
            cluster_id: uuid::Uuid::new_v4().to_string(),
        };
        let root_path = self.barrier.physical_key(ROOT_KEY_PATH);
        let wrapped = aead::seal(&kek, 0, root_path.as_bytes(), root_key.as_bytes());
        let extra = vec![
            WriteOp::Put {
                key: root_path,
                value: wrapped,
                condition: Some(Condition::Absent),
            },
            WriteOp::Put {
                key: self.barrier.physical_key(SEAL_CONFIG_PATH),
                value: serde_json::to_vec(&config).expect("seal config serializes"),
                condition: Some(Condition::Absent),
            },
        ];
        match self.barrier.initialize(&root_key, extra).await {
            Ok(()) => {}
            Err(BarrierError::AlreadyInitialized) => return Err(SealError::AlreadyInitialized),
            Err(e) => return Err(e.into()),
        }
        Ok(InitOutput { keys, root_key })
    }

    /// Adds one unseal key share. Returns `true` once the barrier is open.
    pub async fn submit(&self, key: &str) -> Result<bool, SealError> {
        let config = self.config().await?.ok_or(SealError::NotInitialized)?;
        if !self.barrier.is_sealed() {
            return Ok(true);
        }
        let share = check_share(&config, key)?;
        let collected: Vec<Zeroizing<Vec<u8>>> = {
            let mut p = self.lock();
            if p.shares.iter().any(|s| **s == *share) {
                return Ok(false);
            }
            if p.shares.is_empty() {
                p.nonce = uuid::Uuid::new_v4().to_string();
            }
            p.shares.push(share);
            if p.shares.len() < config.secret_threshold as usize {
                return Ok(false);
            }
            let taken = std::mem::take(&mut p.shares);
            p.nonce.clear();
            taken
        };
        let root_key = self.recover_root_key(&config, &collected).await?;
        self.barrier.unseal(&root_key).await?;
        Ok(true)
    }

    /// Decodes one share as `submit` accepts it (hex or base64, the seal's share length),
    /// for callers that collect shares themselves (`sys/generate-root`).
    pub async fn decode_share(&self, key: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let config = self.config().await?.ok_or(SealError::NotInitialized)?;
        check_share(&config, key)
    }

    /// Checks that `shares` (decoded by [`SealManager::decode_share`], at least the threshold)
    /// recover the stored root key, exactly as unsealing would, without touching the barrier.
    pub async fn verify_shares(&self, shares: &[Zeroizing<Vec<u8>>]) -> Result<(), SealError> {
        let config = self.config().await?.ok_or(SealError::NotInitialized)?;
        self.recover_root_key(&config, shares).await.map(drop)
    }

    /// Combines a threshold of shares into the KEK and unwraps the root key with it.
    async fn recover_root_key(
        &self,
        config: &SealConfig,
        shares: &[Zeroizing<Vec<u8>>],
    ) -> Result<AesKey, SealError> {
        if shares.is_empty() || shares.len() < config.secret_threshold as usize {
            return Err(SealError::WrongKey);
        }
        let kek_bytes = if config.secret_shares == 1 {
            shares[0].clone()
        } else {
            let parts: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
            coffer_seal::shamir::combine(&parts).map_err(|_| SealError::WrongKey)?
        };
        let kek = AesKey::from_slice(&kek_bytes).ok_or(SealError::WrongKey)?;
        self.unwrap_root_key(&kek).await
    }

    async fn unwrap_root_key(&self, kek: &AesKey) -> Result<AesKey, SealError> {
        let path = self.barrier.physical_key(ROOT_KEY_PATH);
        let entry = self
            .barrier
            .storage()
            .get(&path)
            .await?
            .ok_or(SealError::NotInitialized)?;
        let raw = Zeroizing::new(
            aead::open(kek, path.as_bytes(), &entry.value).map_err(|_| SealError::WrongKey)?,
        );
        AesKey::from_slice(&raw).ok_or(SealError::Corrupt)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    fn manager() -> SealManager {
        SealManager::new(Arc::new(Barrier::new(Arc::new(MemoryStorage::new()), "s1")))
    }

    #[tokio::test]
    async fn init_then_threshold_of_shares_unseals() {
        let m = manager();
        let out = m.initialize(5, 3).await.unwrap();
        m.seal();
        assert_eq!(out.keys.len(), 5);
        assert!(!m.submit(&hex::encode(&*out.keys[4])).await.unwrap());
        assert!(!m.submit(&B64.encode(&*out.keys[0])).await.unwrap());
        assert_eq!(m.status().await.unwrap().progress, 2);
        assert!(m.submit(&hex::encode(&*out.keys[2])).await.unwrap());
        assert!(!m.status().await.unwrap().sealed);
    }

    #[tokio::test]
    async fn wrong_share_at_threshold_fails_and_resets_progress() {
        let m = manager();
        let out = m.initialize(3, 2).await.unwrap();
        m.seal();
        m.submit(&hex::encode(&*out.keys[0])).await.unwrap();
        let mut bad = out.keys[1].to_vec();
        bad[0] ^= 1;
        assert!(matches!(
            m.submit(&hex::encode(bad)).await,
            Err(SealError::WrongKey)
        ));
        let status = m.status().await.unwrap();
        assert!(status.sealed);
        assert_eq!(status.progress, 0);
    }

    #[tokio::test]
    async fn duplicate_share_does_not_count() {
        let m = manager();
        let out = m.initialize(3, 2).await.unwrap();
        m.seal();
        let k = hex::encode(&*out.keys[0]);
        m.submit(&k).await.unwrap();
        assert!(!m.submit(&k).await.unwrap());
        assert_eq!(m.status().await.unwrap().progress, 1);
    }

    #[tokio::test]
    async fn malformed_keys_are_refused_without_progress() {
        let m = manager();
        m.initialize(3, 2).await.unwrap();
        m.seal();
        assert!(matches!(m.submit("zz!").await, Err(SealError::KeyEncoding)));
        assert!(matches!(m.submit("aabb").await, Err(SealError::KeyLength)));
        assert_eq!(m.status().await.unwrap().progress, 0);
    }

    #[tokio::test]
    async fn single_share_init_unseals_with_the_key() {
        let m = manager();
        let out = m.initialize(1, 1).await.unwrap();
        m.seal();
        assert!(m.submit(&B64.encode(&*out.keys[0])).await.unwrap());
    }

    #[tokio::test]
    async fn invalid_share_configs_and_second_init_are_refused() {
        let m = manager();
        assert!(matches!(
            m.initialize(1, 2).await,
            Err(SealError::InvalidConfig(_))
        ));
        assert!(matches!(
            m.initialize(3, 1).await,
            Err(SealError::InvalidConfig(_))
        ));
        assert!(matches!(
            m.initialize(256, 2).await,
            Err(SealError::InvalidConfig(_))
        ));
        assert!(matches!(
            m.initialize(0, 0).await,
            Err(SealError::InvalidConfig(_))
        ));
        m.initialize(3, 2).await.unwrap();
        assert!(matches!(
            m.initialize(3, 2).await,
            Err(SealError::AlreadyInitialized)
        ));
    }

    #[tokio::test]
    async fn verify_shares_accepts_a_threshold_and_refuses_a_wrong_share_while_unsealed() {
        let m = manager();
        let out = m.initialize(5, 3).await.unwrap();
        let good: Vec<_> = out.keys[1..4].to_vec();
        m.verify_shares(&good).await.unwrap();
        let mut bad = good.clone();
        bad[2][1] ^= 1;
        assert!(matches!(
            m.verify_shares(&bad).await,
            Err(SealError::WrongKey)
        ));
        assert!(matches!(
            m.verify_shares(&good[..2]).await,
            Err(SealError::WrongKey)
        ));
        assert!(!m.status().await.unwrap().sealed);
    }

    #[tokio::test]
    async fn reset_clears_progress() {
        let m = manager();
        let out = m.initialize(3, 2).await.unwrap();
        m.seal();
        m.submit(&hex::encode(&*out.keys[0])).await.unwrap();
        m.reset();
        assert_eq!(m.status().await.unwrap().progress, 0);
    }
}
