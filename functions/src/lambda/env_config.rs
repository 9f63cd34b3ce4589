//! The Lambda function's [`Config`], read from environment variables.
//!
//! A Lambda function has no config file: CloudFormation sets its environment, so every setting
//! `coffer server` reads from HCL has a `COFFER_*` variable here. Reading is strict, as the
//! config file is: a bad value stops the instance with a message naming the variable. Only
//! names of things (table, key id, PIN variable) belong in the environment, never key
//! material: the root key is unwrapped by the seal into memory and stays there.
//!
//! With `COFFER_CONTROL_PLANE` (the `control_plane { ... }` block of `coffer server`'s config,
//! read by the same parser) `coffer-lambda` serves managed stores by host name, and
//! `coffer-admin-lambda` manages them; [`admin_config_from_env`] adds the admin credential.
//!
//! This module only reads and validates; it never opens storage or calls AWS.

use std::collections::BTreeMap;

use coffer_core::config::{
    Config, ControlPlaneConfig, LogFormat, LogLevel, SealConfig, StorageConfig,
};
use zeroize::Zeroizing;

use crate::admin::credential::{AdminCredential, MIN_LENGTH};

/// Holds the `control_plane { ... }` block (base domain, plans, key shares): plans are data,
/// and one block in one variable keeps the data plane and the admin function on the same plans.
pub const CONTROL_PLANE_VAR: &str = "COFFER_CONTROL_PLANE";
/// The admin credential's SHA-256 digest (hex): the function can check the credential without
/// its environment (or the deploy template) ever holding it.
pub const ADMIN_TOKEN_SHA256_VAR: &str = "COFFER_ADMIN_TOKEN_SHA256";

