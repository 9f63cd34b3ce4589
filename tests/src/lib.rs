//! Black-box test harness: real coffer and OpenBao server processes, driven by the real `bao`
//! CLI, hvac and raw HTTP, so one scenario can run against both and be compared.
//!
//! - [`Server`] starts a server on a free 127.0.0.1 port in its own temp dir and kills it (by
//!   pid) when dropped, also when the test panics, printing its log in that case.
//! - [`Server::bao`], [`Server::hvac`] and [`Server::http`] are the three clients.
//! - [`both_flavors!`] turns one scenario `fn(Flavor)` into a test per flavor;
//!   [`on_both`] runs a scenario on both at once and returns both results for comparison
//!   (compare shapes with [`shape`], never values that differ by nature).
//!
//! Programs come from `scripts/setup` (`.venv/bin/bao`, `.venv/bin/python` with hvac) and the
//! workspace build (`target/debug/coffer`); `COFFER_BIN` and `COFFER_BAO_BIN` override them.
//! Anything missing is a panic that says to run `scripts/setup`: a test never skips.

pub mod admin;
mod bao;
pub mod binaries;
mod config;
mod http;
mod hvac;
pub mod lambda_runtime;
pub mod moto;
pub mod ports;
mod process;
mod server;
pub mod shape;
pub mod softhsm;
mod sys;
pub mod tls;

use std::fmt;
use std::panic;
use std::thread;

pub use bao::BaoCmd;
pub use config::{ServerOptions, Storage};
pub use http::{Http, Req, Resp};
pub use process::CmdOutput;
pub use server::Server;
pub use sys::InitKeys;

/// Which product a [`Server`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The `coffer` binary of this workspace.
    Coffer,
    /// The real OpenBao (`bao server`), the reference behaviour.
    OpenBao,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Coffer => "coffer",
            Flavor::OpenBao => "openbao",
        })
    }
}

/// One result per flavor, from [`on_both`].
#[derive(Debug, Clone)]
pub struct Both<T> {
    pub openbao: T,
    pub coffer: T,
}

/// Runs `scenario` against OpenBao and coffer in parallel (a thread named after each flavor,
/// so a panic says which one failed) and returns both results. Servers should be created and
/// dropped inside `scenario`.
pub fn on_both<T: Send>(scenario: impl Fn(Flavor) -> T + Sync) -> Both<T> {
    thread::scope(|scope| {
        let scenario = &scenario;
        let start = |flavor: Flavor| {
            thread::Builder::new()
                .name(flavor.to_string())
                .spawn_scoped(scope, move || scenario(flavor))
                .expect("spawn scenario thread")
        };
        let openbao = start(Flavor::OpenBao);
        let coffer = start(Flavor::Coffer);
        match (openbao.join(), coffer.join()) {
            (Ok(openbao), Ok(coffer)) => Both { openbao, coffer },
            (Err(payload), _) | (_, Err(payload)) => panic::resume_unwind(payload),
        }
    })
}

/// For each scenario `fn name(flavor: Flavor)`, generates `mod name` with the tests
/// `name::openbao` and `name::coffer`: the same behaviour, proven on both products.
#[macro_export]
macro_rules! both_flavors {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn openbao() {
                    super::$scenario($crate::Flavor::OpenBao)
                }

                #[test]
                fn coffer() {
                    super::$scenario($crate::Flavor::Coffer)
                }
            }
        )+
    };
}
