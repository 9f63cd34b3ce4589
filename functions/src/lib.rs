//! The hosts of the Vault API Router: `coffer server` (and, later, the Lambda function).
//! `main` only picks the host; everything else is in coffer-core.

pub mod admin;
pub mod assemble;
pub mod cli;
pub mod server;
