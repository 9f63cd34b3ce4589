//! `seal "awskms"` against moto's KMS: the real AWS wire protocol on 127.0.0.1. Each test
//! starts its own emulator (killed when the guard drops) and makes its keys with the SDK.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_kms::Client;
use coffer_blackbox::moto::{self, Moto};
use coffer_seal::awskms::AwsKmsSeal;
use coffer_seal::{open_auto_seal_with_env, AutoSeal, SealProviderError, SealSettings};

/// A key created in the emulator, in the three forms `kms_key_id` accepts.
struct TestKey {
    id: String,
    arn: String,
    alias: String,
}

/// `Moto::start` waits with a blocking HTTP client, which must not run on the runtime.
async fn start_moto() -> Moto {
    tokio::task::spawn_blocking(Moto::start)
        .await
        .expect("start moto")
}

fn admin(moto: &Moto) -> Client {
    let config = aws_sdk_kms::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new(
            moto::ACCESS_KEY_ID,
            moto::SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        ))
        .build();
    Client::from_conf(config)
}

async fn create_key(moto: &Moto, alias: &str) -> TestKey {
    let client = admin(moto);
    let meta = client
        .create_key()
        .description("coffer seal test")
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata");
    let alias = format!("alias/{alias}");
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .expect("CreateAlias");
    TestKey {
        id: meta.key_id().to_string(),
        arn: meta.arn().expect("arn").to_string(),
        alias,
    }
}

fn settings(pairs: &[(&str, &str)]) -> SealSettings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A complete block for `key_id` on `moto`, with static credentials.
fn block(moto: &Moto, key_id: &str) -> SealSettings {
    settings(&[
        ("kms_key_id", key_id),
        ("region", moto::REGION),
        ("endpoint", &moto.endpoint()),
        ("access_key", moto::ACCESS_KEY_ID),
        ("secret_key", moto::SECRET_ACCESS_KEY),
    ])
}

fn no_env(_: &str) -> Option<String> {
    None
}

async fn open(settings: &SealSettings) -> AwsKmsSeal {
    AwsKmsSeal::open_with_env(settings, &no_env)
        .await
        .expect("open awskms seal")
}

#[tokio::test]
async fn key_id_arn_and_alias_all_name_the_same_key() {
    let moto = start_moto().await;
    let key = create_key(&moto, "coffer-root").await;
    let mut blobs = Vec::new();
    for form in [&key.id, &key.arn, &key.alias] {
        let seal = open(&block(&moto, form)).await;
        seal.check()
            .await
            .unwrap_or_else(|e| panic!("check {form}: {e}"));
        assert_eq!(seal.kind(), "awskms");
        let blob = seal
            .encrypt(b"root key", b"store-1")
            .await
            .expect("encrypt");
        assert!(
            !blob.windows(8).any(|w| w == b"root key"),
            "plaintext visible"
        );
        blobs.push(blob);
    }
    assert_ne!(blobs[0], blobs[1], "two encryptions gave the same blob");
    for form in [&key.id, &key.arn, &key.alias] {
        let seal = open(&block(&moto, form)).await;
        for blob in &blobs {
            let plain = seal.decrypt(blob, b"store-1").await.expect("decrypt");
            assert_eq!(plain.as_slice(), b"root key");
        }
    }
}

#[tokio::test]
async fn another_context_a_flipped_byte_or_a_truncated_blob_is_a_decrypt_error() {
    let moto = start_moto().await;
    let key = create_key(&moto, "tamper").await;
    let seal = open(&block(&moto, &key.alias)).await;
    let blob = seal
        .encrypt(b"0123456789", b"store-1")
        .await
        .expect("encrypt");

    for other in [&b"store-2"[..], b"", b"store-1\0"] {
        let err = seal.decrypt(&blob, other).await.expect_err("decrypted");
        assert!(matches!(err, SealProviderError::Decrypt { .. }), "{err}");
    }
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        match seal.decrypt(&bad, b"store-1").await {
            Err(SealProviderError::Decrypt { .. }) => {}
            other => panic!("byte {i} of {}: {other:?}", blob.len()),
        }
    }
    let mut candidates: Vec<Vec<u8>> = (0..blob.len()).map(|n| blob[..n].to_vec()).collect();
    candidates.push([blob.as_slice(), b"x"].concat());
    candidates.push(vec![0; 100]);
    candidates.push(b"CK\x01\xff\xff".to_vec());
    for bad in candidates {
        match seal.decrypt(&bad, b"store-1").await {
            Err(SealProviderError::Decrypt { .. }) => {}
            other => panic!("{} bytes: {other:?}", bad.len()),
        }
    }
    assert_eq!(
        seal.decrypt(&blob, b"store-1")
            .await
            .expect("decrypt")
            .as_slice(),
        b"0123456789"
    );
}

