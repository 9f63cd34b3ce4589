//! The deploy templates in `infra/` are valid CloudFormation, checked offline by cfn-lint.

use coffer_blackbox::binaries::repo_root;

#[test]
fn every_infra_template_passes_cfn_lint() {
    let root = repo_root();
    let cfn_lint = root.join(".venv/bin/cfn-lint");
    assert!(cfn_lint.exists(), "cfn-lint missing: run scripts/setup");
    let templates: Vec<_> = std::fs::read_dir(root.join("infra"))
        .expect("infra/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    assert!(!templates.is_empty(), "no templates in infra/");
    let out = std::process::Command::new(&cfn_lint)
        .args(&templates)
        .output()
        .expect("run cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cfn_lint_rejects_a_broken_template() {
    // The check above can fail: a table without its key schema is refused.
    let root = repo_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n",
    )
    .expect("write template");
    let out = std::process::Command::new(root.join(".venv/bin/cfn-lint"))
        .arg(&bad)
        .output()
        .expect("run cfn-lint");
    assert!(!out.status.success());
}