/// Why the environment does not describe a runnable function. Messages name the variable and
/// never repeat a value that could be secret (only values of variables that are not secrets).
#[derive(Debug, thiserror::Error)]
pub enum EnvConfigError {
    #[error("{var}: {message}")]
    Invalid { var: &'static str, message: String },
    #[error("{var} is required: {reason}")]
    Missing { var: &'static str, reason: String },
    /// A Shamir seal (chosen, or by default) cannot work across Lambda instances.
    #[error("COFFER_SEAL={chosen} is refused: {SHAMIR_REASON}")]
    ShamirRefused { chosen: String },
    /// The admin credential's variables (one of them is named by the block's
    /// `admin_token_env`, so the name is not static). Never holds the credential itself.
    #[error("{var}: {message}")]
    Credential { var: String, message: String },
}

/// Why the function needs an auto seal, in the words an operator reads at start-up.
const SHAMIR_REASON: &str = "a Lambda function runs as many short-lived instances, each starting \
sealed; with Shamir every instance would need an operator to submit unseal keys before it could \
serve a request. Set COFFER_SEAL=awskms (with COFFER_AWSKMS_KEY_ID) or COFFER_SEAL=pkcs11 (with \
the BAO_HSM_* or COFFER_HSM_* settings) so that each instance unseals itself at start-up";

/// The variables that may name the KMS key, in the order the awskms provider reads them.
const KMS_KEY_VARS: &[&str] = &[
    "COFFER_AWSKMS_KEY_ID",
    "COFFER_AWSKMS_SEAL_KEY_ID",
    "BAO_AWSKMS_SEAL_KEY_ID",
    "VAULT_AWSKMS_SEAL_KEY_ID",
];

/// Reads the function's config through `env` (`|name| std::env::var(name).ok()` in the
/// binary; a map in tests, so tests never change the process environment).
pub fn config_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, EnvConfigError> {
    let get = |var: &str| env(var).filter(|v| !v.trim().is_empty());
    let storage = storage(&get)?;
    let seal = seal(&get)?;
    let max_request_size = match get("COFFER_MAX_REQUEST_SIZE") {
        None => coffer_core::config::DEFAULT_MAX_REQUEST_SIZE,
        Some(text) => parse_size(&text).ok_or_else(|| EnvConfigError::Invalid {
            var: "COFFER_MAX_REQUEST_SIZE",
            message: format!("expected a positive number of bytes, got {text:?}"),
        })?,
    };
    let log_level = match get("COFFER_LOG_LEVEL") {
        None => LogLevel::Info,
        Some(text) => parse_log_level(&text).ok_or_else(|| EnvConfigError::Invalid {
            var: "COFFER_LOG_LEVEL",
            message: format!("expected trace, debug, info, warn or error, got {text:?}"),
        })?,
    };
    let log_format = match get("COFFER_LOG_FORMAT").map(|t| t.trim().to_ascii_lowercase()) {
        None => LogFormat::Json,
        Some(text) if text == "json" => LogFormat::Json,
        Some(text) if text == "standard" => LogFormat::Standard,
        Some(text) => {
            return Err(EnvConfigError::Invalid {
                var: "COFFER_LOG_FORMAT",
                message: format!("expected json or standard, got {text:?}"),
            })
        }
    };
    Ok(Config {
        storage,
        // The Lambda runtime, not a listener, receives requests.
        listeners: vec![],
        seal,
        disabled_seal: None,
        api_addr: get("COFFER_API_ADDR"),
        log_level,
        log_format,
        max_request_size,
        default_lease_ttl: None,
        max_lease_ttl: None,
        // An instance's file system is its own and short-lived: an API-created file audit
        // device would write where nobody reads. Without a directory none can be created.
        audit_file_dir: None,
        audit_devices: vec![],
        disable_api_audit_creation: false,
        disable_unauthed_generate_root_endpoints: true,
        disable_unauthed_rekey_endpoints: true,
        control_plane: control_plane(&get)?,
        warnings: vec![],
    })
}

fn control_plane(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ControlPlaneConfig>, EnvConfigError> {
    let Some(src) = get(CONTROL_PLANE_VAR) else {
        return Ok(None);
    };
    let invalid = |message: String| EnvConfigError::Invalid {
        var: CONTROL_PLANE_VAR,
        message,
    };
    let control_plane = ControlPlaneConfig::from_hcl(&src).map_err(|e| invalid(e.to_string()))?;
    if control_plane.admin_address.is_some() {
        return Err(invalid(
            "control_plane.admin_address has no meaning in a Lambda function (the runtime, not \
             a listener, receives requests); the admin API is the coffer-admin-lambda function"
                .into(),
        ));
    }
    if control_plane.audit_dir.is_some() {
        return Err(invalid(
            "control_plane.audit_dir has no meaning in a Lambda function: its disk does not \
             outlive the instance, so no audit trail could be kept for a plan's retention"
                .into(),
        ));
    }
    Ok(Some(control_plane))
}

/// What `coffer-admin-lambda` runs on: the function config (which must have a control plane)
/// and the admin credential.
pub struct AdminEnv {
    pub config: Config,
    pub control_plane: ControlPlaneConfig,
    pub credential: AdminCredential,
}

/// Reads `coffer-admin-lambda`'s environment: everything [`config_from_env`] reads (an auto
/// seal included: a store created with Shamir could be unsealed by no other instance), a
/// required `COFFER_CONTROL_PLANE`, and the credential, either as its digest in
/// `COFFER_ADMIN_TOKEN_SHA256` or itself in the variable the block's `admin_token_env` names
/// (`COFFER_ADMIN_TOKEN` by default), never both.
pub fn admin_config_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AdminEnv, EnvConfigError> {
    let mut config = config_from_env(env)?;
    let control_plane = config
        .control_plane
        .take()
        .ok_or_else(|| EnvConfigError::Missing {
            var: CONTROL_PLANE_VAR,
            reason: "the admin function manages the stores of a control_plane { ... } block \
                     (the same value as the data-plane function's)"
                .into(),
        })?;
    let credential = admin_credential(env, &control_plane)?;
    Ok(AdminEnv {
        config,
        control_plane,
        credential,
    })
}

fn admin_credential(
    env: &dyn Fn(&str) -> Option<String>,
    control_plane: &ControlPlaneConfig,
) -> Result<AdminCredential, EnvConfigError> {
    let plain_var = control_plane.admin_token_env.as_str();
    let digest = env(ADMIN_TOKEN_SHA256_VAR).filter(|v| !v.trim().is_empty());
    let plain = env(plain_var).filter(|v| !v.is_empty()).map(Zeroizing::new);
    let refused = |var: &str, message: String| EnvConfigError::Credential {
        var: var.to_string(),
        message,
    };
    match (digest, plain) {
        (Some(_), Some(_)) => Err(refused(
            ADMIN_TOKEN_SHA256_VAR,
            format!("set the credential's digest or the credential itself ({plain_var}), not both"),
        )),
        (Some(digest), None) => AdminCredential::from_sha256_hex(&digest)
            .map_err(|e| refused(ADMIN_TOKEN_SHA256_VAR, e.to_string())),
        (None, Some(plain)) => {
            AdminCredential::new(&plain).map_err(|e| refused(plain_var, e.to_string()))
        }
        (None, None) => Err(refused(
            ADMIN_TOKEN_SHA256_VAR,
            format!(
                "the admin API needs its credential: its SHA-256 digest here (preferred: the \
                 environment then holds no secret), or the credential itself (at least \
                 {MIN_LENGTH} characters) in {plain_var}"
            ),
        )),
    }
}

fn storage(get: &dyn Fn(&str) -> Option<String>) -> Result<StorageConfig, EnvConfigError> {
    let kind = get("COFFER_STORAGE").map(|k| k.trim().to_ascii_lowercase());
    match kind.as_deref() {
        None | Some("dynamodb") => {
            let table = get("COFFER_DYNAMODB_TABLE").ok_or_else(|| EnvConfigError::Missing {
                var: "COFFER_DYNAMODB_TABLE",
                reason: "the DynamoDB table the deploy template created (its TableName output)"
                    .into(),
            })?;
            Ok(StorageConfig::DynamoDb {
                table,
                region: get("COFFER_DYNAMODB_REGION").or_else(|| get("AWS_REGION")),
                endpoint: get("COFFER_DYNAMODB_ENDPOINT"),
                // The template owns the table (keys, PITR, SSE, deletion protection); a function
                // that created its own would need CreateTable rights and get none of that.
                create_table: false,
            })
        }
        Some("memory") => Ok(StorageConfig::Memory),
        Some(other) => Err(EnvConfigError::Invalid {
            var: "COFFER_STORAGE",
            message: format!(
                "expected dynamodb (or memory, for tests), got {other:?}; every instance of \
                 a function must share one store, and an instance's disk is its own"
            ),
        }),
    }
}

fn seal(get: &dyn Fn(&str) -> Option<String>) -> Result<SealConfig, EnvConfigError> {
    let kind = get("COFFER_SEAL").map(|k| k.trim().to_ascii_lowercase());
    let mut settings = BTreeMap::new();
    let mut put = |setting: &str, var: &str| {
        if let Some(value) = get(var) {
            settings.insert(setting.to_owned(), value);
        }
    };
    match kind.as_deref() {
        None => Err(EnvConfigError::Missing {
            var: "COFFER_SEAL",
            reason: format!("the default seal, shamir, is refused here: {SHAMIR_REASON}"),
        }),
        Some("shamir") => Err(EnvConfigError::ShamirRefused {
            chosen: "shamir".into(),
        }),
        Some("awskms") => {
            if !KMS_KEY_VARS.iter().any(|var| get(var).is_some()) {
                return Err(EnvConfigError::Missing {
                    var: "COFFER_AWSKMS_KEY_ID",
                    reason: format!(
                        "the KMS key (id, ARN or alias) that wraps the root key; {} are read too",
                        KMS_KEY_VARS[1..].join(", ")
                    ),
                });
            }
            put("kms_key_id", "COFFER_AWSKMS_KEY_ID");
            put("endpoint", "COFFER_AWSKMS_ENDPOINT");
            put("region", "COFFER_AWSKMS_REGION");
            Ok(SealConfig::Auto {
                kind: "awskms".into(),
                settings,
            })
        }
        // The pkcs11 provider reads BAO_HSM_*/VAULT_HSM_*/COFFER_HSM_* itself (the PIN among
        // them), so nothing is copied: the PIN is never held in a Config that could be logged.
        Some("pkcs11") => Ok(SealConfig::Auto {
            kind: "pkcs11".into(),
            settings,
        }),
        Some(other) => Err(EnvConfigError::Invalid {
            var: "COFFER_SEAL",
            message: format!("expected awskms or pkcs11, got {other:?}"),
        }),
    }
}

/// Bytes, as a plain number (what CloudFormation parameters pass through).
fn parse_size(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|n| *n > 0)
}

/// OpenBao's spellings of `log_level`.
fn parse_log_level(text: &str) -> Option<LogLevel> {
    match text.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(LogLevel::Trace),
        "debug" => Some(LogLevel::Debug),
        "info" | "notice" => Some(LogLevel::Info),
        "warn" | "warning" => Some(LogLevel::Warn),
        "err" | "error" => Some(LogLevel::Error),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Config, EnvConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        config_from_env(&move |name| map.get(name).cloned())
    }

    const KMS_ON_DYNAMODB: &[(&str, &str)] = &[
        ("COFFER_DYNAMODB_TABLE", "coffer"),
        ("COFFER_SEAL", "awskms"),
        ("COFFER_AWSKMS_KEY_ID", "alias/coffer-seal"),
    ];

    fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut vars = KMS_ON_DYNAMODB.to_vec();
        vars.extend_from_slice(extra);
        vars
    }