#[tokio::test]
async fn a_blob_made_under_one_key_does_not_decrypt_under_another() {
    let moto = start_moto().await;
    let a = create_key(&moto, "key-a").await;
    let b = create_key(&moto, "key-b").await;
    let blob = open(&block(&moto, &a.alias))
        .await
        .encrypt(b"for a", b"ctx")
        .await
        .expect("encrypt");
    let err = open(&block(&moto, &b.alias))
        .await
        .decrypt(&blob, b"ctx")
        .await
        .expect_err("decrypted under key b");
    assert!(matches!(err, SealProviderError::Decrypt { .. }), "{err}");
    assert!(
        err.to_string().contains(&a.arn),
        "names the blob's key: {err}"
    );
}

#[tokio::test]
async fn a_missing_key_is_a_key_error_naming_it() {
    let moto = start_moto().await;
    for missing in [
        "alias/nobody-made-this",
        "11111111-2222-3333-4444-555555555555",
    ] {
        let seal = open(&block(&moto, missing)).await;
        let err = seal.check().await.expect_err("found a missing key");
        assert!(matches!(err, SealProviderError::Key { .. }), "{err}");
        assert!(err.to_string().contains(missing), "{err}");
        let err = seal.encrypt(b"x", b"ctx").await.expect_err("encrypted");
        assert!(matches!(err, SealProviderError::Key { .. }), "{err}");
    }
}

#[tokio::test]
async fn a_disabled_key_fails_check_and_decrypt() {
    let moto = start_moto().await;
    let key = create_key(&moto, "soon-disabled").await;
    let seal = open(&block(&moto, &key.alias)).await;
    seal.check().await.expect("check while enabled");
    let blob = seal.encrypt(b"x", b"ctx").await.expect("encrypt");

    admin(&moto)
        .disable_key()
        .key_id(&key.id)
        .send()
        .await
        .expect("DisableKey");
    let err = seal.check().await.expect_err("disabled key passed check");
    assert!(matches!(err, SealProviderError::Key { .. }), "{err}");
    assert!(err.to_string().contains("disabled"), "{err}");
    let err = seal
        .decrypt(&blob, b"ctx")
        .await
        .expect_err("decrypted with a disabled key");
    assert!(matches!(err, SealProviderError::Key { .. }), "{err}");
    seal.encrypt(b"x", b"ctx")
        .await
        .expect_err("encrypted with a disabled key");
}

#[tokio::test]
async fn an_asymmetric_key_is_refused_at_check() {
    let moto = start_moto().await;
    let meta = admin(&moto)
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata");
    let err = open(&block(&moto, meta.key_id()))
        .await
        .check()
        .await
        .expect_err("RSA key passed check");
    assert!(matches!(err, SealProviderError::Key { .. }), "{err}");
    assert!(err.to_string().contains("symmetric"), "{err}");
}

