//! ACL policies: parsing (HCL and JSON), the per-process policy cache, and evaluation.
//!
//! This module decides; it never serves HTTP and never reads storage on the request path
//! (see [`store`] for the cache and its staleness bound).

mod acl;
mod acl_cache;
mod capability;
mod parse;
pub mod store;

pub use acl::{Acl, AclOperation, Decision};
pub use capability::{Capability, CapabilitySet};
pub use parse::{PathKind, PathRule, Permissions, Policy, PolicyError};
pub use store::PolicyStore;

/// Paths that need `sudo` on top of the operation's capability, as OpenBao's backends declare
/// them (`PathsSpecial.Root`). A trailing `*` is a prefix.
const SUDO_PATHS: &[&str] = &[
    "sys/auth/*",
    "sys/remount",
    "sys/audit",
    "sys/audit/*",
    "sys/raw",
    "sys/raw/*",
    "sys/rotate",
    "sys/rotate/root/*",
    "sys/rotate/recovery/*",
    "sys/config/cors",
    "sys/config/auditing/*",
    "sys/config/ui/headers/*",
    "sys/plugins/catalog/*",
    "sys/plugins/runtimes/catalog/*",
    "sys/revoke-prefix/*",
    "sys/revoke-force/*",
    "sys/leases/revoke-prefix/*",
    "sys/leases/revoke-force/*",
    "sys/leases/lookup/*",
    "sys/storage/raft/snapshot-auto/config/*",
    "sys/leases",
    "sys/internal/inspect/*",
    "sys/seal",
    "sys/step-down",
    "auth/token/revoke-orphan/*",
    "auth/token/accessors*",
];

/// Whether `path` is one of the sudo-protected paths.
pub fn requires_sudo(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    SUDO_PATHS.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == *p || path.strip_suffix('/') == Some(p),
    })
}

#[cfg(test)]
mod tests;
