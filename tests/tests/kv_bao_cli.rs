//! The real `bao` CLI against KV v2 and v1 mounts: `bao secrets ...` and every `bao kv`
//! subcommand, success and failure paths, on coffer and on OpenBao alike.

use coffer_blackbox::{both_flavors, Flavor, Server};
use serde_json::Value;

const ROOT: Option<&str> = Some("root");

fn ok_json(server: &Server, args: &[&str]) -> Value {
    let out = server.bao(ROOT, args);
    out.assert_ok();
    out.json()
}

fn secrets_engines_are_enabled_listed_tuned_moved_and_disabled(flavor: Flavor) {
    let server = Server::dev(flavor);
    server
        .bao(
            ROOT,
            &[
                "secrets",
                "enable",
                "-path=kv2",
                "-description=versioned",
                "kv-v2",
            ],
        )
        .assert_ok();
    server
        .bao(
            ROOT,
            &["secrets", "enable", "-path=kv1", "-max-lease-ttl=1h", "kv"],
        )
        .assert_ok();
    server
        .bao(
            ROOT,
            &["secrets", "enable", "-path=kvv", "-version=2", "kv"],
        )
        .assert_ok();
    let taken = server.bao(ROOT, &["secrets", "enable", "-path=kv2", "kv"]);
    taken.assert_failed();
    assert!(
        taken.stderr.contains("path is already in use at kv2/"),
        "{taken}"
    );
    let nested = server.bao(ROOT, &["secrets", "enable", "-path=kv2/deeper", "kv"]);
    nested.assert_failed();

    let list = ok_json(&server, &["secrets", "list", "-format=json"]);
    for (path, kind) in [
        ("kv2/", "kv"),
        ("kv1/", "kv"),
        ("sys/", "system"),
        ("cubbyhole/", "cubbyhole"),
        ("identity/", "identity"),
    ] {
        assert_eq!(list[path]["type"], kind, "{path}: {list}");
        for key in [
            "accessor",
            "description",
            "options",
            "config",
            "local",
            "seal_wrap",
            "uuid",
        ] {
            assert!(list[path].get(key).is_some(), "{path} lacks {key}: {list}");
        }
    }
    assert_eq!(list["kv2/"]["options"]["version"], "2", "{list}");
    assert_eq!(list["kvv/"]["options"]["version"], "2", "{list}");
    assert_eq!(list["kv2/"]["description"], "versioned", "{list}");
    assert_eq!(list["kv1/"]["config"]["max_lease_ttl"], 3600, "{list}");
    let detailed = server.bao(ROOT, &["secrets", "list", "-detailed"]);
    detailed.assert_ok();
    assert!(
        detailed.stdout.contains("kv2/") && detailed.stdout.contains("map[version:2]"),
        "{detailed}"
    );

    server
        .bao(
            ROOT,
            &[
                "secrets",
                "tune",
                "-description=retuned",
                "-max-lease-ttl=2h",
                "kv1",
            ],
        )
        .assert_ok();
    let tuned = server.http().get("/v1/sys/mounts/kv1/tune", ROOT);
    assert_eq!(tuned.json["data"]["max_lease_ttl"], 7200, "{tuned}");
    assert_eq!(tuned.json["data"]["description"], "retuned", "{tuned}");

    server
        .bao(ROOT, &["kv", "put", "kv2/moving", "v=1"])
        .assert_ok();
    let moved = server.bao(ROOT, &["secrets", "move", "kv2", "kv3"]);
    moved.assert_ok();
    assert!(moved.stdout.contains("Success"), "{moved}");
    let read = ok_json(&server, &["kv", "get", "-format=json", "kv3/moving"]);
    assert_eq!(read["data"]["data"]["v"], "1", "{read}");

    server.bao(ROOT, &["secrets", "disable", "kv3"]).assert_ok();
    server
        .bao(ROOT, &["secrets", "enable", "-path=kv3", "kv-v2"])
        .assert_ok();
    server
        .bao(ROOT, &["kv", "get", "kv3/moving"])
        .assert_code(2);
    let list = ok_json(&server, &["secrets", "list", "-format=json"]);
    assert!(list.get("kv2/").is_none(), "{list}");
}

