//! `seal "pkcs11"` against a real SoftHSM2.
//!
//! SoftHSM reads its configuration once per process (at `C_Initialize`), so every test here
//! shares the one store in [`HSM`], whose tokens and pre-made keys are all created before the
//! library is first loaded; tests keep apart by key label (and some by token).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use coffer_blackbox::softhsm::SoftHsm;
use coffer_seal::pkcs11::Pkcs11Seal;
use coffer_seal::{open_auto_seal_with_env, AutoSeal, SealProviderError, SealSettings};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::SessionState;
use cryptoki::slot::Slot;

const PIN: &str = "1234-user";
/// The main token, where most tests put their keys.
const MAIN: &str = "coffer-main";
/// A second token with its own PIN and key, initialised after MAIN (so it sits in a slot
/// whose id only its label finds).
const SECOND: &str = "coffer-second";
const SECOND_PIN: &str = "9876-second";
/// A token only the wrong-PIN test logs in to: PKCS#11 login state is per token and process,
/// so a token another test already logged in to would accept any later login.
const WRONG_PIN_TOKEN: &str = "coffer-wrong-pin";
/// A token only the re-login test uses, since it logs every session on it out.
const RELOGIN: &str = "coffer-relogin";

/// Made with pkcs11-tool on MAIN before the library is loaded.
const EXISTING_KEY: &str = "existing";
const ID_KEY_LABEL: &str = "by-id";
const ID_KEY_ID: &str = "c0ffee01";
const SECOND_KEY: &str = "second-key";
const RSA_PAIR: &str = "rsa-existing";

static HSM: LazyLock<SoftHsm> = LazyLock::new(|| {
    let hsm = SoftHsm::start(MAIN, PIN);
    hsm.add_token(SECOND, SECOND_PIN);
    hsm.add_token(WRONG_PIN_TOKEN, PIN);
    hsm.add_token(RELOGIN, PIN);
    hsm.create_aes_key(EXISTING_KEY);
    hsm.create_aes_key_on(MAIN, PIN, ID_KEY_LABEL, Some(ID_KEY_ID));
    hsm.create_aes_key_on(SECOND, SECOND_PIN, SECOND_KEY, None);
    hsm.create_aes_key_on(WRONG_PIN_TOKEN, PIN, EXISTING_KEY, None);
    hsm.create_rsa_key_pair_on(MAIN, PIN, RSA_PAIR);
    hsm.set_process_env();
    hsm.remove_at_exit();
    hsm
});

fn settings(pairs: &[(&str, &str)]) -> SealSettings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// lib, token_label = MAIN, pin, key_label = `key`.
fn main_token(key: &str) -> SealSettings {
    settings(&[
        ("lib", HSM.lib()),
        ("token_label", MAIN),
        ("pin", PIN),
        ("key_label", key),
    ])
}

fn no_env(_: &str) -> Option<String> {
    None
}

async fn open(settings: &SealSettings) -> Pkcs11Seal {
    Pkcs11Seal::open_with_env(settings, &no_env)
        .await
        .expect("open pkcs11 seal")
}

/// This test's own handle on the (already or now initialised) library, to look at slots and
/// sessions from outside the seal.
fn outside_context() -> Pkcs11 {
    LazyLock::force(&HSM);
    let ctx = Pkcs11::new(HSM.lib()).expect("load softhsm");
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => panic!("C_Initialize: {e}"),
    }
    ctx
}

fn slot_of(ctx: &Pkcs11, label: &str) -> Slot {
    ctx.get_slots_with_token()
        .expect("slots")
        .into_iter()
        .find(|s| ctx.get_token_info(*s).expect("token info").label() == label)
        .unwrap_or_else(|| panic!("no token {label}"))
}

