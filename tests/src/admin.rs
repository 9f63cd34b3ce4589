//! A control-plane server (`control_plane { ... }` in its config): the managed stores by host
//! name on the server's port, the admin API on a port of its own, and clients for both —
//! `coffer admin stores ...`, raw HTTP with a `Host` header, and the real `bao` CLI.
//!
//! No name resolution is needed: store hosts are `<id>.stores.test`, and the `bao` CLI is
//! pointed at `http://<id>.stores.test:PORT` with `HTTP_PROXY` set to the server itself, so Go's
//! HTTP client sends every request to 127.0.0.1 with the store's name as its `Host` (an
//! absolute-form request line, which the server routes by its authority).

use std::process::Command;

use serde_json::Value;

use crate::process::{self, CmdOutput};
use crate::{binaries, ports, Flavor, Http, Req, Server, ServerOptions};

/// The base domain every test control plane serves.
pub const BASE_DOMAIN: &str = "stores.test";
/// The admin credential of test control planes (never a store's token).
pub const ADMIN_TOKEN: &str = "test-admin-credential-0123456789";

/// A running control plane; dropping it kills the server (by pid, through [`Server`]).
pub struct ControlPlane {
    pub server: Server,
    pub admin_port: u16,
}

impl ControlPlane {
    /// Starts a control plane with these `plan "<name>" { ... }` blocks (the first is the
    /// default) on `opts` (memory or persistent storage, extra lines).
    pub fn start(plans: &str, opts: ServerOptions) -> ControlPlane {
        let admin_port = ports::free_port();
        let block = format!(
            "control_plane {{\n  base_domain = \"{BASE_DOMAIN}\"\n  admin_address = \"127.0.0.1:{admin_port}\"\n  key_shares = 3\n  key_threshold = 2\n{plans}\n}}"
        );
        let opts = opts
            .line(&block)
            .env(vec![("COFFER_ADMIN_TOKEN".into(), ADMIN_TOKEN.into())]);
        let server = Server::with_config(Flavor::Coffer, opts);
        let cp = ControlPlane { server, admin_port };
        cp.server.wait_for_log("admin API listening");
        cp
    }

    pub fn admin_addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    /// Raw HTTP to the admin API (add the credential with [`ControlPlane::admin_req`]).
    pub fn admin_http(&self) -> Http {
        Http::new(&self.admin_addr(), None)
    }

    /// An admin API request carrying the admin credential.
    pub fn admin_req(&self, method: &str, path: &str) -> Req {
        self.admin_http()
            .req(method, path)
            .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
    }

    /// `coffer admin <args>` against this control plane, with the credential in its env.
    pub fn admin(&self, args: &[&str]) -> CmdOutput {
        let mut cmd = Command::new(binaries::coffer_bin());
        cmd.arg("admin").args(args);
        process::hermetic_env(&mut cmd);
        cmd.env("COFFER_ADMIN_ADDR", self.admin_addr())
            .env("COFFER_ADMIN_TOKEN", ADMIN_TOKEN);
        process::run(cmd, &self.server.scratch_dir())
    }

    /// `coffer admin stores create -format=json` (optionally on `plan`), parsed.
    pub fn create_store(&self, plan: Option<&str>) -> Value {
        let mut args = vec!["stores", "create", "-format=json"];
        if let Some(plan) = plan {
            args.extend(["-plan", plan]);
        }
        self.admin(&args).assert_ok().json()
    }

    /// The host name of a store.
    pub fn host(&self, id: &str) -> String {
        format!("{id}.{BASE_DOMAIN}:{}", self.server.port())
    }

    /// A Vault API request to store `id` (by `Host` header).
    pub fn store_req(&self, id: &str, method: &str, path: &str, token: Option<&str>) -> Req {
        let req = self
            .server
            .http()
            .req(method, path)
            .header("Host", &self.host(id));
        match token {
            Some(t) => req.header("X-Vault-Token", t),
            None => req,
        }
    }

    /// The real `bao` CLI pointed at store `id` by `BAO_ADDR` alone (see the module docs).
    pub fn bao(&self, id: &str, token: Option<&str>, args: &[&str]) -> CmdOutput {
        let addr = format!("http://{}", self.host(id));
        let proxy = format!("http://127.0.0.1:{}", self.server.port());
        self.server
            .bao_cmd(args)
            .token(token)
            .env("BAO_ADDR", &addr)
            .env("HTTP_PROXY", &proxy)
            .env("http_proxy", &proxy)
            .run()
    }
}

impl ControlPlane {
    /// Runs `tests/console/console.mjs` (headless Chromium through playwright-core) against
    /// this control plane's console page; see that script for what it does.
    pub fn run_console_script(&self) -> CmdOutput {
        let dir = binaries::repo_root().join("tests/console");
        assert!(
            dir.join("node_modules/playwright-core").is_dir(),
            "playwright-core is missing: run scripts/setup (npm install in tests/console)"
        );
        let mut cmd = Command::new("node");
        cmd.arg(dir.join("console.mjs"))
            .arg(self.admin_addr())
            .arg(ADMIN_TOKEN)
            .current_dir(&dir);
        process::hermetic_env(&mut cmd);
        process::run(cmd, &self.server.scratch_dir())
    }
}