    fn message(err: EnvConfigError) -> String {
        err.to_string()
    }

    #[test]
    fn dynamodb_and_awskms_are_read_into_the_config() {
        let config = read(&with(&[
            ("AWS_REGION", "eu-west-1"),
            ("COFFER_DYNAMODB_ENDPOINT", "http://127.0.0.1:5000"),
            ("COFFER_AWSKMS_ENDPOINT", "http://127.0.0.1:5000"),
        ]))
        .expect("valid");
        assert_eq!(
            config.storage,
            StorageConfig::DynamoDb {
                table: "coffer".into(),
                region: Some("eu-west-1".into()),
                endpoint: Some("http://127.0.0.1:5000".into()),
                create_table: false,
            }
        );
        let SealConfig::Auto { kind, settings } = config.seal else {
            panic!("an auto seal");
        };
        assert_eq!(kind, "awskms");
        assert_eq!(settings.get("kms_key_id").unwrap(), "alias/coffer-seal");
        assert_eq!(settings.get("endpoint").unwrap(), "http://127.0.0.1:5000");
        assert!(
            !settings.contains_key("region"),
            "only what is set: {settings:?}"
        );
        assert_eq!(
            config.max_request_size,
            coffer_core::config::DEFAULT_MAX_REQUEST_SIZE
        );
    }

