//! The `listener "tcp" { ... }` block: where the HTTP API listens and with which TLS identity.
//!
//! OpenBao listener settings that change nothing a client can rely on are accepted with a
//! warning; ones whose loss would weaken what the operator asked for (client certificate
//! verification, a TLS 1.3 floor) are refused, never dropped.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use hcl::Block;

use super::value::{self, key};
use super::ConfigError;

/// OpenBao's default listen address.
const DEFAULT_ADDRESS: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8200));

const SUPPORTED: &str = "tcp";

/// OpenBao listener settings that are safe to ignore here, each with what coffer does instead.
const IGNORED: &[(&str, Option<&str>)] = &[
    ("cluster_address", None),
    (
        "proxy_protocol_behavior",
        Some("PROXY protocol headers are not read"),
    ),
    (
        "proxy_protocol_authorized_addrs",
        Some("PROXY protocol headers are not read"),
    ),
    (
        "x_forwarded_for_authorized_addrs",
        Some("the client address is always the TCP peer"),
    ),
    (
        "x_forwarded_for_hop_skips",
        Some("the client address is always the TCP peer"),
    ),
    (
        "x_forwarded_for_reject_not_authorized",
        Some("the client address is always the TCP peer"),
    ),
    (
        "x_forwarded_for_reject_not_present",
        Some("the client address is always the TCP peer"),
    ),
    (
        "tls_cipher_suites",
        Some("rustls's fixed set of AEAD cipher suites is used"),
    ),
    ("tls_prefer_server_cipher_suites", None),
    ("tls_max_version", Some("TLS 1.2 and 1.3 are offered")),
    (
        "tls_disable_client_certs",
        Some("client certificates are never requested"),
    ),
    ("http_read_timeout", None),
    ("http_read_header_timeout", None),
    ("http_write_timeout", None),
    ("http_idle_timeout", None),
    ("telemetry", None),
    ("profiling", None),
];

/// One address the HTTP API is served on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub address: SocketAddr,
    /// `None` only when the operator wrote `tls_disable = true`, as OpenBao requires.
    pub tls: Option<TlsConfig>,
    /// Overrides the top-level `max_request_size` for this listener when set.
    pub max_request_size: Option<u64>,
    /// OpenBao 2.7 reads `disable_unauthed_generate_root_endpoints` here, per listener; see
    /// [`super::Config::disable_unauthed_generate_root_endpoints`] for how coffer combines it.
    pub disable_unauthed_generate_root_endpoints: Option<bool>,
    /// Likewise `disable_unauthed_rekey_endpoints` (the legacy `sys/rekey*` endpoints).
    pub disable_unauthed_rekey_endpoints: Option<bool>,
}

/// PEM files of the listener's certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

pub(super) fn parse(
    block: &Block,
    warnings: &mut Vec<String>,
) -> Result<ListenerConfig, ConfigError> {
    match value::block_type("listener", block)? {
        "tcp" => parse_tcp(block, warnings),
        other => Err(ConfigError::UnknownBlockType {
            block: "listener",
            kind: other.to_owned(),
            supported: SUPPORTED,
        }),
    }
}

