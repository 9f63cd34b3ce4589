//! `coffer server`: builds the store from the config and serves the Router on each listener
//! (plain HTTP or rustls), until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use coffer_core::audit::{AuditBroker, AuditPolicy};
use coffer_core::config::{Config, ListenerConfig, LogFormat, StorageConfig, TlsConfig};
use coffer_core::seal::InitParams;
use coffer_core::store::{kv_v2_mount, Store, DEFAULT_STORE_ID};
use tracing_subscriber::EnvFilter;

use crate::assemble;
use crate::cli::ServerArgs;

fn init_logging(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_env("COFFER_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Standard => builder.try_init(),
    };
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    if args.dev {
        return run_dev(args).await;
    }
    let Some(path) = args.config.as_ref() else {
        bail!("a config file is required: coffer server -config=coffer.hcl (or -dev)");
    };
    let config = Config::from_file(path)?;
    let level = args
        .log_level
        .clone()
        .unwrap_or_else(|| config.log_level.as_str().to_string());
    init_logging(&level, config.log_format);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(control_plane) = config.control_plane.clone() {
        return crate::admin::serve::run(&config, control_plane).await;
    }
    let store = assemble::build_store(&config).await?;
    tracing::info!(
        storage = store.storage_kind(),
        listeners = config.listeners.len(),
        "coffer server starting"
    );
    serve(store, &config).await
}

async fn run_dev(args: ServerArgs) -> anyhow::Result<()> {
    init_logging(
        args.log_level.as_deref().unwrap_or("info"),
        LogFormat::Standard,
    );
    let storage = assemble::open_storage(&StorageConfig::Memory).await?;
    // Dev mode lets `bao audit enable file file_path=/tmp/...` work out of the box: API-created
    // file devices may write under the temp directory.
    let dev_audit = AuditPolicy {
        file_dir: Some(std::env::temp_dir()),
        api_creation_disabled: false,
        ..AuditPolicy::default()
    };
    let store = Arc::new(
        Store::new(storage, DEFAULT_STORE_ID).with_audit(AuditBroker::new(dev_audit, Vec::new())),
    );
    let init = store
        .initialize(
            InitParams::shamir(1, 1),
            args.dev_root_token_id.as_deref(),
            vec![kv_v2_mount("secret")],
            true,
        )
        .await
        .map_err(|e| anyhow::anyhow!("dev init failed: {e}"))?;
    let addr = args.dev_listen_address;
    let unseal_key = init.keys_base64().remove(0);
    println!(
        "==> Coffer server configuration:\n\n\
         \x20            Api Address: http://{addr}\n\
         \x20             Listener 1: tcp (addr: \"{addr}\", tls: \"disabled\")\n\
         \x20                Storage: inmem\n\
         \x20                Version: Coffer v{version}\n\n\
         ==> Coffer server started! Log data will stream in below:\n\n\
         WARNING! dev mode is enabled! In this mode, Coffer runs entirely in-memory\n\
         and starts unsealed with a single unseal key. The root token is already\n\
         authenticated to the CLI, so you can immediately begin using Coffer.\n\n\
         You may need to set the following environment variables:\n\n\
         \x20   $ export BAO_ADDR='http://{addr}'\n\n\
         The unseal key and root token are displayed below in case you want to\n\
         seal/unseal the Vault or re-authenticate.\n\n\
         Unseal Key: {unseal_key}\n\
         Root Token: {root}\n\n\
         Development mode should NOT be used in production installations!\n",
        version = env!("CARGO_PKG_VERSION"),
        root = init.root_token,
    );
    let config = Config {
        listeners: vec![ListenerConfig {
            address: addr,
            tls: None,
            max_request_size: None,
            disable_unauthed_generate_root_endpoints: None,
            disable_unauthed_rekey_endpoints: None,
        }],
        ..dev_config()
    };
    serve(store, &config).await
}

