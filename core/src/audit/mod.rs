//! Audit devices: every authenticated request and its response on record, sensitive values
//! HMAC'd, failing closed.
//!
//! The device table (`core/audit`) lives behind the barrier, so every process of a store
//! audits with the same devices; each device's HMAC salt is kept in it. A request is refused
//! (500) unless at least one enabled device recorded its request entry: with no device
//! enabled nothing is required, as in OpenBao.

pub mod entry;
pub mod hash;
pub mod segment;
mod sink;
mod trail;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::barrier::{Barrier, BarrierError, PlainOp};
use crate::storage::{Condition, StorageError};
pub use entry::{AuditAuth, AuditMount, AuditRequest, AuditResponse, FormatOptions};
use hash::AuditSalt;
use sink::{FileSink, Sink, SocketKind, SocketSink};
pub use trail::AuditTrail;

pub const AUDIT_TABLE_PATH: &str = "core/audit";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error("audit write failed: {0}")]
    Write(String),
    #[error("no audit device could record the request")]
    NoDeviceSucceeded,
    #[error(transparent)]
    Barrier(#[from] BarrierError),
}

/// One device as stored in the table.
#[derive(Clone, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// With a trailing slash, e.g. `file/`.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub options: BTreeMap<String, String>,
    pub local: bool,
    /// Declared in the server config rather than created through the API.
    pub from_config: bool,
    salt: String,
}

impl DeviceEntry {
    pub fn to_json(&self) -> Value {
        json!({
            "type": self.kind,
            "description": self.description,
            "options": self.options,
            "local": self.local,
            "path": self.path,
        })
    }

    fn salt(&self) -> Result<AuditSalt, AuditError> {
        B64.decode(&self.salt)
            .map(AuditSalt::new)
            .map_err(|_| AuditError::Invalid(format!("audit device {}: corrupt salt", self.path)))
    }
}

/// Where API-created devices may write and whether they may be created at all.
#[derive(Clone, Debug, Default)]
pub struct AuditPolicy {
    /// `audit_file_dir`: API-created file devices must write inside it; without it they are
    /// refused (stdout and discard are always allowed).
    pub file_dir: Option<PathBuf>,
    /// `disable_api_audit_creation = true`: only config-declared devices exist.
    pub api_creation_disabled: bool,
    /// Every file device writes hourly segments (`<file_path>.<YYYYMMDDHH>`), so retention can
    /// remove whole files (managed stores; see `segment`).
    pub segmented: bool,
    /// A file no API-created device may write to (a managed store's own trail: a tenant must
    /// not mix entries of its choosing, or raw ones, into it). Compared once resolved.
    pub reserved_file: Option<PathBuf>,
}

/// A device declared in the server config (`audit "file" "name" { ... }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredDevice {
    pub kind: String,
    pub path: String,
    pub description: String,
    pub options: BTreeMap<String, String>,
}

fn bool_option(
    options: &BTreeMap<String, String>,
    name: &str,
    default: bool,
) -> Result<bool, AuditError> {
    match options.get(name).map(String::as_str) {
        None | Some("") => Ok(default),
        Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
        Some("false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(AuditError::Invalid(format!(
            "unable to parse {name}: {other:?}"
        ))),
    }
}

const COMMON_OPTIONS: &[&str] = &[
    "format",
    "prefix",
    "hmac_accessor",
    "log_raw",
    "elide_list_responses",
    "fallback",
];

fn format_options(options: &BTreeMap<String, String>) -> Result<FormatOptions, AuditError> {
    match options.get("format").map(String::as_str) {
        None | Some("" | "json") => {}
        Some(other) => {
            return Err(AuditError::Invalid(format!(
                "unsupported format {other:?}: only \"json\" is supported"
            )))
        }
    }
    let prefix = options.get("prefix").cloned().unwrap_or_default();
    if prefix.chars().any(char::is_control) {
        return Err(AuditError::Invalid(
            "prefix must not contain line breaks or other control characters".into(),
        ));
    }
    Ok(FormatOptions {
        hmac_accessor: bool_option(options, "hmac_accessor", true)?,
        log_raw: bool_option(options, "log_raw", false)?,
        prefix,
    })
}