#[tokio::test]
async fn round_trip_with_an_existing_key_found_by_label() {
    let seal = open(&main_token(EXISTING_KEY)).await;
    seal.check().await.expect("check");
    assert_eq!(seal.kind(), "pkcs11");
    let blob = seal
        .encrypt(b"root key bytes", b"store-1/core/root")
        .await
        .expect("encrypt");
    assert!(
        !blob.windows(14).any(|w| w == b"root key bytes"),
        "plaintext visible in the blob"
    );
    let plain = seal
        .decrypt(&blob, b"store-1/core/root")
        .await
        .expect("decrypt");
    assert_eq!(plain.as_slice(), b"root key bytes");
    let again = seal
        .encrypt(b"root key bytes", b"store-1/core/root")
        .await
        .expect("encrypt");
    assert_ne!(blob, again, "two encryptions reused an IV");
}

#[tokio::test]
async fn empty_plaintext_round_trips() {
    let seal = open(&main_token(EXISTING_KEY)).await;
    let blob = seal.encrypt(b"", b"ctx").await.expect("encrypt");
    assert!(seal
        .decrypt(&blob, b"ctx")
        .await
        .expect("decrypt")
        .is_empty());
}

#[tokio::test]
async fn a_different_context_does_not_decrypt() {
    let seal = open(&main_token(EXISTING_KEY)).await;
    let blob = seal.encrypt(b"secret", b"store-1").await.expect("encrypt");
    for other in [&b"store-2"[..], b"", b"store-1 "] {
        let err = seal.decrypt(&blob, other).await.expect_err("decrypted");
        assert!(matches!(err, SealProviderError::Decrypt { .. }), "{err}");
    }
}

#[tokio::test]
async fn a_flipped_byte_anywhere_in_the_blob_is_a_decrypt_error() {
    let seal = open(&main_token(EXISTING_KEY)).await;
    let blob = seal
        .encrypt(b"0123456789abcdef", b"ctx")
        .await
        .expect("encrypt");
    for i in 0..blob.len() {
        for mask in [0x01u8, 0x80] {
            let mut bad = blob.clone();
            bad[i] ^= mask;
            match seal.decrypt(&bad, b"ctx").await {
                Err(SealProviderError::Decrypt { .. }) => {}
                other => panic!("byte {i} ^ {mask:#x}: {other:?}"),
            }
        }
    }
    // The untouched blob still decrypts: no error above came from a broken session.
    assert_eq!(
        seal.decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"0123456789abcdef"
    );
}

