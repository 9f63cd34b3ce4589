//! The mount table: which secrets engine serves which path prefix.
//!
//! Stored as one value (`core/mounts`) behind the barrier and cached per process after unseal.
//! Each mount's data lives under `logical/<uuid>/`, so a disabled-then-re-enabled mount starts
//! empty and one mount can never address another's keys.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::barrier::{Barrier, BarrierError, Plain, PlainOp};

pub const MOUNTS_PATH: &str = "core/mounts";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MountEntry {
    /// With a trailing slash, e.g. `secret/`.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub uuid: String,
    pub accessor: String,
    #[serde(default)]
    pub options: Map<String, Value>,
    #[serde(default)]
    pub default_lease_ttl: u64,
    #[serde(default)]
    pub max_lease_ttl: u64,
    #[serde(default)]
    pub local: bool,
    #[serde(default)]
    pub seal_wrap: bool,
    #[serde(default)]
    pub external_entropy_access: bool,
    /// Request headers passed through to the backend (OpenBao shows them in `config`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passthrough_request_headers: Vec<String>,
}

impl MountEntry {
    pub fn new(path: &str, kind: &str, description: &str, options: Map<String, Value>) -> Self {
        let suffix: u32 = rand::thread_rng().gen();
        MountEntry {
            path: normalize(path),
            kind: kind.into(),
            description: description.into(),
            uuid: uuid::Uuid::new_v4().to_string(),
            accessor: format!("{kind}_{suffix:08x}"),
            options,
            default_lease_ttl: 0,
            max_lease_ttl: 0,
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
            passthrough_request_headers: Vec::new(),
        }
    }

    /// Where this mount's data lives behind the barrier.
    pub fn storage_prefix(&self) -> String {
        format!("logical/{}/", self.uuid)
    }

    pub fn kv_version(&self) -> Option<u8> {
        if self.kind != "kv" {
            return None;
        }
        match self.options.get("version").and_then(Value::as_str) {
            Some("2") => Some(2),
            _ => Some(1),
        }
    }

    /// The JSON OpenBao shows for a mount in `sys/mounts` and `sys/internal/ui/mounts`.
    pub fn to_json(&self) -> Value {
        // Secrets engines show their options (`{}` when none); built-in mounts show null.
        let options = if self.options.is_empty() && !self.is_kv() {
            Value::Null
        } else {
            Value::Object(self.options.clone())
        };
        let mut config = json!({
            "default_lease_ttl": self.default_lease_ttl,
            "force_no_cache": false,
            "max_lease_ttl": self.max_lease_ttl,
        });
        if !self.passthrough_request_headers.is_empty() {
            config["passthrough_request_headers"] = json!(self.passthrough_request_headers);
        }
        let mut out = json!({
            "accessor": self.accessor,
            "config": config,
            "description": self.description,
            "external_entropy_access": self.external_entropy_access,
            "local": self.local,
            "options": options,
            "plugin_version": "",
            "running_plugin_version": format!("v{}+builtin.coffer", env!("CARGO_PKG_VERSION")),
            "running_sha256": "",
            "seal_wrap": self.seal_wrap,
            "type": self.kind,
            "uuid": self.uuid,
        });
        if self.is_kv() {
            out["deprecation_status"] = json!("supported");
        }
        out
    }

    fn is_kv(&self) -> bool {
        self.kind == "kv"
    }

    /// `sys/mounts/<path>/tune` as OpenBao shows it: zero TTLs are the system defaults.
    pub fn tune_json(&self) -> Value {
        let ttl = |t: u64| if t == 0 { SYSTEM_DEFAULT_LEASE_TTL } else { t };
        let mut out = json!({
            "default_lease_ttl": ttl(self.default_lease_ttl),
            "description": self.description,
            "force_no_cache": false,
            "max_lease_ttl": ttl(self.max_lease_ttl),
        });
        if !self.options.is_empty() {
            out["options"] = Value::Object(self.options.clone());
        }
        out
    }
}

/// OpenBao's default and maximum lease TTL when a mount sets none: 768h.
pub const SYSTEM_DEFAULT_LEASE_TTL: u64 = 768 * 3600;

