//! The stored shapes of KV v2: the per-key record, version metadata and the mount config, and
//! the rules that combine key-level and mount-level settings (as OpenBao's `kv` plugin does).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::barrier::{BarrierError, PlainOp};
use crate::http::error::ApiError;
use crate::secrets::kv::fields::go_duration;
use crate::secrets::View;
use crate::storage::{Condition, StorageError};

pub(super) const CONFIG_PATH: &str = "config";

/// OpenBao keeps 10 versions when neither the key nor the mount says otherwise.
const DEFAULT_MAX_VERSIONS: u64 = 10;

pub(super) fn record_path(key: &str) -> String {
    format!("data/{key}")
}

pub(super) fn version_path(key: &str, n: u64) -> String {
    format!("versions/{key}/{n}")
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct VersionMeta {
    pub created_time: DateTime<Utc>,
    pub deletion_time: Option<DateTime<Utc>>,
    pub destroyed: bool,
}

impl VersionMeta {
    /// The `metadata` of a data read or the `data` of a write.
    pub fn to_json(&self, version: u64, custom: &Option<Map<String, Value>>) -> Value {
        json!({
            "created_time": rfc3339(self.created_time),
            "custom_metadata": custom,
            "deletion_time": self.deletion_time.map(rfc3339).unwrap_or_default(),
            "destroyed": self.destroyed,
            "version": version,
        })
    }

    /// A version whose deletion time has come is deleted, whether a client deleted it or
    /// `delete_version_after` scheduled it.
    pub fn is_deleted(&self) -> bool {
        self.deletion_time.is_some_and(|t| t <= Utc::now())
    }

    pub fn is_readable(&self) -> bool {
        !self.destroyed && !self.is_deleted()
    }
}

/// Everything about one key except the data of its older versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    pub current_version: u64,
    pub oldest_version: u64,
    pub created_time: DateTime<Utc>,
    pub updated_time: DateTime<Utc>,
    pub max_versions: u64,
    pub cas_required: bool,
    /// Seconds; 0 = the mount's setting, negative = never.
    #[serde(default)]
    pub delete_version_after: i64,
    pub custom_metadata: Option<Map<String, Value>>,
    /// Bumped by each metadata write (OpenBao's metadata check-and-set).
    #[serde(default)]
    pub current_metadata_version: u64,
    pub versions: BTreeMap<u64, VersionMeta>,
    /// Data of `current_version`, unless destroyed.
    pub latest: Option<Map<String, Value>>,
}

impl Record {
    pub fn new(now: DateTime<Utc>) -> Self {
        Record {
            current_version: 0,
            oldest_version: 0,
            created_time: now,
            updated_time: now,
            max_versions: 0,
            cas_required: false,
            delete_version_after: 0,
            custom_metadata: None,
            current_metadata_version: 0,
            versions: BTreeMap::new(),
            latest: None,
        }
    }

