//! The keyring: every encryption key the barrier has ever used, by term.
//!
//! Rotation adds a term and makes it active; older terms stay so that values written under them
//! remain readable. The whole keyring is stored as one value encrypted by the root key, so the
//! seal only ever has to protect the root key.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::aead::AesKey;

#[derive(Clone)]
pub struct TermKey {
    pub key: AesKey,
    pub install_time: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Keyring {
    terms: BTreeMap<u32, TermKey>,
    active: u32,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("terms", &self.terms.len())
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredTerm {
    term: u32,
    key: String,
    install_time: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct StoredKeyring {
    active: u32,
    terms: Vec<StoredTerm>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("keyring is corrupt: {0}")]
pub struct KeyringCorrupt(&'static str);

impl Keyring {
    /// A new keyring with one random key at term 1.
    pub fn generate() -> Self {
        let mut terms = BTreeMap::new();
        terms.insert(
            1,
            TermKey {
                key: AesKey::generate(),
                install_time: Utc::now(),
            },
        );
        Self { terms, active: 1 }
    }

    pub fn active_term(&self) -> u32 {
        self.active
    }

    pub fn active(&self) -> &TermKey {
        &self.terms[&self.active]
    }

    pub fn term(&self, term: u32) -> Option<&TermKey> {
        self.terms.get(&term)
    }

    /// A copy of this keyring with a new random key as the active term.
    pub fn rotated(&self) -> Self {
        let mut next = self.clone();
        let term = self.active + 1;
        next.terms.insert(
            term,
            TermKey {
                key: AesKey::generate(),
                install_time: Utc::now(),
            },
        );
        next.active = term;
        next
    }

    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let stored = StoredKeyring {
            active: self.active,
            terms: self
                .terms
                .iter()
                .map(|(term, k)| StoredTerm {
                    term: *term,
                    key: B64.encode(k.key.as_bytes()),
                    install_time: k.install_time,
                })
                .collect(),
        };
        let bytes = Zeroizing::new(serde_json::to_vec(&stored).expect("keyring serializes"));
        for t in stored.terms {
            drop(Zeroizing::new(t.key));
        }
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyringCorrupt> {
        let stored: StoredKeyring =
            serde_json::from_slice(bytes).map_err(|_| KeyringCorrupt("not valid JSON"))?;
        let mut terms = BTreeMap::new();
        for t in stored.terms {
            let key_b64 = Zeroizing::new(t.key);
            let raw = Zeroizing::new(
                B64.decode(key_b64.as_bytes())
                    .map_err(|_| KeyringCorrupt("bad key encoding"))?,
            );
            let key = AesKey::from_slice(&raw).ok_or(KeyringCorrupt("bad key length"))?;
            terms.insert(
                t.term,
                TermKey {
                    key,
                    install_time: t.install_time,
                },
            );
        }
        if !terms.contains_key(&stored.active) {
            return Err(KeyringCorrupt("active term missing"));
        }
        Ok(Self {
            terms,
            active: stored.active,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_adds_a_term_and_keeps_old_ones() {
        let ring = Keyring::generate();
        let next = ring.rotated();
        assert_eq!(next.active_term(), 2);
        assert!(next.term(1).unwrap().key == ring.term(1).unwrap().key);
        assert!(next.active().key != ring.active().key);
    }

    #[test]
    fn keyring_round_trips_through_bytes() {
        let ring = Keyring::generate().rotated().rotated();
        let back = Keyring::from_bytes(&ring.to_bytes()).unwrap();
        assert_eq!(back.active_term(), 3);
        for t in 1..=3 {
            assert!(back.term(t).unwrap().key == ring.term(t).unwrap().key);
        }
    }

    #[test]
    fn corrupt_keyring_bytes_are_refused() {
        assert!(Keyring::from_bytes(b"{").is_err());
        assert!(Keyring::from_bytes(br#"{"active":2,"terms":[]}"#).is_err());
        assert!(Keyring::from_bytes(br#"{"active":1,"terms":[{"term":1,"key":"AAAA","install_time":"2026-01-01T00:00:00Z"}]}"#).is_err());
    }
}
