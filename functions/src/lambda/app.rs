//! One Lambda instance: the store built once, then the Router serving every invocation.
//!
//! Initialisation (environment config, AWS clients, seal unwrap, keyring) happens in
//! [`run`] before `lambda_http::run` starts polling for invocations, so it is paid once per
//! instance at cold start, inside Lambda's init phase, and never inside a request.
//!
//! With a control plane (`COFFER_CONTROL_PLANE`), [`run`] serves the managed stores by host
//! name instead: init opens the storage and the seal only, and each store is read and unsealed
//! on its first request in the instance (as in `coffer server`). [`run_admin`] is
//! `coffer-admin-lambda`: the admin API over the same storage, which never unseals a store.
//!
//! API Gateway requests need two adjustments before the Router sees them, made by
//! [`adapt_request`]; everything else (base64 bodies, multi-value headers and query strings,
//! `?list=true` as Vault's LIST) lambda_http and the Router already handle.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::Router;
use coffer_core::config::{Config, LogFormat};
use coffer_core::store::Store;
use coffer_core::tenancy::Registry;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tower::util::MapRequest;
use tower::ServiceBuilder;
use tracing_subscriber::EnvFilter;

use super::env_config;
use crate::admin::api;
use crate::admin::credential::AdminCredential;
use crate::assemble;

/// The function's request handler: [`adapt_request`] in front of the Vault API Router.
pub type LambdaService = MapRequest<Router, fn(Request) -> Request>;

/// The handler for `store`, with the Router's request size limit.
pub fn service(store: Arc<Store>, max_request_size: u64) -> LambdaService {
    adapted(coffer_core::http::router(store, max_request_size))
}

/// The handler for every managed store of `registry`, each reached by its host name (the
/// event's `host` header, which lambda_http puts in the request URI's authority).
pub fn hosted_service(registry: Arc<Registry>, max_request_size: u64) -> LambdaService {
    adapted(coffer_core::http::hosted_router(registry, max_request_size))
}

/// `coffer-admin-lambda`'s handler: the admin API of `coffer server`'s admin listener.
pub fn admin_service(registry: Arc<Registry>, credential: AdminCredential) -> LambdaService {
    adapted(api::router(registry, credential))
}

fn adapted(router: Router) -> LambdaService {
    ServiceBuilder::new()
        .map_request(adapt_request as fn(Request) -> Request)
        .service(router)
}

/// Makes an API Gateway request look like the one `coffer server` would have received.
///
/// - A REST API stage (or a named HTTP API stage) prefixes the path (`/prod/v1/...`, as
///   lambda_http reconstructs it); Vault clients address `/v1/...` under the stage's URL, so
///   the stage is removed and the Router sees what server mode would (also in its errors).
/// - The client address of the request context becomes the `ConnectInfo` the Router reads
///   for audit entries, as a TCP peer address is in server mode (port 0: API Gateway does not
///   tell the client port).
pub fn adapt_request(mut req: Request) -> Request {
    let (stage, source_ip) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => {
            (ctx.stage.clone(), ctx.identity.source_ip.clone())
        }
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.stage.clone(), ctx.http.source_ip.clone()),
        _ => (None, None),
    };
    if let Some(stage) = stage.filter(|s| s != "$default" && !s.is_empty()) {
        strip_stage(&mut req, &stage);
    }
    if let Some(ip) = source_ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    req
}

fn strip_stage(req: &mut Request, stage: &str) {
    let prefix = format!("/{stage}");
    let Some(rest) = req.uri().path().strip_prefix(&prefix) else {
        return;
    };
    let is_api = |p: &str| p == "/v1" || p.starts_with("/v1/");
    // A stage named `v1` is ambiguous: lambda_http leaves `/v1/sys/health` (a REST API path
    // that already starts with the stage's name) unprefixed. Only a second `/v1` shows that
    // the first one is the stage.
    let is_stage = if stage == "v1" {
        is_api(rest)
    } else {
        rest.is_empty() || rest.starts_with('/')
    };
    if !is_stage {
        return;
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match req.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        // Cannot happen (a suffix of a valid path and its query); keep the request unchanged.
        Err(_) => return,
    }
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_env("COFFER_LOG")
        .unwrap_or_else(|_| EnvFilter::new(config.log_level.as_str()));
    // CloudWatch stores lines as they come: no colour codes; its own timestamp is kept.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Standard => builder.try_init(),
    };
}

/// The function's whole life: config from the environment, the store (once), then
/// invocations until Lambda stops the instance. An error before the first invocation ends
/// the process, which Lambda reports as an init failure with this message in the log.
pub async fn run() -> anyhow::Result<()> {
    let mut config = env_config::config_from_env(&|name| std::env::var(name).ok())
        .context("coffer-lambda: invalid environment")?;
    init_logging(&config);
    let started = std::time::Instant::now();
    let service = match config.control_plane.take() {
        None => {
            let store = assemble::build_store(&config).await?;
            tracing::info!(
                storage = store.storage_kind(),
                seal = config.seal.kind(),
                init_ms = started.elapsed().as_millis() as u64,
                "coffer-lambda ready"
            );
            service(store, config.max_request_size)
        }
        Some(control_plane) => {
            let base_domain = control_plane.base_domain.clone();
            let registry = assemble::open_registry(&config, control_plane).await?;
            tracing::info!(
                seal = config.seal.kind(),
                %base_domain,
                init_ms = started.elapsed().as_millis() as u64,
                "coffer-lambda ready (managed stores by host name)"
            );
            hosted_service(registry, config.max_request_size)
        }
    };
    lambda_http::run(service)
        .await
        .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}

/// `coffer-admin-lambda`: the admin API, its credential checked before the first invocation.
/// Init opens the storage client and the seal's KMS client only; no store is read.
pub async fn run_admin() -> anyhow::Result<()> {
    let admin = env_config::admin_config_from_env(&|name| std::env::var(name).ok())
        .context("coffer-admin-lambda: invalid environment")?;
    init_logging(&admin.config);
    let started = std::time::Instant::now();
    let base_domain = admin.control_plane.base_domain.clone();
    let registry = assemble::open_registry(&admin.config, admin.control_plane).await?;
    tracing::info!(
        seal = admin.config.seal.kind(),
        %base_domain,
        init_ms = started.elapsed().as_millis() as u64,
        "coffer-admin-lambda ready"
    );
    lambda_http::run(admin_service(registry, admin.credential))
        .await
        .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
