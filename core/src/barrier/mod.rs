//! The barrier: AES-256-GCM encryption between the logical layer and physical storage.
//!
//! Everything above the barrier sees plaintext at logical paths (`core/mounts`,
//! `logical/<uuid>/...`); everything below sees ciphertext at `<store id>/<path>`. The full
//! physical key is the AAD, so a ciphertext copied to another key (or another store) does not
//! open. The keyring is kept in memory only while unsealed; sealing drops (and zeroizes) it.
//!
//! Keyring freshness across processes: a value written under a term this process does not know
//! yet makes it reload the keyring once before failing, so a rotation made by another process is
//! picked up on first contact, with no polling.

pub mod aead;
pub mod keyring;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::storage::{Condition, Storage, StorageError, WriteOp};
use aead::{AeadError, AesKey};
use keyring::Keyring;

/// Where the keyring lives, encrypted by the root key.
pub const KEYRING_PATH: &str = "core/keyring";

#[derive(Debug, thiserror::Error)]
pub enum BarrierError {
    #[error("Vault is sealed")]
    Sealed,
    #[error("barrier is already initialized")]
    AlreadyInitialized,
    #[error("barrier is not initialized")]
    NotInitialized,
    #[error("failed to decrypt {path}: {source}")]
    Decrypt { path: String, source: AeadError },
    #[error("keyring is corrupt")]
    KeyringCorrupt,
    /// A value decrypted but is not what its path should hold.
    #[error("stored value at {path} is corrupt")]
    CorruptValue { path: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A decrypted value and the storage version it was read at (for conditional writes).
#[derive(Clone)]
pub struct Plain {
    pub value: Vec<u8>,
    pub version: u64,
}

/// One write of an atomic batch, in plaintext.
pub enum PlainOp {
    Put {
        path: String,
        value: Vec<u8>,
        condition: Option<Condition>,
    },
    Delete {
        path: String,
        condition: Option<Condition>,
    },
}

impl PlainOp {
    pub fn put(path: impl Into<String>, value: Vec<u8>) -> Self {
        PlainOp::Put {
            path: path.into(),
            value,
            condition: None,
        }
    }
    pub fn delete(path: impl Into<String>) -> Self {
        PlainOp::Delete {
            path: path.into(),
            condition: None,
        }
    }
}

struct Unsealed {
    root_key: AesKey,
    keyring: Arc<Keyring>,
}

pub struct Barrier {
    storage: Arc<dyn Storage>,
    /// `<store id>/`: every physical key this barrier touches begins with it.
    prefix: String,
    state: RwLock<Option<Unsealed>>,
}

/// The status of the active key, for `sys/key-status`.
pub struct KeyStatus {
    pub term: u32,
    pub install_time: DateTime<Utc>,
}

impl Barrier {
    pub fn new(storage: Arc<dyn Storage>, store_id: &str) -> Self {
        Self {
            storage,
            prefix: format!("{store_id}/"),
            state: RwLock::new(None),
        }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The physical key of a logical path.
    pub fn physical_key(&self, path: &str) -> String {
        format!("{}{}", self.prefix, path)
    }

    pub fn is_sealed(&self) -> bool {
        self.read_state().is_none()
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, Option<Unsealed>> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, Option<Unsealed>> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn keyring(&self) -> Result<Arc<Keyring>, BarrierError> {
        self.read_state()
            .as_ref()
            .map(|u| u.keyring.clone())
            .ok_or(BarrierError::Sealed)
    }

    /// Creates the keyring under a new root key and leaves the barrier unsealed.
    /// Fails if a keyring already exists (another process initialised the store first).
    /// `extra` raw writes (the wrapped root key, the seal configuration) join the same atomic
    /// batch, so a store is either fully initialised or not at all.
    pub async fn initialize(
        &self,
        root_key: &AesKey,
        extra: Vec<WriteOp>,
    ) -> Result<(), BarrierError> {
        let keyring = Keyring::generate();
        let key = self.physical_key(KEYRING_PATH);
        let ct = aead::seal(root_key, 0, key.as_bytes(), &keyring.to_bytes());
        let mut ops = vec![WriteOp::Put {
            key,
            value: ct,
            condition: Some(Condition::Absent),
        }];
        ops.extend(extra);
        match self.storage.write(ops).await {
            Ok(()) => {}
            Err(StorageError::ConditionFailed { .. }) => {
                return Err(BarrierError::AlreadyInitialized)
            }
            Err(e) => return Err(e.into()),
        }
        *self.write_state() = Some(Unsealed {
            root_key: root_key.clone(),
            keyring: Arc::new(keyring),
        });
        Ok(())
    }

    /// Reads and opens the stored keyring; also returns its storage version for rotation's
    /// conditional write.
    async fn load_keyring(&self, root_key: &AesKey) -> Result<(Keyring, u64), BarrierError> {
        let key = self.physical_key(KEYRING_PATH);
        let entry = self
            .storage
            .get(&key)
            .await?
            .ok_or(BarrierError::NotInitialized)?;
        let plain =
            zeroize::Zeroizing::new(aead::open(root_key, key.as_bytes(), &entry.value).map_err(
                |source| BarrierError::Decrypt {
                    path: KEYRING_PATH.into(),
                    source,
                },
            )?);
        let keyring = Keyring::from_bytes(&plain).map_err(|_| BarrierError::KeyringCorrupt)?;
        Ok((keyring, entry.version))
    }

    /// Opens the barrier with the root key the seal recovered.
    pub async fn unseal(&self, root_key: &AesKey) -> Result<(), BarrierError> {
        let (keyring, _) = self.load_keyring(root_key).await?;
        *self.write_state() = Some(Unsealed {
            root_key: root_key.clone(),
            keyring: Arc::new(keyring),
        });
        Ok(())
    }

    /// Forgets every key; dropping them zeroizes the memory.
    pub fn seal(&self) {
        *self.write_state() = None;
    }

    /// Re-reads the keyring after another process rotated it.
    async fn refresh_keyring(&self) -> Result<Arc<Keyring>, BarrierError> {
        let root_key = self
            .read_state()
            .as_ref()
            .map(|u| u.root_key.clone())
            .ok_or(BarrierError::Sealed)?;
        let keyring = Arc::new(self.load_keyring(&root_key).await?.0);
        if let Some(u) = self.write_state().as_mut() {
            if keyring.active_term() >= u.keyring.active_term() {
                u.keyring = keyring.clone();
            }
        }
        Ok(keyring)
    }

    fn encrypt(&self, keyring: &Keyring, physical_key: &str, plaintext: &[u8]) -> Vec<u8> {
        aead::seal(
            &keyring.active().key,
            keyring.active_term(),
            physical_key.as_bytes(),
            plaintext,
        )
    }

    async fn decrypt(
        &self,
        path: &str,
        physical_key: &str,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, BarrierError> {
        let decrypt_err = |source| BarrierError::Decrypt {
            path: path.to_string(),
            source,
        };
        let term = aead::term_of(ciphertext).map_err(decrypt_err)?;
        let mut keyring = self.keyring()?;
        if keyring.term(term).is_none() {
            keyring = self.refresh_keyring().await?;
        }
        let key = keyring.term(term).ok_or(BarrierError::Decrypt {
            path: path.to_string(),
            source: AeadError::Authentication,
        })?;
        aead::open(&key.key, physical_key.as_bytes(), ciphertext).map_err(decrypt_err)
    }

    pub async fn get(&self, path: &str) -> Result<Option<Plain>, BarrierError> {
        self.keyring()?;
        let key = self.physical_key(path);
        match self.storage.get(&key).await? {
            Some(entry) => Ok(Some(Plain {
                value: self.decrypt(path, &key, &entry.value).await?,
                version: entry.version,
            })),
            None => Ok(None),
        }
    }

    /// Reads several logical paths in one storage round trip.
    pub async fn get_many(&self, paths: &[String]) -> Result<Vec<Option<Plain>>, BarrierError> {
        self.keyring()?;
        let keys: Vec<String> = paths.iter().map(|p| self.physical_key(p)).collect();
        let entries = self.storage.get_many(&keys).await?;
        let mut out = Vec::with_capacity(entries.len());
        for ((path, key), entry) in paths.iter().zip(&keys).zip(entries) {
            out.push(match entry {
                Some(e) => Some(Plain {
                    value: self.decrypt(path, key, &e.value).await?,
                    version: e.version,
                }),
                None => None,
            });
        }
        Ok(out)
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.keyring()?;
        Ok(self.storage.list(&self.physical_key(prefix)).await?)
    }

    pub async fn put(&self, path: &str, value: &[u8]) -> Result<(), BarrierError> {
        self.write(vec![PlainOp::put(path, value.to_vec())]).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), BarrierError> {
        self.write(vec![PlainOp::delete(path)]).await
    }

    /// Encrypts and applies a batch atomically (one round trip).
    pub async fn write(&self, ops: Vec<PlainOp>) -> Result<(), BarrierError> {
        let keyring = self.keyring()?;
        let ops = ops
            .into_iter()
            .map(|op| match op {
                PlainOp::Put {
                    path,
                    value,
                    condition,
                } => {
                    let key = self.physical_key(&path);
                    let value = self.encrypt(&keyring, &key, &value);
                    WriteOp::Put {
                        key,
                        value,
                        condition,
                    }
                }
                PlainOp::Delete { path, condition } => WriteOp::Delete {
                    key: self.physical_key(&path),
                    condition,
                },
            })
            .collect();
        Ok(self.storage.write(ops).await?)
    }

    /// Adds a keyring term and makes it active (`sys/rotate`). Concurrent rotations by other
    /// processes are detected by a conditional write and retried on the fresh keyring.
    pub async fn rotate(&self) -> Result<KeyStatus, BarrierError> {
        let root_key = self
            .read_state()
            .as_ref()
            .map(|u| u.root_key.clone())
            .ok_or(BarrierError::Sealed)?;
        let key = self.physical_key(KEYRING_PATH);
        loop {
            let (current, version) = self.load_keyring(&root_key).await?;
            let next = current.rotated();
            let ct = aead::seal(&root_key, 0, key.as_bytes(), &next.to_bytes());
            let op = WriteOp::Put {
                key: key.clone(),
                value: ct,
                condition: Some(Condition::Version(version)),
            };
            match self.storage.write(vec![op]).await {
                Ok(()) => {
                    let status = KeyStatus {
                        term: next.active_term(),
                        install_time: next.active().install_time,
                    };
                    if let Some(u) = self.write_state().as_mut() {
                        u.keyring = Arc::new(next);
                    }
                    return Ok(status);
                }
                Err(StorageError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn key_status(&self) -> Result<KeyStatus, BarrierError> {
        let keyring = self.keyring()?;
        Ok(KeyStatus {
            term: keyring.active_term(),
            install_time: keyring.active().install_time,
        })
    }
}

#[cfg(test)]
mod tests;
