//! The `control_plane` block: serve many stores by host name, the plans they run under, and
//! (optionally) the admin API listener.
//!
//! ```hcl
//! control_plane {
//!   base_domain     = "secrets.example.com"     # <store>.secrets.example.com
//!   endpoint        = "https://{store}.secrets.example.com"   # what create reports
//!   admin_address   = "127.0.0.1:8300"          # serve the admin API here (else: data plane only)
//!   admin_token_env = "COFFER_ADMIN_TOKEN"      # the admin credential's variable
//!   admin_tls_cert_file = "/etc/coffer/admin.pem"   # the admin API speaks TLS ...
//!   admin_tls_key_file  = "/etc/coffer/admin-key.pem"
//!   # admin_tls_disable = true                  # ... or plain HTTP, only when said so
//!   audit_dir            = "/var/log/coffer/stores"   # every store's audit trail, by id
//!   audit_prune_interval = "5m"                 # how often segments past retention go
//!   default_plan    = "free"
//!   key_shares      = 5
//!   key_threshold   = 3
//!   plan "free" {
//!     requests_per_second = 20
//!     burst               = 40
//!     max_secrets         = 100
//!     max_secret_size     = 65536
//!     audit_retention     = "168h"
//!   }
//! }
//! ```
//! Without this block the server is single-store, exactly as before. The admin credential is
//! never in the file: only the name of the environment variable holding it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hcl::{Block, Structure};

use super::value::{self, key};
use super::{ConfigError, TlsConfig};
use crate::tenancy::Plan;

pub const DEFAULT_ADMIN_TOKEN_ENV: &str = "COFFER_ADMIN_TOKEN";

/// How often segments past their store's retention are removed, unless configured.
pub const DEFAULT_AUDIT_PRUNE_INTERVAL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlaneConfig {
    pub base_domain: String,
    /// A URL with `{store}` where the id goes; default `https://{store}.<base_domain>`.
    pub endpoint: Option<String>,
    pub admin_address: Option<SocketAddr>,
    pub admin_token_env: String,
    /// The admin listener's certificate and key. `None` only with `admin_tls_disable = true`
    /// (or without an admin listener): the admin API carries root tokens and keys.
    pub admin_tls: Option<TlsConfig>,
    /// Where every store's audit trail is written (`<audit_dir>/<id>/`), kept for its plan's
    /// `audit_retention`. Without it stores have no service-kept trail.
    pub audit_dir: Option<PathBuf>,
    /// How often the background task removes audit segments past retention.
    pub audit_prune_interval: Duration,
    /// Never empty; the default plan is among them.
    pub plans: Vec<Plan>,
    pub default_plan: String,
    pub key_shares: u32,
    pub key_threshold: u32,
}

impl ControlPlaneConfig {
    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name)
    }

    pub fn default_plan(&self) -> &Plan {
        self.plan(&self.default_plan).unwrap_or(&self.plans[0])
    }

    pub fn endpoint_of(&self, id: &str) -> String {
        match &self.endpoint {
            Some(template) => template.replace("{store}", id),
            None => format!("https://{id}.{}", self.base_domain),
        }
    }

    /// Reads HCL source holding one `control_plane { ... }` block and nothing else: how a host
    /// without a config file (the Lambda functions, from an environment variable) gets the same
    /// block `coffer server` reads, through the same parser and with the same errors.
    pub fn from_hcl(src: &str) -> Result<ControlPlaneConfig, ConfigError> {
        let body = hcl::parse(src).map_err(|source| ConfigError::Parse { source })?;
        let mut found = None;
        for structure in body.iter() {
            match key(structure) {
                "control_plane" if found.is_some() => {
                    return Err(ConfigError::Duplicate {
                        setting: "control_plane".into(),
                    })
                }
                "control_plane" => {
                    found = Some(parse(value::block("control_plane", structure)?)?);
                }
                other => {
                    return Err(ConfigError::UnknownSetting {
                        setting: other.to_string(),
                    })
                }
            }
        }
        found.ok_or_else(|| ConfigError::Missing {
            setting: "control_plane".into(),
            reason: "expected one control_plane { ... } block".into(),
        })
    }
}