#[tokio::test]
async fn truncated_extended_and_garbage_blobs_are_decrypt_errors() {
    let seal = open(&main_token(EXISTING_KEY)).await;
    let blob = seal.encrypt(b"secret", b"ctx").await.expect("encrypt");
    let mut candidates: Vec<Vec<u8>> = (0..blob.len()).map(|n| blob[..n].to_vec()).collect();
    candidates.push([blob.as_slice(), b"x"].concat());
    candidates.push(vec![0; 64]);
    candidates.push(vec![0xff; 3]);
    candidates.push(b"CP\x01\x01\xff".to_vec());
    candidates.push(b"CP\x01\x01\x00rest-of-it-is-long-enough".to_vec());
    for bad in candidates {
        match seal.decrypt(&bad, b"ctx").await {
            Err(SealProviderError::Decrypt { .. }) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_wrong_pin_is_unavailable_and_the_message_does_not_contain_it() {
    let seal = open(&settings(&[
        ("lib", HSM.lib()),
        ("token_label", WRONG_PIN_TOKEN),
        ("pin", "not-the-pin-4711"),
        ("key_label", EXISTING_KEY),
    ]))
    .await;
    let err = seal.check().await.expect_err("logged in with a wrong PIN");
    let message = err.to_string();
    assert!(
        matches!(err, SealProviderError::Unavailable { .. }),
        "{message}"
    );
    assert!(message.contains("PIN"), "{message}");
    assert!(message.contains(WRONG_PIN_TOKEN), "{message}");
    assert!(!message.contains("not-the-pin-4711"), "{message}");
    assert!(!format!("{seal:?}").contains("not-the-pin-4711"));
    let err = seal.encrypt(b"x", b"ctx").await.expect_err("encrypted");
    assert!(
        matches!(err, SealProviderError::Unavailable { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_key_without_generate_key_names_the_key_and_the_token() {
    let seal = open(&main_token("nobody-made-this")).await;
    let err = seal.check().await.expect_err("found a missing key");
    let message = err.to_string();
    assert!(matches!(err, SealProviderError::Key { .. }), "{message}");
    assert!(message.contains("nobody-made-this"), "{message}");
    assert!(message.contains(MAIN), "{message}");
    assert!(message.contains("generate_key"), "{message}");
    let err = seal.encrypt(b"x", b"ctx").await.expect_err("encrypted");
    assert!(matches!(err, SealProviderError::Key { .. }), "{err}");
}

#[tokio::test]
async fn generate_key_creates_the_key_once_and_a_second_open_finds_it() {
    let mut s = main_token("generated");
    s.insert("generate_key".into(), "true".into());
    let first = open(&s).await;
    first.check().await.expect("check generates");
    let blob = first.encrypt(b"kept", b"ctx").await.expect("encrypt");

    let second = open(&s).await;
    second.check().await.expect("check finds");
    assert_eq!(
        second
            .decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"kept"
    );
    // Without generate_key the key is found, and it is unique (a duplicate is an error).
    let plain = open(&main_token("generated")).await;
    plain.check().await.expect("exactly one key with the label");
    assert_eq!(
        plain
            .decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"kept"
    );
}

#[tokio::test]
async fn concurrent_first_use_with_generate_key_makes_one_key() {
    let mut s = main_token("generated-concurrently");
    s.insert("generate_key".into(), "true".into());
    let seal = Arc::new(open(&s).await);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let seal = Arc::clone(&seal);
            tokio::spawn(async move { seal.encrypt(&[i], b"ctx").await })
        })
        .collect();
    let mut blobs = Vec::new();
    for task in tasks {
        blobs.push(task.await.expect("join").expect("encrypt"));
    }
    let plain = open(&main_token("generated-concurrently")).await;
    plain.check().await.expect("exactly one key with the label");
    for (i, blob) in blobs.iter().enumerate() {
        assert_eq!(
            plain
                .decrypt(blob, b"ctx")
                .await
                .expect("decrypt")
                .as_slice(),
            &[i as u8]
        );
    }
}

#[tokio::test]
async fn the_token_is_found_by_label_whatever_its_slot_id() {
    let ctx = outside_context();
    let second_slot = slot_of(&ctx, SECOND);
    let main_slot = slot_of(&ctx, MAIN);
    // SoftHSM moved each token from the free slot's small index to an id made from its
    // serial number: only a lookup by label finds it again.
    assert!(second_slot.id() > 16, "slot id {}", second_slot.id());

    let by_label = open(&settings(&[
        ("lib", HSM.lib()),
        ("token_label", SECOND),
        ("pin", SECOND_PIN),
        ("key_label", SECOND_KEY),
    ]))
    .await;
    by_label.check().await.expect("check");
    let blob = by_label
        .encrypt(b"on second", b"ctx")
        .await
        .expect("encrypt");

    let by_slot = open(&settings(&[
        ("lib", HSM.lib()),
        ("slot", &second_slot.id().to_string()),
        ("pin", SECOND_PIN),
        ("key_label", SECOND_KEY),
    ]))
    .await;
    assert_eq!(
        by_slot
            .decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"on second"
    );

    // A slot that does not hold the labelled token is refused rather than used.
    let mismatch = open(&settings(&[
        ("lib", HSM.lib()),
        ("slot", &main_slot.id().to_string()),
        ("token_label", SECOND),
        ("pin", SECOND_PIN),
        ("key_label", SECOND_KEY),
    ]))
    .await;
    let err = mismatch.check().await.expect_err("slot and label disagree");
    assert!(matches!(err, SealProviderError::Config { .. }), "{err}");

    // The same label on another token is another key: the blob does not decrypt there.
    let main = open(&main_token(EXISTING_KEY)).await;
    let err = main.decrypt(&blob, b"ctx").await.expect_err("decrypted");
    assert!(matches!(err, SealProviderError::Decrypt { .. }), "{err}");
}

#[tokio::test]
async fn an_unknown_token_label_is_unavailable_and_lists_the_tokens_present() {
    let seal = open(&settings(&[
        ("lib", HSM.lib()),
        ("token_label", "no-such-token"),
        ("pin", PIN),
        ("key_label", EXISTING_KEY),
    ]))
    .await;
    let err = seal.check().await.expect_err("found a missing token");
    let message = err.to_string();
    assert!(
        matches!(err, SealProviderError::Unavailable { .. }),
        "{message}"
    );
    assert!(
        message.contains("no-such-token") && message.contains(MAIN),
        "{message}"
    );
}

#[tokio::test]
async fn a_key_is_found_by_key_id_alone_or_with_its_label() {
    let blob = {
        let seal = open(&settings(&[
            ("lib", HSM.lib()),
            ("token_label", MAIN),
            ("pin", PIN),
            ("key_id", ID_KEY_ID),
        ]))
        .await;
        seal.check().await.expect("check by id");
        seal.encrypt(b"by id", b"ctx").await.expect("encrypt")
    };
    let both = open(&settings(&[
        ("lib", HSM.lib()),
        ("token_label", MAIN),
        ("pin", PIN),
        ("key_id", &format!("0x{}", ID_KEY_ID.to_uppercase())),
        ("key_label", ID_KEY_LABEL),
    ]))
    .await;
    assert_eq!(
        both.decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"by id"
    );

    let wrong_id = open(&settings(&[
        ("lib", HSM.lib()),
        ("token_label", MAIN),
        ("pin", PIN),
        ("key_id", "0badc0de"),
        ("key_label", ID_KEY_LABEL),
    ]))
    .await;
    let err = wrong_id.check().await.expect_err("label with another id");
    assert!(matches!(err, SealProviderError::Key { .. }), "{err}");
    assert!(err.to_string().contains("0badc0de"), "{err}");

    let err = Pkcs11Seal::open_with_env(
        &settings(&[
            ("lib", HSM.lib()),
            ("token_label", MAIN),
            ("pin", PIN),
            ("key_id", "not hex"),
        ]),
        &no_env,
    )
    .await
    .expect_err("bad key_id");
    assert!(
        matches!(&err, SealProviderError::Config { message, .. } if message.contains("key_id")),
        "{err}"
    );
}

#[tokio::test]
async fn every_setting_can_come_from_the_environment_with_coffer_then_bao_then_vault() {
    let lib = HSM.lib().to_string();
    let env: HashMap<&str, String> = HashMap::from([
        ("VAULT_HSM_LIB", lib),
        ("BAO_HSM_TOKEN_LABEL", MAIN.to_string()),
        ("VAULT_HSM_TOKEN_LABEL", "no-such-token".to_string()),
        ("COFFER_HSM_PIN", PIN.to_string()),
        // COFFER_ beats BAO_ beats VAULT_: only the COFFER_ label exists.
        ("COFFER_HSM_KEY_LABEL", EXISTING_KEY.to_string()),
        ("BAO_HSM_KEY_LABEL", "missing-from-bao".to_string()),
        ("VAULT_HSM_KEY_LABEL", "missing-from-vault".to_string()),
        ("BAO_HSM_MECHANISM", "CKM_AES_GCM".to_string()),
        ("VAULT_HSM_GENERATE_KEY", "false".to_string()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();
    let seal = open_auto_seal_with_env("pkcs11", &SealSettings::new(), &lookup)
        .await
        .expect("open from env");
    seal.check().await.expect("check");
    let blob = seal.encrypt(b"env", b"ctx").await.expect("encrypt");
    let by_config = open(&main_token(EXISTING_KEY)).await;
    assert_eq!(
        by_config
            .decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"env"
    );

    // The block beats every variable.
    let block = settings(&[("key_label", "missing-from-block")]);
    let seal = open_auto_seal_with_env("pkcs11", &block, &lookup)
        .await
        .expect("open");
    let err = seal.check().await.expect_err("block ignored");
    assert!(err.to_string().contains("missing-from-block"), "{err}");

    // BAO_ beats VAULT_.
    let bao_env: HashMap<&str, String> = HashMap::from([
        ("BAO_HSM_LIB", HSM.lib().to_string()),
        ("BAO_HSM_TOKEN_LABEL", MAIN.to_string()),
        ("BAO_HSM_PIN", PIN.to_string()),
        ("BAO_HSM_KEY_LABEL", EXISTING_KEY.to_string()),
        ("VAULT_HSM_KEY_LABEL", "missing-from-vault".to_string()),
        ("BAO_HSM_GENERATE_KEY", "maybe".to_string()),
    ]);
    let lookup = |name: &str| bao_env.get(name).cloned();
    let err = Pkcs11Seal::open_with_env(&SealSettings::new(), &lookup)
        .await
        .expect_err("generate_key = maybe");
    assert!(err.to_string().contains("generate_key"), "{err}");
    let block = settings(&[("generate_key", "false")]);
    let seal = Pkcs11Seal::open_with_env(&block, &lookup)
        .await
        .expect("open");
    seal.check().await.expect("BAO_ label used");
}

#[tokio::test]
async fn an_unknown_setting_is_refused_by_name() {
    let mut s = main_token(EXISTING_KEY);
    s.insert("key_lable".into(), "typo".into());
    let Err(err) = open_auto_seal_with_env("pkcs11", &s, &no_env).await else {
        panic!("typo accepted");
    };
    assert!(
        matches!(&err, SealProviderError::Config { message, .. } if message.contains("key_lable")),
        "{err}"
    );
}

#[tokio::test]
async fn a_library_that_does_not_load_is_a_config_error() {
    let mut s = main_token(EXISTING_KEY);
    s.insert("lib".into(), "/nonexistent/libpkcs11.so".into());
    let err = Pkcs11Seal::open_with_env(&s, &no_env)
        .await
        .expect_err("loaded");
    assert!(
        matches!(&err, SealProviderError::Config { message, .. } if message.contains("/nonexistent/libpkcs11.so")),
        "{err}"
    );
}

#[tokio::test]
async fn after_the_hsm_logs_the_session_out_the_next_call_logs_in_again() {
    let mut s = settings(&[
        ("lib", HSM.lib()),
        ("token_label", RELOGIN),
        ("pin", PIN),
        ("key_label", "relogin-key"),
    ]);
    s.insert("generate_key".into(), "true".into());
    let seal = open(&s).await;
    let blob = seal.encrypt(b"before", b"ctx").await.expect("encrypt");
    assert_eq!(seal.sessions_opened(), 1);

    // Log out every session of this process on the token, from outside the seal.
    let ctx = outside_context();
    let session = ctx
        .open_ro_session(slot_of(&ctx, RELOGIN))
        .expect("open session");
    assert_eq!(
        session.get_session_info().expect("info").session_state(),
        SessionState::RoUser
    );
    session.logout().expect("logout");
    assert_eq!(
        session.get_session_info().expect("info").session_state(),
        SessionState::RoPublic
    );
    drop(session);

    assert_eq!(
        seal.decrypt(&blob, b"ctx")
            .await
            .expect("decrypt after logout")
            .as_slice(),
        b"before"
    );
    assert_eq!(
        seal.sessions_opened(),
        2,
        "the logged-out session was not replaced"
    );
    let blob = seal.encrypt(b"after", b"ctx").await.expect("encrypt");
    assert_eq!(
        seal.decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"after"
    );
    assert_eq!(seal.sessions_opened(), 2, "the new session was not pooled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_encrypt_and_decrypt_at_once() {
    let seal = Arc::new(open(&main_token(EXISTING_KEY)).await);
    let tasks: Vec<_> = (0..64u32)
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

/// RSA-OAEP settings on MAIN for the pair `label`.
fn rsa(label: &str) -> SealSettings {
    let mut s = main_token(label);
    s.insert("mechanism".into(), "CKM_RSA_PKCS_OAEP".into());
    s
}

#[tokio::test]
async fn rsa_oaep_with_an_existing_pair_round_trips_values_longer_than_rsa_could_take() {
    let seal = open(&rsa(RSA_PAIR)).await;
    seal.check().await.expect("check");
    // Larger than the 214 bytes RSA-2048 OAEP-SHA1 could encrypt directly: an envelope.
    let value = vec![0x5a; 1000];
    let blob = seal.encrypt(&value, b"ctx").await.expect("encrypt");
    assert_eq!(
        seal.decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        value.as_slice()
    );
    let err = seal
        .decrypt(&blob, b"ctx2")
        .await
        .expect_err("other context");
    assert!(matches!(err, SealProviderError::Decrypt { .. }), "{err}");
}

#[tokio::test]
async fn rsa_oaep_generate_key_makes_a_pair_that_a_second_open_finds() {
    let mut s = rsa("rsa-generated");
    s.insert("generate_key".into(), "true".into());
    let first = open(&s).await;
    first.check().await.expect("check generates");
    let blob = first.encrypt(b"kept", b"ctx").await.expect("encrypt");
    let second = open(&rsa("rsa-generated")).await;
    second
        .check()
        .await
        .expect("exactly one pair with the label");
    assert_eq!(
        second
            .decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"kept"
    );
}

#[tokio::test]
async fn rsa_oaep_without_a_pair_or_generate_key_names_the_key_and_token() {
    let err = open(&rsa("no-rsa-here"))
        .await
        .check()
        .await
        .expect_err("found a missing pair");
    let message = err.to_string();
    assert!(matches!(err, SealProviderError::Key { .. }), "{message}");
    assert!(
        message.contains("no-rsa-here") && message.contains(MAIN) && message.contains("RSA"),
        "{message}"
    );
    // An AES key by that label is not an RSA pair.
    let err = open(&rsa(EXISTING_KEY))
        .await
        .check()
        .await
        .expect_err("AES key taken for RSA");
    assert!(matches!(err, SealProviderError::Key { .. }), "{err}");
}

#[tokio::test]
async fn rsa_oaep_refuses_a_flipped_byte_anywhere_and_truncated_blobs() {
    let seal = open(&rsa(RSA_PAIR)).await;
    let blob = seal.encrypt(b"0123456789", b"ctx").await.expect("encrypt");
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        match seal.decrypt(&bad, b"ctx").await {
            Err(SealProviderError::Decrypt { .. }) => {}
            other => panic!("byte {i}: {other:?}"),
        }
    }
    for len in 0..blob.len() {
        match seal.decrypt(&blob[..len], b"ctx").await {
            Err(SealProviderError::Decrypt { .. }) => {}
            other => panic!("{len}-byte prefix: {other:?}"),
        }
    }
    assert_eq!(
        seal.decrypt(&blob, b"ctx")
            .await
            .expect("decrypt")
            .as_slice(),
        b"0123456789"
    );
}

#[tokio::test]
async fn a_blob_of_one_mechanism_is_refused_by_a_seal_of_the_other() {
    let aes = open(&main_token(EXISTING_KEY)).await;
    let rsa = open(&rsa(RSA_PAIR)).await;
    let from_aes = aes.encrypt(b"x", b"ctx").await.expect("encrypt");
    let from_rsa = rsa.encrypt(b"x", b"ctx").await.expect("encrypt");
    for (seal, blob) in [(&rsa, &from_aes), (&aes, &from_rsa)] {
        let err = seal
            .decrypt(blob, b"ctx")
            .await
            .expect_err("other mechanism");
        assert!(
            matches!(&err, SealProviderError::Decrypt { message, .. } if message.contains("CKM_")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_wrong_pin_is_refused_even_when_the_process_is_already_logged_in_to_the_token() {
    let good = open(&main_token(EXISTING_KEY)).await;
    good.check().await.expect("check");
    let mut s = main_token(EXISTING_KEY);
    s.insert("pin".into(), "wrong-but-logged-in".into());
    let bad = open(&s).await;
    let err = bad.check().await.expect_err("wrong PIN accepted");
    let message = err.to_string();
    assert!(
        matches!(err, SealProviderError::Unavailable { .. }),
        "{message}"
    );
    assert!(
        message.contains("PIN") && message.contains(MAIN),
        "{message}"
    );
    assert!(!message.contains("wrong-but-logged-in"), "{message}");
    good.check().await.expect("the right PIN still works");
}
