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

/// The Lambda template's role and seal key policy grant exactly the AWS calls the code makes.
mod lambda_iam {
    use std::collections::BTreeSet;
    use std::path::Path;

    use coffer_blackbox::binaries::{python_bin, repo_root};
    use serde_json::Value;

    const TEMPLATE: &str = "infra/coffer-lambda.yaml";

    /// Calls the code makes that the function never reaches, each with the reason.
    /// `CreateTable` is reached only with `create_table = true`; the Lambda's environment
    /// config always sets it to false (the template owns the table, with PITR, SSE and
    /// deletion protection), so the role must not be able to create tables.
    const NOT_REACHED_BY_THE_FUNCTION: &[&str] = &["dynamodb:CreateTable"];

    /// Where each service's SDK calls live.
    const SOURCES: &[(&str, &str)] = &[
        ("dynamodb", "core/src/storage/dynamodb"),
        ("kms", "seal-providers/src/awskms.rs"),
    ];

    /// The template as JSON, through cfn-lint's loader (it knows `!Ref`, `!GetAtt`, ...).
    fn template() -> Value {
        let out = std::process::Command::new(python_bin())
            .arg("-c")
            .arg(
                "import json, sys\nfrom cfnlint.decode import cfn_yaml\n\
                 print(json.dumps(cfn_yaml.load(sys.argv[1]), default=str))",
            )
            .arg(repo_root().join(TEMPLATE))
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("template JSON")
    }

    fn rust_files(path: &Path) -> Vec<std::path::PathBuf> {
        if path.is_file() {
            return vec![path.to_owned()];
        }
        let mut files: Vec<_> = std::fs::read_dir(path)
            .expect("source dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            // Unit tests call the emulator directly (to set up tables); not the product.
            .filter(|p| p.file_name().is_some_and(|n| n != "tests.rs"))
            .collect();
        files.sort();
        files
    }

    fn pascal(snake: &str) -> String {
        snake
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// `<service>:<Operation>` for every `client.<operation>(` in the product code (inline
    /// `mod tests` excluded), and the per-item actions a `TransactWriteItems` needs.
    fn calls_in_code(service: &str, path: &str) -> BTreeSet<String> {
        let mut actions = BTreeSet::new();
        for file in rust_files(&repo_root().join(path)) {
            let text = std::fs::read_to_string(&file).expect("read source");
            let product = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or("");
            let code: String = product.chars().filter(|c| !c.is_whitespace()).collect();
            for (i, _) in code.match_indices("client.") {
                let rest = &code[i + "client.".len()..];
                let op: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !op.is_empty() && rest[op.len()..].starts_with('(') {
                    actions.insert(format!("{service}:{}", pascal(&op)));
                }
            }
            for (variant, action) in [
                ("put", "PutItem"),
                ("update", "UpdateItem"),
                ("delete", "DeleteItem"),
                ("condition_check", "ConditionCheckItem"),
            ] {
                if code.contains(&format!("TransactWriteItem::builder().{variant}(")) {
                    actions.insert(format!("{service}:{action}"));
                }
            }
        }
        assert!(!actions.is_empty(), "no {service} calls found under {path}");
        actions
    }

    fn strings(value: &Value) -> Vec<String> {
        match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().flat_map(strings).collect(),
            _ => vec![],
        }
    }

    /// Every statement of the function role's policies (inline and attached RolePolicy).
    fn role_statements(template: &Value) -> Vec<Value> {
        let resources = template["Resources"].as_object().expect("Resources");
        let mut documents = Vec::new();
        for policy in resources["FunctionRole"]["Properties"]["Policies"]
            .as_array()
            .expect("inline policies")
        {
            documents.push(policy["PolicyDocument"].clone());
        }
        for resource in resources.values() {
            let attached = resource["Type"] == "AWS::IAM::RolePolicy"
                && resource["Properties"]["RoleName"]["Ref"] == "FunctionRole";
            if attached {
                documents.push(resource["Properties"]["PolicyDocument"].clone());
            }
        }
        documents
            .iter()
            .flat_map(|d| d["Statement"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    #[test]
    fn the_function_role_grants_exactly_the_aws_calls_the_code_makes() {
        let template = template();
        let statements = role_statements(&template);
        let granted: BTreeSet<String> = statements
            .iter()
            .flat_map(|s| strings(&s["Action"]))
            .collect();
        let mut needed = BTreeSet::new();
        for (service, path) in SOURCES {
            needed.extend(calls_in_code(service, path));
        }
        for action in NOT_REACHED_BY_THE_FUNCTION {
            assert!(
                needed.remove(*action),
                "{action} is no longer called: drop it from NOT_REACHED_BY_THE_FUNCTION"
            );
            assert!(!granted.contains(*action), "{action} must not be granted");
        }
        let aws: BTreeSet<String> = granted
            .iter()
            .filter(|a| a.starts_with("dynamodb:") || a.starts_with("kms:"))
            .cloned()
            .collect();
        let missing: Vec<_> = needed.difference(&aws).collect();
        let extra: Vec<_> = aws.difference(&needed).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{TEMPLATE}: missing {missing:?}, not used by the code {extra:?}"
        );
        let others: BTreeSet<&String> = granted.iter().filter(|a| !aws.contains(*a)).collect();
        // Lambda itself writes the function's logs with the role.
        assert_eq!(
            others,
            ["logs:CreateLogStream", "logs:PutLogEvents"]
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>()
                .iter()
                .collect(),
        );
    }

    #[test]
    fn every_grant_names_one_resource_of_the_stack() {
        let template = template();
        for statement in role_statements(&template) {
            assert_eq!(statement["Effect"], "Allow", "{statement}");
            let resource = &statement["Resource"];
            assert!(
                resource["Fn::GetAtt"].is_array(),
                "a grant on something other than one resource of the stack: {statement}"
            );
            let target = resource["Fn::GetAtt"][0].as_str().unwrap_or_default();
            let action = strings(&statement["Action"]).join(",");
            let expected = if action.contains("dynamodb:") {
                "Table"
            } else if action.contains("kms:") {
                "SealKey"
            } else {
                "FunctionLogGroup"
            };
            assert_eq!(target, expected, "{statement}");
        }
    }

    #[test]
    fn only_the_function_role_may_use_the_seal_key() {
        let template = template();
        let needed = calls_in_code("kms", "seal-providers/src/awskms.rs");
        let statements = template["Resources"]["SealKey"]["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .expect("key policy")
            .clone();
        for statement in statements {
            let actions: BTreeSet<String> = strings(&statement["Action"]).into_iter().collect();
            let uses = actions
                .iter()
                .any(|a| ["kms:Encrypt", "kms:Decrypt", "kms:*"].contains(&a.as_str()));
            if uses {
                assert_eq!(
                    statement["Principal"]["AWS"]["Fn::GetAtt"][0], "FunctionRole",
                    "{statement}"
                );
                assert_eq!(actions, needed, "{statement}");
            }
        }
    }

    #[test]
    fn the_function_never_creates_its_table() {
        let source =
            std::fs::read_to_string(repo_root().join("functions/src/lambda/env_config.rs"))
                .expect("env_config.rs");
        assert!(source.contains("create_table: false"));
        assert!(!source.contains("create_table: true"));
    }
}
