//! The control plane: the admin HTTP API (its own listener and credential), the web console
//! page, and the `coffer admin` CLI client that drives the API.
//!
//! The admin API creates, re-plans and deletes managed stores through `coffer_core::tenancy`;
//! it never serves the Vault API and never accepts a store's token.

pub mod api;
pub mod client;
mod console;
pub mod credential;
pub mod serve;
