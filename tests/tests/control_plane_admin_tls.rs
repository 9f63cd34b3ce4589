//! The admin API speaks TLS: `coffer admin stores ...` drives it with a private CA, and
//! refuses a server it cannot verify; plain HTTP is not answered on the TLS port.

use coffer_blackbox::admin::ControlPlane;
use coffer_blackbox::ServerOptions;

const PLANS: &str = r#"
  plan "standard" { max_secrets = 10 }
  plan "pro" { max_secrets = 1000 }
"#;

#[test]
fn coffer_admin_manages_stores_over_tls_with_the_admins_ca() {
    let cp = ControlPlane::start_with_admin_tls(PLANS, ServerOptions::memory());
    assert!(cp.admin_addr().starts_with("https://"));
    let created = cp.create_store(None);
    let id = created["id"].as_str().unwrap();
    assert!(created["root_token"].as_str().unwrap().starts_with("s."));
    let listed = cp
        .admin(&["stores", "list", "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(listed["stores"][0]["id"], id);
    let shown = cp
        .admin(&["stores", "upgrade", id, "-plan", "pro", "-format=json"])
        .assert_ok()
        .json();
    assert_eq!(shown["plan"]["name"], "pro");
    // The store itself is served as before.
    cp.store_req(id, "GET", "/v1/sys/health", None)
        .send()
        .assert_status(200);
    // --ca-cert works as well as the environment variable.
    let ca = cp.admin_ca_cert().unwrap().display().to_string();
    cp.admin_with_env(
        &["--ca-cert", &ca, "stores", "show", id],
        &[("COFFER_ADMIN_CACERT", "")],
    )
    .assert_ok();
    cp.admin(&["stores", "delete", id, "--yes"]).assert_ok();
}

#[test]
fn the_admin_client_refuses_an_unverified_server_and_plain_http_gets_no_answer() {
    let cp = ControlPlane::start_with_admin_tls(PLANS, ServerOptions::memory());
    // Without the CA the certificate is not trusted: nothing is sent.
    let out = cp.admin_with_env(&["stores", "list"], &[("COFFER_ADMIN_CACERT", "")]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("reaching the admin API"),
        "{}",
        out.stderr
    );
    // A CA file that is not a certificate is an error of its own.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("not-a-ca.pem");
    std::fs::write(&bogus, "hello\n").unwrap();
    let out = cp.admin_with_env(
        &["stores", "list"],
        &[("COFFER_ADMIN_CACERT", bogus.to_str().unwrap())],
    );
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("no PEM certificate"), "{}", out.stderr);
    // Plain HTTP to the TLS port is not served.
    let plain = format!("http://127.0.0.1:{}", cp.admin_port);
    let out = cp.admin_with_env(&["stores", "list"], &[("COFFER_ADMIN_ADDR", &plain)]);
    assert_ne!(out.code, 0);
    assert!(!out.stdout.contains("stores"), "{}", out.stdout);
}
