//! The hosts of the Vault API Router: `coffer server` and the `coffer-lambda` function.
//! `main` only picks the host; everything else is in coffer-core.

pub mod admin;
pub mod assemble;
pub mod cli;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod server;
