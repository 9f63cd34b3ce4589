//! Black-box tests of [`Config::from_hcl`] and [`Config::from_file`]: every default, every kind of
//! refusal, and the OpenBao configs that must load.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

/// The smallest config that loads.
const MINIMAL: &str = r#"
storage "memory" {}
listener "tcp" { tls_disable = true }
"#;

fn load(src: &str) -> Config {
    match Config::from_hcl(src) {
        Ok(config) => config,
        Err(err) => panic!("config should load, got: {err}"),
    }
}

/// Loads `src`, expecting a refusal, and returns its message.
fn refusal(src: &str) -> String {
    match Config::from_hcl(src) {
        Ok(config) => panic!("config should be refused, got {config:?}"),
        Err(err) => err.to_string(),
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

#[test]
fn full_config_sets_every_setting() {
    let config = load(
        r#"
        storage "embedded" { path = "/var/lib/coffer/data.redb" }
        listener "tcp" {
          address          = "0.0.0.0:8200"
          tls_cert_file    = "/etc/coffer/tls.crt"
          tls_key_file     = "/etc/coffer/tls.key"
          max_request_size = 1024
        }
        seal "shamir" {}
        api_addr          = "https://coffer.example.com:8200"
        log_level         = "debug"
        log_format        = "json"
        max_request_size  = 2048
        default_lease_ttl = "1h30m"
        max_lease_ttl     = "768h"
        audit_file_dir    = "/var/log/coffer"
        "#,
    );
    assert_eq!(
        config,
        Config {
            storage: StorageConfig::Embedded {
                path: PathBuf::from("/var/lib/coffer/data.redb"),
            },
            listeners: vec![ListenerConfig {
                address: addr("0.0.0.0:8200"),
                tls: Some(TlsConfig {
                    cert_file: PathBuf::from("/etc/coffer/tls.crt"),
                    key_file: PathBuf::from("/etc/coffer/tls.key"),
                }),
                max_request_size: Some(1024),
                disable_unauthed_generate_root_endpoints: None,
                disable_unauthed_rekey_endpoints: None,
            }],
            seal: SealConfig::Shamir,
            disabled_seal: None,
            api_addr: Some("https://coffer.example.com:8200".to_owned()),
            log_level: LogLevel::Debug,
            log_format: LogFormat::Json,
            max_request_size: 2048,
            default_lease_ttl: Some(Duration::from_secs(5400)),
            max_lease_ttl: Some(Duration::from_secs(768 * 3600)),
            audit_file_dir: Some(PathBuf::from("/var/log/coffer")),
            audit_devices: vec![],
            disable_api_audit_creation: false,
            disable_unauthed_generate_root_endpoints: true,
            disable_unauthed_rekey_endpoints: true,
            warnings: vec![],
            control_plane: None,
        }
    );
}

#[test]
fn unset_settings_take_openbao_defaults() {
    let config = load(MINIMAL);
    assert_eq!(config.storage, StorageConfig::Memory);
    assert_eq!(config.seal, SealConfig::Shamir);
    assert_eq!(config.api_addr, None);
    assert_eq!(config.log_level, LogLevel::Info);
    assert_eq!(config.log_format, LogFormat::Standard);
    assert_eq!(config.max_request_size, 33_554_432);
    assert_eq!(config.default_lease_ttl, None);
    assert_eq!(config.max_lease_ttl, None);
    assert_eq!(config.audit_file_dir, None);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn listener_without_settings_defaults_to_localhost_8200_without_size_override() {
    let listener = &load(MINIMAL).listeners[0];
    assert_eq!(listener.address, addr("127.0.0.1:8200"));
    assert_eq!(listener.tls, None);
    assert_eq!(listener.max_request_size, None);
}

#[test]
fn several_listeners_are_kept_in_order() {
    let config = load(
        r#"
        storage "memory" {}
        listener "tcp" {
          address = "127.0.0.1:8200"
          tls_disable = true
        }
        listener "tcp" {
          address       = "[::]:8201"
          tls_cert_file = "c.pem"
          tls_key_file  = "k.pem"
        }
        "#,
    );
    let addresses: Vec<SocketAddr> = config.listeners.iter().map(|l| l.address).collect();
    assert_eq!(addresses, vec![addr("127.0.0.1:8200"), addr("[::]:8201")]);
    assert!(config.listeners[1].tls.is_some());
}

#[test]
fn listener_max_request_size_sits_beside_top_level_one() {
    let config = load(
        r#"
        max_request_size = 4096
        storage "memory" {}
        listener "tcp" {
          tls_disable = true
          max_request_size = "512"
        }
        listener "tcp" {
          tls_disable = true
          address = "127.0.0.1:8300"
        }
        "#,
    );
    assert_eq!(config.max_request_size, 4096);
    assert_eq!(config.listeners[0].max_request_size, Some(512));
    assert_eq!(config.listeners[1].max_request_size, None);
}

#[test]
fn tls_disable_accepts_openbao_spellings() {
    for spelling in ["true", "\"true\"", "\"1\"", "1", "\"T\""] {
        let config = load(&format!(
            "storage \"memory\" {{}}\nlistener \"tcp\" {{ tls_disable = {spelling} }}"
        ));
        assert_eq!(config.listeners[0].tls, None, "tls_disable = {spelling}");
    }
}

#[test]
fn tls_disable_false_with_files_enables_tls() {
    let config = load(
        r#"
        storage "memory" {}
        listener "tcp" {
          tls_disable = "false"
          tls_cert_file = "c.pem"
          tls_key_file = "k.pem"
        }
        "#,
    );
    assert_eq!(
        config.listeners[0].tls,
        Some(TlsConfig {
            cert_file: PathBuf::from("c.pem"),
            key_file: PathBuf::from("k.pem"),
        })
    );
}

#[test]
fn storage_inmem_is_memory_with_a_warning() {
    let config = load("storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }");
    assert_eq!(config.storage, StorageConfig::Memory);
    assert_eq!(config.warnings.len(), 1);
    assert!(
        config.warnings[0].contains("inmem"),
        "{:?}",
        config.warnings
    );
}

#[test]
fn openbao_config_loads_with_a_warning_per_ignored_setting() {
    let config = load(
        r#"
        disable_mlock = true
        ui            = true
        cluster_addr  = "https://127.0.0.1:8201"
        api_addr      = "http://127.0.0.1:8200"
        telemetry {
          prometheus_retention_time = "30s"
        }
        storage "embedded" { path = "./coffer-data" }
        listener "tcp" {
          address         = "127.0.0.1:8200"
          cluster_address = "127.0.0.1:8201"
          tls_disable     = 1
        }
        "#,
    );
    for setting in [
        "disable_mlock",
        "ui",
        "cluster_addr",
        "telemetry",
        "listener.tcp.cluster_address",
    ] {
        let prefix =
            format!("{setting}: accepted for OpenBao compatibility, has no effect in coffer");
        assert!(
            config.warnings.iter().any(|w| w.starts_with(&prefix)),
            "no warning for {setting}: {:?}",
            config.warnings
        );
    }
    assert_eq!(config.warnings.len(), 5);
}

#[test]
fn tls_floor_at_or_below_1_2_is_accepted_with_a_warning() {
    let config = load(
        r#"
        storage "memory" {}
        listener "tcp" {
          tls_cert_file = "c"
          tls_key_file = "k"
          tls_min_version = "tls12"
        }
        "#,
    );
    assert!(config.warnings[0].starts_with("listener.tcp.tls_min_version:"));
}

#[test]
fn lease_ttls_accept_seconds_and_zero_means_default() {
    let config = load(&format!(
        "{MINIMAL}\ndefault_lease_ttl = 3600\nmax_lease_ttl = \"0\""
    ));
    assert_eq!(config.default_lease_ttl, Some(Duration::from_secs(3600)));
    assert_eq!(config.max_lease_ttl, None);
}

#[test]
fn log_level_accepts_openbao_warning_spelling() {
    assert_eq!(
        load(&format!("{MINIMAL}\nlog_level = \"warning\"")).log_level,
        LogLevel::Warn
    );
    assert_eq!(
        load(&format!("{MINIMAL}\nlog_level = \"TRACE\"")).log_level,
        LogLevel::Trace
    );
    assert_eq!(LogLevel::Warn.as_str(), "warn");
}

#[test]
fn from_file_reads_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("coffer.hcl");
    std::fs::write(&path, MINIMAL).expect("write config");
    assert_eq!(Config::from_file(&path).expect("load"), load(MINIMAL));
}

#[test]
fn from_file_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("absent.hcl");
    let message = Config::from_file(&missing)
        .expect_err("missing file")
        .to_string();
    assert!(message.contains("absent.hcl"), "{message}");

    let bad = dir.path().join("bad.hcl");
    std::fs::write(&bad, "listener \"tcp\" { tls_disable = true }").expect("write config");
    let message = Config::from_file(&bad).expect_err("no storage").to_string();
    assert!(
        message.contains("bad.hcl") && message.contains("storage"),
        "{message}"
    );
}

#[test]
fn refuses_invalid_hcl() {
    let message = refusal("storage \"memory\" {");
    assert!(message.starts_with("config is not valid HCL"), "{message}");
}

#[test]
fn refuses_unknown_top_level_setting() {
    assert_eq!(
        refusal(&format!("{MINIMAL}\nfoo = 1")),
        "unknown setting \"foo\""
    );
}

#[test]
fn refuses_openbao_settings_that_are_not_safe_to_ignore() {
    let message = refusal(&format!("{MINIMAL}\nha_storage \"raft\" {{}}"));
    assert_eq!(message, "unknown setting \"ha_storage\"");
}

#[test]
fn refuses_unknown_listener_setting() {
    let message =
        refusal("storage \"memory\" {}\nlistener \"tcp\" {\n tls_disable = true\n bogus = 1\n}");
    assert_eq!(message, "unknown setting \"listener.tcp.bogus\"");
}

#[test]
fn refuses_unknown_listener_type() {
    let message = refusal("storage \"memory\" {}\nlistener \"unix\" { address = \"/tmp/s\" }");
    assert_eq!(message, "unknown listener type \"unix\" (supported: tcp)");
}

#[test]
fn refuses_unknown_storage_type_and_lists_supported_ones() {
    let message = refusal("storage \"consul\" {}\nlistener \"tcp\" { tls_disable = true }");
    assert!(message.contains("\"consul\""), "{message}");
    assert!(
        message.contains("dynamodb") && message.contains("embedded") && message.contains("memory"),
        "{message}"
    );
}

#[test]
fn refuses_unknown_storage_setting() {
    let message =
        refusal("storage \"memory\" { path = \"x\" }\nlistener \"tcp\" { tls_disable = true }");
    assert_eq!(message, "unknown setting \"storage.memory.path\"");
}

#[test]
fn refuses_unknown_seal_type() {
    let message = refusal(&format!("{MINIMAL}\nseal \"gcpckms\" {{}}"));
    assert!(
        message.contains("seal") && message.contains("\"gcpckms\"") && message.contains("pkcs11"),
        "{message}"
    );
}

#[test]
fn auto_seal_settings_are_kept_as_text() {
    let config = load(&format!(
        r#"{MINIMAL}
        seal "pkcs11" {{
          lib          = "/usr/lib/softhsm/libsofthsm2.so"
          token_label  = "coffer"
          pin          = "1234"
          key_label    = "coffer-seal"
          generate_key = true
          slot         = 7
        }}"#
    ));
    let SealConfig::Auto { kind, settings } = &config.seal else {
        panic!("expected an auto seal, got {:?}", config.seal);
    };
    assert_eq!(kind, "pkcs11");
    assert_eq!(settings["lib"], "/usr/lib/softhsm/libsofthsm2.so");
    assert_eq!(settings["generate_key"], "true");
    assert_eq!(settings["slot"], "7");
    assert_eq!(settings.len(), 6);
    assert_eq!(config.disabled_seal, None);
}

#[test]
fn a_disabled_seal_block_is_the_one_migrated_from() {
    let config = load(&format!(
        r#"{MINIMAL}
        seal "shamir" {{ disabled = "true" }}
        seal "awskms" {{ kms_key_id = "alias/coffer" }}"#
    ));
    assert_eq!(config.seal.kind(), "awskms");
    assert_eq!(config.disabled_seal, Some(SealConfig::Shamir));
    let back = load(&format!(
        r#"{MINIMAL}
        seal "awskms" {{
          kms_key_id = "alias/coffer"
          disabled   = true
        }}"#
    ));
    assert_eq!(back.seal, SealConfig::Shamir);
    assert_eq!(
        back.disabled_seal.map(|s| s.kind().to_owned()),
        Some("awskms".into())
    );
}

#[test]
fn refuses_two_active_seals_or_two_of_the_same_type() {
    let two = refusal(&format!(
        "{MINIMAL}\nseal \"pkcs11\" {{}}\nseal \"awskms\" {{}}"
    ));
    assert!(two.contains("seal"), "{two}");
    let same = refusal(&format!(
        "{MINIMAL}\nseal \"awskms\" {{ disabled = true }}\nseal \"awskms\" {{}}"
    ));
    assert!(same.contains("same type"), "{same}");
}

#[test]
fn refuses_settings_in_a_shamir_block_and_a_bad_disabled_value() {
    assert_eq!(
        refusal(&format!("{MINIMAL}\nseal \"shamir\" {{ pin = \"1\" }}")),
        "unknown setting \"seal.shamir.pin\""
    );
    let message = refusal(&format!(
        "{MINIMAL}\nseal \"pkcs11\" {{ disabled = \"maybe\" }}"
    ));
    assert!(message.contains("seal.pkcs11.disabled"), "{message}");
}

#[test]
fn refuses_missing_storage() {
    assert_eq!(
        refusal("listener \"tcp\" { tls_disable = true }"),
        "storage: a storage block is required"
    );
}

#[test]
fn refuses_two_storage_blocks() {
    let message = refusal(&format!("{MINIMAL}\nstorage \"memory\" {{}}"));
    assert_eq!(message, "setting \"storage\" is given more than once");
}

#[test]
fn refuses_storage_written_as_attribute() {
    let message = refusal("storage = \"memory\"\nlistener \"tcp\" { tls_disable = true }");
    assert!(
        message.starts_with("invalid value for \"storage\""),
        "{message}"
    );
}

#[test]
fn refuses_storage_block_without_type_label() {
    let message = refusal("storage {}\nlistener \"tcp\" { tls_disable = true }");
    assert!(
        message.starts_with("invalid value for \"storage\""),
        "{message}"
    );
}

#[test]
fn refuses_missing_listener() {
    assert_eq!(
        refusal("storage \"memory\" {}"),
        "listener: at least one listener block is required"
    );
}

#[test]
fn refuses_embedded_storage_without_path() {
    let message = refusal("storage \"embedded\" {}\nlistener \"tcp\" { tls_disable = true }");
    assert!(message.starts_with("storage.embedded.path:"), "{message}");
}

#[test]
fn refuses_embedded_storage_with_empty_path() {
    let message =
        refusal("storage \"embedded\" { path = \"\" }\nlistener \"tcp\" { tls_disable = true }");
    assert!(message.contains("\"storage.embedded.path\""), "{message}");
}

#[test]
fn refuses_tls_without_cert_and_key() {
    let expected =
        "listener.tcp: tls_cert_file and tls_key_file are required unless tls_disable = true";
    assert_eq!(
        refusal("storage \"memory\" {}\nlistener \"tcp\" {}"),
        expected
    );
    assert_eq!(
        refusal("storage \"memory\" {}\nlistener \"tcp\" { tls_cert_file = \"c.pem\" }"),
        expected
    );
    assert_eq!(
        refusal(
            "storage \"memory\" {}\nlistener \"tcp\" {\n tls_cert_file = \"c.pem\"\n tls_key_file = \"\"\n}"
        ),
        expected
    );
}

#[test]
fn refuses_client_certificate_verification() {
    let message = refusal(
        r#"
        storage "memory" {}
        listener "tcp" {
          tls_cert_file = "c"
          tls_key_file  = "k"
          tls_require_and_verify_client_cert = true
        }
        "#,
    );
    assert!(
        message.contains("\"listener.tcp.tls_require_and_verify_client_cert\" is not supported"),
        "{message}"
    );
}

#[test]
fn refuses_tls_1_3_floor() {
    let message = refusal(
        "storage \"memory\" {}\nlistener \"tcp\" {\n tls_cert_file = \"c\"\n tls_key_file = \"k\"\n tls_min_version = \"tls13\"\n}",
    );
    assert!(
        message.contains("\"listener.tcp.tls_min_version\" is not supported"),
        "{message}"
    );
}

#[test]
fn refuses_bad_listener_address() {
    for bad in ["localhost:8200", "127.0.0.1", "127.0.0.1:99999"] {
        let message = refusal(&format!(
            "storage \"memory\" {{}}\nlistener \"tcp\" {{\n tls_disable = true\n address = \"{bad}\"\n}}"
        ));
        assert!(
            message.starts_with("invalid value for \"listener.tcp.address\""),
            "{message}"
        );
    }
}

#[test]
fn refuses_non_boolean_tls_disable() {
    let message = refusal("storage \"memory\" {}\nlistener \"tcp\" { tls_disable = \"yes\" }");
    assert!(
        message.starts_with("invalid value for \"listener.tcp.tls_disable\""),
        "{message}"
    );
}

#[test]
fn refuses_bad_duration() {
    let message = refusal(&format!("{MINIMAL}\ndefault_lease_ttl = \"10 years\""));
    assert!(
        message.starts_with("invalid value for \"default_lease_ttl\""),
        "{message}"
    );
    let message = refusal(&format!("{MINIMAL}\nmax_lease_ttl = -5"));
    assert!(
        message.starts_with("invalid value for \"max_lease_ttl\""),
        "{message}"
    );
}

#[test]
fn refuses_default_lease_ttl_above_max() {
    let message = refusal(&format!(
        "{MINIMAL}\ndefault_lease_ttl = \"2h\"\nmax_lease_ttl = \"1h\""
    ));
    assert!(
        message.starts_with("invalid value for \"default_lease_ttl\""),
        "{message}"
    );
    let message = refusal(&format!("{MINIMAL}\ndefault_lease_ttl = \"769h\""));
    assert!(
        message.starts_with("invalid value for \"default_lease_ttl\""),
        "{message}"
    );
}

#[test]
fn refuses_bad_log_level_and_format() {
    let message = refusal(&format!("{MINIMAL}\nlog_level = \"loud\""));
    assert!(
        message.starts_with("invalid value for \"log_level\""),
        "{message}"
    );
    let message = refusal(&format!("{MINIMAL}\nlog_format = \"xml\""));
    assert!(
        message.starts_with("invalid value for \"log_format\""),
        "{message}"
    );
}

#[test]
fn refuses_zero_negative_and_fractional_max_request_size() {
    for bad in ["0", "-1", "\"-1\"", "1.5", "\"lots\""] {
        let message = refusal(&format!("{MINIMAL}\nmax_request_size = {bad}"));
        assert!(
            message.starts_with("invalid value for \"max_request_size\""),
            "{bad}: {message}"
        );
    }
    let message = refusal(
        "storage \"memory\" {}\nlistener \"tcp\" {
          tls_disable = true
          max_request_size = 0
        }",
    );
    assert!(
        message.starts_with("invalid value for \"listener.tcp.max_request_size\""),
        "{message}"
    );
}

