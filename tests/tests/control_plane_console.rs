//! The web console in headless Chromium: create a store in the browser, see its root token
//! and keys once, reload and see them gone, upgrade its plan, delete it.

use coffer_blackbox::admin::ControlPlane;
use coffer_blackbox::ServerOptions;

const PLANS: &str = r#"
  plan "standard" { requests_per_second = 1000 }
  plan "pro" { requests_per_second = 100000 }
"#;

#[test]
fn the_console_creates_shows_keys_once_upgrades_and_deletes_a_store() {
    let cp = ControlPlane::start(PLANS, ServerOptions::memory());
    let out = cp.run_console_script();
    out.assert_ok();
    let shown = out.json();
    let id = shown["id"].as_str().unwrap();
    assert!(
        shown["root_token"].as_str().unwrap().starts_with("s."),
        "{out}"
    );
    assert_eq!(shown["keys"].as_array().unwrap().len(), 3, "{out}");
    assert_eq!(shown["shown_after_reload"], 0, "{out}");
    // The browser's delete really deleted it.
    cp.admin_req("GET", &format!("/v1/stores/{id}"))
        .send()
        .assert_status(404);
}
