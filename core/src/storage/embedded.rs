//! Embedded, crash-safe storage on one file (redb), the default for `coffer server`.
//!
//! redb commits with `Durability::Immediate`, i.e. an fsync before the commit returns, so a write
//! acknowledged to a client survives `kill -9` and power loss. redb is synchronous: every call
//! runs on tokio's blocking pool so request handlers never block the async workers. One process
//! owns the file (redb locks it); several processes share a store through DynamoDB instead.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableTable, TableDefinition};

use super::{check_condition, list_one_level, Entry, Storage, StorageError, WriteOp};

/// key -> 8-byte big-endian version followed by the value bytes.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");

pub struct EmbeddedStorage {
    db: Arc<Database>,
}

fn backend(op: &str, err: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("embedded {op}: {err}"))
}

fn decode(key: &str, raw: &[u8]) -> Result<Entry, StorageError> {
    if raw.len() < 8 {
        return Err(backend("read", format!("corrupt record for {key:?}")));
    }
    let (version, value) = raw.split_at(8);
    let mut v = [0u8; 8];
    v.copy_from_slice(version);
    Ok(Entry {
        key: key.to_string(),
        value: value.to_vec(),
        version: u64::from_be_bytes(v),
    })
}

fn encode(version: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(value);
    out
}

impl EmbeddedStorage {
    /// Opens (or creates) the database file `coffer.redb` inside `dir`.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| backend("create directory", e))?;
        let db = Database::create(dir.join("coffer.redb")).map_err(|e| backend("open", e))?;
        let txn = db.begin_write().map_err(|e| backend("open", e))?;
        txn.open_table(ENTRIES).map_err(|e| backend("open", e))?;
        txn.commit().map_err(|e| backend("open", e))?;
        Ok(Self { db: Arc::new(db) })
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| backend("task", e))?
    }
}

fn read_keys(db: &Database, keys: &[String]) -> Result<Vec<Option<Entry>>, StorageError> {
    let txn = db.begin_read().map_err(|e| backend("read", e))?;
    let table = txn.open_table(ENTRIES).map_err(|e| backend("read", e))?;
    keys.iter()
        .map(
            |key| match table.get(key.as_str()).map_err(|e| backend("read", e))? {
                Some(raw) => decode(key, raw.value()).map(Some),
                None => Ok(None),
            },
        )
        .collect()
}

#[async_trait]
impl Storage for EmbeddedStorage {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StorageError> {
        let keys = vec![key.to_string()];
        let mut found = self.blocking(move |db| read_keys(db, &keys)).await?;
        Ok(found.pop().flatten())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, StorageError> {
        let keys = keys.to_vec();
        self.blocking(move |db| read_keys(db, &keys)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let keys = self.keys_under(prefix).await?;
        Ok(list_one_level(prefix, keys.iter().map(String::as_str)))
    }

    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let prefix = prefix.to_string();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(|e| backend("list", e))?;
            let table = txn.open_table(ENTRIES).map_err(|e| backend("list", e))?;
            let mut keys = Vec::new();
            for item in table
                .range(prefix.as_str()..)
                .map_err(|e| backend("list", e))?
            {
                let (key, _) = item.map_err(|e| backend("list", e))?;
                let key = key.value();
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                keys.push(key.to_string());
            }
            Ok(keys)
        })
        .await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(|e| backend("write", e))?;
            {
                let mut table = txn.open_table(ENTRIES).map_err(|e| backend("write", e))?;
                for op in &ops {
                    let current = match table.get(op.key()).map_err(|e| backend("write", e))? {
                        Some(raw) => Some(decode(op.key(), raw.value())?.version),
                        None => None,
                    };
                    check_condition(op.key(), op.condition(), current)?;
                }
                for op in &ops {
                    match op {
                        WriteOp::Put { key, value, .. } => {
                            let version =
                                match table.get(key.as_str()).map_err(|e| backend("write", e))? {
                                    Some(raw) => decode(key, raw.value())?.version + 1,
                                    None => 1,
                                };
                            table
                                .insert(key.as_str(), encode(version, value).as_slice())
                                .map_err(|e| backend("write", e))?;
                        }
                        WriteOp::Delete { key, .. } => {
                            table
                                .remove(key.as_str())
                                .map_err(|e| backend("write", e))?;
                        }
                    }
                }
            }
            // Dropping an uncommitted transaction on any error above aborts it: all or nothing.
            txn.commit().map_err(|e| backend("commit", e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn embedded_storage_meets_the_storage_contract() {
        let dir = tempfile::tempdir().unwrap();
        let storage = EmbeddedStorage::open(dir.path()).unwrap();
        super::super::contract_tests::run_all(&storage).await;
    }

    #[tokio::test]
    async fn embedded_storage_keeps_data_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let storage = EmbeddedStorage::open(dir.path()).unwrap();
            storage.put("s/a", b"one".to_vec()).await.unwrap();
        }
        let storage = EmbeddedStorage::open(dir.path()).unwrap();
        let entry = storage.get("s/a").await.unwrap().unwrap();
        assert_eq!(entry.value, b"one");
        assert_eq!(entry.version, 1);
    }
}
