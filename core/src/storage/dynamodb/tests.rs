//! The storage contract and the DynamoDB specifics (item limit, paging, batches past DynamoDB's
//! per-call limits, several processes on one table) against moto's server.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use coffer_blackbox::moto::{self, Moto};

use super::DynamoDbStorage;
use crate::storage::{Condition, Storage, StorageError, WriteOp};

async fn storage_on(moto: &Moto, table: &str) -> DynamoDbStorage {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new(
            moto::ACCESS_KEY_ID,
            moto::SECRET_ACCESS_KEY,
            None,
            None,
            "coffer-tests",
        ))
        .load()
        .await;
    DynamoDbStorage::from_sdk_config(&shared, table, true)
        .await
        .expect("connect to moto")
}

/// Runs `body` on a multi-threaded runtime; moto is started outside it (its readiness probe
/// blocks).
fn on_moto<F, Fut>(body: F)
where
    F: FnOnce(Moto) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let moto = Moto::start();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(body(moto));
}

#[test]
fn dynamodb_storage_meets_the_storage_contract_on_moto() {
    on_moto(|moto| async move {
        let table = moto.fresh_table();
        let storage = storage_on(&moto, &table).await;
        crate::storage::contract_tests::run_all(&storage).await;
    });
}

#[test]
fn dynamodb_specifics_on_moto() {
    on_moto(|moto| async move {
        let table = moto.fresh_table();
        let a = storage_on(&moto, &table).await;
        values_over_the_item_limit_are_refused_before_any_call(&a).await;
        list_follows_query_pages(&moto, &table).await;
        get_many_past_one_batch_keeps_order_and_duplicates(&a).await;
        two_instances_on_one_table_see_each_others_writes_and_folders(&moto, &table).await;
        a_missing_table_is_a_clear_start_up_error(&moto).await;
    });
}

async fn values_over_the_item_limit_are_refused_before_any_call(s: &DynamoDbStorage) {
    let err = s
        .put("big/one", vec![0u8; 400 * 1024])
        .await
        .expect_err("over the limit");
    match err {
        StorageError::TooLarge { key, size, limit } => {
            assert_eq!(key, "big/one");
            assert_eq!(size, 400 * 1024);
            assert!(limit < size, "{limit}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Just under the limit is stored and read back whole.
    let fits = vec![7u8; 390 * 1024];
    s.put("big/two", fits.clone()).await.unwrap();
    assert_eq!(s.get("big/two").await.unwrap().unwrap().value, fits);
    assert!(s.get("big/one").await.unwrap().is_none());
}

async fn list_follows_query_pages(moto: &Moto, table: &str) {
    let mut s = storage_on(moto, table).await;
    s.page_limit = Some(3);
    let mut want = Vec::new();
    for i in 0..10 {
        s.put(&format!("paged/k{i:02}"), b"v".to_vec())
            .await
            .unwrap();
        want.push(format!("k{i:02}"));
    }
    s.put("paged/sub/deep/x", b"v".to_vec()).await.unwrap();
    want.push("sub/".to_string());
    assert_eq!(s.list("paged/").await.unwrap(), want);
    assert_eq!(s.list("paged/sub/").await.unwrap(), vec!["deep/"]);
}

async fn get_many_past_one_batch_keeps_order_and_duplicates(s: &DynamoDbStorage) {
    let mut ops = Vec::new();
    for i in 0..120 {
        ops.push(WriteOp::put(
            format!("many/{i}"),
            i.to_string().into_bytes(),
        ));
        if ops.len() == 60 {
            s.write(std::mem::take(&mut ops)).await.unwrap();
        }
    }
    s.write(ops).await.unwrap();
    let mut keys: Vec<String> = (0..130).rev().map(|i| format!("many/{i}")).collect();
    keys.push("many/5".to_string());
    let got = s.get_many(&keys).await.unwrap();
    assert_eq!(got.len(), 131);
    for (key, entry) in keys.iter().zip(&got) {
        let i: usize = key.trim_start_matches("many/").parse().unwrap();
        match entry {
            Some(e) if i < 120 => assert_eq!(e.value, i.to_string().into_bytes()),
            None if i >= 120 => {}
            other => panic!("{key}: {other:?}"),
        }
    }
}

async fn two_instances_on_one_table_see_each_others_writes_and_folders(moto: &Moto, table: &str) {
    let a = storage_on(moto, table).await;
    let b = storage_on(moto, table).await;
    a.put("shared/x/one", b"1".to_vec()).await.unwrap();
    assert_eq!(b.get("shared/x/one").await.unwrap().unwrap().value, b"1");
    assert_eq!(b.list("shared/").await.unwrap(), vec!["x/"]);
    let v = b.get("shared/x/one").await.unwrap().unwrap().version;
    b.write(vec![WriteOp::Put {
        key: "shared/x/one".into(),
        value: b"2".to_vec(),
        condition: Some(Condition::Version(v)),
    }])
    .await
    .unwrap();
    // A's view of the version is now stale: its compare-and-set must fail.
    let stale = a
        .write(vec![WriteOp::Put {
            key: "shared/x/one".into(),
            value: b"3".to_vec(),
            condition: Some(Condition::Version(v)),
        }])
        .await
        .unwrap_err();
    assert!(matches!(stale, StorageError::ConditionFailed { ref key } if key == "shared/x/one"));
    assert_eq!(a.get("shared/x/one").await.unwrap().unwrap().value, b"2");
}

async fn a_missing_table_is_a_clear_start_up_error(moto: &Moto) {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .load()
        .await;
    let err = DynamoDbStorage::from_sdk_config(&shared, "no-such-table", false)
        .await
        .err()
        .expect("missing table");
    let message = err.to_string();
    assert!(
        message.contains("no-such-table") && message.contains("create_table"),
        "{message}"
    );
}

#[test]
fn purge_leaves_no_item_of_the_prefix_in_the_table() {
    on_moto(|moto| async move {
        let table = moto.fresh_table();
        let s = storage_on(&moto, &table).await;
        for key in ["gone/a", "gone/b/c", "gone/b/d/e", "kept/gone/x", "gonex/y"] {
            s.put(key, b"v".to_vec()).await.unwrap();
        }
        assert_eq!(s.purge("gone/").await.unwrap(), 3);
        let scan = s.client.scan().table_name(&table).send().await.unwrap();
        let mut left: Vec<String> = scan
            .items()
            .iter()
            .map(|item| {
                let pk = item["pk"].as_s().unwrap();
                let sk = item["sk"].as_s().unwrap();
                super::keys::storage_key(pk, sk)
            })
            .collect();
        left.sort();
        // Only the other keyspaces and their folder items remain; nothing at or below gone/.
        assert_eq!(
            left,
            vec!["gonex/", "gonex/y", "kept/", "kept/gone/", "kept/gone/x"]
        );
        // Writing below a purged folder makes it listable again (the folder cache was dropped).
        s.put("gone/new", b"v".to_vec()).await.unwrap();
        assert_eq!(s.list("").await.unwrap(), vec!["gone/", "gonex/", "kept/"]);
    });
}