fn check_known(
    kind: &str,
    options: &BTreeMap<String, String>,
    own: &[&str],
) -> Result<(), AuditError> {
    for key in options.keys() {
        if !own.contains(&key.as_str()) && !COMMON_OPTIONS.contains(&key.as_str()) {
            return Err(AuditError::Invalid(format!(
                "{kind} audit device: unknown option {key:?}"
            )));
        }
    }
    Ok(())
}

/// Builds the sink of a device, applying the file rules for API-created devices.
fn build_sink(entry: &DeviceEntry, policy: &AuditPolicy, prefix: &str) -> Result<Sink, AuditError> {
    let options = &entry.options;
    match entry.kind.as_str() {
        "file" => {
            check_known("file", options, &["file_path", "path", "mode"])?;
            let file_path = options
                .get("file_path")
                .or_else(|| options.get("path"))
                .filter(|p| !p.is_empty())
                .ok_or_else(|| AuditError::Invalid("file_path is required".into()))?;
            match file_path.as_str() {
                "stdout" => return Ok(Sink::Stdout),
                "discard" => return Ok(Sink::Discard),
                _ => {}
            }
            let path = PathBuf::from(file_path);
            if !entry.from_config {
                let dir = policy.file_dir.as_deref().ok_or_else(|| {
                    AuditError::Refused(
                        "file audit devices created through the API need audit_file_dir in the server config".into(),
                    )
                })?;
                let resolved = sink::check_inside(dir, &path)?;
                if policy.reserved_file.as_ref() == Some(&resolved) {
                    return Err(AuditError::Refused(format!(
                        "file_path {}: is the audit trail the service keeps; choose another file",
                        path.display()
                    )));
                }
            }
            let mode = match options.get("mode") {
                None => None,
                Some(m) => Some(
                    u32::from_str_radix(m.trim_start_matches("0o"), 8)
                        .ok()
                        .filter(|m| *m <= 0o777)
                        .ok_or_else(|| AuditError::Invalid(format!("invalid mode {m:?}")))?,
                ),
            };
            Ok(Sink::File(FileSink::open(
                path,
                mode,
                prefix.to_string(),
                policy.segmented,
            )?))
        }
        "socket" => {
            check_known(
                "socket",
                options,
                &["address", "socket_type", "write_timeout"],
            )?;
            let address = options
                .get("address")
                .filter(|a| !a.is_empty())
                .ok_or_else(|| AuditError::Invalid("address is required".into()))?;
            let kind = match options.get("socket_type").map(String::as_str) {
                None | Some("tcp") => SocketKind::Tcp,
                Some("unix") => SocketKind::Unix,
                Some(other) => {
                    return Err(AuditError::Invalid(format!(
                        "unsupported socket_type {other:?}: tcp or unix"
                    )))
                }
            };
            let timeout = match options.get("write_timeout") {
                None => Duration::from_secs(2),
                Some(t) => crate::config::duration::parse(t)
                    .map_err(|_| AuditError::Invalid(format!("invalid write_timeout {t:?}")))?,
            };
            Ok(Sink::Socket(SocketSink::new(
                address.clone(),
                kind,
                timeout,
            )))
        }
        other => Err(AuditError::Invalid(format!(
            "unknown audit device type {other:?}: file or socket"
        ))),
    }
}

struct Device {
    entry: DeviceEntry,
    salt: AuditSalt,
    opts: FormatOptions,
    /// A device whose sink could not be built (its file vanished, its directory is no longer
    /// allowed) stays enabled and fails every write: fail closed, never silently skipped.
    sink: Result<Sink, String>,
}

impl Device {
    fn new(entry: DeviceEntry, policy: &AuditPolicy) -> Result<Self, AuditError> {
        let opts = format_options(&entry.options)?;
        let sink = build_sink(&entry, policy, &opts.prefix)?;
        Ok(Device {
            salt: entry.salt()?,
            opts,
            sink: Ok(sink),
            entry,
        })
    }

    /// Like `new`, but keeps a device that cannot open as a failing one.
    fn new_or_failing(entry: DeviceEntry, policy: &AuditPolicy) -> Result<Self, AuditError> {
        let opts = format_options(&entry.options).unwrap_or_default();
        let sink = build_sink(&entry, policy, &opts.prefix).map_err(|e| e.to_string());
        if let Err(e) = &sink {
            tracing::error!(device = %entry.path, error = %e, "audit device unavailable; requests fail closed");
        }
        Ok(Device {
            salt: entry.salt()?,
            opts,
            sink,
            entry,
        })
    }