fn dev_config() -> Config {
    Config {
        storage: StorageConfig::Memory,
        listeners: vec![],
        seal: Default::default(),
        disabled_seal: None,
        api_addr: None,
        log_level: coffer_core::config::LogLevel::Info,
        log_format: LogFormat::Standard,
        max_request_size: coffer_core::config::DEFAULT_MAX_REQUEST_SIZE,
        default_lease_ttl: None,
        max_lease_ttl: None,
        audit_file_dir: None,
        audit_devices: vec![],
        disable_api_audit_creation: false,
        disable_unauthed_generate_root_endpoints: true,
        disable_unauthed_rekey_endpoints: true,
        warnings: vec![],
        control_plane: None,
    }
}

/// SIGHUP reopens file audit devices, for log rotation.
fn reopen_audit_on_sighup(store: Arc<Store>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reopening audit devices");
            store.reopen_audit_devices();
        }
    });
}

async fn serve(store: Arc<Store>, config: &Config) -> anyhow::Result<()> {
    reopen_audit_on_sighup(store.clone());
    serve_api(
        config,
        |limit| coffer_core::http::router(store.clone(), limit),
        None,
    )
    .await
}

/// The control plane's admin API on its own address: TLS unless the config said
/// `admin_tls_disable = true` (then `tls` is `None`).
pub(crate) struct AdminListener {
    pub addr: SocketAddr,
    pub router: axum::Router,
    pub tls: Option<TlsConfig>,
}

async fn rustls_config(addr: SocketAddr, tls: &TlsConfig) -> anyhow::Result<RustlsConfig> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    RustlsConfig::from_pem_file(&tls.cert_file, &tls.key_file)
        .await
        .with_context(|| {
            format!(
                "listener {addr}: loading certificate {} / key {}",
                tls.cert_file.display(),
                tls.key_file.display()
            )
        })
}

/// Serves the Vault API (`api(max_request_size)`) on every listener of `config`, and `admin`
/// (the control plane's admin API) on its own address, until SIGINT/SIGTERM.
/// Every accepted connection gets `TCP_NODELAY` (as Go's server, hence OpenBao, does): a response
/// written in more than one segment must not wait for the client's delayed ACK.
pub(crate) async fn serve_api(
    config: &Config,
    api: impl Fn(u64) -> axum::Router,
    admin: Option<AdminListener>,
) -> anyhow::Result<()> {
    let handle = Handle::new();
    let mut tasks = Vec::new();
    if let Some(AdminListener { addr, router, tls }) = admin {
        tasks.push(spawn_listener(addr, tls.as_ref(), router, &handle).await?);
        tracing::info!(%addr, tls = tls.is_some(), "admin API listening");
    }
    for listener in &config.listeners {
        let limit = listener.max_request_size.unwrap_or(config.max_request_size);
        let addr = listener.address;
        tasks.push(spawn_listener(addr, listener.tls.as_ref(), api(limit), &handle).await?);
        tracing::info!(%addr, tls = listener.tls.is_some(), "listening");
    }
    let shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    for task in tasks {
        task.await
            .context("listener task")?
            .context("listener failed")?;
    }
    Ok(())
}

/// Serves `router` on `addr` (over TLS when `tls` is given) until `handle` shuts it down.
async fn spawn_listener(
    addr: SocketAddr,
    tls: Option<&TlsConfig>,
    router: axum::Router,
    handle: &Handle,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    Ok(match tls {
        Some(files) => {
            let server = axum_server::bind_rustls(addr, rustls_config(addr, files).await?)
                .map(|tls| tls.acceptor(NoDelayAcceptor))
                .handle(handle.clone());
            tokio::spawn(async move { server.serve(app).await })
        }
        None => {
            let server = axum_server::bind(addr)
                .acceptor(NoDelayAcceptor)
                .handle(handle.clone());
            tokio::spawn(async move { server.serve(app).await })
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
