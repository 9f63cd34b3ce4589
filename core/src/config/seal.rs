//! The `seal "<type>" { ... }` block: what protects the root key.

use hcl::Block;

use super::value::{self, key};
use super::ConfigError;

/// How the root key is protected. Shamir (unseal key shares held by operators) is the default;
/// an HSM or KMS seal would be a new variant and a new arm in [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SealConfig {
    #[default]
    Shamir,
}

const SUPPORTED: &str = "shamir";

pub(super) fn parse(block: &Block) -> Result<SealConfig, ConfigError> {
    match value::block_type("seal", block)? {
        "shamir" => match block.body().iter().next() {
            Some(structure) => Err(ConfigError::UnknownSetting {
                setting: format!("seal.shamir.{}", key(structure)),
            }),
            None => Ok(SealConfig::Shamir),
        },
        other => Err(ConfigError::UnknownBlockType {
            block: "seal",
            kind: other.to_owned(),
            supported: SUPPORTED,
        }),
    }
}