    pub fn metadata_json(&self) -> Value {
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    json!({
                        "created_time": rfc3339(v.created_time),
                        "deletion_time": v.deletion_time.map(rfc3339).unwrap_or_default(),
                        "destroyed": v.destroyed,
                    }),
                )
            })
            .collect();
        json!({
            "cas_required": self.cas_required,
            "created_time": rfc3339(self.created_time),
            "current_metadata_version": self.current_metadata_version,
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata,
            "delete_version_after": go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "metadata_cas_required": false,
            "oldest_version": self.oldest_version,
            "updated_time": rfc3339(self.updated_time),
            "versions": versions,
        })
    }

    /// Adds version `current_version + 1` holding `data`, moves the previous latest data to its
    /// version key, and prunes beyond the effective `max_versions` (newest kept). Returns the
    /// writes besides the record itself, and the new version number.
    pub fn push_version(
        &mut self,
        key: &str,
        data: Map<String, Value>,
        config: &KvConfig,
        now: DateTime<Utc>,
    ) -> (Vec<PlainOp>, u64) {
        let mut ops = Vec::new();
        if let Some(previous) = self.latest.take() {
            ops.push(PlainOp::put(
                version_path(key, self.current_version),
                encode(&previous),
            ));
        }
        let n = self.current_version + 1;
        self.current_version = n;
        self.updated_time = now;
        let deletion_time = deletion_delay(self.delete_version_after, config.delete_version_after)
            .map(|secs| now + Duration::seconds(secs));
        self.versions.insert(
            n,
            VersionMeta {
                created_time: now,
                deletion_time,
                destroyed: false,
            },
        );
        self.latest = Some(data);
        let max = effective_max_versions(self.max_versions, config.max_versions);
        while self.versions.len() as u64 > max {
            let Some((&oldest, _)) = self.versions.iter().next() else {
                break;
            };
            self.versions.remove(&oldest);
            let path = version_path(key, oldest);
            // A batch touches each key once (DynamoDB transactions refuse otherwise): data
            // moved out above and pruned here is simply never written.
            let before = ops.len();
            ops.retain(|op| !matches!(op, PlainOp::Put { path: p, .. } if *p == path));
            if ops.len() == before {
                ops.push(PlainOp::delete(path));
            }
            // As OpenBao: 0 until the first pruning, then the oldest version kept.
            self.oldest_version = oldest + 1;
        }
        (ops, n)
    }

    /// Checks a data write's `options.cas` against this record and the mount config.
    pub fn check_cas(&self, cas: Option<u64>, config: &KvConfig) -> Result<(), ApiError> {
        match cas {
            None if self.cas_required || config.cas_required => Err(ApiError::bad_request(
                "check-and-set parameter required for this call",
            )),
            Some(cas) if cas != self.current_version => Err(ApiError::bad_request(
                "check-and-set parameter did not match the current version",
            )),
            _ => Ok(()),
        }
    }
}

/// The larger of the key's and the mount's limits, else OpenBao's default: OpenBao 2.7 keeps
/// 3 versions both for (key 2, mount 3) and (key 3, mount 2), checked against a real server.
fn effective_max_versions(key: u64, mount: u64) -> u64 {
    match key.max(mount) {
        0 => DEFAULT_MAX_VERSIONS,
        n => n,
    }
}

/// OpenBao's `deletionTime`: a negative key setting disables, a positive one wins, else the
/// mount's when positive.
fn deletion_delay(key: i64, mount: i64) -> Option<i64> {
    match (key, mount) {
        (k, _) if k < 0 => None,
        (k, _) if k > 0 => Some(k),
        (_, m) if m > 0 => Some(m),
        _ => None,
    }
}

/// The mount-wide settings at `config`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct KvConfig {
    pub max_versions: u64,
    pub cas_required: bool,
    /// Seconds.
    pub delete_version_after: i64,
}

impl KvConfig {
    pub fn to_json(&self) -> Value {
        json!({
            "cas_required": self.cas_required,
            "delete_version_after": go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "metadata_cas_required": false,
        })
    }
}

pub(super) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("KV values serialize")
}

/// A loaded record and the condition that a write of it must meet.
pub(super) struct Loaded {
    pub record: Record,
    pub condition: Condition,
}

pub(super) async fn load(view: &View<'_>, key: &str) -> Result<Option<(Record, u64)>, ApiError> {
    match view.get(&record_path(key)).await? {
        Some(plain) => {
            let record = serde_json::from_slice(&plain.value)
                .map_err(|_| ApiError::Internal(format!("corrupt KV record for {key:?}")))?;
            Ok(Some((record, plain.version)))
        }
        None => Ok(None),
    }
}

/// The record, or a fresh one to be created with a must-not-exist write.
pub(super) async fn load_or_new(view: &View<'_>, key: &str) -> Result<Loaded, ApiError> {
    Ok(match load(view, key).await? {
        Some((record, version)) => Loaded {
            record,
            condition: Condition::Version(version),
        },
        None => Loaded {
            record: Record::new(Utc::now()),
            condition: Condition::Absent,
        },
    })
}

