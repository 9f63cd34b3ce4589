//! The `storage "<type>" { ... }` block: which physical backend holds the barrier's ciphertext.

use std::path::PathBuf;

use hcl::Block;

use super::value::{self, key};
use super::ConfigError;

/// The physical storage backend. A new backend (say `dynamodb`) is a new variant here and a new
/// arm in [`parse`]; `SUPPORTED` lists the names an operator may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// Nothing survives a restart; for dev mode and tests.
    Memory,
    /// A single local database file.
    Embedded { path: PathBuf },
    /// One DynamoDB table shared by every process of the deployment. Unset `region` and
    /// `endpoint` come from the standard AWS environment (`AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_DYNAMODB`).
    DynamoDb {
        table: String,
        region: Option<String>,
        endpoint: Option<String>,
        /// Create the table at start-up when it does not exist.
        create_table: bool,
    },
}

/// The table `storage "dynamodb"` uses when the config names none.
const DEFAULT_DYNAMODB_TABLE: &str = "coffer";

const SUPPORTED: &str = "dynamodb, embedded, memory (or OpenBao's name inmem)";

pub(super) fn parse(
    block: &Block,
    warnings: &mut Vec<String>,
) -> Result<StorageConfig, ConfigError> {
    match value::block_type("storage", block)? {
        "memory" => parse_memory(block, "storage.memory"),
        "inmem" => {
            super::warn(
                warnings,
                "storage \"inmem\": read as coffer's storage \"memory\"; nothing is kept across restarts"
                    .to_owned(),
            );
            parse_memory(block, "storage.inmem")
        }
        "embedded" => parse_embedded(block),
        "dynamodb" => parse_dynamodb(block),
        other => Err(ConfigError::UnknownBlockType {
            block: "storage",
            kind: other.to_owned(),
            supported: SUPPORTED,
        }),
    }
}

fn parse_memory(block: &Block, prefix: &str) -> Result<StorageConfig, ConfigError> {
    match block.body().iter().next() {
        Some(structure) => Err(ConfigError::UnknownSetting {
            setting: format!("{prefix}.{}", key(structure)),
        }),
        None => Ok(StorageConfig::Memory),
    }
}

fn parse_embedded(block: &Block) -> Result<StorageConfig, ConfigError> {
    let mut path = None;
    for structure in block.body().iter() {
        let setting = format!("storage.embedded.{}", key(structure));
        match key(structure) {
            "path" => {
                path = Some(value::path(
                    &setting,
                    value::attribute(&setting, structure)?,
                )?)
            }
            _ => return Err(ConfigError::UnknownSetting { setting }),
        }
    }
    let path = path.ok_or_else(|| ConfigError::Missing {
        setting: "storage.embedded.path".to_owned(),
        reason: "the path of the database file is required".to_owned(),
    })?;
    Ok(StorageConfig::Embedded { path })
}

fn parse_dynamodb(block: &Block) -> Result<StorageConfig, ConfigError> {
    let mut table = DEFAULT_DYNAMODB_TABLE.to_owned();
    let mut region = None;
    let mut endpoint = None;
    let mut create_table = false;
    for structure in block.body().iter() {
        let setting = format!("storage.dynamodb.{}", key(structure));
        let non_empty = |text: String| {
            if text.is_empty() {
                Err(value::invalid(&setting, "must not be empty"))
            } else {
                Ok(text)
            }
        };
        match key(structure) {
            "table" => {
                table = non_empty(value::string(
                    &setting,
                    value::attribute(&setting, structure)?,
                )?)?
            }
            "region" => {
                region = Some(non_empty(value::string(
                    &setting,
                    value::attribute(&setting, structure)?,
                )?)?)
            }
            "endpoint" => {
                endpoint = Some(non_empty(value::string(
                    &setting,
                    value::attribute(&setting, structure)?,
                )?)?)
            }
            "create_table" => {
                create_table = value::boolean(&setting, value::attribute(&setting, structure)?)?
            }
            _ => return Err(ConfigError::UnknownSetting { setting }),
        }
    }
    Ok(StorageConfig::DynamoDb {
        table,
        region,
        endpoint,
        create_table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_storage(src: &str) -> Result<StorageConfig, ConfigError> {
        let body: hcl::Body = hcl::from_str(src).expect("valid HCL");
        let block = body.blocks().next().expect("a storage block");
        parse(block, &mut Vec::new())
    }

    #[test]
    fn dynamodb_reads_every_setting() {
        let config = parse_storage(
            r#"storage "dynamodb" {
                table = "coffer-prod"
                region = "eu-west-1"
                endpoint = "http://127.0.0.1:5000"
                create_table = "true"
            }"#,
        )
        .unwrap();
        assert_eq!(
            config,
            StorageConfig::DynamoDb {
                table: "coffer-prod".into(),
                region: Some("eu-west-1".into()),
                endpoint: Some("http://127.0.0.1:5000".into()),
                create_table: true,
            }
        );
    }

    #[test]
    fn dynamodb_defaults_leave_region_and_endpoint_to_the_aws_environment() {
        assert_eq!(
            parse_storage(r#"storage "dynamodb" {}"#).unwrap(),
            StorageConfig::DynamoDb {
                table: DEFAULT_DYNAMODB_TABLE.into(),
                region: None,
                endpoint: None,
                create_table: false,
            }
        );
    }

    #[test]
    fn dynamodb_refuses_unknown_and_empty_settings() {
        let unknown = parse_storage(r#"storage "dynamodb" { read_capacity = 5 }"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            unknown,
            "unknown setting \"storage.dynamodb.read_capacity\""
        );
        let empty = parse_storage(r#"storage "dynamodb" { table = "" }"#)
            .unwrap_err()
            .to_string();
        assert!(empty.contains("storage.dynamodb.table"), "{empty}");
        let not_bool = parse_storage(r#"storage "dynamodb" { create_table = "maybe" }"#)
            .unwrap_err()
            .to_string();
        assert!(
            not_bool.contains("storage.dynamodb.create_table"),
            "{not_bool}"
        );
    }
}
