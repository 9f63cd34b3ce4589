//! The `seal "<type>" { ... }` blocks: what protects the root key.
//!
//! One block is the active seal. A second block with `disabled = "true"` names the seal being
//! migrated away from (OpenBao's seal migration: the operator adds the new block, marks the old
//! one disabled and runs `bao operator unseal -migrate`). With only a disabled block, the store
//! migrates back to Shamir.

use hcl::Block;

use super::value::{self, key};
use super::ConfigError;

/// How the root key is protected. Shamir (unseal key shares held by operators) is the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SealConfig {
    #[default]
    Shamir,
    /// An auto seal (`pkcs11`, `awskms`): its settings as written, every value as text. The
    /// provider in coffer-seal resolves them (with environment fallbacks) and refuses unknown
    /// ones at start-up.
    Auto {
        kind: String,
        settings: coffer_seal::SealSettings,
    },
}

impl SealConfig {
    /// The type as `sys/seal-status` reports it.
    pub fn kind(&self) -> &str {
        match self {
            SealConfig::Shamir => "shamir",
            SealConfig::Auto { kind, .. } => kind,
        }
    }
}

/// One parsed block and whether it is the disabled (migrate-from) one.
pub(super) struct SealBlock {
    pub config: SealConfig,
    pub disabled: bool,
}

const SUPPORTED: &str = "awskms, pkcs11, shamir";

pub(super) fn parse(block: &Block) -> Result<SealBlock, ConfigError> {
    let kind = value::block_type("seal", block)?;
    if !["shamir", "pkcs11", "awskms"].contains(&kind) {
        return Err(ConfigError::UnknownBlockType {
            block: "seal",
            kind: kind.to_owned(),
            supported: SUPPORTED,
        });
    }
    let mut settings = coffer_seal::SealSettings::new();
    let mut disabled = false;
    for structure in block.body().iter() {
        let name = key(structure);
        let setting = format!("seal.{kind}.{name}");
        let expr = value::attribute(&setting, structure)?;
        if name == "disabled" {
            disabled = value::boolean(&setting, expr)?;
            continue;
        }
        if kind == "shamir" {
            return Err(ConfigError::UnknownSetting { setting });
        }
        if settings
            .insert(name.to_owned(), value::option_text(&setting, expr)?)
            .is_some()
        {
            return Err(ConfigError::Duplicate { setting });
        }
    }
    let config = match kind {
        "shamir" => SealConfig::Shamir,
        _ => SealConfig::Auto {
            kind: kind.to_owned(),
            settings,
        },
    };
    Ok(SealBlock { config, disabled })
}

/// The active seal and the one being migrated from, from every `seal` block in the file.
pub(super) fn resolve(
    blocks: Vec<SealBlock>,
) -> Result<(SealConfig, Option<SealConfig>), ConfigError> {
    let (disabled, active): (Vec<_>, Vec<_>) = blocks.into_iter().partition(|b| b.disabled);
    if active.len() > 1 || disabled.len() > 1 {
        return Err(ConfigError::Duplicate {
            setting: "seal".into(),
        });
    }
    let active = active
        .into_iter()
        .next()
        .map(|b| b.config)
        .unwrap_or_default();
    let from = disabled.into_iter().next().map(|b| b.config);
    if from
        .as_ref()
        .is_some_and(|from| from.kind() == active.kind())
    {
        return Err(value::invalid(
            "seal",
            "the disabled seal and the active seal are of the same type; migration needs two different seals",
        ));
    }
    Ok((active, from))
}
