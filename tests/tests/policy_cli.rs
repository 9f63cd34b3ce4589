//! `bao policy ...` and `bao token capabilities` end to end, on coffer and OpenBao: HCL and JSON
//! policies, read/list/delete, `fmt` on a file, a syntax error answered 400 with its position.

use std::fs;

use coffer_blackbox::{both_flavors, Flavor, Server};

fn bao_policy_commands_round_trip(flavor: Flavor) {
    let server = Server::dev(flavor);
    let root = Some("root");
    let dir = server.data_dir();
    let hcl = dir.join("app.hcl");
    fs::write(
        &hcl,
        "path \"secret/data/app*\" {\n  capabilities = [\"read\", \"list\"]\n}\n",
    )
    .unwrap();
    let json_policy = dir.join("ops.json");
    fs::write(
        &json_policy,
        r#"{"path": {"sys/mounts": {"capabilities": ["read"]}, "secret/*": {"capabilities": ["deny"]}}}"#,
    )
    .unwrap();
    server
        .bao(root, &["policy", "write", "app", hcl.to_str().unwrap()])
        .assert_ok();
    server
        .bao(
            root,
            &["policy", "write", "ops", json_policy.to_str().unwrap()],
        )
        .assert_ok();

    let list = server.bao(root, &["policy", "list", "-format=json"]);
    list.assert_ok();
    assert_eq!(
        list.json(),
        serde_json::json!(["app", "default", "ops", "root"]),
        "{list}"
    );
    let read = server.bao(root, &["policy", "read", "app"]);
    read.assert_ok();
    assert!(read.stdout.contains("secret/data/app*"), "{read}");

    let out = server.bao(
        root,
        &[
            "token",
            "create",
            "-policy=app",
            "-policy=ops",
            "-field=token",
        ],
    );
    out.assert_ok();
    let token = out.stdout.trim().to_owned();
    let caps = server.bao(root, &["token", "capabilities", &token, "sys/mounts"]);
    caps.assert_ok();
    assert_eq!(caps.stdout.trim(), "read", "{caps}");
    let caps = server.bao(Some(&token), &["token", "capabilities", "secret/data/app1"]);
    caps.assert_ok();
    assert_eq!(caps.stdout.trim(), "list, read", "{caps}");
    let caps = server.bao(Some(&token), &["token", "capabilities", "secret/other"]);
    caps.assert_ok();
    assert_eq!(caps.stdout.trim(), "deny", "{caps}");
    // Another token looked up by a token allowed to.
    let lookup = server.bao(root, &["token", "lookup", "-format=json", &token]);
    lookup.assert_ok();
    assert_eq!(
        lookup.json()["data"]["policies"],
        serde_json::json!(["app", "default", "ops"]),
        "{lookup}"
    );

    let bad = dir.join("bad.hcl");
    fs::write(&bad, "path \"x\" {\n  capabilities = [\"read\"\n}\n").unwrap();
    let out = server.bao(root, &["policy", "write", "bad", bad.to_str().unwrap()]);
    out.assert_code(2);
    assert!(out.stderr.contains("Code: 400"), "{out}");
    assert!(out.stderr.contains("failed to parse policy"), "{out}");
    assert!(
        out.stderr.contains("At 3:"),
        "the error names the line\n{out}"
    );

    let fmt = dir.join("fmt.hcl");
    fs::write(&fmt, "path \"a\" {\ncapabilities=[\"read\"]\n}\n").unwrap();
    server
        .bao(root, &["policy", "fmt", fmt.to_str().unwrap()])
        .assert_ok();

    server.bao(root, &["policy", "delete", "app"]).assert_ok();
    let out = server.bao(root, &["policy", "read", "app"]);
    out.assert_code(2);
    let out = server.bao(root, &["policy", "delete", "default"]);
    out.assert_code(2);
    assert!(out.stderr.contains("cannot delete default policy"), "{out}");
}

both_flavors!(bao_policy_commands_round_trip);