fn bao_kv_covers_the_whole_v2_lifecycle(flavor: Flavor) {
    let server = Server::dev(flavor);
    let put = ok_json(
        &server,
        &[
            "kv",
            "put",
            "-format=json",
            "secret/app",
            "user=alice",
            "pass=one",
        ],
    );
    assert_eq!(put["data"]["version"], 1, "{put}");
    ok_json(
        &server,
        &[
            "kv",
            "put",
            "-format=json",
            "-cas=1",
            "secret/app",
            "user=alice",
            "pass=two",
        ],
    );
    let stale = server.bao(ROOT, &["kv", "put", "-cas=1", "secret/app", "pass=three"]);
    stale.assert_failed();
    assert!(
        stale
            .stderr
            .contains("check-and-set parameter did not match"),
        "{stale}"
    );

    let get = ok_json(&server, &["kv", "get", "-format=json", "secret/app"]);
    assert_eq!(get["data"]["data"]["pass"], "two", "{get}");
    assert_eq!(get["data"]["metadata"]["version"], 2, "{get}");
    let old = ok_json(
        &server,
        &["kv", "get", "-format=json", "-version=1", "secret/app"],
    );
    assert_eq!(old["data"]["data"]["pass"], "one", "{old}");
    let field = server.bao(ROOT, &["kv", "get", "-field=user", "secret/app"]);
    field.assert_ok();
    assert_eq!(field.stdout.trim(), "alice");

    let patched = ok_json(
        &server,
        &[
            "kv",
            "patch",
            "-format=json",
            "secret/app",
            "pass=patched",
            "extra=1",
        ],
    );
    assert_eq!(patched["data"]["version"], 3, "{patched}");
    let get = ok_json(&server, &["kv", "get", "-format=json", "secret/app"]);
    assert_eq!(get["data"]["data"]["user"], "alice", "{get}");
    assert_eq!(get["data"]["data"]["pass"], "patched", "{get}");
    let missing_patch = server.bao(ROOT, &["kv", "patch", "secret/nothing", "a=b"]);
    missing_patch.assert_failed();

    server
        .bao(ROOT, &["kv", "put", "secret/folder/one", "a=1"])
        .assert_ok();
    let list = ok_json(&server, &["kv", "list", "-format=json", "secret"]);
    assert_eq!(list, serde_json::json!(["app", "folder/"]), "{list}");
    let sub = ok_json(&server, &["kv", "list", "-format=json", "secret/folder"]);
    assert_eq!(sub, serde_json::json!(["one"]), "{sub}");
    server
        .bao(ROOT, &["kv", "list", "secret/empty"])
        .assert_code(2);

    server
        .bao(ROOT, &["kv", "delete", "secret/app"])
        .assert_ok();
    // A soft-deleted version reads as its metadata with null data (a 404 with a body).
    let deleted = ok_json(&server, &["kv", "get", "-format=json", "secret/app"]);
    assert_eq!(deleted["data"]["data"], Value::Null, "{deleted}");
    assert_ne!(
        deleted["data"]["metadata"]["deletion_time"], "",
        "{deleted}"
    );
    server
        .bao(ROOT, &["kv", "undelete", "-versions=3", "secret/app"])
        .assert_ok();
    ok_json(&server, &["kv", "get", "-format=json", "secret/app"]);
    server
        .bao(ROOT, &["kv", "delete", "-versions=1", "secret/app"])
        .assert_ok();
    server
        .bao(ROOT, &["kv", "destroy", "-versions=2", "secret/app"])
        .assert_ok();
    let meta = ok_json(
        &server,
        &["kv", "metadata", "get", "-format=json", "secret/app"],
    );
    let versions = &meta["data"]["versions"];
    assert_ne!(versions["1"]["deletion_time"], "", "{meta}");
    assert_eq!(versions["2"]["destroyed"], true, "{meta}");
    assert_eq!(meta["data"]["current_version"], 3, "{meta}");
    let destroyed = ok_json(
        &server,
        &["kv", "get", "-format=json", "-version=2", "secret/app"],
    );
    assert_eq!(destroyed["data"]["data"], Value::Null, "{destroyed}");
    assert_eq!(
        destroyed["data"]["metadata"]["destroyed"], true,
        "{destroyed}"
    );

    let rolled = server.bao(ROOT, &["kv", "rollback", "-version=3", "secret/app"]);
    rolled.assert_ok();
    let get = ok_json(&server, &["kv", "get", "-format=json", "secret/app"]);
    assert_eq!(get["data"]["metadata"]["version"], 4, "{get}");
    assert_eq!(get["data"]["data"]["pass"], "patched", "{get}");

    server
        .bao(
            ROOT,
            &[
                "kv",
                "metadata",
                "put",
                "-max-versions=2",
                "-cas-required=true",
                "-delete-version-after=1h",
                "-custom-metadata=owner=ops",
                "secret/app",
            ],
        )
        .assert_ok();
    let meta = ok_json(
        &server,
        &["kv", "metadata", "get", "-format=json", "secret/app"],
    );
    assert_eq!(meta["data"]["max_versions"], 2, "{meta}");
    assert_eq!(meta["data"]["cas_required"], true, "{meta}");
    assert_eq!(meta["data"]["delete_version_after"], "1h0m0s", "{meta}");
    assert_eq!(meta["data"]["custom_metadata"]["owner"], "ops", "{meta}");
    server
        .bao(
            ROOT,
            &[
                "kv",
                "metadata",
                "patch",
                "-custom-metadata=extra=1",
                "secret/app",
            ],
        )
        .assert_ok();
    let meta = ok_json(
        &server,
        &["kv", "metadata", "get", "-format=json", "secret/app"],
    );
    assert_eq!(meta["data"]["custom_metadata"]["owner"], "ops", "{meta}");
    assert_eq!(meta["data"]["custom_metadata"]["extra"], "1", "{meta}");
    assert_eq!(
        meta["data"]["max_versions"], 2,
        "patch keeps the rest: {meta}"
    );
    let no_cas = server.bao(ROOT, &["kv", "put", "secret/app", "a=b"]);
    no_cas.assert_failed();
    assert!(
        no_cas.stderr.contains("check-and-set parameter required"),
        "{no_cas}"
    );
    ok_json(
        &server,
        &["kv", "put", "-format=json", "-cas=4", "secret/app", "a=b"],
    );
    let meta = ok_json(
        &server,
        &["kv", "metadata", "get", "-format=json", "secret/app"],
    );
    assert_eq!(
        meta["data"]["versions"].as_object().map(|v| v.len()),
        Some(2),
        "{meta}"
    );
    assert_eq!(meta["data"]["oldest_version"], 4, "{meta}");

    server
        .bao(ROOT, &["kv", "metadata", "delete", "secret/app"])
        .assert_ok();
    server
        .bao(ROOT, &["kv", "metadata", "get", "secret/app"])
        .assert_code(2);
    server
        .bao(ROOT, &["kv", "get", "secret/app"])
        .assert_code(2);
}