    #[test]
    fn dynamodb_region_prefers_its_own_variable_over_aws_region() {
        let config = read(&with(&[
            ("AWS_REGION", "eu-west-1"),
            ("COFFER_DYNAMODB_REGION", "us-east-2"),
        ]))
        .expect("valid");
        let StorageConfig::DynamoDb { region, .. } = config.storage else {
            panic!("dynamodb");
        };
        assert_eq!(region.as_deref(), Some("us-east-2"));
    }

    #[test]
    fn a_missing_seal_is_refused_explaining_why_shamir_cannot_work() {
        let err = message(read(&[("COFFER_DYNAMODB_TABLE", "t")]).unwrap_err());
        assert!(err.contains("COFFER_SEAL is required"), "{err}");
        assert!(err.contains("each starting sealed"), "{err}");
    }

    #[test]
    fn a_shamir_seal_is_refused_explaining_why() {
        let err = message(
            read(&[("COFFER_DYNAMODB_TABLE", "t"), ("COFFER_SEAL", "Shamir")]).unwrap_err(),
        );
        assert!(err.starts_with("COFFER_SEAL=shamir is refused"), "{err}");
        assert!(err.contains("every instance would need"), "{err}");
    }

    #[test]
    fn an_unknown_seal_is_refused_naming_the_variable() {
        let err = message(
            read(&[("COFFER_DYNAMODB_TABLE", "t"), ("COFFER_SEAL", "gcpckms")]).unwrap_err(),
        );
        assert!(
            err.starts_with("COFFER_SEAL: expected awskms or pkcs11"),
            "{err}"
        );
    }

    #[test]
    fn awskms_without_a_key_id_is_refused_naming_the_variables() {
        let err = message(
            read(&[("COFFER_DYNAMODB_TABLE", "t"), ("COFFER_SEAL", "awskms")]).unwrap_err(),
        );
        assert!(err.starts_with("COFFER_AWSKMS_KEY_ID is required"), "{err}");
        assert!(err.contains("VAULT_AWSKMS_SEAL_KEY_ID"), "{err}");
    }

    #[test]
    fn awskms_accepts_the_key_id_from_vault_s_variable() {
        let config = read(&[
            ("COFFER_DYNAMODB_TABLE", "t"),
            ("COFFER_SEAL", "awskms"),
            ("VAULT_AWSKMS_SEAL_KEY_ID", "alias/k"),
        ])
        .expect("valid");
        let SealConfig::Auto { settings, .. } = config.seal else {
            panic!("auto seal");
        };
        // The provider reads VAULT_AWSKMS_SEAL_KEY_ID itself; nothing is copied.
        assert!(settings.is_empty(), "{settings:?}");
    }

