//! `sys/health`: status codes through the lifecycle, their query overrides, HEAD, body shape.

use coffer_blackbox::shape::assert_same_shapes;
use coffer_blackbox::{both_flavors, on_both, Flavor, Server, ServerOptions};

fn status_of(server: &Server, path: &str) -> u16 {
    server.http().get(path, None).status
}

fn health_is_501_uninitialised_503_sealed_200_active(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    let uninit = server.http().get("/v1/sys/health", None);
    uninit.assert_status(501);
    assert_eq!(uninit.json["initialized"], false, "{uninit}");
    assert_eq!(uninit.json["sealed"], true, "{uninit}");
    assert_eq!(uninit.json["standby"], true, "{uninit}");
    assert_eq!(uninit.json["replication_dr_mode"], "unknown", "{uninit}");
    assert_eq!(
        uninit.json["replication_performance_mode"], "unknown",
        "{uninit}"
    );

    let keys = server.init(1, 1);
    let sealed = server.http().get("/v1/sys/health", None);
    sealed.assert_status(503);
    assert_eq!(sealed.json["initialized"], true, "{sealed}");
    assert_eq!(sealed.json["sealed"], true, "{sealed}");
    assert_eq!(sealed.json["replication_dr_mode"], "unknown", "{sealed}");

    server.unseal(&keys.keys);
    let active = server.http().get("/v1/sys/health", None);
    active.assert_status(200);
    assert_eq!(active.json["sealed"], false, "{active}");
    assert_eq!(active.json["standby"], false, "{active}");
    assert_eq!(active.json["replication_dr_mode"], "disabled", "{active}");
    assert_eq!(
        active.json["replication_performance_mode"], "disabled",
        "{active}"
    );
    assert!(active.json["cluster_name"].is_string(), "{active}");
    assert!(active.json["cluster_id"].is_string(), "{active}");
    assert!(active.json["server_time_utc"].is_u64(), "{active}");
    assert!(active.json["version"].is_string(), "{active}");
}

fn health_codes_can_be_chosen_by_query_parameters(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    assert_eq!(status_of(&server, "/v1/sys/health?uninitcode=299"), 299);
    // Uninitialised wins over sealed: sealedcode does not apply.
    assert_eq!(status_of(&server, "/v1/sys/health?sealedcode=298"), 501);

    let keys = server.init(1, 1);
    assert_eq!(status_of(&server, "/v1/sys/health?sealedcode=298"), 298);
    assert_eq!(status_of(&server, "/v1/sys/health?uninitcode=299"), 503);

    server.unseal(&keys.keys);
    assert_eq!(status_of(&server, "/v1/sys/health?activecode=201"), 201);
    assert_eq!(status_of(&server, "/v1/sys/health?standbyok=true"), 200);
    assert_eq!(status_of(&server, "/v1/sys/health?standbyok"), 200);
    assert_eq!(status_of(&server, "/v1/sys/health?sealedcode=298"), 200);
}

fn health_refuses_a_non_numeric_code_with_400(flavor: Flavor) {
    let server = Server::dev(flavor);
    let resp = server.http().get("/v1/sys/health?activecode=abc", None);
    resp.assert_status(400);
    assert!(resp.json["errors"].is_array(), "{resp}");
}

fn health_answers_head_with_the_status_and_no_body(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    let uninit = server.http().head("/v1/sys/health", None);
    uninit.assert_status(501);
    assert!(uninit.text.is_empty(), "{uninit}");
    server.init_unsealed();
    server
        .http()
        .head("/v1/sys/health", None)
        .assert_status(200);
    server
        .http()
        .head("/v1/sys/health?activecode=202", None)
        .assert_status(202);
}

fn health_refuses_methods_other_than_get_and_head(flavor: Flavor) {
    let server = Server::dev(flavor);
    for method in ["POST", "PUT", "DELETE"] {
        let resp = server.http().request(method, "/v1/sys/health", None, None);
        resp.assert_status(405);
    }
}

both_flavors!(
    health_is_501_uninitialised_503_sealed_200_active,
    health_codes_can_be_chosen_by_query_parameters,
    health_refuses_a_non_numeric_code_with_400,
    health_answers_head_with_the_status_and_no_body,
    health_refuses_methods_other_than_get_and_head,
);

#[test]
fn health_body_shape_is_the_same_on_both_flavors() {
    assert_same_shapes(&on_both(|flavor| {
        let server = Server::with_config(flavor, ServerOptions::memory());
        let uninit = server.http().get("/v1/sys/health", None).json;
        let keys = server.init(1, 1);
        let sealed = server.http().get("/v1/sys/health", None).json;
        server.unseal(&keys.keys);
        let active = server.http().get("/v1/sys/health", None).json;
        vec![
            ("uninitialised", uninit),
            ("sealed", sealed),
            ("active", active),
        ]
    }));
}
