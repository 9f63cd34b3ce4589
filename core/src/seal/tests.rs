//! Unit tests of the seal manager: Shamir, an in-process auto seal, migration both ways.

use super::*;
use crate::storage::{MemoryStorage, Storage};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// An in-process auto seal for the manager's logic (AES-GCM under a key held in memory). The
/// real providers (SoftHSM2, moto's KMS) are exercised by coffer-seal's tests and the
/// black-box suites; this one only lets these tests run without them.
struct InProcessSeal {
    kind: &'static str,
    key: AesKey,
}

#[async_trait::async_trait]
impl AutoSeal for InProcessSeal {
    fn kind(&self) -> &'static str {
        self.kind
    }
    async fn check(&self) -> Result<(), SealProviderError> {
        Ok(())
    }
    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, SealProviderError> {
        Ok(aead::seal(&self.key, 0, context, plaintext))
    }
    async fn decrypt(
        &self,
        blob: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealProviderError> {
        aead::open(&self.key, context, blob)
            .map(Zeroizing::new)
            .map_err(|_| SealProviderError::Decrypt {
                kind: self.kind,
                message: "bad blob".into(),
            })
    }
}

fn auto(kind: &'static str) -> Protector {
    Protector::Auto(Arc::new(InProcessSeal {
        kind,
        key: AesKey::generate(),
    }))
}

fn manager_on(
    storage: Arc<dyn Storage>,
    active: Protector,
    from: Option<Protector>,
) -> SealManager {
    SealManager::with_setup(
        Arc::new(Barrier::new(storage, "s1")),
        SealSetup {
            active,
            migrate_from: from,
        },
    )
}

fn recovery(params: (u32, u32)) -> InitParams {
    InitParams {
        recovery_shares: params.0,
        recovery_threshold: params.1,
        ..Default::default()
    }
}

fn manager() -> SealManager {
    SealManager::new(Arc::new(Barrier::new(Arc::new(MemoryStorage::new()), "s1")))
}

#[tokio::test]
async fn init_then_threshold_of_shares_unseals() {
    let m = manager();
    let out = m.initialize(InitParams::shamir(5, 3)).await.unwrap();
    m.seal();
    assert_eq!(out.keys.len(), 5);
    assert!(!m.submit(&hex::encode(&*out.keys[4]), false).await.unwrap());
    assert!(!m.submit(&B64.encode(&*out.keys[0]), false).await.unwrap());
    assert_eq!(m.status().await.unwrap().progress, 2);
    assert!(m.submit(&hex::encode(&*out.keys[2]), false).await.unwrap());
    assert!(!m.status().await.unwrap().sealed);
}

#[tokio::test]
async fn wrong_share_at_threshold_fails_and_resets_progress() {
    let m = manager();
    let out = m.initialize(InitParams::shamir(3, 2)).await.unwrap();
    m.seal();
    m.submit(&hex::encode(&*out.keys[0]), false).await.unwrap();
    let mut bad = out.keys[1].to_vec();
    bad[0] ^= 1;
    assert!(matches!(
        m.submit(&hex::encode(bad), false).await,
        Err(SealError::WrongKey)
    ));
    let status = m.status().await.unwrap();
    assert!(status.sealed);
    assert_eq!(status.progress, 0);
}

#[tokio::test]
async fn duplicate_share_does_not_count() {
    let m = manager();
    let out = m.initialize(InitParams::shamir(3, 2)).await.unwrap();
    m.seal();
    let k = hex::encode(&*out.keys[0]);
    m.submit(&k, false).await.unwrap();
    assert!(!m.submit(&k, false).await.unwrap());
    assert_eq!(m.status().await.unwrap().progress, 1);
}