    #[test]
    fn pkcs11_copies_no_setting_so_the_pin_stays_out_of_the_config() {
        let config = read(&[
            ("COFFER_DYNAMODB_TABLE", "t"),
            ("COFFER_SEAL", "pkcs11"),
            ("BAO_HSM_PIN", "1234"),
        ])
        .expect("valid");
        assert_eq!(
            config.seal,
            SealConfig::Auto {
                kind: "pkcs11".into(),
                settings: Default::default()
            }
        );
        assert!(!format!("{config:?}").contains("1234"));
    }

    #[test]
    fn dynamodb_without_a_table_is_refused_naming_the_variable() {
        let err =
            message(read(&[("COFFER_SEAL", "awskms"), ("COFFER_AWSKMS_KEY_ID", "k")]).unwrap_err());
        assert!(
            err.starts_with("COFFER_DYNAMODB_TABLE is required"),
            "{err}"
        );
    }

    #[test]
    fn memory_storage_is_allowed_for_tests() {
        let config = read(&with(&[("COFFER_STORAGE", "memory")])).expect("valid");
        assert_eq!(config.storage, StorageConfig::Memory);
    }

    #[test]
    fn embedded_storage_is_refused_naming_the_variable() {
        let err = message(read(&with(&[("COFFER_STORAGE", "embedded")])).unwrap_err());
        assert!(
            err.starts_with("COFFER_STORAGE: expected dynamodb"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_request_size_is_refused_naming_the_variable() {
        for bad in ["0", "-1", "32MiB", "lots"] {
            let err = message(read(&with(&[("COFFER_MAX_REQUEST_SIZE", bad)])).unwrap_err());
            assert!(err.starts_with("COFFER_MAX_REQUEST_SIZE:"), "{bad}: {err}");
        }
        let config = read(&with(&[("COFFER_MAX_REQUEST_SIZE", "1048576")])).expect("valid");
        assert_eq!(config.max_request_size, 1_048_576);
    }

    #[test]
    fn a_bad_log_level_or_format_is_refused_naming_the_variable() {
        let err = message(read(&with(&[("COFFER_LOG_LEVEL", "loud")])).unwrap_err());
        assert!(err.starts_with("COFFER_LOG_LEVEL:"), "{err}");
        let err = message(read(&with(&[("COFFER_LOG_FORMAT", "xml")])).unwrap_err());
        assert!(err.starts_with("COFFER_LOG_FORMAT:"), "{err}");
        let config = read(&with(&[
            ("COFFER_LOG_LEVEL", "WARNING"),
            ("COFFER_LOG_FORMAT", "standard"),
        ]))
        .expect("valid");
        assert_eq!(config.log_level, LogLevel::Warn);
        assert_eq!(config.log_format, LogFormat::Standard);
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let err = message(
            read(&[
                ("COFFER_DYNAMODB_TABLE", " "),
                ("COFFER_SEAL", "awskms"),
                ("COFFER_AWSKMS_KEY_ID", "k"),
            ])
            .unwrap_err(),
        );
        assert!(
            err.starts_with("COFFER_DYNAMODB_TABLE is required"),
            "{err}"
        );
    }

    const BLOCK: &str = "control_plane {\n  base_domain = \"secrets.example.com\"\n  plan \"free\" {\n    requests_per_second = 20\n  }\n  plan \"pro\" {\n    max_secrets = 1000\n  }\n}\n";
    const CREDENTIAL: &str = "an-admin-credential-of-32-chars!";

    fn read_admin(vars: &[(&str, &str)]) -> Result<AdminEnv, EnvConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        admin_config_from_env(&move |name| map.get(name).cloned())
    }

    #[test]
    fn without_a_control_plane_the_function_serves_one_store() {
        assert!(read(KMS_ON_DYNAMODB).unwrap().control_plane.is_none());
    }

    #[test]
    fn the_control_plane_block_is_read_by_the_config_parser() {
        let config = read(&with(&[(CONTROL_PLANE_VAR, BLOCK)])).expect("valid");
        let cp = config.control_plane.expect("control plane");
        assert_eq!(cp.base_domain, "secrets.example.com");
        assert_eq!(cp.default_plan, "free");
        assert_eq!(cp.plan("pro").unwrap().max_secrets, Some(1000));
        assert_eq!(cp.endpoint_of("abc"), "https://abc.secrets.example.com");
    }

    #[test]
    fn a_bad_control_plane_block_is_refused_naming_the_variable_and_the_setting() {
        for (block, needle) in [
            ("control_plane {", "not valid HCL"),
            ("base_domain = \"x.com\"", "unknown setting \"base_domain\""),
            ("control_plane {\n plan \"a\" {}\n}", "control_plane.base_domain"),
            (
                "control_plane {\n base_domain = \"x.com\"\n plan \"a\" { rps = 1 }\n}",
                "control_plane.plan.a.rps",
            ),
            (
                "control_plane {\n base_domain = \"x.com\"\n admin_address = \"127.0.0.1:8300\"\n admin_tls_disable = true\n plan \"a\" {}\n}",
                "admin_address has no meaning",
            ),
            (
                "control_plane {\n base_domain = \"x.com\"\n audit_dir = \"/tmp/audit\"\n plan \"a\" {}\n}",
                "audit_dir has no meaning",
            ),
        ] {
            let err = message(read(&with(&[(CONTROL_PLANE_VAR, block)])).unwrap_err());
            assert!(err.starts_with("COFFER_CONTROL_PLANE: "), "{block}: {err}");
            assert!(err.contains(needle), "{block}: {err}");
        }
    }

    #[test]
    fn the_admin_function_takes_the_credential_or_its_digest() {
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(CREDENTIAL));
        let mut vars = with(&[(CONTROL_PLANE_VAR, BLOCK)]);
        vars.push((ADMIN_TOKEN_SHA256_VAR, &digest));
        let admin = read_admin(&vars).expect("valid");
        assert!(admin.credential.matches(CREDENTIAL));
        assert_eq!(admin.control_plane.base_domain, "secrets.example.com");
        assert!(admin.config.control_plane.is_none(), "moved out");

        let admin = read_admin(&with(&[
            (CONTROL_PLANE_VAR, BLOCK),
            ("COFFER_ADMIN_TOKEN", CREDENTIAL),
        ]))
        .expect("valid");
        assert!(admin.credential.matches(CREDENTIAL));

        // admin_token_env names the variable, as in `coffer server`.
        let named = "control_plane {\n base_domain = \"x.com\"\n admin_token_env = \"MY_ADMIN\"\n plan \"a\" {}\n}";
        let admin = read_admin(&with(&[
            (CONTROL_PLANE_VAR, named),
            ("MY_ADMIN", CREDENTIAL),
        ]))
        .expect("valid");
        assert!(admin.credential.matches(CREDENTIAL));
    }

    #[test]
    fn the_admin_function_refuses_a_missing_weak_or_doubled_credential() {
        let empty_digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b""));
        for (extra, needle) in [
            (
                vec![],
                "COFFER_ADMIN_TOKEN_SHA256: the admin API needs its credential",
            ),
            (
                vec![("COFFER_ADMIN_TOKEN", "short")],
                "COFFER_ADMIN_TOKEN: the admin credential must be at least 16 characters",
            ),
            (
                vec![(ADMIN_TOKEN_SHA256_VAR, "not-hex")],
                "COFFER_ADMIN_TOKEN_SHA256: expected the credential's SHA-256 digest",
            ),
            (
                vec![(ADMIN_TOKEN_SHA256_VAR, empty_digest.as_str())],
                "COFFER_ADMIN_TOKEN_SHA256: this is the SHA-256 digest of an empty credential",
            ),
            (
                vec![
                    (ADMIN_TOKEN_SHA256_VAR, empty_digest.as_str()),
                    ("COFFER_ADMIN_TOKEN", CREDENTIAL),
                ],
                "not both",
            ),
        ] {
            let mut vars = with(&[(CONTROL_PLANE_VAR, BLOCK)]);
            vars.extend(extra);
            let err = read_admin(&vars).err().map(message).unwrap_or_default();
            assert!(err.starts_with(needle) || err.contains(needle), "{err}");
            assert!(
                !err.contains(CREDENTIAL) && !err.contains("short\""),
                "{err}"
            );
        }
    }

    #[test]
    fn the_admin_function_needs_a_control_plane_and_an_auto_seal() {
        let err = read_admin(&with(&[("COFFER_ADMIN_TOKEN", CREDENTIAL)]))
            .err()
            .map(message)
            .unwrap_or_default();
        assert!(err.starts_with("COFFER_CONTROL_PLANE is required"), "{err}");
        let err = read_admin(&[
            ("COFFER_DYNAMODB_TABLE", "t"),
            ("COFFER_SEAL", "shamir"),
            (CONTROL_PLANE_VAR, BLOCK),
            ("COFFER_ADMIN_TOKEN", CREDENTIAL),
        ])
        .err()
        .map(message)
        .unwrap_or_default();
        assert!(err.starts_with("COFFER_SEAL=shamir is refused"), "{err}");
    }
}
