//! The mount table is shared by every process on one storage: two coffer processes on one
//! DynamoDB table (moto's server), each with the table cached, see every mount change the
//! other makes on their very next request, without an extra storage round trip.

use coffer_blackbox::moto::Moto;
use coffer_blackbox::{Flavor, Server};
use serde_json::json;

#[test]
fn a_mount_change_through_one_process_is_served_by_the_other_at_once() {
    let moto = Moto::start();
    let table = moto.fresh_table();
    let a = Server::with_config(Flavor::Coffer, moto.coffer_options(&table));
    let b = Server::with_config(Flavor::Coffer, moto.coffer_options(&table));
    let keys = a.init(1, 1);
    a.unseal(&keys.keys);
    b.unseal(&keys.keys);
    a.wait_active();
    b.wait_active();
    let root = Some(keys.root_token.as_str());
    let (ha, hb) = (a.http(), b.http());
    // Both processes have read and cached the table; B knows nothing of `shared/` yet.
    hb.get("/v1/shared/data/k", root).assert_status(404);

    ha.post("/v1/sys/mounts/shared", root, &json!({"type": "kv-v2"}))
        .assert_status(204);
    hb.put("/v1/shared/data/k", root, &json!({"data": {"v": "from b"}}))
        .assert_status(200);
    let read = ha.get("/v1/shared/data/k", root);
    read.assert_status(200);
    assert_eq!(read.json["data"]["data"]["v"], "from b", "{read}");
    let cli = b.bao(root, &["kv", "get", "-format=json", "shared/k"]);
    cli.assert_ok();

    hb.post(
        "/v1/sys/remount",
        root,
        &json!({"from": "shared", "to": "moved"}),
    )
    .assert_status(200);
    ha.get("/v1/shared/data/k", root).assert_status(404);
    ha.get("/v1/moved/data/k", root).assert_status(200);

    ha.delete("/v1/sys/mounts/moved", root).assert_status(204);
    hb.get("/v1/moved/data/k", root).assert_status(404);
    let listed = hb.get("/v1/sys/mounts", root);
    assert!(listed.json["data"].get("moved/").is_none(), "{listed}");

    // Steady state again: a read through B costs its one round trip.
    hb.post("/v1/sys/mounts/steady", root, &json!({"type": "kv-v2"}))
        .assert_status(204);
    ha.put("/v1/steady/data/k", root, &json!({"data": {"v": "1"}}))
        .assert_status(200);
    hb.get("/v1/steady/data/k", root).assert_status(200);
    let steady = hb.get("/v1/steady/data/k", root);
    assert_eq!(
        steady.header("x-coffer-storage-round-trips"),
        Some("1"),
        "{steady}"
    );
}
