//! The storage contract as one reusable test suite; every backend runs it.

use super::{Condition, Storage, StorageError, WriteOp};

pub(crate) async fn run_all(s: &dyn Storage) {
    get_put_delete(s).await;
    versions_and_conditions(s).await;
    batches_are_atomic(s).await;
    list_is_one_level(s).await;
    get_many_keeps_order(s).await;
    keys_under_and_purge_stay_inside_the_prefix(s).await;
}

async fn get_put_delete(s: &dyn Storage) {
    assert!(s.get("t1/a").await.unwrap().is_none());
    s.put("t1/a", b"1".to_vec()).await.unwrap();
    assert_eq!(s.get("t1/a").await.unwrap().unwrap().value, b"1");
    s.delete("t1/a").await.unwrap();
    assert!(s.get("t1/a").await.unwrap().is_none());
    // Deleting a missing key is not an error.
    s.delete("t1/a").await.unwrap();
}

async fn versions_and_conditions(s: &dyn Storage) {
    let absent = |key: &str| WriteOp::Put {
        key: key.into(),
        value: b"x".to_vec(),
        condition: Some(Condition::Absent),
    };
    s.write(vec![absent("t2/k")]).await.unwrap();
    let err = s.write(vec![absent("t2/k")]).await.unwrap_err();
    assert!(matches!(err, StorageError::ConditionFailed { .. }));
    let v1 = s.get("t2/k").await.unwrap().unwrap().version;
    s.put("t2/k", b"y".to_vec()).await.unwrap();
    let v2 = s.get("t2/k").await.unwrap().unwrap().version;
    assert!(v2 > v1);
    let stale = WriteOp::Put {
        key: "t2/k".into(),
        value: b"z".to_vec(),
        condition: Some(Condition::Version(v1)),
    };
    assert!(s.write(vec![stale]).await.is_err());
    let fresh = WriteOp::Put {
        key: "t2/k".into(),
        value: b"z".to_vec(),
        condition: Some(Condition::Version(v2)),
    };
    s.write(vec![fresh]).await.unwrap();
    assert_eq!(s.get("t2/k").await.unwrap().unwrap().value, b"z");
}

async fn batches_are_atomic(s: &dyn Storage) {
    s.put("t3/existing", b"e".to_vec()).await.unwrap();
    let ops = vec![
        WriteOp::put("t3/new", b"n".to_vec()),
        WriteOp::Delete {
            key: "t3/existing".into(),
            condition: Some(Condition::Absent),
        },
    ];
    assert!(s.write(ops).await.is_err());
    assert!(
        s.get("t3/new").await.unwrap().is_none(),
        "a failed batch must apply nothing"
    );
    assert!(s.get("t3/existing").await.unwrap().is_some());
    s.write(vec![
        WriteOp::put("t3/new", b"n".to_vec()),
        WriteOp::delete("t3/existing"),
    ])
    .await
    .unwrap();
    assert!(s.get("t3/new").await.unwrap().is_some());
    assert!(s.get("t3/existing").await.unwrap().is_none());
}

async fn list_is_one_level(s: &dyn Storage) {
    for key in ["t4/a", "t4/b/c", "t4/b/d/e", "t4/c", "t40/x"] {
        s.put(key, b"v".to_vec()).await.unwrap();
    }
    assert_eq!(s.list("t4/").await.unwrap(), vec!["a", "b/", "c"]);
    assert_eq!(s.list("t4/b/").await.unwrap(), vec!["c", "d/"]);
    assert!(s.list("t4/none/").await.unwrap().is_empty());
}

async fn get_many_keeps_order(s: &dyn Storage) {
    s.put("t5/one", b"1".to_vec()).await.unwrap();
    s.put("t5/two", b"2".to_vec()).await.unwrap();
    let keys = vec![
        "t5/two".to_string(),
        "t5/missing".to_string(),
        "t5/one".to_string(),
    ];
    let got = s.get_many(&keys).await.unwrap();
    assert_eq!(got[0].as_ref().unwrap().value, b"2");
    assert!(got[1].is_none());
    assert_eq!(got[2].as_ref().unwrap().value, b"1");
}

async fn keys_under_and_purge_stay_inside_the_prefix(s: &dyn Storage) {
    for key in ["t6/a", "t6/b/c", "t6/b/d/e", "t60/x", "t6x", "t7/t6/y"] {
        s.put(key, b"v".to_vec()).await.unwrap();
    }
    assert_eq!(
        s.keys_under("t6/").await.unwrap(),
        vec!["t6/a", "t6/b/c", "t6/b/d/e"]
    );
    assert_eq!(s.purge("t6/").await.unwrap(), 3);
    assert!(s.keys_under("t6/").await.unwrap().is_empty());
    assert!(s.list("t6/").await.unwrap().is_empty());
    assert!(s.list("t6/b/").await.unwrap().is_empty());
    for kept in ["t60/x", "t6x", "t7/t6/y"] {
        assert!(
            s.get(kept).await.unwrap().is_some(),
            "{kept} is outside t6/"
        );
    }
    // Idempotent: nothing left to remove.
    assert_eq!(s.purge("t6/").await.unwrap(), 0);
}
