//! coffer-core: the Vault/OpenBao HTTP API as a tower Service over the Storage and Seal traits.
//!
//! Layers, top to bottom: `http` (JSON in and out) → `store` (dispatch by path, auth) →
//! `sys`, `auth`, `secrets` (backends) → `barrier` (encryption) → `storage` (ciphertext only).

pub mod audit;
pub mod auth;
pub mod barrier;
pub mod config;
pub mod http;
pub mod logical;
pub mod mounts;
pub mod policy;
pub mod seal;
pub mod secrets;
pub mod storage;
pub mod store;
mod sys;
pub mod tenancy;
