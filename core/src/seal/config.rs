//! The stored seal configuration and the share counts an operator may ask for.
//!
//! The configuration is the one value stored in plaintext: `sys/seal-status` must be readable
//! while sealed. It says which seal wraps the root key and how the operator key is split: with
//! Shamir the operator key *is* the key-encryption key (unseal keys); with an auto seal it is
//! the recovery key, which authorises operations but decrypts nothing.

use serde::{Deserialize, Serialize};

use super::SealError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealConfig {
    /// `shamir`, `pkcs11` or `awskms`: the seal that wrapped the stored root key.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unseal key shares (Shamir); 1 with an auto seal, as OpenBao stores it.
    pub secret_shares: u8,
    pub secret_threshold: u8,
    /// Recovery key shares (auto seals only); 0 when init asked for none.
    #[serde(default)]
    pub recovery_shares: u8,
    #[serde(default)]
    pub recovery_threshold: u8,
    /// The store's identity as OpenBao reports it (`vault-cluster-<hex>` and a uuid); not
    /// secret, drawn at init.
    pub cluster_name: String,
    pub cluster_id: String,
}

impl SealConfig {
    pub fn is_shamir(&self) -> bool {
        self.kind == "shamir"
    }

    /// `(shares, threshold)` of the operator key: unseal keys or recovery keys.
    pub fn operator_shares(&self) -> (u8, u8) {
        if self.is_shamir() {
            (self.secret_shares, self.secret_threshold)
        } else {
            (self.recovery_shares, self.recovery_threshold)
        }
    }
}

/// What `sys/init` asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitParams {
    pub secret_shares: u32,
    pub secret_threshold: u32,
    pub recovery_shares: u32,
    pub recovery_threshold: u32,
}

impl InitParams {
    /// Unseal key shares for a Shamir seal.
    pub fn shamir(shares: u32, threshold: u32) -> Self {
        InitParams {
            secret_shares: shares,
            secret_threshold: threshold,
            ..Default::default()
        }
    }
}

/// Checks a split as OpenBao does. `allow_none`: recovery keys may be skipped at init.
pub(crate) fn check_split(shares: u32, threshold: u32, allow_none: bool) -> Result<(), SealError> {
    if allow_none && shares == 0 && threshold == 0 {
        return Ok(());
    }
    if threshold > shares {
        return Err(SealError::InvalidConfig(
            "threshold cannot be larger than shares",
        ));
    }
    if shares < 1 {
        return Err(SealError::InvalidConfig("shares must be at least one"));
    }
    if shares > 255 {
        return Err(SealError::InvalidConfig("shares must be less than 256"));
    }
    if shares > 1 && threshold < 2 {
        return Err(SealError::InvalidConfig(
            "threshold must be greater than one for multiple shares",
        ));
    }
    if threshold < 1 {
        return Err(SealError::InvalidConfig("threshold must be at least one"));
    }
    Ok(())
}
