//! hvac's policy and token calls (it uses the legacy `sys/policy` endpoints), on both products.

use coffer_blackbox::{both_flavors, Flavor, Server};

fn hvac_manages_policies_and_tokens(flavor: Flavor) {
    let server = Server::dev(flavor);
    let result = server.hvac(
        Some("root"),
        r#"
        rules = 'path "secret/data/app*" {\n  capabilities = ["read", "list"]\n}\n'
        client.sys.create_or_update_policy(name="readonly", policy=rules)
        listed = client.sys.list_policies()
        read = client.sys.read_policy(name="readonly")
        created = client.auth.token.create(policies=["readonly"], ttl="1h", meta={"app": "x"})
        token = created["auth"]["client_token"]
        looked = client.auth.token.lookup(token)
        caps = client.sys.get_capabilities(paths=["secret/data/app", "sys/mounts"], token=token)
        client.secrets.kv.v2.create_or_update_secret(path="app", secret={"k": "v"})
        app = hvac.Client(url=ADDR, token=token)
        secret = app.secrets.kv.v2.read_secret_version(path="app", raise_on_deleted_version=True)
        try:
            app.secrets.kv.v2.create_or_update_secret(path="app", secret={"k": "w"})
            denied = None
        except hvac.exceptions.Forbidden as e:
            denied = str(e)
        renewed = app.auth.token.renew_self(increment="2h")
        client.auth.token.revoke(token)
        try:
            app.auth.token.lookup_self()
            after = "still valid"
        except hvac.exceptions.Forbidden:
            after = "forbidden"
        client.sys.delete_policy(name="readonly")
        result = {
            "listed": listed["data"]["policies"],
            "rules": read["data"]["rules"],
            "top_rules": read["rules"],
            "policies": created["auth"]["policies"],
            "meta": looked["data"]["meta"],
            "caps": caps["data"],
            "secret": secret["data"]["data"],
            "denied": denied,
            "renewed": renewed["auth"]["lease_duration"],
            "after": after,
            "left": client.sys.list_policies()["data"]["policies"],
        }
        "#,
    );
    assert_eq!(
        result["listed"],
        serde_json::json!(["default", "readonly", "root"]),
        "{result}"
    );
    assert!(
        result["rules"]
            .as_str()
            .unwrap()
            .contains("secret/data/app*"),
        "{result}"
    );
    assert_eq!(result["rules"], result["top_rules"], "{result}");
    assert_eq!(
        result["policies"],
        serde_json::json!(["default", "readonly"]),
        "{result}"
    );
    assert_eq!(result["meta"], serde_json::json!({"app": "x"}), "{result}");
    assert_eq!(
        result["caps"]["secret/data/app"],
        serde_json::json!(["list", "read"]),
        "{result}"
    );
    assert_eq!(
        result["caps"]["sys/mounts"],
        serde_json::json!(["deny"]),
        "{result}"
    );
    assert_eq!(result["secret"], serde_json::json!({"k": "v"}), "{result}");
    assert!(
        result["denied"]
            .as_str()
            .unwrap_or_default()
            .contains("permission denied"),
        "{result}"
    );
    assert_eq!(result["renewed"], 7200, "{result}");
    assert_eq!(result["after"], "forbidden", "{result}");
    assert_eq!(
        result["left"],
        serde_json::json!(["default", "root"]),
        "{result}"
    );
}

both_flavors!(hvac_manages_policies_and_tokens);