#[tokio::test]
async fn an_endpoint_nobody_listens_on_is_unavailable_within_seconds() {
    let port = coffer_blackbox::ports::free_port();
    let mut s = settings(&[
        ("kms_key_id", "alias/x"),
        ("region", moto::REGION),
        ("endpoint", &format!("http://127.0.0.1:{port}")),
        ("access_key", moto::ACCESS_KEY_ID),
        ("secret_key", moto::SECRET_ACCESS_KEY),
    ]);
    let seal = open(&s).await;
    let started = Instant::now();
    let err = seal.check().await.expect_err("reached nobody");
    assert!(
        matches!(err, SealProviderError::Unavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    let err = seal.encrypt(b"x", b"ctx").await.expect_err("encrypted");
    assert!(
        matches!(err, SealProviderError::Unavailable { .. }),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    s.insert("secret_key".into(), "never-shown-secret".into());
    let seal = open(&s).await;
    let err = seal.check().await.expect_err("reached nobody");
    assert!(!err.to_string().contains("never-shown-secret"), "{err}");
    assert!(!format!("{seal:?}").contains("never-shown-secret"));
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_unavailable_not_a_hang() {
    let moto = start_moto().await;
    let key = create_key(&moto, "frozen").await;
    let seal = open(&block(&moto, &key.alias)).await;
    seal.check().await.expect("check while it answers");
    moto.freeze();
    let started = Instant::now();
    let result = seal.check().await;
    let elapsed = started.elapsed();
    moto.thaw();
    let err = result.expect_err("a frozen KMS answered");
    assert!(
        matches!(err, SealProviderError::Unavailable { .. }),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[tokio::test]
async fn settings_fall_back_to_coffer_then_bao_then_vault_variables_and_aws_ones() {
    let moto = start_moto().await;
    let key = create_key(&moto, "from-env").await;
    let env: HashMap<&str, String> = HashMap::from([
        ("COFFER_AWSKMS_SEAL_KEY_ID", key.alias.clone()),
        (
            "BAO_AWSKMS_SEAL_KEY_ID",
            "alias/missing-from-bao".to_string(),
        ),
        (
            "VAULT_AWSKMS_SEAL_KEY_ID",
            "alias/missing-from-vault".to_string(),
        ),
        ("AWS_KMS_ENDPOINT", moto.endpoint()),
        ("AWS_DEFAULT_REGION", moto::REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY.to_string()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();
    let seal = open_auto_seal_with_env("awskms", &SealSettings::new(), &lookup)
        .await
        .expect("open from env");
    seal.check().await.expect("check: COFFER_ key id used");
    let blob = seal.encrypt(b"env", b"ctx").await.expect("encrypt");
    assert_eq!(
        open(&block(&moto, &key.arn))
            .await
            .decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"env"
    );

    // BAO_ beats VAULT_.
    let mut bao_env = env.clone();
    bao_env.remove("COFFER_AWSKMS_SEAL_KEY_ID");
    bao_env.insert("BAO_AWSKMS_SEAL_KEY_ID", key.id.clone());
    let lookup = |name: &str| bao_env.get(name).cloned();
    let seal = AwsKmsSeal::open_with_env(&SealSettings::new(), &lookup)
        .await
        .expect("open");
    seal.check().await.expect("check: BAO_ key id used");

    // The block beats the variables.
    let only_key = settings(&[("kms_key_id", "alias/missing-from-block")]);
    let seal = AwsKmsSeal::open_with_env(&only_key, &lookup)
        .await
        .expect("open");
    let err = seal.check().await.expect_err("block ignored");
    assert!(err.to_string().contains("missing-from-block"), "{err}");
}

#[tokio::test]
async fn unknown_settings_and_unknown_seal_types_are_config_errors() {
    let mut s = settings(&[("kms_key_id", "alias/x"), ("region", moto::REGION)]);
    s.insert("kms_keyid".into(), "typo".into());
    let Err(err) = open_auto_seal_with_env("awskms", &s, &no_env).await else {
        panic!("typo accepted");
    };
    assert!(
        matches!(&err, SealProviderError::Config { message, .. } if message.contains("kms_keyid")),
        "{err}"
    );
    let Err(err) = open_auto_seal_with_env("gcpckms", &SealSettings::new(), &no_env).await else {
        panic!("unknown seal type accepted");
    };
    assert!(
        matches!(&err, SealProviderError::Config { message, .. } if message.contains("gcpckms")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_encrypt_and_decrypt_at_once() {
    let moto = start_moto().await;
    let key = create_key(&moto, "busy").await;
    let seal = Arc::new(open(&block(&moto, &key.alias)).await);
    let tasks: Vec<_> = (0..32u32)
        .map(|i| {
            let seal = Arc::clone(&seal);
            tokio::spawn(async move {
                let plain = format!("value {i}");
                let context = format!("ctx {i}");
                let blob = seal.encrypt(plain.as_bytes(), context.as_bytes()).await?;
                let back = seal.decrypt(&blob, context.as_bytes()).await?;
                assert_eq!(back.as_slice(), plain.as_bytes());
                Ok::<_, SealProviderError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("join").expect("round trip");
    }
}
