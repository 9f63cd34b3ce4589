//! Multi-tenancy: many dedicated stores in one shared storage, each reached by host name.
//!
//! A store is `<id>/...` in storage: its own seal configuration, keyring, root key, mounts,
//! policies, tokens and audit table, all behind its own barrier (whose AAD is the full
//! physical key, so a ciphertext copied into another store does not open). This module owns
//! what lies around the stores: their records and plans, host routing, the per-store rate
//! limit and secret quota, and creating, re-planning and deleting stores. It never reads a
//! store's secrets; `Store` does that, for requests the store itself authorised.

pub mod audit_dirs;
pub mod bucket;
pub mod host;
pub mod plan;
pub mod quota;
pub mod record;
pub mod registry;
#[cfg(test)]
mod tests;
pub mod unknown;

pub use plan::Plan;
pub use registry::{Created, Registry, StoreSummary, TenancyError};
