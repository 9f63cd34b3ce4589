//! The KV secrets engine: version 1 (plain key/value) and version 2 (versioned secrets).

pub mod v1;
pub mod v2;

pub(crate) mod fields;
