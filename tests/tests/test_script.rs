//! `scripts/test` reruns the persistent-storage suites on DynamoDB from a hand-written list;
//! this keeps the list complete as suites are added.

use coffer_blackbox::binaries::repo_root;

#[test]
fn every_suite_with_configured_servers_also_runs_on_dynamodb() {
    let root = repo_root();
    let script = std::fs::read_to_string(root.join("scripts/test")).expect("scripts/test");
    let listed = script
        .split("on_dynamodb=(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the on_dynamodb list in scripts/test");
    let listed: Vec<&str> = listed.split_whitespace().collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("tests/tests")).expect("tests/tests") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let text = std::fs::read_to_string(&path).expect("read suite");
        let on_dynamodb_already = name.starts_with("dynamodb_") || name.ends_with("_two_processes");
        let configured = text.contains("Server::with_config");
        if configured
            && !on_dynamodb_already
            && !["harness", "test_script"].contains(&name.as_str())
            && !listed.contains(&name.as_str())
        {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "add to on_dynamodb in scripts/test: {missing:?}"
    );
    for name in &listed {
        assert!(
            root.join(format!("tests/tests/{name}.rs")).exists(),
            "no suite named {name}"
        );
    }
}
