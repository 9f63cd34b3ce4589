//! The Lambda host: the same Vault API Router as `coffer server`, served by `lambda_http`
//! behind a Lambda Function URL, an API Gateway HTTP API (payload v2) or a REST API (v1);
//! and `coffer-admin-lambda`, the control plane's admin API served the same way.
//!
//! - [`env_config`] reads the [`Config`](coffer_core::config::Config) from environment
//!   variables (a function has no config file) and refuses a Shamir seal.
//! - [`app`] adapts an API Gateway request to what the Router expects (stage prefix, client
//!   address) and runs the function: the store is built once per instance, before the first
//!   invocation, never per request.
//!
//! Nothing here knows the Vault API: status codes and bodies are the Router's, byte for byte.

pub mod app;
pub mod env_config;