pub(super) fn parse(block: &Block) -> Result<ControlPlaneConfig, ConfigError> {
    let mut base_domain = None;
    let mut endpoint = None;
    let mut admin_address = None;
    let mut admin_token_env = DEFAULT_ADMIN_TOKEN_ENV.to_string();
    let mut admin_tls_disable = false;
    let mut admin_cert_file = None;
    let mut admin_key_file = None;
    let mut audit_dir = None;
    let mut audit_prune_interval = DEFAULT_AUDIT_PRUNE_INTERVAL;
    let mut plans: Vec<Plan> = Vec::new();
    let mut default_plan = None;
    let mut key_shares = 5;
    let mut key_threshold = 3;
    for structure in block.body().iter() {
        let name = key(structure);
        let setting = format!("control_plane.{name}");
        let text = |s: &Structure| value::string(&setting, value::attribute(&setting, s)?);
        match name {
            "base_domain" => {
                let domain = text(structure)?.trim_matches('.').to_ascii_lowercase();
                if domain.is_empty() || domain.contains(['/', ':', ' ']) {
                    return Err(value::invalid(&setting, "expected a domain name"));
                }
                base_domain = Some(domain);
            }
            "endpoint" => {
                let url = text(structure)?;
                if !url.contains("{store}") {
                    return Err(value::invalid(&setting, "must contain {store}"));
                }
                endpoint = Some(url);
            }
            "admin_address" => {
                let addr = text(structure)?;
                admin_address =
                    Some(addr.parse().map_err(|_| {
                        value::invalid(&setting, format!("{addr:?} is not host:port"))
                    })?);
            }
            "admin_token_env" => admin_token_env = text(structure)?,
            "admin_tls_disable" => {
                admin_tls_disable =
                    value::boolean(&setting, value::attribute(&setting, structure)?)?
            }
            "admin_tls_cert_file" => admin_cert_file = Some(file(&setting, structure)?),
            "admin_tls_key_file" => admin_key_file = Some(file(&setting, structure)?),
            "audit_dir" => audit_dir = Some(absolute(&setting, structure)?),
            "audit_prune_interval" => {
                audit_prune_interval =
                    value::duration(&setting, value::attribute(&setting, structure)?)?
                        .ok_or_else(|| value::invalid(&setting, "must be more than zero"))?
            }
            "default_plan" => default_plan = Some(text(structure)?),
            "key_shares" => key_shares = small(&setting, structure)?,
            "key_threshold" => key_threshold = small(&setting, structure)?,
            "plan" => {
                let plan = parse_plan(value::block(&setting, structure)?)?;
                if plans.iter().any(|p| p.name == plan.name) {
                    return Err(ConfigError::Duplicate {
                        setting: format!("control_plane.plan {:?}", plan.name),
                    });
                }
                plans.push(plan);
            }
            _ => {
                return Err(ConfigError::UnknownSetting { setting });
            }
        }
    }
    let base_domain = base_domain.ok_or_else(|| ConfigError::Missing {
        setting: "control_plane.base_domain".into(),
        reason: "stores are reached as <store>.<base_domain>".into(),
    })?;
    if plans.is_empty() {
        return Err(ConfigError::Missing {
            setting: "control_plane.plan".into(),
            reason: "at least one plan \"<name>\" { ... } block is required".into(),
        });
    }
    let admin_tls = match (admin_tls_disable, admin_cert_file, admin_key_file) {
        (true, None, None) => None,
        (true, _, _) => {
            return Err(value::invalid(
                "control_plane.admin_tls_disable",
                "admin_tls_disable = true and admin_tls_cert_file/admin_tls_key_file contradict each other",
            ))
        }
        (false, Some(cert_file), Some(key_file)) => Some(TlsConfig {
            cert_file,
            key_file,
        }),
        (false, None, None) if admin_address.is_none() => None,
        (false, _, _) => {
            return Err(ConfigError::Missing {
                setting: "control_plane.admin_tls_cert_file".into(),
                reason: "the admin API carries root tokens and keys: set admin_tls_cert_file and admin_tls_key_file, or admin_tls_disable = true".into(),
            })
        }
    };
    let default_plan = default_plan.unwrap_or_else(|| plans[0].name.clone());
    if !plans.iter().any(|p| p.name == default_plan) {
        return Err(value::invalid(
            "control_plane.default_plan",
            format!("no plan {default_plan:?}"),
        ));
    }
    Ok(ControlPlaneConfig {
        base_domain,
        endpoint,
        admin_address,
        admin_token_env,
        admin_tls,
        audit_dir,
        audit_prune_interval,
        plans,
        default_plan,
        key_shares,
        key_threshold,
    })
}