fn bao_kv_works_on_a_version_1_mount(flavor: Flavor) {
    let server = Server::dev(flavor);
    server
        .bao(
            ROOT,
            &["secrets", "enable", "-path=kv1", "-version=1", "kv"],
        )
        .assert_ok();
    server
        .bao(ROOT, &["kv", "put", "kv1/db", "user=bob", "ttl=1h"])
        .assert_ok();
    server
        .bao(ROOT, &["kv", "put", "kv1/dir/inner", "a=1"])
        .assert_ok();
    let get = ok_json(&server, &["kv", "get", "-format=json", "kv1/db"]);
    assert_eq!(get["data"]["user"], "bob", "{get}");
    assert_eq!(get["lease_duration"], 3600, "{get}");
    let list = ok_json(&server, &["kv", "list", "-format=json", "kv1"]);
    assert_eq!(list, serde_json::json!(["db", "dir/"]), "{list}");
    server.bao(ROOT, &["kv", "delete", "kv1/db"]).assert_ok();
    server.bao(ROOT, &["kv", "get", "kv1/db"]).assert_code(2);
}

fn bao_kv_on_an_unknown_mount_fails_cleanly(flavor: Flavor) {
    let server = Server::dev(flavor);
    let out = server.bao(ROOT, &["kv", "get", "nomount/x"]);
    out.assert_failed();
    assert!(
        out.stderr
            .contains("preflight capability check returned 403"),
        "{out}"
    );
}

fn bao_kv_with_a_policy_token_reads_what_the_policy_allows(flavor: Flavor) {
    let server = Server::dev(flavor);
    server
        .bao(ROOT, &["kv", "put", "secret/app", "pw=1"])
        .assert_ok();
    let policy_file = server.data_dir().join("reader.hcl");
    std::fs::write(
        &policy_file,
        "path \"secret/data/app\" { capabilities = [\"read\"] }\n",
    )
    .expect("write policy file");
    server
        .bao(
            ROOT,
            &[
                "policy",
                "write",
                "reader",
                policy_file.to_str().expect("utf-8 path"),
            ],
        )
        .assert_ok();
    let created = ok_json(
        &server,
        &["token", "create", "-policy=reader", "-format=json"],
    );
    let token = created["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_owned();
    let read = server.bao(Some(&token), &["kv", "get", "-format=json", "secret/app"]);
    read.assert_ok();
    assert_eq!(read.json()["data"]["data"]["pw"], "1", "{read}");
    let write = server.bao(Some(&token), &["kv", "put", "secret/app", "pw=2"]);
    write.assert_code(2);
    assert!(write.stderr.contains("permission denied"), "{write}");
    let other = server.bao(Some(&token), &["kv", "get", "secret/other"]);
    other.assert_code(2);
}

fn the_cubbyhole_is_private_to_each_token(flavor: Flavor) {
    let server = Server::dev(flavor);
    server
        .bao(ROOT, &["write", "cubbyhole/note", "x=root"])
        .assert_ok();
    let created = ok_json(&server, &["token", "create", "-format=json"]);
    let other = created["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_owned();
    server
        .bao(Some(&other), &["read", "cubbyhole/note"])
        .assert_code(2);
    server
        .bao(Some(&other), &["write", "cubbyhole/note", "x=other"])
        .assert_ok();
    let mine = ok_json(&server, &["read", "-format=json", "cubbyhole/note"]);
    assert_eq!(mine["data"]["x"], "root", "{mine}");
    let theirs = server.bao(Some(&other), &["read", "-format=json", "cubbyhole/note"]);
    theirs.assert_ok();
    assert_eq!(theirs.json()["data"]["x"], "other", "{theirs}");
}

both_flavors!(
    the_cubbyhole_is_private_to_each_token,
    bao_kv_with_a_policy_token_reads_what_the_policy_allows,
    secrets_engines_are_enabled_listed_tuned_moved_and_disabled,
    bao_kv_covers_the_whole_v2_lifecycle,
    bao_kv_works_on_a_version_1_mount,
    bao_kv_on_an_unknown_mount_fails_cleanly,
);
