//! hvac against KV: the product doc's complete secret lifecycle (enable `secret1`, write
//! `demo`, read, update, soft delete) and the failure paths a client meets, on both products.

use coffer_blackbox::{both_flavors, Flavor, Server, ServerOptions};
use serde_json::json;

fn hvac_runs_the_complete_secret_lifecycle(flavor: Flavor) {
    let server = Server::dev(flavor);
    let result = server.hvac(
        Some("root"),
        r#"
        client.sys.enable_secrets_engine(backend_type="kv", path="secret1", options={"version": "2"})
        mounts = client.sys.list_mounted_secrets_engines()["data"]
        kv = client.secrets.kv.v2
        created = kv.create_or_update_secret(path="demo", secret={"user": "alice", "pass": "one"}, mount_point="secret1")
        first = kv.read_secret_version(path="demo", mount_point="secret1", raise_on_deleted_version=True)
        updated = kv.create_or_update_secret(path="demo", secret={"user": "alice", "pass": "two"}, cas=1, mount_point="secret1")
        second = kv.read_secret_version(path="demo", mount_point="secret1", raise_on_deleted_version=True)
        patched = kv.patch(path="demo", secret={"extra": "x"}, mount_point="secret1")
        listed = kv.list_secrets(path="", mount_point="secret1")
        kv.delete_latest_version_of_secret(path="demo", mount_point="secret1")
        try:
            kv.read_secret_version(path="demo", mount_point="secret1", raise_on_deleted_version=True)
            after_delete = "readable"
        except hvac.exceptions.InvalidPath:
            after_delete = "deleted"
        deleted_meta = kv.read_secret_version(path="demo", mount_point="secret1", raise_on_deleted_version=False)
        kv.undelete_secret_versions(path="demo", versions=[3], mount_point="secret1")
        undeleted = kv.read_secret_version(path="demo", mount_point="secret1", raise_on_deleted_version=True)
        kv.destroy_secret_versions(path="demo", versions=[1], mount_point="secret1")
        meta = kv.read_secret_metadata(path="demo", mount_point="secret1")
        kv.update_metadata(path="demo", max_versions=5, custom_metadata={"team": "core"}, mount_point="secret1")
        meta2 = kv.read_secret_metadata(path="demo", mount_point="secret1")
        subkeys = client.adapter.get("/v1/secret1/subkeys/demo")
        kv.configure(max_versions=7, mount_point="secret1")
        config = kv.read_configuration(mount_point="secret1")
        kv.delete_metadata_and_all_versions(path="demo", mount_point="secret1")
        try:
            kv.read_secret_metadata(path="demo", mount_point="secret1")
            gone = False
        except hvac.exceptions.InvalidPath:
            gone = True
        result = {
            "mounted": "secret1/" in mounts, "created": created, "first": first, "updated": updated,
            "second": second, "patched": patched, "listed": listed, "after_delete": after_delete,
            "deleted_meta": deleted_meta, "undeleted": undeleted, "meta": meta, "meta2": meta2,
            "subkeys": subkeys, "config": config, "gone": gone,
        }
        "#,
    );
    assert_eq!(result["mounted"], true, "{result}");
    assert_eq!(result["created"]["data"]["version"], 1, "{result}");
    assert_eq!(result["first"]["data"]["data"]["pass"], "one", "{result}");
    assert_eq!(result["updated"]["data"]["version"], 2, "{result}");
    assert_eq!(result["second"]["data"]["data"]["pass"], "two", "{result}");
    assert_eq!(result["patched"]["data"]["version"], 3, "{result}");
    assert_eq!(
        result["listed"]["data"]["keys"],
        json!(["demo"]),
        "{result}"
    );
    assert_eq!(result["after_delete"], "deleted", "{result}");
    assert_eq!(
        result["deleted_meta"]["data"]["data"],
        serde_json::Value::Null,
        "{result}"
    );
    assert_eq!(
        result["undeleted"]["data"]["data"]["extra"], "x",
        "{result}"
    );
    assert_eq!(
        result["meta"]["data"]["versions"]["1"]["destroyed"], true,
        "{result}"
    );
    assert_eq!(result["meta2"]["data"]["max_versions"], 5, "{result}");
    assert_eq!(
        result["meta2"]["data"]["custom_metadata"]["team"], "core",
        "{result}"
    );
    assert_eq!(
        result["subkeys"]["data"]["subkeys"],
        json!({"user": null, "pass": null, "extra": null}),
        "{result}"
    );
    assert_eq!(result["config"]["data"]["max_versions"], 7, "{result}");
    assert_eq!(result["gone"], true, "{result}");
}

