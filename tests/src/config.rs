//! What a test asks of a non-dev server, and its rendering into each flavor's HCL config.
//!
//! The two products name things differently; a test says what it means (memory or persistent
//! storage, TLS or not) and this module maps it: coffer's `memory`/`embedded` are OpenBao's
//! `inmem`/`raft` (OpenBao 2.7 has no `file` storage; raft is its crash-safe single-node store).

use std::fmt::Write as _;
use std::path::Path;

use crate::tls::TlsFiles;
use crate::Flavor;

/// Which storage a configured server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// Lost when the process exits: coffer `memory`, OpenBao `inmem`.
    Memory,
    /// Survives restarts and `kill -9`: coffer `embedded`, OpenBao `raft` (single node).
    #[default]
    Persistent,
}

/// Options for [`crate::Server::with_config`]. Default: persistent storage, plain HTTP.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub storage: Storage,
    /// Serve HTTPS with a freshly generated CA (see [`crate::Server::ca_cert`]).
    pub tls: bool,
    /// Extra lines inside the `listener "tcp" { }` block, e.g. `max_request_size = 1024`.
    pub listener_lines: Vec<String>,
    /// Extra top-level lines.
    pub extra_lines: Vec<String>,
    /// A `storage` block written verbatim instead of the one `storage` renders (e.g.
    /// [`crate::moto::Moto::storage_block`]).
    pub storage_block: Option<String>,
    /// Extra environment variables of the server process (e.g. [`crate::moto::Moto::client_env`]).
    pub env: Vec<(String, String)>,
}

impl ServerOptions {
    pub fn memory() -> ServerOptions {
        ServerOptions {
            storage: Storage::Memory,
            ..ServerOptions::default()
        }
    }

    pub fn persistent() -> ServerOptions {
        ServerOptions::default()
    }

    pub fn tls(mut self) -> ServerOptions {
        self.tls = true;
        self
    }

    pub fn listener_line(mut self, line: &str) -> ServerOptions {
        self.listener_lines.push(line.to_owned());
        self
    }

    pub fn line(mut self, line: &str) -> ServerOptions {
        self.extra_lines.push(line.to_owned());
        self
    }

    pub fn storage_block(mut self, block: String) -> ServerOptions {
        self.storage_block = Some(block);
        self
    }

    pub fn env(mut self, vars: Vec<(String, String)>) -> ServerOptions {
        self.env.extend(vars);
        self
    }
}

/// Where one server instance lives: its ports, data directory and certificate files.
pub(crate) struct Placement<'a> {
    pub port: u16,
    /// OpenBao raft's cluster port (unused by coffer).
    pub cluster_port: u16,
    pub data_dir: &'a Path,
    pub tls: Option<&'a TlsFiles>,
}

/// The HCL config file for `flavor`.
pub(crate) fn render(flavor: Flavor, opts: &ServerOptions, at: &Placement<'_>) -> String {
    let mut hcl = String::new();
    let data = at.data_dir.display().to_string();
    let raft = flavor == Flavor::OpenBao && opts.storage == Storage::Persistent;

    if let Some(block) = &opts.storage_block {
        hcl.push_str(block);
    }
    match (flavor, opts.storage) {
        _ if opts.storage_block.is_some() => {}
        (Flavor::Coffer, Storage::Memory) => hcl.push_str("storage \"memory\" {}\n"),
        (Flavor::Coffer, Storage::Persistent) => {
            let _ = writeln!(hcl, "storage \"embedded\" {{\n  path = {data:?}\n}}");
        }
        (Flavor::OpenBao, Storage::Memory) => hcl.push_str("storage \"inmem\" {}\n"),
        (Flavor::OpenBao, Storage::Persistent) => {
            // performance_multiplier = 1: the single node elects itself in ~1 s instead of ~8 s.
            let _ = writeln!(
                hcl,
                "storage \"raft\" {{\n  path = {data:?}\n  node_id = \"node1\"\n  \
                 performance_multiplier = 1\n}}"
            );
        }
    }

    let _ = writeln!(
        hcl,
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{}\"",
        at.port
    );
    if raft {
        let _ = writeln!(hcl, "  cluster_address = \"127.0.0.1:{}\"", at.cluster_port);
    }
    match at.tls {
        Some(tls) => {
            let _ = writeln!(
                hcl,
                "  tls_cert_file = {:?}",
                tls.cert.display().to_string()
            );
            let _ = writeln!(hcl, "  tls_key_file = {:?}", tls.key.display().to_string());
        }
        None => hcl.push_str("  tls_disable = true\n"),
    }
    for line in &opts.listener_lines {
        let _ = writeln!(hcl, "  {line}");
    }
    hcl.push_str("}\n");

    let scheme = if at.tls.is_some() { "https" } else { "http" };
    let _ = writeln!(hcl, "api_addr = \"{scheme}://127.0.0.1:{}\"", at.port);
    if flavor == Flavor::OpenBao {
        if raft {
            let _ = writeln!(
                hcl,
                "cluster_addr = \"https://127.0.0.1:{}\"",
                at.cluster_port
            );
        }
        hcl.push_str("disable_mlock = true\n");
    }
    for line in &opts.extra_lines {
        let _ = writeln!(hcl, "{line}");
    }
    hcl
}
