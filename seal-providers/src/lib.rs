//! Seal providers: what protects a store's root key.
//!
//! Shamir (operators hold shares of a key-encryption key) lives in [`shamir`]; the auto seals
//! (an HSM through PKCS#11, AWS KMS) implement [`AutoSeal`]: they encrypt and decrypt the root
//! key with a key that never leaves the HSM or KMS, so a process can unseal itself at start-up.
//! Providers see only the root key and the context that binds it to one store; they never log
//! either, and never fall back to storing anything in plaintext.
//!
//! The auto seals are [`pkcs11`] and [`awskms`], cargo features that are on by default (so CI
//! builds and tests both). [`open_auto_seal`] opens one from a `seal "<kind>"` block; settings
//! missing from the block come from the environment, read through an [`EnvLookup`].

use std::collections::BTreeMap;
use std::sync::Arc;

use zeroize::Zeroizing;

#[cfg(feature = "awskms")]
pub mod awskms;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
mod settings;
pub mod shamir;

pub use settings::{process_env, EnvLookup};

/// Why an auto seal refused or failed. Messages name the setting, label or key at fault and
/// never contain key material or PINs.
#[derive(Debug, thiserror::Error)]
pub enum SealProviderError {
    /// A setting is missing, unknown or malformed (start-up error).
    #[error("seal \"{kind}\": {message}")]
    Config { kind: &'static str, message: String },
    /// The HSM or KMS cannot be reached or refused the session or credentials (wrong PIN,
    /// unreachable endpoint). The store stays sealed.
    #[error("seal \"{kind}\": {message}")]
    Unavailable { kind: &'static str, message: String },
    /// The configured key does not exist, or is disabled (start-up error naming the key).
    #[error("seal \"{kind}\": {message}")]
    Key { kind: &'static str, message: String },
    /// A stored blob did not decrypt: tampered, made by another key, or bound to another
    /// context.
    #[error("seal \"{kind}\": failed to decrypt the stored root key: {message}")]
    Decrypt { kind: &'static str, message: String },
}

/// An auto seal: encrypts small secrets (the root key, recovery key material) with a key held
/// by an HSM or a KMS.
///
/// `context` binds a ciphertext to its place (the store id and storage path): as GCM AAD for
/// PKCS#11, as the encryption context for KMS. Decrypting with a different context fails.
/// The blob returned by `encrypt` is self-describing (format version, mechanism, IV, key id
/// as needed) so `decrypt` needs nothing else, and a later mechanism can still read it.
/// Implementations are `Send + Sync`; calls may come from many tasks at once.
#[async_trait::async_trait]
pub trait AutoSeal: Send + Sync {
    /// `"pkcs11"` or `"awskms"`, as `sys/seal-status` reports it.
    fn kind(&self) -> &'static str;

    /// Checks at start-up that the key exists and is usable (PKCS#11: login and key lookup,
    /// creating it when `generate_key` is set; KMS: DescribeKey, enabled, symmetric).
    async fn check(&self) -> Result<(), SealProviderError>;

    async fn encrypt(&self, plaintext: &[u8], context: &[u8])
        -> Result<Vec<u8>, SealProviderError>;

    async fn decrypt(
        &self,
        blob: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealProviderError>;
}

/// The settings of a `seal "<kind>" { ... }` block, as strings, before environment variables
/// are applied. The provider's `open` resolves them (config first, then environment, as
/// OpenBao does: BAO_HSM_* / VAULT_HSM_* / COFFER_HSM_*, AWS_* / VAULT_AWSKMS_SEAL_KEY_ID /
/// AWS_KMS_ENDPOINT).
pub type SealSettings = BTreeMap<String, String>;

/// Opens the auto seal of a `seal "<kind>"` block, with environment fallbacks read from the
/// process environment. It does not call [`AutoSeal::check`]: the caller does, so that it can
/// report a start-up error (wrong PIN, missing key) in its own words.
pub async fn open_auto_seal(
    kind: &str,
    settings: &SealSettings,
) -> Result<Arc<dyn AutoSeal>, SealProviderError> {
    open_auto_seal_with_env(kind, settings, &process_env).await
}

/// As [`open_auto_seal`], with environment variables read through `env` (tests inject one).
#[cfg_attr(
    not(any(feature = "pkcs11", feature = "awskms")),
    allow(unused_variables)
)]
pub async fn open_auto_seal_with_env(
    kind: &str,
    settings: &SealSettings,
    env: EnvLookup<'_>,
) -> Result<Arc<dyn AutoSeal>, SealProviderError> {
    match kind {
        #[cfg(feature = "pkcs11")]
        "pkcs11" => Ok(Arc::new(
            pkcs11::Pkcs11Seal::open_with_env(settings, env).await?,
        )),
        #[cfg(feature = "awskms")]
        "awskms" => Ok(Arc::new(
            awskms::AwsKmsSeal::open_with_env(settings, env).await?,
        )),
        #[cfg(not(feature = "pkcs11"))]
        "pkcs11" => Err(not_built("pkcs11")),
        #[cfg(not(feature = "awskms"))]
        "awskms" => Err(not_built("awskms")),
        other => Err(SealProviderError::Config {
            kind: "unknown",
            message: format!(
                "unknown seal type {other:?}; supported auto seals are \"pkcs11\" and \"awskms\""
            ),
        }),
    }
}

#[cfg(not(all(feature = "pkcs11", feature = "awskms")))]
fn not_built(kind: &'static str) -> SealProviderError {
    SealProviderError::Config {
        kind,
        message: format!("this build of coffer has no {kind} seal (cargo feature {kind:?} is off)"),
    }
}