fn hvac_meets_openbaos_errors_on_the_failure_paths(flavor: Flavor) {
    let server = Server::dev(flavor);
    let result = server.hvac(
        Some("root"),
        r#"
        kv = client.secrets.kv.v2
        def outcome(f):
            try:
                f()
                return "ok"
            except hvac.exceptions.VaultError as e:
                return type(e).__name__
        kv.create_or_update_secret(path="c", secret={"v": "1"})
        cas_mismatch = outcome(lambda: kv.create_or_update_secret(path="c", secret={"v": "2"}, cas=0))
        version_after_mismatch = kv.read_secret_version(path="c", raise_on_deleted_version=True)["data"]["metadata"]["version"]
        kv.update_metadata(path="c", cas_required=True)
        cas_missing = outcome(lambda: kv.create_or_update_secret(path="c", secret={"v": "2"}))
        out_of_range = outcome(lambda: kv.read_secret_version(path="c", version=42, raise_on_deleted_version=True))
        patch_missing = outcome(lambda: kv.patch(path="nothing-here", secret={"a": "b"}))
        read_missing = outcome(lambda: kv.read_secret_version(path="nothing-here", raise_on_deleted_version=True))
        kv.create_or_update_secret(path="d", secret={"v": "1"})
        kv.destroy_secret_versions(path="d", versions=[1])
        destroyed = outcome(lambda: kv.read_secret_version(path="d", version=1, raise_on_deleted_version=True))
        not_object = outcome(lambda: client.adapter.post("/v1/secret/data/x", json={"data": "text"}))
        result = {
            "cas_mismatch": cas_mismatch, "version_after_mismatch": version_after_mismatch,
            "cas_missing": cas_missing, "out_of_range": out_of_range, "patch_missing": patch_missing,
            "read_missing": read_missing, "destroyed": destroyed, "not_object": not_object,
        }
        "#,
    );
    assert_eq!(result["cas_mismatch"], "InvalidRequest", "{result}");
    assert_eq!(
        result["version_after_mismatch"], 1,
        "nothing written: {result}"
    );
    assert_eq!(result["cas_missing"], "InvalidRequest", "{result}");
    assert_eq!(result["out_of_range"], "InvalidPath", "{result}");
    assert_eq!(result["patch_missing"], "InvalidPath", "{result}");
    assert_eq!(result["read_missing"], "InvalidPath", "{result}");
    assert_eq!(result["destroyed"], "InvalidPath", "{result}");
    assert_eq!(result["not_object"], "InvalidRequest", "{result}");

    let http = server.http();
    let invalid = http
        .req("POST", "/v1/secret/data/x")
        .token(Some("root"))
        .body("{not json")
        .send();
    invalid.assert_status(400);
    assert!(!invalid.errors().is_empty(), "{invalid}");
}

/// A value over the listener's `max_request_size` is refused with 413 and not stored.
fn a_too_large_value_is_refused_with_413(flavor: Flavor) {
    let server = Server::with_config(
        flavor,
        ServerOptions::memory().listener_line("max_request_size = 4096"),
    );
    let keys = server.init_unsealed();
    let root = keys.root_token.as_str();
    server.ensure_kv2(root, "secret");
    let http = server.http();
    let big = json!({"data": {"blob": "x".repeat(8192)}});
    let resp = http.put("/v1/secret/data/big", Some(root), &big);
    resp.assert_status(413);
    assert!(!resp.errors().is_empty(), "{resp}");
    http.get("/v1/secret/data/big", Some(root))
        .assert_status(404);
}

both_flavors!(
    hvac_runs_the_complete_secret_lifecycle,
    hvac_meets_openbaos_errors_on_the_failure_paths,
    a_too_large_value_is_refused_with_413,
);
