//! `coffer server` with a `control_plane` block: the managed stores by host name on the
//! config's listeners, the admin API on `admin_address` when set (TLS unless
//! `admin_tls_disable = true`), and the pruning of audit trails past retention.
//!
//! A process without `admin_address` is data plane only: it serves the stores the records
//! name, and needs no admin credential. Shamir stores are unsealed only in the process that
//! created them (and wherever an operator submits their keys); see docs/control-plane.md.

use anyhow::Context;
use coffer_core::config::{Config, ControlPlaneConfig};

use super::api;
use super::credential::AdminCredential;
use crate::assemble;

pub async fn run(config: &Config, control_plane: ControlPlaneConfig) -> anyhow::Result<()> {
    let admin = match control_plane.admin_address {
        Some(addr) => Some((
            addr,
            AdminCredential::from_env(&control_plane.admin_token_env)
                .context("starting the admin API")?,
            control_plane.admin_tls.clone(),
        )),
        None => None,
    };
    let base_domain = control_plane.base_domain.clone();
    let registry = assemble::open_registry(config, control_plane).await?;
    registry.spawn_audit_pruner();
    tracing::info!(
        storage = registry.storage_kind(),
        %base_domain,
        admin = admin.is_some(),
        "coffer control plane starting"
    );
    let admin = admin.map(|(addr, credential, tls)| crate::server::AdminListener {
        addr,
        router: api::router(registry.clone(), credential),
        tls,
    });
    crate::server::serve_api(
        config,
        |limit| coffer_core::http::hosted_router(registry.clone(), limit),
        admin,
    )
    .await
}
