//! The operator key: split into shares for people, combined back at a threshold.
//!
//! With Shamir it is the key-encryption key of the root key; with an auto seal it is the
//! recovery key, checked against a stored verifier (an AEAD ciphertext of a fixed text under
//! the recovery key) so that a wrong set of shares is detected without decrypting anything.
//! One share is the key itself; several are GF(2^8) shares with x as the last byte.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use zeroize::Zeroizing;

use crate::barrier::aead::{self, AesKey};

use super::SealError;

/// A Shamir share is the key plus its x coordinate.
const SHARE_LEN: usize = 33;
/// What the recovery-key verifier encrypts: fixed, so it reveals nothing.
const VERIFIER_TEXT: &[u8] = b"coffer recovery key verifier v1";

/// Unseal and recovery keys are accepted in hex or base64, as OpenBao does.
pub fn decode_key(key: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let key = key.trim();
    if let Ok(raw) = hex::decode(key) {
        return Ok(Zeroizing::new(raw));
    }
    B64.decode(key)
        .map(Zeroizing::new)
        .map_err(|_| SealError::KeyEncoding)
}

/// Decodes a share of a key split `shares` ways and checks its length.
pub fn decode_share(shares: u8, key: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let share = decode_key(key)?;
    let expected = if shares == 1 { 32 } else { SHARE_LEN };
    if share.len() != expected {
        return Err(SealError::KeyLength);
    }
    Ok(share)
}

/// Splits `key` into `shares` shares, any `threshold` of which recover it.
pub fn split(
    key: &AesKey,
    shares: u8,
    threshold: u8,
) -> Result<Vec<Zeroizing<Vec<u8>>>, SealError> {
    if shares == 1 {
        return Ok(vec![Zeroizing::new(key.as_bytes().to_vec())]);
    }
    Ok(
        coffer_seal::shamir::split(key.as_bytes(), shares as usize, threshold as usize)
            .map_err(|_| SealError::InvalidConfig("cannot split key"))?
            .into_iter()
            .map(|s| s.into_bytes())
            .collect(),
    )
}

/// Combines at least `threshold` decoded shares into the key they were split from. A wrong
/// share yields a wrong key, which the caller detects by unwrapping or verifying with it.
pub fn combine(
    shares: u8,
    threshold: u8,
    parts: &[Zeroizing<Vec<u8>>],
) -> Result<AesKey, SealError> {
    if parts.is_empty() || parts.len() < threshold as usize {
        return Err(SealError::WrongKey);
    }
    let bytes = if shares == 1 {
        parts[0].clone()
    } else {
        let parts: Vec<&[u8]> = parts.iter().map(|s| s.as_slice()).collect();
        coffer_seal::shamir::combine(&parts).map_err(|_| SealError::WrongKey)?
    };
    AesKey::from_slice(&bytes).ok_or(SealError::WrongKey)
}

/// The verifier stored for a recovery key at `path`.
pub fn verifier(recovery_key: &AesKey, path: &str) -> Vec<u8> {
    aead::seal(recovery_key, 0, path.as_bytes(), VERIFIER_TEXT)
}

/// Checks a combined recovery key against its stored verifier.
pub fn verify(recovery_key: &AesKey, path: &str, stored: &[u8]) -> Result<(), SealError> {
    match aead::open(recovery_key, path.as_bytes(), stored) {
        Ok(text) if text == VERIFIER_TEXT => Ok(()),
        _ => Err(SealError::WrongRecoveryKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_threshold_of_shares_combines_to_the_key() {
        let key = AesKey::generate();
        let shares = split(&key, 5, 3).unwrap();
        let some = vec![shares[4].clone(), shares[0].clone(), shares[2].clone()];
        assert_eq!(combine(5, 3, &some).unwrap().as_bytes(), key.as_bytes());
        assert!(matches!(
            combine(5, 3, &some[..2]),
            Err(SealError::WrongKey)
        ));
    }

    #[test]
    fn verifier_accepts_only_its_key_and_path() {
        let key = AesKey::generate();
        let stored = verifier(&key, "s/core/recovery-key-check");
        verify(&key, "s/core/recovery-key-check", &stored).unwrap();
        assert!(verify(&AesKey::generate(), "s/core/recovery-key-check", &stored).is_err());
        assert!(verify(&key, "t/core/recovery-key-check", &stored).is_err());
    }

    #[test]
    fn share_lengths_follow_the_split() {
        let key = AesKey::generate();
        let one = split(&key, 1, 1).unwrap();
        assert_eq!(decode_share(1, &hex::encode(&*one[0])).unwrap().len(), 32);
        assert!(matches!(
            decode_share(3, &hex::encode(&*one[0])),
            Err(SealError::KeyLength)
        ));
        assert!(matches!(
            decode_share(3, "zz!"),
            Err(SealError::KeyEncoding)
        ));
    }
}
