//! hvac, the Python client, through init, unseal, authentication and health.

use coffer_blackbox::{both_flavors, Flavor, Server, ServerOptions};

fn hvac_initialises_and_unseals_a_fresh_server(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    let result = server.hvac(
        None,
        r#"
        before = {
            "initialized": client.sys.is_initialized(),
            "sealed": client.sys.is_sealed(),
            "health": client.sys.read_health_status(method="GET"),
        }
        init = client.sys.initialize(5, 3)
        sealed = client.sys.read_seal_status()
        first = client.sys.submit_unseal_key(init["keys"][0])
        rest = client.sys.submit_unseal_keys(init["keys_base64"][1:3])
        anonymous = client.is_authenticated()
        client.token = init["root_token"]
        result = {
            "before": before,
            "init": init,
            "sealed": sealed,
            "first": first,
            "rest": rest,
            "initialized": client.sys.is_initialized(),
            "is_sealed": client.sys.is_sealed(),
            "anonymous": anonymous,
            "authenticated": client.is_authenticated(),
            "health": client.sys.read_health_status(method="GET"),
        }
        "#,
    );
    let before = &result["before"];
    assert_eq!(before["initialized"], false, "{result}");
    assert_eq!(before["sealed"], true, "{result}");
    // Not 200, so hvac hands back the raw response.
    assert_eq!(before["health"]["status_code"], 501, "{result}");
    assert_eq!(before["health"]["json"]["initialized"], false, "{result}");

    let init = &result["init"];
    assert_eq!(init["keys"].as_array().map(Vec::len), Some(5), "{result}");
    assert_eq!(
        init["keys_base64"].as_array().map(Vec::len),
        Some(5),
        "{result}"
    );
    assert!(
        init["root_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{result}"
    );

    let sealed = &result["sealed"];
    assert_eq!(sealed["sealed"], true, "{result}");
    assert_eq!(sealed["t"], 3, "{result}");
    assert_eq!(sealed["n"], 5, "{result}");
    assert_eq!(sealed["progress"], 0, "{result}");
    assert_eq!(result["first"]["progress"], 1, "{result}");
    assert_eq!(result["first"]["sealed"], true, "{result}");
    assert_eq!(result["rest"]["sealed"], false, "{result}");

    assert_eq!(result["initialized"], true, "{result}");
    assert_eq!(result["is_sealed"], false, "{result}");
    assert_eq!(result["anonymous"], false, "{result}");
    assert_eq!(result["authenticated"], true, "{result}");
    // 200: hvac parses the body.
    assert_eq!(result["health"]["initialized"], true, "{result}");
    assert_eq!(result["health"]["sealed"], false, "{result}");
    assert_eq!(result["health"]["standby"], false, "{result}");
}

fn hvac_rejects_a_malformed_unseal_key_with_invalid_request(flavor: Flavor) {
    let server = Server::with_config(flavor, ServerOptions::memory());
    server.init(5, 3);
    let result = server.hvac(
        None,
        r#"
        try:
            client.sys.submit_unseal_key("zz")
            result = "accepted"
        except hvac.exceptions.InvalidRequest:
            result = {"refused": True, "progress": client.sys.read_seal_status()["progress"]}
        "#,
    );
    assert_eq!(result["refused"], true, "{result}");
    assert_eq!(result["progress"], 0, "{result}");
}

fn hvac_is_authenticated_only_with_a_valid_token(flavor: Flavor) {
    let server = Server::dev(flavor);
    let result = server.hvac(
        Some("root"),
        r#"
        root = client.is_authenticated()
        client.token = "s.not-a-real-token"
        bogus = client.is_authenticated()
        try:
            client.auth.token.lookup_self()
            lookup = "allowed"
        except hvac.exceptions.Forbidden:
            lookup = "forbidden"
        result = {"root": root, "bogus": bogus, "lookup": lookup}
        "#,
    );
    assert_eq!(result["root"], true, "{result}");
    assert_eq!(result["bogus"], false, "{result}");
    assert_eq!(result["lookup"], "forbidden", "{result}");
}

both_flavors!(
    hvac_initialises_and_unseals_a_fresh_server,
    hvac_rejects_a_malformed_unseal_key_with_invalid_request,
    hvac_is_authenticated_only_with_a_valid_token,
);
