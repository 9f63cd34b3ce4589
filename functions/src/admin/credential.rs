//! The admin credential: a bearer secret from the environment, compared in constant time,
//! never logged, printed or shown by `Debug`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The shortest admin credential accepted: a guessable one would open every store's lifecycle.
pub const MIN_LENGTH: usize = 16;

pub struct AdminCredential {
    /// SHA-256 of the credential: equal-length digests make the comparison length-independent.
    digest: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminCredential(redacted)")
    }
}

impl AdminCredential {
    pub fn new(secret: &str) -> anyhow::Result<AdminCredential> {
        if secret.len() < MIN_LENGTH {
            anyhow::bail!("the admin credential must be at least {MIN_LENGTH} characters");
        }
        Ok(AdminCredential {
            digest: Zeroizing::new(Sha256::digest(secret.as_bytes()).into()),
        })
    }

    /// Reads the credential from the environment variable `name`.
    pub fn from_env(name: &str) -> anyhow::Result<AdminCredential> {
        let secret = Zeroizing::new(std::env::var(name).map_err(|_| {
            anyhow::anyhow!("the admin API needs its credential in the environment variable {name}")
        })?);
        AdminCredential::new(&secret)
    }

    /// The credential known only by its SHA-256 digest (64 hex digits), so that a deploy
    /// template or a function's environment holds no secret. Its length cannot be checked
    /// here, but the digest of the empty string (an unset shell variable hashed) is refused.
    pub fn from_sha256_hex(hex_digest: &str) -> anyhow::Result<AdminCredential> {
        let mut digest = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_digest.trim(), digest.as_mut()).map_err(|_| {
            anyhow::anyhow!("expected the credential's SHA-256 digest as 64 hex digits")
        })?;
        if *digest == <[u8; 32]>::from(Sha256::digest(b"")) {
            anyhow::bail!("this is the SHA-256 digest of an empty credential");
        }
        Ok(AdminCredential { digest })
    }

    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&*self.digest).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_credential_matches() {
        let c = AdminCredential::new("correct horse battery staple").unwrap();
        assert!(c.matches("correct horse battery staple"));
        assert!(!c.matches("correct horse battery stapl"));
        assert!(!c.matches(""));
        assert!(!format!("{c:?}").contains("horse"));
    }

    #[test]
    fn short_credentials_are_refused() {
        assert!(AdminCredential::new("short").is_err());
    }

    #[test]
    fn a_digest_matches_the_credential_it_was_made_from() {
        let secret = "correct horse battery staple";
        let hex_digest = hex::encode(Sha256::digest(secret.as_bytes()));
        let c = AdminCredential::from_sha256_hex(&hex_digest.to_uppercase()).unwrap();
        assert!(c.matches(secret));
        assert!(
            !c.matches(&hex_digest),
            "the digest itself is not the credential"
        );
        assert!(!format!("{c:?}").contains(&hex_digest[..8]));
    }

    #[test]
    fn malformed_or_empty_digests_are_refused() {
        for bad in ["", "abc", &"g".repeat(64), &"0".repeat(63), &"0".repeat(66)] {
            let err = AdminCredential::from_sha256_hex(bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains("64 hex digits"), "{bad}: {err}");
        }
        let empty = hex::encode(Sha256::digest(b""));
        let err = AdminCredential::from_sha256_hex(&empty)
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty credential"), "{err}");
    }
}