fn parse_tcp(block: &Block, warnings: &mut Vec<String>) -> Result<ListenerConfig, ConfigError> {
    let mut address = DEFAULT_ADDRESS;
    let mut tls_disable = false;
    let mut cert_file = None;
    let mut key_file = None;
    let mut max_request_size = None;
    let mut disable_unauthed_generate_root_endpoints = None;
    let mut disable_unauthed_rekey_endpoints = None;

    for structure in block.body().iter() {
        let name = key(structure);
        let setting = format!("listener.tcp.{name}");
        match name {
            "address" => {
                address = parse_address(
                    &setting,
                    &value::string(&setting, value::attribute(&setting, structure)?)?,
                )?
            }
            "tls_disable" => {
                tls_disable = value::boolean(&setting, value::attribute(&setting, structure)?)?
            }
            "tls_cert_file" => cert_file = optional_path(&setting, structure)?,
            "tls_key_file" => key_file = optional_path(&setting, structure)?,
            "max_request_size" => {
                max_request_size = Some(value::size(
                    &setting,
                    value::attribute(&setting, structure)?,
                )?);
            }
            "disable_unauthed_generate_root_endpoints" => {
                disable_unauthed_generate_root_endpoints = Some(value::boolean(
                    &setting,
                    value::attribute(&setting, structure)?,
                )?);
            }
            "disable_unauthed_rekey_endpoints" => {
                disable_unauthed_rekey_endpoints = Some(value::boolean(
                    &setting,
                    value::attribute(&setting, structure)?,
                )?);
            }
            "tls_min_version" => check_min_version(&setting, structure, warnings)?,
            "tls_require_and_verify_client_cert" => {
                if value::boolean(&setting, value::attribute(&setting, structure)?)? {
                    return Err(unsupported_client_certs(setting));
                }
            }
            "tls_client_ca_file" => {
                if optional_path(&setting, structure)?.is_some() {
                    return Err(unsupported_client_certs(setting));
                }
            }
            _ => match IGNORED.iter().find(|(ignored, _)| *ignored == name) {
                Some((_, note)) => super::warn_ignored(warnings, &setting, *note),
                None => return Err(ConfigError::UnknownSetting { setting }),
            },
        }
    }

    let tls = if tls_disable {
        for (name, given) in [("tls_cert_file", &cert_file), ("tls_key_file", &key_file)] {
            if given.is_some() {
                super::warn(
                    warnings,
                    format!("listener.tcp.{name}: ignored because tls_disable = true"),
                );
            }
        }
        None
    } else {
        match (cert_file, key_file) {
            (Some(cert_file), Some(key_file)) => Some(TlsConfig {
                cert_file,
                key_file,
            }),
            _ => {
                return Err(ConfigError::Missing {
                    setting: "listener.tcp".to_owned(),
                    reason: "tls_cert_file and tls_key_file are required unless tls_disable = true"
                        .to_owned(),
                })
            }
        }
    };
    Ok(ListenerConfig {
        address,
        tls,
        max_request_size,
        disable_unauthed_generate_root_endpoints,
        disable_unauthed_rekey_endpoints,
    })
}

/// Only literal socket addresses: resolving a host name at startup would make the bind address
/// depend on DNS.
fn parse_address(setting: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        value::invalid(
            setting,
            format!(
                "{text:?} is not an IP:port address such as \"127.0.0.1:8200\" or \"[::]:8200\""
            ),
        )
    })
}

/// OpenBao writes `tls_cert_file = ""` to mean "not set".
fn optional_path(
    setting: &str,
    structure: &hcl::Structure,
) -> Result<Option<PathBuf>, ConfigError> {
    let text = value::string(setting, value::attribute(setting, structure)?)?;
    Ok(Some(PathBuf::from(text)).filter(|path| !path.as_os_str().is_empty()))
}

/// rustls never speaks below TLS 1.2, so a floor at or below it already holds; a TLS 1.3 floor
/// cannot be honoured without changing `TlsConfig`, so it is refused.
fn check_min_version(
    setting: &str,
    structure: &hcl::Structure,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    match value::string(setting, value::attribute(setting, structure)?)?.as_str() {
        "tls10" | "tls11" | "tls12" => {
            super::warn_ignored(
                warnings,
                setting,
                Some("rustls always requires TLS 1.2 or later"),
            );
            Ok(())
        }
        "tls13" => Err(ConfigError::Unsupported {
            setting: setting.to_owned(),
            reason: "a TLS 1.3-only listener is not available; TLS 1.2 and 1.3 are offered"
                .to_owned(),
        }),
        other => Err(value::invalid(
            setting,
            format!("expected tls10, tls11, tls12 or tls13, got {other:?}"),
        )),
    }
}

fn unsupported_client_certs(setting: String) -> ConfigError {
    ConfigError::Unsupported {
        setting,
        reason: "coffer listeners do not verify client certificates".to_owned(),
    }
}