#[tokio::test]
async fn malformed_keys_are_refused_without_progress() {
    let m = manager();
    m.initialize(InitParams::shamir(3, 2)).await.unwrap();
    m.seal();
    assert!(matches!(
        m.submit("zz!", false).await,
        Err(SealError::KeyEncoding)
    ));
    assert!(matches!(
        m.submit("aabb", false).await,
        Err(SealError::KeyLength)
    ));
    assert_eq!(m.status().await.unwrap().progress, 0);
}

#[tokio::test]
async fn single_share_init_unseals_with_the_key() {
    let m = manager();
    let out = m.initialize(InitParams::shamir(1, 1)).await.unwrap();
    m.seal();
    assert!(m.submit(&B64.encode(&*out.keys[0]), false).await.unwrap());
}

#[tokio::test]
async fn invalid_share_configs_and_second_init_are_refused() {
    let m = manager();
    assert!(matches!(
        m.initialize(InitParams::shamir(1, 2)).await,
        Err(SealError::InvalidConfig(_))
    ));
    assert!(matches!(
        m.initialize(InitParams::shamir(3, 1)).await,
        Err(SealError::InvalidConfig(_))
    ));
    assert!(matches!(
        m.initialize(InitParams::shamir(256, 2)).await,
        Err(SealError::InvalidConfig(_))
    ));
    assert!(matches!(
        m.initialize(InitParams::shamir(0, 0)).await,
        Err(SealError::InvalidConfig(_))
    ));
    m.initialize(InitParams::shamir(3, 2)).await.unwrap();
    assert!(matches!(
        m.initialize(InitParams::shamir(3, 2)).await,
        Err(SealError::AlreadyInitialized)
    ));
}

#[tokio::test]
async fn verify_shares_accepts_a_threshold_and_refuses_a_wrong_share_while_unsealed() {
    let m = manager();
    let out = m.initialize(InitParams::shamir(5, 3)).await.unwrap();
    let good: Vec<_> = out.keys[1..4].to_vec();
    m.verify_shares(&good).await.unwrap();
    let mut bad = good.clone();
    bad[2][1] ^= 1;
    assert!(matches!(
        m.verify_shares(&bad).await,
        Err(SealError::WrongKey)
    ));
    assert!(matches!(
        m.verify_shares(&good[..2]).await,
        Err(SealError::WrongKey)
    ));
    assert!(!m.status().await.unwrap().sealed);
}

#[tokio::test]
async fn reset_clears_progress() {
    let m = manager();
    let out = m.initialize(InitParams::shamir(3, 2)).await.unwrap();
    m.seal();
    m.submit(&hex::encode(&*out.keys[0]), false).await.unwrap();
    m.reset();
    assert_eq!(m.status().await.unwrap().progress, 0);
}

#[tokio::test]
async fn auto_seal_init_returns_recovery_keys_and_a_new_process_unseals_itself() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let seal = auto("pkcs11");
    let first = manager_on(storage.clone(), seal.clone(), None);
    let out = first.initialize(recovery((5, 3))).await.unwrap();
    assert!(out.keys.is_empty());
    assert_eq!(out.recovery_keys.len(), 5);
    let status = first.status().await.unwrap();
    assert!(!status.sealed && status.recovery_seal && !status.migration);
    assert_eq!(status.config.unwrap().operator_shares(), (5, 3));

    let second = manager_on(storage, seal, None);
    assert!(second.status().await.unwrap().sealed);
    assert!(second.auto_unseal().await.unwrap());
    assert!(!second.status().await.unwrap().sealed);
}

#[tokio::test]
async fn auto_seal_refuses_secret_shares_and_shamir_refuses_recovery_shares() {
    let m = manager_on(Arc::new(MemoryStorage::new()), auto("awskms"), None);
    let err = m.initialize(InitParams::shamir(5, 3)).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "parameters secret_shares,secret_threshold not applicable to seal type awskms"
    );
    assert!(matches!(
        m.initialize(recovery((1, 2))).await,
        Err(SealError::InvalidConfig(_))
    ));
    let shamir = manager();
    let err = shamir
        .initialize(InitParams {
            recovery_shares: 5,
            recovery_threshold: 3,
            ..InitParams::shamir(5, 3)
        })
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "parameters recovery_shares,recovery_threshold not applicable to seal type shamir"
    );
}

