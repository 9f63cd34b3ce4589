//! A control-plane server (`control_plane { ... }` in its config): the managed stores by host
//! name on the server's port, the admin API on a port of its own, and clients for both —
//! `coffer admin stores ...`, raw HTTP with a `Host` header, and the real `bao` CLI.
//!
//! No name resolution is needed: store hosts are `<id>.stores.test`, and the `bao` CLI is
//! pointed at `http://<id>.stores.test:PORT` with `HTTP_PROXY` set to the server itself, so Go's
//! HTTP client sends every request to 127.0.0.1 with the store's name as its `Host` (an
//! absolute-form request line, which the server routes by its authority).

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

use crate::process::{self, CmdOutput};
use crate::tls::{self, TlsFiles};
use crate::{binaries, ports, Flavor, Http, Req, Server, ServerOptions};

/// The base domain every test control plane serves.
pub const BASE_DOMAIN: &str = "stores.test";
/// The admin credential of test control planes (never a store's token).
pub const ADMIN_TOKEN: &str = "test-admin-credential-0123456789";

/// A running control plane; dropping it kills the server (by pid, through [`Server`]).
pub struct ControlPlane {
    pub server: Server,
    pub admin_port: u16,
    /// The admin listener's certificate files when it speaks TLS.
    admin_tls: Option<TlsFiles>,
    /// Holds `admin_tls`'s files for the life of the server.
    _tls_dir: Option<TempDir>,
}

/// The `control_plane` block of a test server; with an admin API on `admin_port` if given,
/// over TLS with `tls`, else plain HTTP (`admin_tls_disable = true`).
fn block(plans: &str, admin_port: Option<u16>, tls: Option<&TlsFiles>) -> String {
    let admin = match (admin_port, tls) {
        (Some(p), Some(tls)) => format!(
            "  admin_address = \"127.0.0.1:{p}\"\n  admin_tls_cert_file = {:?}\n  admin_tls_key_file = {:?}\n",
            tls.cert.display().to_string(),
            tls.key.display().to_string()
        ),
        (Some(p), None) => {
            format!("  admin_address = \"127.0.0.1:{p}\"\n  admin_tls_disable = true\n")
        }
        (None, _) => String::new(),
    };
    format!(
        "control_plane {{\n  base_domain = \"{BASE_DOMAIN}\"\n{admin}  key_shares = 3\n  key_threshold = 2\n{plans}\n}}"
    )
}

/// A data-plane-only process (no admin API, no credential) serving the stores of the storage
/// in `opts`.
pub fn start_data_plane(plans: &str, opts: ServerOptions) -> Server {
    Server::with_config(Flavor::Coffer, opts.line(&block(plans, None, None)))
}

/// `<id>.stores.test:PORT` of `server`.
pub fn host(server: &Server, id: &str) -> String {
    format!("{id}.{BASE_DOMAIN}:{}", server.port())
}

/// A Vault API request to store `id` on `server` (by `Host` header).
pub fn store_req(server: &Server, id: &str, method: &str, path: &str, token: Option<&str>) -> Req {
    let req = server
        .http()
        .req(method, path)
        .header("Host", &host(server, id));
    match token {
        Some(t) => req.header("X-Vault-Token", t),
        None => req,
    }
}

