//! A server with a certificate from its own CA: clients that trust the CA connect, others don't.

use coffer_blackbox::{both_flavors, Flavor, Server, ServerOptions};

fn tls_server(flavor: Flavor) -> Server {
    let server = Server::with_config(flavor, ServerOptions::memory().tls());
    assert!(server.addr().starts_with("https://"), "{}", server.addr());
    server.init_unsealed();
    server
}

fn bao_status_over_tls_works_with_the_ca_and_fails_without(flavor: Flavor) {
    let server = tls_server(flavor);
    let out = server.bao(None, &["status", "-format=json"]);
    out.assert_ok();
    assert_eq!(out.json()["sealed"], false, "{out}");

    let untrusted = server.bao_cmd(&["status"]).without_ca_cert().run();
    untrusted.assert_code(1);
    assert!(untrusted.stderr.contains("certificate"), "{untrusted}");
}

fn hvac_over_tls_verifies_with_the_ca_path(flavor: Flavor) {
    let server = tls_server(flavor);
    let result = server.hvac(
        None,
        r#"
        trusted = client.sys.read_seal_status()["sealed"]
        try:
            hvac.Client(url=ADDR, verify=True).sys.read_seal_status()
            untrusted = "connected"
        except requests.exceptions.SSLError:
            untrusted = "ssl error"
        result = {"trusted": trusted, "untrusted": untrusted}
        "#,
    );
    assert_eq!(result["trusted"], false, "{result}");
    assert_eq!(result["untrusted"], "ssl error", "{result}");
}

fn plain_http_to_a_tls_listener_gets_no_vault_answer(flavor: Flavor) {
    let server = tls_server(flavor);
    let plain = server.addr().replacen("https://", "http://", 1);
    let http = coffer_blackbox::Http::new(&plain, None);
    let outcome = http.req("GET", "/v1/sys/health").try_send();
    if let Ok(resp) = outcome {
        assert_eq!(resp.status, 400, "{resp}");
        assert!(
            !resp.json.is_object(),
            "a Vault answer over plain HTTP\n{resp}"
        );
    }
}

both_flavors!(
    bao_status_over_tls_works_with_the_ca_and_fails_without,
    hvac_over_tls_verifies_with_the_ca_path,
    plain_http_to_a_tls_listener_gets_no_vault_answer,
);
