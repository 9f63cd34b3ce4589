//! HMAC of sensitive values, as OpenBao writes them: `hmac-sha256:<hex>`.
//!
//! Each audit device has its own salt (kept behind the barrier in the audit table), so the
//! same secret hashes differently per device, and an operator who knows a value can find it
//! with `sys/audit-hash/<device>` without the log ever holding it.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Clone, zeroize::ZeroizeOnDrop)]
pub struct AuditSalt(Vec<u8>);

impl std::fmt::Debug for AuditSalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSalt(<redacted>)")
    }
}

impl AuditSalt {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn generate() -> Self {
        Self(rand::random::<[u8; 32]>().to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn hash(&self, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(value.as_bytes());
        format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Replaces every string inside `value` by its HMAC; numbers, booleans and nulls stay, as
    /// OpenBao's audit hashing does.
    pub fn hash_strings(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.hash(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.hash_strings(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.hash_strings(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_is_keyed_by_the_salt() {
        let a = AuditSalt::new(b"one".to_vec());
        let b = AuditSalt::new(b"two".to_vec());
        assert!(a.hash("x").starts_with("hmac-sha256:"));
        assert_eq!(a.hash("x").len(), "hmac-sha256:".len() + 64);
        assert_ne!(a.hash("x"), b.hash("x"));
        assert_eq!(a.hash("x"), a.hash("x"));
    }

    #[test]
    fn only_strings_are_hashed_at_any_depth() {
        let salt = AuditSalt::new(b"s".to_vec());
        let mut v = json!({"a": "secret", "n": 3, "b": true, "z": null, "l": ["x", {"k": "y"}]});
        salt.hash_strings(&mut v);
        assert_eq!(v["a"], json!(salt.hash("secret")));
        assert_eq!(v["n"], json!(3));
        assert_eq!(v["b"], json!(true));
        assert_eq!(v["z"], Value::Null);
        assert_eq!(v["l"][0], json!(salt.hash("x")));
        assert_eq!(v["l"][1]["k"], json!(salt.hash("y")));
    }
}
