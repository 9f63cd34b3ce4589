//! The token store: token entries kept only under salted hashes.
//!
//! A token's storage key is `sys/token/id/<HMAC-SHA256(salt, token)>`, so the plaintext token
//! exists only with the client; the salt is a per-store random value behind the barrier. An
//! accessor is a separate random id whose entry points at the hash, never at the token.
//! Looking up a token costs one storage round trip (the salt is immutable and cached).

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::barrier::{Barrier, BarrierError, PlainOp};
use crate::storage::Condition;

pub const SALT_PATH: &str = "core/token-salt";
const ID_PREFIX: &str = "sys/token/id/";
const ACCESSOR_PREFIX: &str = "sys/token/accessor/";

/// 34 alphanumeric characters: log2(62) * 34 = 202 bits of randomness.
const TOKEN_CHARS: usize = 34;

/// The salt that keys token hashes. Immutable after init; never printed.
#[derive(Clone, zeroize::ZeroizeOnDrop)]
pub struct TokenSalt(Vec<u8>);

impl std::fmt::Debug for TokenSalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSalt(<redacted>)")
    }
}

impl TokenSalt {
    pub fn hash(&self, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A stored token. The token string itself is not part of it.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenEntry {
    pub accessor: String,
    pub policies: Vec<String>,
    pub path: String,
    pub display_name: String,
    pub meta: Option<serde_json::Map<String, Value>>,
    pub num_uses: u64,
    pub creation_time: DateTime<Utc>,
    pub ttl_seconds: u64,
    pub explicit_max_ttl_seconds: u64,
    pub orphan: bool,
    pub parent_hash: Option<String>,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("policies", &self.policies)
            .field("path", &self.path)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct AccessorEntry {
    token_hash: String,
}

impl TokenEntry {
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    /// `data` of `auth/token/lookup*`, in OpenBao's shape. `id` is the token as presented.
    pub fn lookup_data(&self, id: &str) -> Value {
        let expire_time = if self.ttl_seconds == 0 {
            Value::Null
        } else {
            let t = self.creation_time + chrono::Duration::seconds(self.ttl_seconds as i64);
            json!(t.to_rfc3339_opts(SecondsFormat::Nanos, true))
        };
        let ttl = if self.ttl_seconds == 0 {
            0
        } else {
            let left =
                self.creation_time.timestamp() + self.ttl_seconds as i64 - Utc::now().timestamp();
            left.max(0)
        };
        json!({
            "accessor": self.accessor,
            "creation_time": self.creation_time.timestamp(),
            "creation_ttl": self.ttl_seconds,
            "display_name": self.display_name,
            "entity_id": "",
            "expire_time": expire_time,
            "explicit_max_ttl": self.explicit_max_ttl_seconds,
            "id": id,
            "issue_time": self.creation_time.to_rfc3339_opts(SecondsFormat::Nanos, true),
            "meta": self.meta,
            "num_uses": self.num_uses,
            "orphan": self.orphan,
            "path": self.path,
            "policies": self.policies,
            "renewable": false,
            "ttl": ttl,
            "type": "service",
        })
    }
}

pub fn generate_token() -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(TOKEN_CHARS)
        .map(char::from)
        .collect();
    format!("s.{body}")
}

fn generate_accessor() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Creates the per-store salt (at init).
pub fn new_salt_op() -> PlainOp {
    let mut salt = [0u8; 32];
    rand::thread_rng().fill(&mut salt);
    PlainOp::Put {
        path: SALT_PATH.into(),
        value: salt.to_vec(),
        condition: Some(Condition::Absent),
    }
}

pub async fn load_salt(barrier: &Barrier) -> Result<TokenSalt, BarrierError> {
    let plain = barrier
        .get(SALT_PATH)
        .await?
        .ok_or(BarrierError::NotInitialized)?;
    Ok(TokenSalt(plain.value))
}

pub fn id_path(hash: &str) -> String {
    format!("{ID_PREFIX}{hash}")
}

/// The storage writes that create a root token (at init or in dev mode), and the token.
/// `id` lets `-dev-root-token-id` choose the token.
pub fn root_token_ops(salt: &TokenSalt, id: Option<&str>) -> (String, Vec<PlainOp>) {
    let token = id.map_or_else(generate_token, str::to_string);
    let hash = salt.hash(&token);
    let entry = TokenEntry {
        accessor: generate_accessor(),
        policies: vec!["root".into()],
        path: "auth/token/root".into(),
        display_name: "root".into(),
        meta: None,
        num_uses: 0,
        creation_time: Utc::now(),
        ttl_seconds: 0,
        explicit_max_ttl_seconds: 0,
        orphan: true,
        parent_hash: None,
    };
    let accessor = AccessorEntry {
        token_hash: hash.clone(),
    };
    let ops = vec![
        PlainOp::put(
            format!("{ACCESSOR_PREFIX}{}", entry.accessor),
            serde_json::to_vec(&accessor).expect("serializes"),
        ),
        PlainOp::put(
            id_path(&hash),
            serde_json::to_vec(&entry).expect("serializes"),
        ),
    ];
    (token, ops)
}

/// Looks a token up: one round trip. `None` for unknown or malformed entries.
pub async fn lookup(
    barrier: &Barrier,
    salt: &TokenSalt,
    token: &str,
) -> Result<Option<TokenEntry>, BarrierError> {
    if token.is_empty() || token.len() > 512 {
        return Ok(None);
    }
    let Some(plain) = barrier.get(&id_path(&salt.hash(token))).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice(&plain.value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::aead::AesKey;
    use crate::storage::{MemoryStorage, Storage};
    use std::sync::Arc;

    #[test]
    fn tokens_are_prefixed_and_long() {
        let t = generate_token();
        assert!(t.starts_with("s."));
        assert_eq!(t.len(), 2 + TOKEN_CHARS);
        assert_ne!(t, generate_token());
    }

    #[tokio::test]
    async fn token_is_stored_only_as_salted_hash() {
        let storage = Arc::new(MemoryStorage::new());
        let barrier = Barrier::new(storage.clone(), "s");
        barrier
            .initialize(&AesKey::generate(), vec![])
            .await
            .unwrap();
        barrier.write(vec![new_salt_op()]).await.unwrap();
        let salt = load_salt(&barrier).await.unwrap();
        let (token, ops) = root_token_ops(&salt, None);
        barrier.write(ops).await.unwrap();
        let entry = lookup(&barrier, &salt, &token).await.unwrap().unwrap();
        assert!(entry.is_root());
        assert!(lookup(&barrier, &salt, "s.wrong").await.unwrap().is_none());
        let keys = storage.list("s/sys/token/id/").await.unwrap();
        assert_eq!(keys, vec![salt.hash(&token)]);
        assert!(!keys[0].contains(&token[2..]));
    }
}
