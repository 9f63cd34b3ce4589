//! In-memory storage for `-dev` servers and unit tests. Nothing survives the process.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{check_condition, list_one_level, Entry, Storage, StorageError, WriteOp};

/// A `BTreeMap` so LIST is an ordered range scan, behind a std `Mutex` because no lock is
/// ever held across an `.await`.
#[derive(Default)]
pub struct MemoryStorage {
    map: Mutex<BTreeMap<String, (u64, Vec<u8>)>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (u64, Vec<u8>)>> {
        // A panic while holding the lock cannot leave the map half-written (every mutation is a
        // single insert/remove after all checks), so a poisoned lock is still consistent.
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    fn kind(&self) -> &'static str {
        "inmem"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StorageError> {
        Ok(self.lock().get(key).map(|(version, value)| Entry {
            key: key.to_string(),
            value: value.clone(),
            version: *version,
        }))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, StorageError> {
        let map = self.lock();
        Ok(keys
            .iter()
            .map(|key| {
                map.get(key).map(|(version, value)| Entry {
                    key: key.clone(),
                    value: value.clone(),
                    version: *version,
                })
            })
            .collect())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let map = self.lock();
        let keys = map
            .range(prefix.to_string()..)
            .map(|(k, _)| k.as_str())
            .take_while(|k| k.starts_with(prefix));
        Ok(list_one_level(prefix, keys))
    }

    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let map = self.lock();
        Ok(map
            .range(prefix.to_string()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        let mut map = self.lock();
        for op in &ops {
            check_condition(op.key(), op.condition(), map.get(op.key()).map(|(v, _)| *v))?;
        }
        for op in ops {
            match op {
                WriteOp::Put { key, value, .. } => {
                    let version = map.get(&key).map_or(1, |(v, _)| v + 1);
                    map.insert(key, (version, value));
                }
                WriteOp::Delete { key, .. } => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_storage_meets_the_storage_contract() {
        super::super::contract_tests::run_all(&MemoryStorage::new()).await;
    }
}
