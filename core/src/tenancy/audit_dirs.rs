//! The audit trail the service keeps for every store: `<audit_dir>/<store id>/`, pruned to the
//! store's plan `audit_retention`.
//!
//! Each store gets a config-declared file device `managed/` writing hourly segments
//! `<audit_dir>/<id>/audit.log.<YYYYMMDDHH>` in OpenBao's entry format, HMAC'd with a salt
//! kept in the store's own audit table (so every process and restart hashes alike, and the
//! tenant can compute hashes with `sys/audit-hash/managed`). Writing is a local append: no
//! storage round trip is added to any request. The tenant cannot disable it (it is declared),
//! may add file devices of its own only inside its directory (segmented too, so retention
//! covers them), and never the trail's own file.
//!
//! Retention is enforced on whole segments by [`AuditDirs::prune`], run by the registry's
//! background task, on a plan change and at start; deleting a store removes its directory.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::audit::{segment, AuditBroker, AuditPolicy, DeclaredDevice};

use super::host::is_valid_store_id;

/// The path of the service-kept device in every store's audit table.
pub const MANAGED_DEVICE: &str = "managed";
/// The base name of its segments inside the store's directory.
pub const TRAIL_FILE: &str = "audit.log";

/// The control plane's `audit_dir`.
#[derive(Debug, Clone)]
pub struct AuditDirs {
    root: PathBuf,
}

impl AuditDirs {
    pub fn new(root: PathBuf) -> AuditDirs {
        AuditDirs { root }
    }

    pub fn store_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The audit broker of store `id`, its directory created (owner-only) if missing. A
    /// directory that cannot be created leaves the managed device failing: the store's
    /// requests then fail closed (500) rather than go unaudited.
    pub fn broker(&self, id: &str) -> AuditBroker {
        let dir = self.store_dir(id);
        if let Err(e) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
        {
            tracing::error!(store = id, dir = %dir.display(), error = %e, "store audit directory not created");
        }
        // Resolved once, so the tenant's paths (resolved the same way) compare with it.
        let dir = dir.canonicalize().unwrap_or(dir);
        let trail = dir.join(TRAIL_FILE);
        let declared = DeclaredDevice {
            kind: "file".into(),
            path: MANAGED_DEVICE.into(),
            description: "audit trail kept by the service for the plan's audit retention".into(),
            options: BTreeMap::from([("file_path".to_string(), trail.display().to_string())]),
        };
        AuditBroker::new(
            AuditPolicy {
                file_dir: Some(dir),
                api_creation_disabled: false,
                segmented: true,
                reserved_file: Some(trail),
            },
            vec![declared],
        )
    }

    /// Removes the store's segments older than `retention` (`None`: kept for ever).
    pub fn prune(&self, id: &str, retention: Option<Duration>) -> io::Result<usize> {
        let Some(retention) = retention else {
            return Ok(0);
        };
        match segment::prune(&self.store_dir(id), retention, SystemTime::now()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            other => other,
        }
    }

    /// Removes the store's whole trail (the store is deleted).
    pub fn remove(&self, id: &str) -> io::Result<()> {
        match std::fs::remove_dir_all(self.store_dir(id)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// The store ids that have a directory here.
    pub fn store_ids(&self) -> io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            if let Some(id) = entry.file_name().to_str().filter(|n| is_valid_store_id(n)) {
                ids.push(id.to_string());
            }
        }
        ids.sort();
        Ok(ids)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}