pub fn normalize(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    format!("{trimmed}/")
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MountTable {
    pub entries: Vec<MountEntry>,
    /// The storage version this table was read at (0: not stored yet). Compared with the
    /// stored version on every request to notice changes made by other processes.
    #[serde(skip)]
    pub version: u64,
}

impl MountTable {
    /// The mounts every store starts with, as OpenBao's.
    pub fn defaults() -> Self {
        let mut cubbyhole = MountEntry::new(
            "cubbyhole/",
            "cubbyhole",
            "per-token private secret storage",
            Map::new(),
        );
        cubbyhole.local = true;
        let mut identity = MountEntry::new("identity/", "identity", "identity store", Map::new());
        identity.passthrough_request_headers = vec!["Authorization".into()];
        let mut system = MountEntry::new(
            "sys/",
            "system",
            "system endpoints used for control, policy and debugging",
            Map::new(),
        );
        system.seal_wrap = true;
        system.passthrough_request_headers = vec!["Accept".into()];
        MountTable {
            entries: vec![cubbyhole, identity, system],
            version: 0,
        }
    }

    /// The mount whose path is the longest prefix of `path`.
    pub fn route(&self, path: &str) -> Option<&MountEntry> {
        self.entries
            .iter()
            .filter(|m| path.starts_with(&m.path) || format!("{path}/") == m.path)
            .max_by_key(|m| m.path.len())
    }

    pub fn get(&self, path: &str) -> Option<&MountEntry> {
        let path = normalize(path);
        self.entries.iter().find(|m| m.path == path)
    }

    /// Whether `path` would overlap an existing mount (equal, inside one, or containing one).
    pub fn conflicts(&self, path: &str) -> Option<&MountEntry> {
        let path = normalize(path);
        self.entries
            .iter()
            .find(|m| m.path.starts_with(&path) || path.starts_with(&m.path))
    }

    pub fn write_op(&self) -> PlainOp {
        PlainOp::put(
            MOUNTS_PATH,
            serde_json::to_vec(self).expect("mount table serializes"),
        )
    }

    /// The table from its stored value.
    pub fn decode(plain: &Plain) -> Result<MountTable, BarrierError> {
        let mut table: MountTable =
            serde_json::from_slice(&plain.value).map_err(|_| BarrierError::CorruptValue {
                path: MOUNTS_PATH.into(),
            })?;
        table.version = plain.version;
        Ok(table)
    }

    pub async fn load(barrier: &Barrier) -> Result<(MountTable, u64), BarrierError> {
        match barrier.get(MOUNTS_PATH).await? {
            Some(plain) => {
                let table = MountTable::decode(&plain)?;
                Ok((table, plain.version))
            }
            None => Ok((MountTable::defaults(), 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv2() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("version".into(), json!("2"));
        m
    }

    #[test]
    fn route_picks_the_longest_prefix() {
        let mut t = MountTable::defaults();
        t.entries.push(MountEntry::new("a", "kv", "", Map::new()));
        t.entries.push(MountEntry::new("a/b", "kv", "", kv2()));
        assert_eq!(t.route("a/b/data/x").unwrap().path, "a/b/");
        assert_eq!(t.route("a/c").unwrap().path, "a/");
        assert_eq!(t.route("a").unwrap().path, "a/");
        assert!(t.route("ab/x").is_none());
        assert_eq!(t.get("a/b").unwrap().kv_version(), Some(2));
    }

    #[test]
    fn overlapping_paths_conflict() {
        let mut t = MountTable::default();
        t.entries.push(MountEntry::new("a/b", "kv", "", Map::new()));
        assert!(t.conflicts("a").is_some());
        assert!(t.conflicts("a/b/c").is_some());
        assert!(t.conflicts("a/c").is_none());
    }

    #[test]
    fn each_mount_gets_its_own_storage_prefix() {
        let a = MountEntry::new("x", "kv", "", Map::new());
        let b = MountEntry::new("x", "kv", "", Map::new());
        assert_ne!(a.storage_prefix(), b.storage_prefix());
    }
}