    fn write_line(&self, line: &[u8]) -> Result<(), AuditError> {
        match &self.sink {
            Ok(sink) => sink.write_line(line),
            Err(e) => Err(AuditError::Write(e.clone())),
        }
    }
}

#[derive(Default, Clone, Serialize, Deserialize)]
struct AuditTable {
    devices: Vec<DeviceEntry>,
}

/// The enabled devices of one store, in memory.
pub struct AuditBroker {
    policy: AuditPolicy,
    declared: Vec<DeclaredDevice>,
    devices: RwLock<Arc<Vec<Arc<Device>>>>,
}

fn normalize(path: &str) -> String {
    format!("{}/", path.trim_matches('/'))
}

impl AuditBroker {
    pub fn new(policy: AuditPolicy, declared: Vec<DeclaredDevice>) -> Self {
        AuditBroker {
            policy,
            declared,
            devices: RwLock::new(Arc::new(Vec::new())),
        }
    }

    fn current(&self) -> Arc<Vec<Arc<Device>>> {
        self.devices
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn is_empty(&self) -> bool {
        self.current().is_empty()
    }

    pub fn list(&self) -> Vec<DeviceEntry> {
        self.current().iter().map(|d| d.entry.clone()).collect()
    }

    /// Forgets the devices (on seal).
    pub fn clear(&self) {
        *self.devices.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Vec::new());
    }

    async fn load_table(barrier: &Barrier) -> Result<(AuditTable, Option<u64>), AuditError> {
        match barrier.get(AUDIT_TABLE_PATH).await? {
            Some(p) => {
                let t =
                    serde_json::from_slice(&p.value).map_err(|_| BarrierError::CorruptValue {
                        path: AUDIT_TABLE_PATH.into(),
                    })?;
                Ok((t, Some(p.version)))
            }
            None => Ok((AuditTable::default(), None)),
        }
    }