pub(super) async fn load_config(view: &View<'_>) -> Result<KvConfig, ApiError> {
    match view.get(CONFIG_PATH).await? {
        Some(plain) => serde_json::from_slice(&plain.value)
            .map_err(|_| ApiError::Internal("corrupt KV mount config".into())),
        None => Ok(KvConfig::default()),
    }
}

/// The most writes one atomic batch may carry (DynamoDB's TransactWriteItems limit).
const MAX_BATCH: usize = 100;

/// Writes the record (conditionally) with `extra` ops in one atomic batch. `Ok(false)` when
/// another writer changed the record first: the caller reloads and retries.
///
/// Deletes of version data that do not fit the batch (pruning after `max_versions` was
/// lowered a lot) follow in further batches once the record is written: the record no longer
/// lists those versions, so their data is already unreachable.
pub(super) async fn save(
    view: &View<'_>,
    key: &str,
    record: &Record,
    condition: Condition,
    extra: Vec<PlainOp>,
) -> Result<bool, ApiError> {
    let (mut batch, mut later): (Vec<PlainOp>, Vec<PlainOp>) = extra
        .into_iter()
        .partition(|op| matches!(op, PlainOp::Put { .. }));
    let room = MAX_BATCH.saturating_sub(batch.len() + 1).min(later.len());
    batch.extend(later.drain(..room));
    batch.push(PlainOp::Put {
        path: record_path(key),
        value: encode(record),
        condition: Some(condition),
    });
    match view.write(batch).await {
        Ok(()) => {}
        Err(BarrierError::Storage(StorageError::ConditionFailed { .. })) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    while !later.is_empty() {
        let rest = later.split_off(later.len().min(MAX_BATCH));
        view.write(std::mem::replace(&mut later, rest)).await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_larger_max_versions_wins() {
        assert_eq!(effective_max_versions(0, 0), 10);
        assert_eq!(effective_max_versions(3, 0), 3);
        assert_eq!(effective_max_versions(0, 4), 4);
        assert_eq!(effective_max_versions(2, 3), 3);
        assert_eq!(effective_max_versions(3, 2), 3);
    }

    #[test]
    fn a_negative_key_delay_disables_the_mounts() {
        assert_eq!(deletion_delay(-1, 60), None);
        assert_eq!(deletion_delay(0, 60), Some(60));
        assert_eq!(deletion_delay(30, 60), Some(30));
        assert_eq!(deletion_delay(0, 0), None);
    }

    #[test]
    fn pruning_keeps_the_newest_versions_and_moves_old_data_out() {
        let config = KvConfig {
            max_versions: 2,
            ..KvConfig::default()
        };
        let mut r = Record::new(Utc::now());
        let mut data = Map::new();
        data.insert("v".into(), json!(1));
        r.push_version("k", data.clone(), &config, Utc::now());
        r.push_version("k", data.clone(), &config, Utc::now());
        assert_eq!(r.oldest_version, 0);
        let (ops, n) = r.push_version("k", data, &config, Utc::now());
        assert_eq!(n, 3);
        assert_eq!(r.versions.keys().copied().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(r.oldest_version, 2);
        // version 2's data moved out, version 1's data deleted
        assert_eq!(ops.len(), 2);
    }

    #[test]
    fn with_max_versions_1_the_previous_data_is_neither_moved_nor_deleted() {
        let config = KvConfig {
            max_versions: 1,
            ..KvConfig::default()
        };
        let mut r = Record::new(Utc::now());
        r.push_version("k", Map::new(), &config, Utc::now());
        let (ops, n) = r.push_version("k", Map::new(), &config, Utc::now());
        assert_eq!(n, 2);
        assert!(ops.is_empty(), "no write may touch versions/k/1 twice");
        assert_eq!(r.versions.keys().copied().collect::<Vec<_>>(), vec![2]);
    }
}
