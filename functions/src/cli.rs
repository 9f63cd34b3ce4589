//! Command-line parsing in OpenBao's style: `coffer server -dev -config=coffer.hcl`.
//!
//! OpenBao (Go's flag package) takes long flags with one dash; clap wants two. Single-dash long
//! flags are rewritten before clap sees them, so both spellings work and operators can paste
//! their `bao server` command lines.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "coffer",
    version,
    about = "A secrets store that speaks the Vault/OpenBao API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a server.
    Server(ServerArgs),
    /// Manage the stores of a control plane through its admin API.
    Admin(AdminArgs),
}

#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// The admin API (default: $COFFER_ADMIN_ADDR, else https://127.0.0.1:8300). The
    /// credential is read from $COFFER_ADMIN_TOKEN only.
    #[arg(long)]
    pub address: Option<String>,
    /// A PEM file of the CA that signed the admin listener's certificate, trusted in addition
    /// to the public roots (default: $COFFER_ADMIN_CACERT).
    #[arg(long = "ca-cert")]
    pub ca_cert: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create, list, show, upgrade and delete stores.
    Stores(StoresArgs),
}

#[derive(Debug, clap::Args)]
pub struct StoresArgs {
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: OutputFormat,
    #[command(subcommand)]
    pub command: StoresCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoresCommand {
    /// Provision and initialise a store; prints its root token and keys, once.
    Create {
        #[arg(long)]
        plan: Option<String>,
        #[arg(long = "key-shares")]
        key_shares: Option<u32>,
        #[arg(long = "key-threshold")]
        key_threshold: Option<u32>,
    },
    /// Every store: id, plan, created, seal, sealed, secret count, request rate.
    List,
    /// One store.
    Show { id: String },
    /// Move a store to another plan (limits only; secrets are untouched).
    Upgrade {
        id: String,
        #[arg(long)]
        plan: String,
    },
    /// Delete a store and every item of it, irreversibly.
    Delete {
        id: String,
        /// Confirms the deletion.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Path to an HCL config file (OpenBao's form).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// In-memory, initialised and unsealed, root token printed: for development only.
    #[arg(long)]
    pub dev: bool,
    /// The root token of a dev server (default: a random token).
    #[arg(long = "dev-root-token-id")]
    pub dev_root_token_id: Option<String>,
    /// Where a dev server listens.
    #[arg(long = "dev-listen-address", default_value = "127.0.0.1:8200")]
    pub dev_listen_address: SocketAddr,
    /// Overrides the config's log_level (trace, debug, info, warn, error).
    #[arg(long = "log-level")]
    pub log_level: Option<String>,
}

/// Rewrites `-flag` and `-flag=value` to `--flag...`; leaves `--flag`, `-` and `-x` alone.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let is_go_style = i > 0 && a.starts_with('-') && !a.starts_with("--") && a.len() > 2;
            if is_go_style {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

pub fn parse() -> Cli {
    Cli::parse_from(normalize_args(std::env::args()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Cli {
        Cli::try_parse_from(normalize_args(args.iter().map(|s| s.to_string()))).unwrap()
    }

    #[test]
    fn go_style_single_dash_flags_are_accepted() {
        let cli = parse_strs(&[
            "coffer",
            "server",
            "-dev",
            "-dev-root-token-id=root",
            "-dev-listen-address=127.0.0.1:9",
        ]);
        let Command::Server(args) = cli.command else {
            panic!("not a server command")
        };
        assert!(args.dev);
        assert_eq!(args.dev_root_token_id.as_deref(), Some("root"));
        assert_eq!(args.dev_listen_address.port(), 9);
    }

    #[test]
    fn double_dash_flags_still_work() {
        let cli = parse_strs(&["coffer", "server", "--config", "/x.hcl"]);
        let Command::Server(args) = cli.command else {
            panic!("not a server command")
        };
        assert_eq!(args.config.unwrap(), PathBuf::from("/x.hcl"));
    }

    #[test]
    fn admin_stores_commands_parse_in_go_style() {
        let cli = parse_strs(&[
            "coffer",
            "admin",
            "stores",
            "delete",
            "abc",
            "-yes",
            "-format=json",
        ]);
        let Command::Admin(args) = cli.command else {
            panic!("not an admin command")
        };
        let AdminCommand::Stores(stores) = args.command;
        assert_eq!(stores.format, OutputFormat::Json);
        assert!(
            matches!(stores.command, StoresCommand::Delete { ref id, yes: true } if id == "abc")
        );
    }

    #[test]
    fn unknown_flags_are_refused() {
        let args = normalize_args(["coffer", "server", "-nope"].iter().map(|s| s.to_string()));
        assert!(Cli::try_parse_from(args).is_err());
    }
}