#[tokio::test]
async fn operator_seal_holds_an_auto_sealed_process_until_recovery_keys_unseal_it() {
    let m = manager_on(Arc::new(MemoryStorage::new()), auto("pkcs11"), None);
    let out = m.initialize(recovery((3, 2))).await.unwrap();
    m.seal_by_operator();
    assert!(!m.auto_unseal().await.unwrap());
    assert!(!m.may_try_auto_unseal());
    let mut bad = out.recovery_keys[1].to_vec();
    bad[3] ^= 1;
    assert!(!m
        .submit(&hex::encode(&*out.recovery_keys[0]), false)
        .await
        .unwrap());
    assert!(matches!(
        m.submit(&hex::encode(bad), false).await,
        Err(SealError::WrongRecoveryKey)
    ));
    assert!(m.status().await.unwrap().sealed);
    assert!(!m
        .submit(&hex::encode(&*out.recovery_keys[0]), false)
        .await
        .unwrap());
    assert!(m
        .submit(&B64.encode(&*out.recovery_keys[2]), false)
        .await
        .unwrap());
    assert!(!m.status().await.unwrap().sealed);
}

#[tokio::test]
async fn no_recovery_keys_when_init_asks_for_none() {
    let m = manager_on(Arc::new(MemoryStorage::new()), auto("awskms"), None);
    let out = m.initialize(InitParams::default()).await.unwrap();
    assert!(out.recovery_keys.is_empty());
    m.seal_by_operator();
    assert!(matches!(
        m.submit(&hex::encode([0u8; 32]), false).await,
        Err(SealError::NoRecoveryKeys)
    ));
}

#[tokio::test]
async fn a_tampered_wrapped_root_key_keeps_the_store_sealed() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let seal = auto("pkcs11");
    manager_on(storage.clone(), seal.clone(), None)
        .initialize(recovery((1, 1)))
        .await
        .unwrap();
    let path = Barrier::new(storage.clone(), "s1").physical_key(ROOT_KEY_PATH);
    let mut entry = storage.get(&path).await.unwrap().unwrap();
    let last = entry.value.len() - 1;
    entry.value[last] ^= 1;
    storage.put(&path, entry.value).await.unwrap();
    let second = manager_on(storage, seal, None);
    assert!(matches!(
        second.auto_unseal().await,
        Err(SealError::Provider(SealProviderError::Decrypt { .. }))
    ));
    assert!(second.status().await.unwrap().sealed);
}

