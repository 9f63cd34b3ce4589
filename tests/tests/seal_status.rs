//! `sys/seal-status`: OpenBao's exact field set in every state, with the same types.

use std::collections::BTreeSet;

use coffer_blackbox::shape::{assert_same_shapes, keys};
use coffer_blackbox::{both_flavors, on_both, Flavor, Server, ServerOptions};
use serde_json::Value;

/// The fields OpenBao 2.7 returns whatever the state (`build_date` and `ha_enabled` are added
/// by the CLI's `bao status -format=json`, not by the API).
const ALWAYS: [&str; 12] = [
    "type",
    "initialized",
    "sealed",
    "t",
    "n",
    "progress",
    "nonce",
    "version",
    "commit_date",
    "migration",
    "recovery_seal",
    "storage_type",
];

/// Added once unsealed.
const UNSEALED: [&str; 2] = ["cluster_name", "cluster_id"];

fn get(server: &Server) -> Value {
    let resp = server.http().get("/v1/sys/seal-status", None);
    resp.assert_status(200);
    resp.json
}

fn expected(extra: &[&str]) -> BTreeSet<String> {
    ALWAYS
        .iter()
        .chain(extra)
        .map(|k| (*k).to_owned())
        .collect()
}

/// Seal status uninitialised, sealed with one key given (of 3 needed), and unsealed.
fn seal_status_in_each_state(flavor: Flavor) -> [Value; 3] {
    let server = Server::with_config(flavor, ServerOptions::memory());
    let uninit = get(&server);
    let keys = server.init(5, 3);
    server
        .http()
        .put(
            "/v1/sys/unseal",
            None,
            &serde_json::json!({"key": keys.keys[0]}),
        )
        .assert_status(200);
    let sealed = get(&server);
    server.unseal(&keys.keys[1..]);
    let unsealed = get(&server);
    [uninit, sealed, unsealed]
}

fn seal_status_has_the_reference_fields_and_values_in_each_state(flavor: Flavor) {
    let [uninit, sealed, unsealed] = seal_status_in_each_state(flavor);

    assert_eq!(keys(&uninit), expected(&[]), "{uninit}");
    assert_eq!(uninit["type"], "shamir", "{uninit}");
    assert_eq!(uninit["initialized"], false, "{uninit}");
    assert_eq!(uninit["sealed"], true, "{uninit}");
    assert_eq!(
        (&uninit["t"], &uninit["n"], &uninit["progress"]),
        (&0.into(), &0.into(), &0.into())
    );
    assert_eq!(uninit["nonce"], "", "{uninit}");

    assert_eq!(keys(&sealed), expected(&[]), "{sealed}");
    assert_eq!(sealed["initialized"], true, "{sealed}");
    assert_eq!(sealed["sealed"], true, "{sealed}");
    assert_eq!(
        (&sealed["t"], &sealed["n"], &sealed["progress"]),
        (&3.into(), &5.into(), &1.into())
    );
    assert!(
        sealed["nonce"].as_str().is_some_and(|n| !n.is_empty()),
        "{sealed}"
    );
    assert_eq!(sealed["migration"], false, "{sealed}");
    assert_eq!(sealed["recovery_seal"], false, "{sealed}");

    assert_eq!(keys(&unsealed), expected(&UNSEALED), "{unsealed}");
    assert_eq!(unsealed["sealed"], false, "{unsealed}");
    assert_eq!(unsealed["progress"], 0, "{unsealed}");
    assert_eq!(unsealed["nonce"], "", "{unsealed}");
    assert!(
        unsealed["cluster_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "{unsealed}"
    );
    assert!(
        unsealed["cluster_id"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "{unsealed}"
    );
}

both_flavors!(seal_status_has_the_reference_fields_and_values_in_each_state);

#[test]
fn seal_status_shape_is_the_same_on_both_flavors() {
    assert_same_shapes(&on_both(|flavor| {
        let [uninit, sealed, unsealed] = seal_status_in_each_state(flavor);
        vec![
            ("uninitialised", uninit),
            ("sealed, 1 of 3 keys", sealed),
            ("unsealed", unsealed),
        ]
    }));
}
