use std::sync::Arc;

use super::*;
use crate::storage::{EmbeddedStorage, MemoryStorage};

async fn unsealed() -> (Arc<MemoryStorage>, Barrier, AesKey) {
    let storage = Arc::new(MemoryStorage::new());
    let barrier = Barrier::new(storage.clone(), "st");
    let root = AesKey::generate();
    barrier.initialize(&root, vec![]).await.unwrap();
    (storage, barrier, root)
}

#[tokio::test]
async fn values_round_trip_and_are_ciphertext_in_storage() {
    let (storage, barrier, _) = unsealed().await;
    barrier
        .put("logical/x/secret", b"hunter2-plaintext")
        .await
        .unwrap();
    assert_eq!(
        barrier
            .get("logical/x/secret")
            .await
            .unwrap()
            .unwrap()
            .value,
        b"hunter2-plaintext"
    );
    let raw = storage
        .get("st/logical/x/secret")
        .await
        .unwrap()
        .unwrap()
        .value;
    assert!(!raw.windows(7).any(|w| w == b"hunter2"));
}

#[tokio::test]
async fn value_moved_to_another_key_fails_to_decrypt() {
    let (storage, barrier, _) = unsealed().await;
    barrier.put("a", b"value").await.unwrap();
    let raw = storage.get("st/a").await.unwrap().unwrap().value;
    storage.put("st/b", raw).await.unwrap();
    assert!(matches!(
        barrier.get("b").await,
        Err(BarrierError::Decrypt { .. })
    ));
}

#[tokio::test]
async fn flipped_byte_in_storage_fails_to_decrypt() {
    let (storage, barrier, _) = unsealed().await;
    barrier.put("a", b"value").await.unwrap();
    let mut raw = storage.get("st/a").await.unwrap().unwrap().value;
    let last = raw.len() - 1;
    raw[last] ^= 0x80;
    storage.put("st/a", raw).await.unwrap();
    assert!(matches!(
        barrier.get("a").await,
        Err(BarrierError::Decrypt { .. })
    ));
}

#[tokio::test]
async fn sealed_barrier_refuses_every_operation() {
    let (_, barrier, _) = unsealed().await;
    barrier.seal();
    assert!(matches!(barrier.get("a").await, Err(BarrierError::Sealed)));
    assert!(matches!(
        barrier.put("a", b"v").await,
        Err(BarrierError::Sealed)
    ));
    assert!(matches!(barrier.list("").await, Err(BarrierError::Sealed)));
}

#[tokio::test]
async fn unseal_with_wrong_root_key_fails_and_right_key_works() {
    let (storage, barrier, root) = unsealed().await;
    barrier.put("a", b"v").await.unwrap();
    let other = Barrier::new(storage, "st");
    assert!(matches!(
        other.unseal(&AesKey::generate()).await,
        Err(BarrierError::Decrypt { .. })
    ));
    assert!(other.is_sealed());
    other.unseal(&root).await.unwrap();
    assert_eq!(other.get("a").await.unwrap().unwrap().value, b"v");
}

#[tokio::test]
async fn second_initialize_is_refused() {
    let (_, barrier, root) = unsealed().await;
    assert!(matches!(
        barrier.initialize(&root, vec![]).await,
        Err(BarrierError::AlreadyInitialized)
    ));
}

#[tokio::test]
async fn rotation_keeps_old_values_readable_and_other_processes_follow() {
    let (storage, barrier, root) = unsealed().await;
    let other = Barrier::new(storage, "st");
    other.unseal(&root).await.unwrap();
    barrier.put("old", b"1").await.unwrap();
    let status = barrier.rotate().await.unwrap();
    assert_eq!(status.term, 2);
    barrier.put("new", b"2").await.unwrap();
    assert_eq!(barrier.get("old").await.unwrap().unwrap().value, b"1");
    // `other` still has term 1 only: reading a term-2 value makes it reload the keyring.
    assert_eq!(other.key_status().unwrap().term, 1);
    assert_eq!(other.get("new").await.unwrap().unwrap().value, b"2");
    assert_eq!(other.key_status().unwrap().term, 2);
    // A rotation by the stale process builds on the stored keyring, not its own copy.
    assert_eq!(other.rotate().await.unwrap().term, 3);
}

#[tokio::test]
async fn embedded_file_contains_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = Arc::new(EmbeddedStorage::open(dir.path()).unwrap());
        let barrier = Barrier::new(storage, "st");
        barrier
            .initialize(&AesKey::generate(), vec![])
            .await
            .unwrap();
        barrier
            .put("logical/k", b"PLAINTEXT-MARKER-0123456789")
            .await
            .unwrap();
    }
    let bytes = std::fs::read(dir.path().join("coffer.redb")).unwrap();
    assert!(!bytes.windows(16).any(|w| w == b"PLAINTEXT-MARKER"));
    // The path itself is a key, so it is visible; the value is not.
    assert!(bytes.windows(9).any(|w| w == b"logical/k"));
}