#[tokio::test]
async fn shamir_to_auto_migration_keeps_the_root_key_and_turns_unseal_keys_into_recovery_keys() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let out = manager_on(storage.clone(), Protector::Shamir, None)
        .initialize(InitParams::shamir(3, 2))
        .await
        .unwrap();
    let seal = auto("pkcs11");
    let m = manager_on(storage.clone(), seal.clone(), None);
    let status = m.status().await.unwrap();
    assert!(status.migration && status.sealed && status.kind == "pkcs11");
    assert!(!m.auto_unseal().await.unwrap());
    assert!(matches!(
        m.submit(&hex::encode(&*out.keys[0]), false).await,
        Err(SealError::MigrationPending)
    ));
    assert!(!m.submit(&hex::encode(&*out.keys[0]), true).await.unwrap());
    assert!(m.submit(&hex::encode(&*out.keys[2]), true).await.unwrap());
    let config = m.config().await.unwrap().unwrap();
    assert_eq!(
        (config.kind.as_str(), config.operator_shares()),
        ("pkcs11", (3, 2))
    );
    assert!(!m.status().await.unwrap().migration);

    // A fresh process unseals by itself; the old unseal keys now verify as recovery keys.
    let next = manager_on(storage.clone(), seal.clone(), None);
    assert!(next.auto_unseal().await.unwrap());
    next.verify_shares(&[out.keys[1].clone(), out.keys[2].clone()])
        .await
        .unwrap();

    // And back to Shamir: the recovery keys become unseal keys again.
    let back = manager_on(storage, Protector::Shamir, Some(seal));
    assert!(back.status().await.unwrap().migration);
    back.submit(&hex::encode(&*out.keys[1]), true)
        .await
        .unwrap();
    assert!(back
        .submit(&hex::encode(&*out.keys[0]), true)
        .await
        .unwrap());
    back.seal();
    back.submit(&hex::encode(&*out.keys[0]), false)
        .await
        .unwrap();
    assert!(back
        .submit(&hex::encode(&*out.keys[2]), false)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_stored_auto_seal_without_its_block_is_a_clear_error() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let out = manager_on(storage.clone(), auto("awskms"), None)
        .initialize(recovery((1, 1)))
        .await
        .unwrap();
    let m = manager_on(storage, auto("pkcs11"), None);
    let err = m
        .submit(&hex::encode(&*out.recovery_keys[0]), true)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SealError::SealMismatch { .. }), "{err}");
    assert!(err.to_string().contains("seal \"awskms\""), "{err}");
}

#[tokio::test]
async fn migrate_without_a_pending_migration_is_refused() {
    let m = manager();
    let out = m.initialize(InitParams::shamir(1, 1)).await.unwrap();
    m.seal();
    assert!(matches!(
        m.submit(&hex::encode(&*out.keys[0]), true).await,
        Err(SealError::NoMigration)
    ));
}

#[tokio::test]
async fn rotating_unseal_keys_replaces_the_shares_and_keeps_the_data_key() {
    let m = manager();
    let out = m.initialize(InitParams::shamir(3, 2)).await.unwrap();
    let new = m
        .complete_rotation(RotationTarget::Root, &out.keys[..2], 5, 3)
        .await
        .unwrap();
    assert_eq!(new.len(), 5);
    m.seal();
    assert!(!m.submit(&hex::encode(&*new[0]), false).await.unwrap());
    assert!(!m.submit(&hex::encode(&*new[3]), false).await.unwrap());
    assert!(m.submit(&hex::encode(&*new[4]), false).await.unwrap());
    m.seal();
    m.submit(&hex::encode(&*out.keys[0]), false).await.unwrap();
    m.submit(&hex::encode(&*out.keys[1]), false).await.unwrap();
    assert!(matches!(
        m.submit(&hex::encode(&*out.keys[2]), false).await,
        Err(SealError::WrongKey)
    ));
    assert!(matches!(
        m.rotation_quorum(RotationTarget::Recovery).await,
        Err(SealError::RecoveryNotSupported)
    ));
}

#[tokio::test]
async fn rotating_recovery_keys_needs_a_threshold_of_the_old_ones() {
    let m = manager_on(Arc::new(MemoryStorage::new()), auto("awskms"), None);
    let out = m.initialize(recovery((5, 3))).await.unwrap();
    assert!(matches!(
        m.complete_rotation(RotationTarget::Recovery, &out.recovery_keys[..2], 3, 2)
            .await,
        Err(SealError::WrongRecoveryKey)
    ));
    let new = m
        .complete_rotation(RotationTarget::Recovery, &out.recovery_keys[1..4], 3, 2)
        .await
        .unwrap();
    m.verify_shares(&new[..2]).await.unwrap();
    assert!(m.verify_shares(&out.recovery_keys[..3]).await.is_err());
    assert_eq!(
        m.rotation_quorum(RotationTarget::Recovery).await.unwrap(),
        (3, 2)
    );
    assert!(matches!(
        m.rotation_quorum(RotationTarget::Root).await,
        Err(SealError::RootRotationWithAutoSeal)
    ));
}
