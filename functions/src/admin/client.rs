//! `coffer admin stores ...`: a thin client of the admin API.
//!
//! The address comes from `--address` or `COFFER_ADMIN_ADDR`, the credential only from
//! `COFFER_ADMIN_TOKEN` (a flag would show it in `ps`). `-format=json` prints the API's JSON.
//! The admin listener speaks TLS; `--ca-cert` or `COFFER_ADMIN_CACERT` names a private CA.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::cli::{AdminArgs, AdminCommand, OutputFormat, StoresCommand};

pub const ADDR_ENV: &str = "COFFER_ADMIN_ADDR";
pub const CACERT_ENV: &str = "COFFER_ADMIN_CACERT";
pub const TOKEN_ENV: &str = coffer_core::config::DEFAULT_ADMIN_TOKEN_ENV;
const DEFAULT_ADDR: &str = "https://127.0.0.1:8300";

/// An HTTP client trusting the public roots and, if given, the CA in `ca_cert`.
fn http_client(ca_cert: Option<std::path::PathBuf>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = ca_cert {
        let pem = std::fs::read(&path)
            .with_context(|| format!("reading the CA certificate {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
        if certs.is_empty() {
            bail!("{} holds no PEM certificate", path.display());
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().context("building the HTTP client")
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let address = args
        .address
        .or_else(|| std::env::var(ADDR_ENV).ok())
        .unwrap_or_else(|| DEFAULT_ADDR.to_string());
    let token = Zeroizing::new(
        std::env::var(TOKEN_ENV)
            .with_context(|| format!("set the admin credential in {TOKEN_ENV}"))?,
    );
    let ca_cert = args
        .ca_cert
        .or_else(|| std::env::var_os(CACERT_ENV).map(Into::into))
        .filter(|path: &std::path::PathBuf| !path.as_os_str().is_empty());
    let client = Client {
        http: http_client(ca_cert)?,
        base: address.trim_end_matches('/').to_string(),
        token,
    };
    let AdminCommand::Stores(stores) = args.command;
    let format = stores.format;
    let (value, render): (Value, fn(&Value) -> String) = match stores.command {
        StoresCommand::Create {
            plan,
            key_shares,
            key_threshold,
        } => {
            let body =
                json!({ "plan": plan, "key_shares": key_shares, "key_threshold": key_threshold });
            (
                client
                    .call(reqwest::Method::POST, "/v1/stores", Some(body))
                    .await?,
                render_created,
            )
        }
        StoresCommand::List => (
            client
                .call(reqwest::Method::GET, "/v1/stores", None)
                .await?,
            render_list,
        ),
        StoresCommand::Show { id } => (
            client
                .call(reqwest::Method::GET, &format!("/v1/stores/{id}"), None)
                .await?,
            render_store,
        ),
        StoresCommand::Upgrade { id, plan } => (
            client
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/stores/{id}/plan"),
                    Some(json!({ "plan": plan })),
                )
                .await?,
            render_store,
        ),
        StoresCommand::Delete { id, yes } => {
            if !yes {
                bail!(
                    "deleting store {id} removes every secret in it for good; add --yes to confirm"
                );
            }
            (
                client
                    .call(
                        reqwest::Method::DELETE,
                        &format!("/v1/stores/{id}?confirm={id}"),
                        None,
                    )
                    .await?,
                render_deleted,
            )
        }
    };
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        OutputFormat::Table => print!("{}", render(&value)),
    }
    Ok(())
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Zeroizing<String>,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str());
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("reaching the admin API at {}", self.base))?;
        let status = resp.status();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let errors = value["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            bail!("admin API answered {status}: {errors}");
        }
        Ok(value)
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn render_created(v: &Value) -> String {
    let mut out = format!(
        "Store ID: {}\nEndpoint: {}\nPlan: {}\nSeal Type: {}\n\n",
        text(&v["id"]),
        text(&v["endpoint"]),
        text(&v["plan"]),
        text(&v["seal_type"])
    );
    let (label, keys) = match v["keys_base64"].as_array() {
        Some(k) if !k.is_empty() => ("Unseal Key", k.clone()),
        _ => (
            "Recovery Key",
            v["recovery_keys_base64"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        ),
    };
    for (i, key) in keys.iter().enumerate() {
        out.push_str(&format!("{label} {}: {}\n", i + 1, text(key)));
    }
    out.push_str(&format!(
        "\nInitial Root Token: {}\n\nThe root token and keys are shown only now: they are stored nowhere.\n\
         Any {} of the keys unseal the store; keep them apart and safe.\n",
        text(&v["root_token"]),
        text(&v["key_threshold"])
    ));
    out
}

fn render_store(v: &Value) -> String {
    format!(
        "ID: {}\nEndpoint: {}\nPlan: {}\nCreated: {}\nSeal Type: {}\nSealed: {}\nSecrets: {}\nRequest Rate: {}/s\n",
        text(&v["id"]),
        text(&v["endpoint"]),
        text(&v["plan"]["name"]),
        text(&v["created"]),
        text(&v["seal_type"]),
        text(&v["sealed"]),
        text(&v["secret_count"]),
        text(&v["request_rate"])
    )
}

fn render_list(v: &Value) -> String {
    let mut out = String::from(
        "ID            PLAN        CREATED                      SEAL      SEALED  SECRETS  REQ/S\n",
    );
    for s in v["stores"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<13} {:<11} {:<28} {:<9} {:<7} {:<8} {}\n",
            text(&s["id"]),
            text(&s["plan"]["name"]),
            text(&s["created"]),
            text(&s["seal_type"]),
            text(&s["sealed"]),
            text(&s["secret_count"]),
            text(&s["request_rate"])
        ));
    }
    out
}

fn render_deleted(v: &Value) -> String {
    format!(
        "Store {} deleted ({} storage items removed).\n",
        text(&v["id"]),
        text(&v["deleted_keys"])
    )
}
