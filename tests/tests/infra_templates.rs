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

    /// The two functions' roles: the data plane's unwraps root keys, the admin function's
    /// only wraps the root key of each store it creates, so it can never unseal one.
    struct Role {
        name: &'static str,
        log_group: &'static str,
        not_reached: &'static [&'static str],
    }

    const ROLES: &[Role] = &[
        Role {
            name: "FunctionRole",
            log_group: "FunctionLogGroup",
            not_reached: NOT_REACHED_BY_THE_FUNCTION,
        },
        Role {
            name: "AdminRole",
            log_group: "AdminLogGroup",
            not_reached: NOT_REACHED_BY_THE_ADMIN_FUNCTION,
        },
    ];

    /// The data plane's exceptions, and `kms:Decrypt`: the admin API (core/src/tenancy's
    /// create, change_plan, delete, list, show) initialises stores, which wraps their root
    /// keys (Encrypt), and never resolves a store for a request, which unwraps them.
    const NOT_REACHED_BY_THE_ADMIN_FUNCTION: &[&str] = &["dynamodb:CreateTable", "kms:Decrypt"];

    /// Every statement of `role`'s policies (inline and attached RolePolicy).
    fn role_statements(template: &Value, role: &str) -> Vec<Value> {
        let resources = template["Resources"].as_object().expect("Resources");
        let mut documents = Vec::new();
        for policy in resources[role]["Properties"]["Policies"]
            .as_array()
            .expect("inline policies")
        {
            documents.push(policy["PolicyDocument"].clone());
        }
        for resource in resources.values() {
            let attached = resource["Type"] == "AWS::IAM::RolePolicy"
                && resource["Properties"]["RoleName"]["Ref"] == role;
            if attached {
                documents.push(resource["Properties"]["PolicyDocument"].clone());
            }
        }
        documents
            .iter()
            .flat_map(|d| d["Statement"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// What `role` must be granted: the code's calls, less those it never reaches.
    fn needed_by(role: &Role) -> BTreeSet<String> {
        let mut needed = BTreeSet::new();
        for (service, path) in SOURCES {
            needed.extend(calls_in_code(service, path));
        }
        for action in role.not_reached {
            assert!(
                needed.remove(*action),
                "{action} is no longer called: drop it from the exceptions of {}",
                role.name
            );
        }
        needed
    }

    #[test]
    fn each_function_role_grants_exactly_the_aws_calls_the_code_makes() {
        let template = template();
        for role in ROLES {
            let statements = role_statements(&template, role.name);
            let granted: BTreeSet<String> = statements
                .iter()
                .flat_map(|s| strings(&s["Action"]))
                .collect();
            let needed = needed_by(role);
            for action in role.not_reached {
                assert!(
                    !granted.contains(*action),
                    "{action} must not be granted to {}",
                    role.name
                );
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
                "{TEMPLATE} {}: missing {missing:?}, not used by the code {extra:?}",
                role.name
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
                "{}",
                role.name
            );
        }
    }

    #[test]
    fn every_grant_names_one_resource_of_the_stack() {
        let template = template();
        for role in ROLES {
            for statement in role_statements(&template, role.name) {
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
                    role.log_group
                };
                assert_eq!(target, expected, "{} {statement}", role.name);
            }
        }
    }

    /// A key policy statement, or the statement a `Fn::If` holds when its condition is true.
    fn unconditional(statement: &Value) -> Value {
        match statement.get("Fn::If") {
            Some(branches) => branches[1].clone(),
            None => statement.clone(),
        }
    }

    #[test]
    fn only_the_function_roles_may_use_the_seal_key_and_only_the_data_plane_decrypts() {
        let template = template();
        let statements = template["Resources"]["SealKey"]["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .expect("key policy")
            .clone();
        let mut principals = BTreeSet::new();
        for statement in statements.iter().map(unconditional) {
            let actions: BTreeSet<String> = strings(&statement["Action"]).into_iter().collect();
            let uses = actions
                .iter()
                .any(|a| ["kms:Encrypt", "kms:Decrypt", "kms:*"].contains(&a.as_str()));
            if uses {
                let principal = statement["Principal"]["AWS"]["Fn::GetAtt"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let role = ROLES
                    .iter()
                    .find(|r| r.name == principal)
                    .unwrap_or_else(|| panic!("the seal key is usable by {statement}"));
                let needed: BTreeSet<String> = needed_by(role)
                    .into_iter()
                    .filter(|a| a.starts_with("kms:"))
                    .collect();
                assert_eq!(actions, needed, "{statement}");
                principals.insert(principal);
            }
        }
        assert_eq!(principals.len(), ROLES.len(), "{principals:?}");
    }

    /// The `Fn::Sub` text of a function's `COFFER_CONTROL_PLANE` (under a `Fn::If` or not),
    /// rendered with `BaseDomain` and the template's default `Plans`.
    fn control_plane_block(template: &Value, function: &str, base_domain: &str) -> String {
        let value = &template["Resources"][function]["Properties"]["Environment"]["Variables"]
            ["COFFER_CONTROL_PLANE"];
        let sub = match value.get("Fn::If") {
            Some(branches) => {
                assert_eq!(branches[0], "HasControlPlane", "{value}");
                assert_eq!(branches[2]["Ref"], "AWS::NoValue", "{value}");
                &branches[1]["Fn::Sub"]
            }
            None => &value["Fn::Sub"],
        };
        let text = sub
            .as_str()
            .unwrap_or_else(|| panic!("{function}: COFFER_CONTROL_PLANE is no Fn::Sub: {value}"));
        let plans = template["Parameters"]["Plans"]["Default"]
            .as_str()
            .expect("Plans default");
        text.replace("${BaseDomain}", base_domain)
            .replace("${Plans}", plans)
    }

    #[test]
    fn both_functions_get_one_control_plane_block_that_the_config_parser_reads() {
        let template = template();
        let data = control_plane_block(&template, "Function", "secrets.example.com");
        let admin = control_plane_block(&template, "AdminFunction", "secrets.example.com");
        assert_eq!(data, admin, "the two functions must run on the same plans");
        let cp = coffer_core::config::ControlPlaneConfig::from_hcl(&data)
            .unwrap_or_else(|e| panic!("{e}\n{data}"));
        assert_eq!(cp.base_domain, "secrets.example.com");
        assert_eq!(cp.default_plan, "free");
        assert!(cp.plans.len() >= 2, "{:?}", cp.plans);
        assert!(cp.admin_address.is_none());
    }

    #[test]
    fn the_admin_function_holds_only_the_credential_digest_and_an_auto_seal() {
        let template = template();
        let resources = &template["Resources"];
        let vars = &resources["AdminFunction"]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            vars["COFFER_ADMIN_TOKEN_SHA256"]["Ref"], "AdminCredentialSha256",
            "{vars}"
        );
        assert!(vars.get("COFFER_ADMIN_TOKEN").is_none(), "{vars}");
        assert_eq!(vars["COFFER_SEAL"], "awskms", "{vars}");
        assert_eq!(
            template["Parameters"]["AdminCredentialSha256"]["NoEcho"],
            true
        );
        assert_eq!(
            resources["AdminFunction"]["Properties"]["Role"]["Fn::GetAtt"][0],
            "AdminRole"
        );
        assert_eq!(
            resources["AdminFunctionUrl"]["Properties"]["AuthType"]["Ref"],
            "AdminAuthType"
        );
        assert_eq!(
            template["Parameters"]["AdminAuthType"]["Default"],
            "AWS_IAM"
        );
        // Every admin resource exists only with a control plane.
        for (name, resource) in resources.as_object().expect("Resources") {
            if name.starts_with("Admin") {
                let condition = resource["Condition"].as_str().unwrap_or_default();
                assert!(
                    ["HasControlPlane", "AdminUrlIsPublic"].contains(&condition),
                    "{name} without the control-plane condition"
                );
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
