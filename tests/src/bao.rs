//! The real `bao` CLI pointed at one server: `BAO_ADDR`, `BAO_TOKEN`, `BAO_CACERT`, and a HOME
//! of the server's own so `~/.vault-token` (written by `bao login`) never leaks between tests.

use std::process::Command;

use crate::process::{self, CmdOutput};
use crate::{binaries, Server};

/// One `bao` invocation being prepared: `server.bao_cmd(&["status"]).without_ca_cert().run()`.
pub struct BaoCmd<'a> {
    server: &'a Server,
    args: Vec<String>,
    token: Option<String>,
    with_ca_cert: bool,
    env: Vec<(String, String)>,
}

impl Server {
    /// Runs `bao <args>` against this server. `token` becomes `BAO_TOKEN`; with `None` the CLI
    /// falls back to its token helper (`~/.vault-token` in this server's client HOME).
    pub fn bao(&self, token: Option<&str>, args: &[&str]) -> CmdOutput {
        self.bao_cmd(args).token(token).run()
    }

    /// A `bao` invocation to adjust before running it.
    pub fn bao_cmd(&self, args: &[&str]) -> BaoCmd<'_> {
        BaoCmd {
            server: self,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            token: None,
            with_ca_cert: true,
            env: Vec::new(),
        }
    }
}

impl BaoCmd<'_> {
    pub fn token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_owned);
        self
    }

    /// Do not set `BAO_CACERT` even though the server serves TLS with its own CA.
    pub fn without_ca_cert(mut self) -> Self {
        self.with_ca_cert = false;
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn run(self) -> CmdOutput {
        let mut cmd = Command::new(binaries::bao_bin());
        cmd.args(&self.args);
        process::hermetic_env(&mut cmd);
        cmd.env("BAO_ADDR", self.server.addr())
            .env("HOME", self.server.client_home())
            .current_dir(self.server.client_home());
        if let Some(token) = &self.token {
            cmd.env("BAO_TOKEN", token);
        }
        if let (true, Some(ca)) = (self.with_ca_cert, self.server.ca_cert()) {
            cmd.env("BAO_CACERT", ca);
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        process::run(cmd, &self.server.scratch_dir())
    }
}