fn file(setting: &str, structure: &Structure) -> Result<PathBuf, ConfigError> {
    value::path(setting, value::attribute(setting, structure)?)
}

/// A path that must be absolute: a relative one would depend on the server's working directory.
fn absolute(setting: &str, structure: &Structure) -> Result<PathBuf, ConfigError> {
    let path = file(setting, structure)?;
    if !path.is_absolute() {
        return Err(value::invalid(setting, "must be an absolute path"));
    }
    Ok(path)
}

fn small(setting: &str, structure: &Structure) -> Result<u32, ConfigError> {
    let n = value::size(setting, value::attribute(setting, structure)?)?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= 255)
        .ok_or_else(|| value::invalid(setting, "must be at most 255"))
}

fn parse_plan(block: &Block) -> Result<Plan, ConfigError> {
    let name = value::block_type("control_plane.plan", block)?.to_string();
    let mut plan = Plan::unlimited(&name);
    for structure in block.body().iter() {
        let field = key(structure);
        let setting = format!("control_plane.plan.{name}.{field}");
        let number = |s: &Structure| value::size(&setting, value::attribute(&setting, s)?);
        match field {
            "requests_per_second" => plan.requests_per_second = Some(number(structure)?),
            "burst" => plan.burst = Some(number(structure)?),
            "max_secrets" => plan.max_secrets = Some(number(structure)?),
            "max_secret_size" => plan.max_secret_size = Some(number(structure)?),
            "audit_retention" => {
                plan.audit_retention =
                    value::duration(&setting, value::attribute(&setting, structure)?)?
            }
            _ => return Err(ConfigError::UnknownSetting { setting }),
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ControlPlaneConfig};

    const BASE: &str = "storage \"memory\" {}\nlistener \"tcp\" { tls_disable = true }\n";

    #[test]
    fn a_control_plane_block_reads_plans_and_routing() {
        let cfg = Config::from_hcl(&format!(
            "{BASE}control_plane {{\n base_domain = \"Secrets.Example.com\"\n admin_address = \"127.0.0.1:8300\"\n admin_tls_cert_file = \"admin.pem\"\n admin_tls_key_file = \"admin-key.pem\"\n audit_dir = \"/var/log/coffer\"\n default_plan = \"pro\"\n plan \"free\" {{\n requests_per_second = 5\n max_secrets = 10\n max_secret_size = 1024\n audit_retention = \"168h\"\n }}\n plan \"pro\" {{ requests_per_second = 500 }}\n}}\n"
        ))
        .unwrap();
        let cp = cfg.control_plane.unwrap();
        assert_eq!(cp.base_domain, "secrets.example.com");
        assert_eq!(cp.admin_address.unwrap().port(), 8300);
        assert_eq!(cp.default_plan().name, "pro");
        let free = cp.plan("free").unwrap();
        assert_eq!(free.requests_per_second, Some(5));
        assert_eq!(free.max_secrets, Some(10));
        assert_eq!(free.max_secret_size, Some(1024));
        assert_eq!(free.audit_retention.unwrap().as_secs(), 168 * 3600);
        assert_eq!(free.burst_or_rate(), 5);
        assert_eq!(cp.endpoint_of("abc"), "https://abc.secrets.example.com");
        assert_eq!(cp.admin_token_env, "COFFER_ADMIN_TOKEN");
        let tls = cp.admin_tls.unwrap();
        assert_eq!(tls.cert_file.to_str(), Some("admin.pem"));
        assert_eq!(tls.key_file.to_str(), Some("admin-key.pem"));
        assert_eq!(cp.audit_dir.unwrap().to_str(), Some("/var/log/coffer"));
        assert_eq!(cp.audit_prune_interval, super::DEFAULT_AUDIT_PRUNE_INTERVAL);
    }

    #[test]
    fn plain_http_on_the_admin_listener_needs_admin_tls_disable() {
        let parse = |body: &str| {
            Config::from_hcl(&format!(
                "{BASE}control_plane {{\n base_domain = \"x.com\"\n plan \"a\" {{}}\n {body}\n}}\n"
            ))
        };
        let cp = parse("admin_address = \"127.0.0.1:8300\"\n admin_tls_disable = true")
            .unwrap()
            .control_plane
            .unwrap();
        assert!(cp.admin_tls.is_none());
        // A data-plane-only process has no admin listener and needs no TLS settings for it.
        assert!(parse("")
            .unwrap()
            .control_plane
            .unwrap()
            .admin_tls
            .is_none());
        let interval = parse("audit_prune_interval = \"2s\"")
            .unwrap()
            .control_plane
            .unwrap();
        assert_eq!(interval.audit_prune_interval.as_secs(), 2);
    }

    #[test]
    fn a_block_alone_is_read_by_the_same_parser() {
        let cp = ControlPlaneConfig::from_hcl(
            "control_plane {\n base_domain = \"s.example.com\"\n plan \"free\" {\n requests_per_second = 5\n }\n}\n",
        )
        .unwrap();
        assert_eq!(cp.base_domain, "s.example.com");
        assert_eq!(cp.default_plan().requests_per_second, Some(5));
        for (src, needle) in [
            ("", "expected one control_plane"),
            ("storage \"memory\" {}", "unknown setting \"storage\""),
            (
                "control_plane {\n base_domain = \"a.b\"\n plan \"a\" {}\n}\ncontrol_plane {\n base_domain = \"a.b\"\n plan \"a\" {}\n}",
                "more than once",
            ),
            ("control_plane {\n plan \"a\" {}\n}", "control_plane.base_domain"),
            ("control_plane {", "not valid HCL"),
        ] {
            let err = ControlPlaneConfig::from_hcl(src).unwrap_err().to_string();
            assert!(err.contains(needle), "{src:?}: {err}");
        }
    }

    #[test]
    fn without_the_block_the_server_is_single_store() {
        assert!(Config::from_hcl(BASE).unwrap().control_plane.is_none());
    }

    #[test]
    fn bad_control_plane_settings_are_refused_by_name() {
        for (body, needle) in [
            ("plan \"a\" {}", "base_domain"),
            ("base_domain = \"x.com\"", "control_plane.plan"),
            ("base_domain = \"x.com\"\n plan \"a\" { rps = 1 }", "rps"),
            (
                "base_domain = \"x.com\"\n default_plan = \"b\"\n plan \"a\" {}",
                "default_plan",
            ),
            (
                "base_domain = \"x.com\"\n endpoint = \"https://x\"\n plan \"a\" {}",
                "{store}",
            ),
            (
                "base_domain = \"x.com\"\n plan \"a\" {}\n plan \"a\" {}",
                "\"a\"",
            ),
            (
                "base_domain = \"x.com\"\n admin_token = \"s3cret\"\n plan \"a\" {}",
                "admin_token",
            ),
            (
                "base_domain = \"x.com\"\n admin_address = \"127.0.0.1:1\"\n plan \"a\" {}",
                "admin_tls_cert_file",
            ),
            (
                "base_domain = \"x.com\"\n admin_address = \"127.0.0.1:1\"\n admin_tls_cert_file = \"c.pem\"\n plan \"a\" {}",
                "admin_tls_key_file",
            ),
            (
                "base_domain = \"x.com\"\n admin_tls_disable = true\n admin_tls_cert_file = \"c.pem\"\n plan \"a\" {}",
                "contradict",
            ),
            (
                "base_domain = \"x.com\"\n audit_dir = \"logs\"\n plan \"a\" {}",
                "absolute",
            ),
            (
                "base_domain = \"x.com\"\n audit_prune_interval = 0\n plan \"a\" {}",
                "audit_prune_interval",
            ),
        ] {
            let err = Config::from_hcl(&format!("{BASE}control_plane {{\n {body}\n}}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }
}
