//! `AuditTrail`: the audit record of one request as it goes through `Store::handle`.
//!
//! The request entry is written once the caller is known and before anything is performed
//! (fail closed: if no device records it, the request stops there); the response entry after.
//! A request refused before that point (a bad token) still gets both entries, with the error.
//! With no device enabled the trail is inert and costs nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::{AuditAuth, AuditBroker, AuditMount, AuditRequest, AuditResponse};
use crate::auth::token::TokenEntry;
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::mounts::MountTable;

/// The mount serving `path` (`sys/` and `auth/token/` included, as OpenBao reports them).
fn mount_of(mounts: &MountTable, path: &str, with_accessor: bool) -> Option<AuditMount> {
    mounts.route(path).map(|m| AuditMount {
        point: m.path.clone(),
        kind: m.kind.clone(),
        accessor: with_accessor.then(|| m.accessor.clone()),
    })
}

pub struct AuditTrail<'a> {
    broker: &'a AuditBroker,
    record: Option<Mutex<AuditRequest>>,
    request_logged: AtomicBool,
}

impl<'a> AuditTrail<'a> {
    pub fn new(broker: &'a AuditBroker, req: &Request) -> Self {
        let record = (!broker.is_empty()).then(|| {
            Mutex::new(AuditRequest {
                id: req.id.clone(),
                operation: req.operation.as_str().to_string(),
                path: req.path.clone(),
                data: Some(req.data.clone()),
                remote_addr: req.remote_addr.clone(),
                mount: None,
                auth: AuditAuth {
                    client_token: req.token.clone(),
                    ..Default::default()
                },
            })
        });
        AuditTrail {
            broker,
            record,
            request_logged: AtomicBool::new(false),
        }
    }

    fn lock(m: &Mutex<AuditRequest>) -> std::sync::MutexGuard<'_, AuditRequest> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The caller is authenticated and authorised: record the request before it runs.
    pub fn authorized(&self, entry: &TokenEntry, mounts: &MountTable) -> Result<(), ApiError> {
        let Some(record) = &self.record else {
            return Ok(());
        };
        let mut r = Self::lock(record);
        r.auth.accessor = Some(entry.accessor.clone());
        r.auth.display_name = Some(entry.display_name.clone());
        r.auth.policies = entry.policies.clone();
        r.auth.token_policies = entry.policies.clone();
        r.auth.metadata = entry.meta.clone();
        r.auth.token_type = Some("service".into());
        r.auth.token_ttl = Some(entry.ttl_seconds);
        r.auth.token_issue_time = Some(entry.creation_time);
        r.mount = mount_of(mounts, &r.path, true);
        self.broker.log_request(&r, None)?;
        self.request_logged.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Records the outcome. An error recording it fails the request (as OpenBao does).
    /// `mounts` places a request refused before authorisation (a bad token) on its mount.
    pub fn finish(
        &self,
        result: &Result<Response, ApiError>,
        mounts: Option<&MountTable>,
    ) -> Result<(), ApiError> {
        let Some(record) = &self.record else {
            return Ok(());
        };
        let mut r = Self::lock(record);
        let error = result.as_ref().err().map(ToString::to_string);
        if !self.request_logged.load(Ordering::Relaxed) {
            if let Some(mounts) = mounts {
                r.mount = mount_of(mounts, &r.path, false);
            }
            self.broker.log_request(&r, error.as_deref())?;
        }
        let response = match result {
            Ok(resp) => AuditResponse {
                data: resp
                    .data
                    .clone()
                    .or_else(|| resp.raw.as_ref().map(|(_, body)| body.clone())),
                auth: resp
                    .auth
                    .as_ref()
                    .and_then(|a| serde_json::to_value(a).ok()),
            },
            Err(e) => AuditResponse {
                data: Some(serde_json::json!({ "error": e.to_string() })),
                auth: None,
            },
        };
        self.broker.log_response(&r, &response, error.as_deref())?;
        Ok(())
    }
}
