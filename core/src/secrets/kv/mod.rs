//! The KV secrets engine, version 2.
pub mod v2;