#[test]
fn refuses_api_addr_that_is_not_a_url() {
    let message = refusal(&format!("{MINIMAL}\napi_addr = \"127.0.0.1:8200\""));
    assert!(
        message.starts_with("invalid value for \"api_addr\""),
        "{message}"
    );
}

#[test]
fn refuses_variables_it_cannot_evaluate() {
    let message = refusal(&format!("{MINIMAL}\napi_addr = var.addr"));
    assert!(
        message.starts_with("invalid value for \"api_addr\""),
        "{message}"
    );
}

#[test]
fn audit_blocks_are_read_as_declared_devices() {
    let config = load(
        r#"
        storage "memory" {}
        listener "tcp" {
          address = "127.0.0.1:8200"
          tls_disable = true
        }
        audit "file" "main" {
          file_path = "/var/log/coffer/audit.log"
          mode = "0640"
          hmac_accessor = false
        }
        audit "socket" {
          address = "127.0.0.1:9090"
        }
        disable_api_audit_creation = true
        "#,
    );
    assert_eq!(config.audit_devices.len(), 2);
    let file = &config.audit_devices[0];
    assert_eq!((file.kind.as_str(), file.path.as_str()), ("file", "main"));
    assert_eq!(file.options["file_path"], "/var/log/coffer/audit.log");
    assert_eq!(file.options["hmac_accessor"], "false");
    assert_eq!(config.audit_devices[1].path, "socket");
    assert!(config.disable_api_audit_creation);
}