/// Every item of a DynamoDB table on moto, as `pk`/`sk` pairs: a raw `Scan` (paged), so the
/// proof does not depend on coffer's own storage code.
pub fn scan_table(moto: &crate::moto::Moto, table: &str) -> Vec<(String, String)> {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let mut items = Vec::new();
    let mut start: Option<Value> = None;
    loop {
        let mut body = serde_json::json!({ "TableName": table });
        if let Some(key) = start.take() {
            body["ExclusiveStartKey"] = key;
        }
        let resp: Value = client
            .post(moto.endpoint())
            .header("X-Amz-Target", "DynamoDB_20120810.Scan")
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/20260101/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                    crate::moto::ACCESS_KEY_ID,
                    crate::moto::REGION
                ),
            )
            .body(body.to_string())
            .send()
            .expect("scan moto")
            .json()
            .expect("scan answer is JSON");
        for item in resp["Items"].as_array().expect("Items in scan answer") {
            items.push((
                item["pk"]["S"].as_str().unwrap_or_default().to_owned(),
                item["sk"]["S"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        match resp.get("LastEvaluatedKey") {
            Some(key) if !key.is_null() => start = Some(key.clone()),
            _ => return items,
        }
    }
}

impl ControlPlane {
    /// Starts a control plane with these `plan "<name>" { ... }` blocks (the first is the
    /// default) on `opts` (memory or persistent storage, extra lines).
    /// The admin API speaks plain HTTP (`admin_tls_disable = true`).
    pub fn start(plans: &str, opts: ServerOptions) -> ControlPlane {
        ControlPlane::launch(plans, opts, None)
    }

    /// Like [`ControlPlane::start`], with the admin API on TLS: a certificate for 127.0.0.1
    /// signed by a freshly generated CA ([`ControlPlane::admin_ca_cert`]).
    pub fn start_with_admin_tls(plans: &str, opts: ServerOptions) -> ControlPlane {
        let dir = tempfile::Builder::new()
            .prefix("coffer-admin-tls-")
            .tempdir()
            .expect("create tls dir");
        let files = tls::generate(dir.path());
        ControlPlane::launch(plans, opts, Some((files, dir)))
    }

    fn launch(plans: &str, opts: ServerOptions, tls: Option<(TlsFiles, TempDir)>) -> ControlPlane {
        let admin_port = ports::free_port();
        let (admin_tls, tls_dir) = tls.unzip();
        let opts = opts
            .line(&block(plans, Some(admin_port), admin_tls.as_ref()))
            .env(vec![("COFFER_ADMIN_TOKEN".into(), ADMIN_TOKEN.into())]);
        let server = Server::with_config(Flavor::Coffer, opts);
        let cp = ControlPlane {
            server,
            admin_port,
            admin_tls,
            _tls_dir: tls_dir,
        };
        cp.server.wait_for_log("admin API listening");
        cp
    }

    /// The CA that signed the admin listener's certificate, when it speaks TLS.
    pub fn admin_ca_cert(&self) -> Option<&Path> {
        self.admin_tls.as_ref().map(|t| t.ca_cert.as_path())
    }

    pub fn admin_addr(&self) -> String {
        let scheme = if self.admin_tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.admin_port)
    }

    /// Raw HTTP to the admin API (add the credential with [`ControlPlane::admin_req`]),
    /// trusting its CA when it speaks TLS.
    pub fn admin_http(&self) -> Http {
        Http::new(&self.admin_addr(), self.admin_ca_cert())
    }

    /// An admin API request carrying the admin credential.
    pub fn admin_req(&self, method: &str, path: &str) -> Req {
        self.admin_http()
            .req(method, path)
            .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
    }

    /// `coffer admin <args>` against this control plane, with the credential (and the admin
    /// CA, when TLS) in its env.
    pub fn admin(&self, args: &[&str]) -> CmdOutput {
        self.admin_with_env(args, &[])
    }

    /// `coffer admin <args>` with extra environment variables (set after the defaults, so
    /// they may override `COFFER_ADMIN_CACERT` or `COFFER_ADMIN_ADDR`).
    pub fn admin_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> CmdOutput {
        let mut cmd = Command::new(binaries::coffer_bin());
        cmd.arg("admin").args(args);
        process::hermetic_env(&mut cmd);
        cmd.env("COFFER_ADMIN_ADDR", self.admin_addr())
            .env("COFFER_ADMIN_TOKEN", ADMIN_TOKEN);
        if let Some(ca) = self.admin_ca_cert() {
            cmd.env("COFFER_ADMIN_CACERT", ca);
        }
        for (name, value) in env {
            cmd.env(name, value);
        }
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
        host(&self.server, id)
    }

    /// A Vault API request to store `id` (by `Host` header).
    pub fn store_req(&self, id: &str, method: &str, path: &str, token: Option<&str>) -> Req {
        store_req(&self.server, id, method, path, token)
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
