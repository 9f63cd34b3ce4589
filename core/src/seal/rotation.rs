//! Rotating the operator key (`sys/rotate/root`, `sys/rotate/recovery`): a threshold of the
//! current shares proves the request, then a fresh key is split into the new shares.
//!
//! The root key itself is kept: with Shamir the new unseal keys are shares of a new KEK that
//! re-wraps it; with an auto seal the recovery key is replaced and only its verifier changes.
//! Each completion is one batch conditional on the configuration read before it, so two
//! processes completing rotations at once cannot leave shares that match nothing.

use zeroize::Zeroizing;

use crate::barrier::aead::{self, AesKey};
use crate::storage::{Condition, WriteOp};

use super::{
    check_split, operator_key, SealError, SealManager, RECOVERY_CHECK_PATH, ROOT_KEY_PATH,
    SEAL_CONFIG_PATH,
};

/// Which operator key a rotation replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationTarget {
    /// The unseal keys (Shamir).
    Root,
    /// The recovery keys (auto seals).
    Recovery,
}

impl SealManager {
    /// The `(shares, threshold)` whose quorum authorises a rotation of `target`; refuses a
    /// target that does not fit the stored seal.
    pub async fn rotation_quorum(&self, target: RotationTarget) -> Result<(u8, u8), SealError> {
        let config = self.config().await?.ok_or(SealError::NotInitialized)?;
        match (target, config.is_shamir()) {
            (RotationTarget::Root, true) | (RotationTarget::Recovery, false) => {}
            (RotationTarget::Root, false) => return Err(SealError::RootRotationWithAutoSeal),
            (RotationTarget::Recovery, true) => return Err(SealError::RecoveryNotSupported),
        }
        let (n, t) = config.operator_shares();
        if n == 0 {
            return Err(SealError::NoRecoveryKeys);
        }
        Ok((n, t))
    }

    /// Checks a new split before a rotation starts.
    pub fn check_rotation_split(shares: u32, threshold: u32) -> Result<(), SealError> {
        check_split(shares, threshold, false)
    }

    /// Verifies `shares` (a threshold of the current ones) and replaces the operator key by a
    /// new one split `new_shares`/`new_threshold` ways; returns the new shares.
    pub async fn complete_rotation(
        &self,
        target: RotationTarget,
        shares: &[Zeroizing<Vec<u8>>],
        new_shares: u8,
        new_threshold: u8,
    ) -> Result<Vec<Zeroizing<Vec<u8>>>, SealError> {
        self.rotation_quorum(target).await?;
        let (mut config, version) = self.load_config().await?.ok_or(SealError::NotInitialized)?;
        let current = super::combine_operator(&config, shares)?;
        let fresh = AesKey::generate();
        let new = operator_key::split(&fresh, new_shares, new_threshold)?;
        let mut ops = Vec::new();
        match target {
            RotationTarget::Root => {
                let root_key = self.unwrap_root_with_kek(&current).await?;
                let path = self.path(ROOT_KEY_PATH);
                let wrapped = aead::seal(&fresh, 0, path.as_bytes(), root_key.as_bytes());
                ops.push(WriteOp::put(path, wrapped));
                config.secret_shares = new_shares;
                config.secret_threshold = new_threshold;
            }
            RotationTarget::Recovery => {
                self.verify_recovery_key(&current).await?;
                let path = self.path(RECOVERY_CHECK_PATH);
                ops.push(WriteOp::put(
                    path.clone(),
                    operator_key::verifier(&fresh, &path),
                ));
                config.recovery_shares = new_shares;
                config.recovery_threshold = new_threshold;
            }
        }
        ops.push(WriteOp::Put {
            key: self.path(SEAL_CONFIG_PATH),
            value: serde_json::to_vec(&config).expect("seal config serializes"),
            condition: Some(Condition::Version(version)),
        });
        self.barrier.storage().write(ops).await?;
        Ok(new)
    }
}
