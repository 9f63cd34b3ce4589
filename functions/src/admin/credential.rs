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
}