#[test]
fn openbao_audit_setting_is_translated_with_a_warning() {
    let config = load(
        r#"
        storage "memory" {}
        listener "tcp" {
          address = "127.0.0.1:8200"
          tls_disable = true
        }
        unsafe_allow_api_audit_creation = false
        "#,
    );
    assert!(config.disable_api_audit_creation);
    assert!(config
        .warnings
        .iter()
        .any(|w| w.contains("unsafe_allow_api_audit_creation")));
}

#[test]
fn bad_audit_blocks_name_the_setting() {
    let base = "storage \"memory\" {}\nlistener \"tcp\" {\n  address = \"127.0.0.1:8200\"\n  tls_disable = true\n}\n";
    let err = Config::from_hcl(&format!("{base}audit \"syslog\" \"s\" {{}}\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("audit") && err.contains("syslog"), "{err}");
    let err = Config::from_hcl(&format!("{base}audit \"file\" \"a\" {{\n  file_path = \"/x\"\n}}\naudit \"file\" \"a\" {{\n  file_path = \"/y\"\n}}\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("audit \"a\""), "{err}");
    let err = Config::from_hcl(&format!(
        "{base}audit \"file\" \"a\" {{\n  file_path = [1]\n}}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("audit.file.file_path"), "{err}");
}

#[test]
fn unauthed_generate_root_endpoints_are_disabled_unless_turned_off() {
    let listener = |extra: &str| {
        format!("listener \"tcp\" {{\n address = \"127.0.0.1:8200\"\n tls_disable = true\n {extra}\n}}\n")
    };
    let base = format!("storage \"memory\" {{}}\n{}", listener(""));
    assert!(load(&base).disable_unauthed_generate_root_endpoints);
    let top = format!("{base}disable_unauthed_generate_root_endpoints = false\n");
    assert!(!load(&top).disable_unauthed_generate_root_endpoints);
    let off = listener("disable_unauthed_generate_root_endpoints = false");
    let in_listener = format!("storage \"memory\" {{}}\n{off}");
    assert!(!load(&in_listener).disable_unauthed_generate_root_endpoints);
    let one_of_two = format!(
        "storage \"memory\" {{}}\n{off}{}",
        listener("").replace("8200", "8201")
    );
    assert!(load(&one_of_two).disable_unauthed_generate_root_endpoints);
}

#[test]
fn unauthed_rekey_endpoints_are_disabled_unless_turned_off() {
    let listener = |extra: &str| {
        format!("listener \"tcp\" {{\n address = \"127.0.0.1:8200\"\n tls_disable = true\n {extra}\n}}\n")
    };
    let base = format!("storage \"memory\" {{}}\n{}", listener(""));
    assert!(load(&base).disable_unauthed_rekey_endpoints);
    let top = format!("{base}disable_unauthed_rekey_endpoints = false\n");
    assert!(!load(&top).disable_unauthed_rekey_endpoints);
    let in_listener = format!(
        "storage \"memory\" {{}}\n{}",
        listener("disable_unauthed_rekey_endpoints = false")
    );
    assert!(!load(&in_listener).disable_unauthed_rekey_endpoints);
}