    fn install(&self, table: &AuditTable) -> Result<(), AuditError> {
        let devices = table
            .devices
            .iter()
            .map(|entry| Device::new_or_failing(entry.clone(), &self.policy).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        *self.devices.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(devices);
        Ok(())
    }

    /// Loads the table at unseal, adding config-declared devices that are missing and removing
    /// those the config no longer declares (as OpenBao does with declarative devices).
    pub async fn load(&self, barrier: &Barrier) -> Result<(), AuditError> {
        let declared = self.declared.clone();
        let table = self
            .update(barrier, |table| {
                let before = table.devices.len();
                table.devices.retain(|e| {
                    !e.from_config || declared.iter().any(|d| normalize(&d.path) == e.path)
                });
                let mut changed = table.devices.len() != before;
                for d in &declared {
                    let path = normalize(&d.path);
                    if !table.devices.iter().any(|e| e.path == path) {
                        table.devices.push(new_entry(
                            &path,
                            &d.kind,
                            &d.description,
                            d.options.clone(),
                            true,
                        ));
                        changed = true;
                    }
                }
                Ok(changed)
            })
            .await?;
        self.install(&table)
    }

    /// Applies `change` to the stored table with a conditional write (no lost updates across
    /// processes); `change` returns whether it changed anything.
    async fn update<F>(&self, barrier: &Barrier, change: F) -> Result<AuditTable, AuditError>
    where
        F: Fn(&mut AuditTable) -> Result<bool, AuditError>,
    {
        loop {
            let (mut table, version) = Self::load_table(barrier).await?;
            if !change(&mut table)? {
                return Ok(table);
            }
            let op = PlainOp::Put {
                path: AUDIT_TABLE_PATH.into(),
                value: serde_json::to_vec(&table).expect("audit table serializes"),
                condition: Some(version.map_or(Condition::Absent, Condition::Version)),
            };
            match barrier.write(vec![op]).await {
                Ok(()) => return Ok(table),
                Err(BarrierError::Storage(StorageError::ConditionFailed { .. })) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `sys/audit/<path>` PUT: validates and opens the device before storing it.
    pub async fn enable(
        &self,
        barrier: &Barrier,
        path: &str,
        kind: &str,
        description: &str,
        options: BTreeMap<String, String>,
        local: bool,
    ) -> Result<(), AuditError> {
        if self.policy.api_creation_disabled {
            return Err(AuditError::Refused(
                "audit devices cannot be created through the API on this server (disable_api_audit_creation)".into(),
            ));
        }
        let path = normalize(path);
        if path == "/" {
            return Err(AuditError::Invalid("missing audit device path".into()));
        }
        let mut entry = new_entry(&path, kind, description, options, false);
        entry.local = local;
        // Opening it here is the check: a device that cannot write is refused at enable time.
        Device::new(entry.clone(), &self.policy)?;
        let table = self
            .update(barrier, |table| {
                if table.devices.iter().any(|e| e.path == path) {
                    return Err(AuditError::Invalid(format!("path already in use: {path}")));
                }
                table.devices.push(entry.clone());
                Ok(true)
            })
            .await?;
        self.install(&table)
    }

    /// `sys/audit/<path>` DELETE. A config-declared device cannot be disabled through the
    /// API (as in OpenBao): the config owns it, and on a managed store it is the trail the
    /// service keeps for the plan's retention.
    pub async fn disable(&self, barrier: &Barrier, path: &str) -> Result<(), AuditError> {
        let path = normalize(path);
        let table = self
            .update(barrier, |table| {
                if table.devices.iter().any(|e| e.path == path && e.from_config) {
                    return Err(AuditError::Refused(format!(
                        "audit device {path} is declared in the server configuration and cannot be disabled through the API"
                    )));
                }
                let before = table.devices.len();
                table.devices.retain(|e| e.path != path);
                Ok(table.devices.len() != before)
            })
            .await?;
        self.install(&table)
    }

    /// `sys/audit-hash/<path>`.
    pub fn hash(&self, path: &str, input: &str) -> Option<String> {
        let path = normalize(path);
        self.current()
            .iter()
            .find(|d| d.entry.path == path)
            .map(|d| d.salt.hash(input))
    }

    fn record(&self, entry_of: impl Fn(&Device) -> Value) -> Result<(), AuditError> {
        let devices = self.current();
        if devices.is_empty() {
            return Ok(());
        }
        let mut any = false;
        for d in devices.iter() {
            let line = entry::to_line(&d.opts, &entry_of(d));
            match d.write_line(&line) {
                Ok(()) => any = true,
                Err(e) => {
                    tracing::error!(device = %d.entry.path, error = %e, "audit device failed")
                }
            }
        }
        if any {
            Ok(())
        } else {
            Err(AuditError::NoDeviceSucceeded)
        }
    }

    /// The request entry, before the operation. An error here must stop the request.
    pub fn log_request(&self, req: &AuditRequest, error: Option<&str>) -> Result<(), AuditError> {
        let now = Utc::now();
        self.record(|d| entry::request_entry(&d.salt, &d.opts, req, error, now))
    }

    /// The response entry, after the operation.
    pub fn log_response(
        &self,
        req: &AuditRequest,
        resp: &AuditResponse,
        error: Option<&str>,
    ) -> Result<(), AuditError> {
        let now = Utc::now();
        self.record(|d| entry::response_entry(&d.salt, &d.opts, req, resp, error, now))
    }

    /// Reopens every file device (SIGHUP, after log rotation).
    pub fn reopen(&self) {
        for d in self.current().iter() {
            if let Err(e) = d
                .sink
                .as_ref()
                .map_err(|e| AuditError::Write(e.clone()))
                .and_then(Sink::reopen)
            {
                tracing::error!(device = %d.entry.path, error = %e, "reopening audit device failed");
            }
        }
    }
}

fn new_entry(
    path: &str,
    kind: &str,
    description: &str,
    options: BTreeMap<String, String>,
    from_config: bool,
) -> DeviceEntry {
    DeviceEntry {
        path: path.to_string(),
        kind: kind.to_string(),
        description: description.to_string(),
        options,
        local: false,
        from_config,
        salt: B64.encode(AuditSalt::generate().as_bytes()),
    }
}

#[cfg(test)]
mod tests;
