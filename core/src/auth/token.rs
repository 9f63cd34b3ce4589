//! The token store's data: token entries kept only under salted hashes, accessors, and the
//! parent → children index.
//!
//! A token's storage key is `sys/token/id/<HMAC-SHA256(salt, token)>`, so the plaintext token
//! exists only with the client; the salt is a per-store random value behind the barrier. An
//! accessor is a separate random id whose entry points at the hash, never at the token. A child
//! is indexed under `sys/token/parent/<parent hash>/<child hash>`, so revoking a tree lists
//! children instead of scanning every token.
//!
//! Looking a token up costs one storage round trip (the salt is immutable and cached), and the
//! checks that make an entry usable ([`validate`]) are a pure function of the entry already
//! read, so a caller may fetch the entry together with other keys in one `get_many`.

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::barrier::{Barrier, BarrierError, Plain, PlainOp};
use crate::storage::Condition;

pub const SALT_PATH: &str = "core/token-salt";
pub const ID_PREFIX: &str = "sys/token/id/";
pub const ACCESSOR_PREFIX: &str = "sys/token/accessor/";
pub const PARENT_PREFIX: &str = "sys/token/parent/";

/// 34 alphanumeric characters: log2(62) * 34 = 202 bits of randomness.
const TOKEN_CHARS: usize = 34;
/// The length of every generated token, `s.` included (an OTP must match it).
pub const TOKEN_LEN: usize = 2 + TOKEN_CHARS;
/// Longest token string accepted for hashing; anything longer is simply unknown.
const MAX_TOKEN_LEN: usize = 512;

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
    pub meta: Option<Map<String, Value>>,
    /// Uses left; 0 means unlimited.
    pub num_uses: u64,
    pub creation_time: DateTime<Utc>,
    /// The TTL given at creation (`creation_ttl`); 0 for a token that never expires.
    pub ttl_seconds: u64,
    pub explicit_max_ttl_seconds: u64,
    pub orphan: bool,
    pub parent_hash: Option<String>,
    /// When the token stops working; `None`: never. Moves on renewal.
    #[serde(default)]
    pub expire_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub period_seconds: u64,
    #[serde(default)]
    pub renewable: bool,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub last_renewal: Option<DateTime<Utc>>,
    /// Set while the tree under this token is being revoked: the token is already refused.
    #[serde(default)]
    pub revoking: bool,
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
pub struct AccessorEntry {
    pub token_hash: String,
}

/// A token entry that passed [`validate`], with what a conditional write of it needs.
#[derive(Debug, Clone)]
pub struct ValidToken {
    pub entry: TokenEntry,
    pub hash: String,
    /// The storage version the entry was read at.
    pub version: u64,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

impl TokenEntry {
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expire_time.is_some_and(|t| t <= now)
    }

    /// Seconds left before expiry; 0 for a token that never expires.
    pub fn ttl_left(&self, now: DateTime<Utc>) -> i64 {
        self.expire_time
            .map_or(0, |t| (t - now).num_seconds().max(0))
    }

    /// `data` of `auth/token/lookup*`, in OpenBao's shape. `id` is the token as presented.
    pub fn lookup_data(&self, id: &str) -> Value {
        let now = Utc::now();
        let mut data = json!({
            "accessor": self.accessor,
            "creation_time": self.creation_time.timestamp(),
            "creation_ttl": self.ttl_seconds,
            "display_name": self.display_name,
            "entity_id": "",
            "expire_time": self.expire_time.map(rfc3339),
            "explicit_max_ttl": self.explicit_max_ttl_seconds,
            "id": id,
            "issue_time": rfc3339(self.creation_time),
            "meta": self.meta,
            "num_uses": self.num_uses,
            "orphan": self.orphan,
            "path": self.path,
            "policies": self.policies,
            "renewable": self.renewable,
            "ttl": self.ttl_left(now),
            "type": "service",
        });
        if self.period_seconds > 0 {
            data["period"] = json!(self.period_seconds);
        }
        if let Some(role) = &self.role {
            data["role"] = json!(role);
        }
        if let Some(t) = self.last_renewal {
            data["last_renewal"] = json!(rfc3339(t));
            data["last_renewal_time"] = json!(t.timestamp());
        }
        data
    }
}

/// Why a presented token is not usable. Callers answer all of them with 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Unknown,
    Expired,
    Revoked,
}

/// Whether an already-fetched token entry may serve a request at `now`. Pure: no storage.
pub fn validate(
    plain: Option<Plain>,
    hash: String,
    now: DateTime<Utc>,
) -> Result<ValidToken, Invalid> {
    let plain = plain.ok_or(Invalid::Unknown)?;
    let entry: TokenEntry = serde_json::from_slice(&plain.value).map_err(|_| Invalid::Unknown)?;
    if entry.revoking {
        return Err(Invalid::Revoked);
    }
    if entry.is_expired(now) {
        return Err(Invalid::Expired);
    }
    Ok(ValidToken {
        entry,
        hash,
        version: plain.version,
    })
}

pub fn generate_token() -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(TOKEN_CHARS)
        .map(char::from)
        .collect();
    format!("s.{body}")
}

pub fn generate_accessor() -> String {
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

pub fn accessor_path(accessor: &str) -> String {
    format!("{ACCESSOR_PREFIX}{accessor}")
}

pub fn child_index_path(parent_hash: &str, child_hash: &str) -> String {
    format!("{PARENT_PREFIX}{parent_hash}/{child_hash}")
}

/// The storage key of a presented token, or `None` for a string that cannot be a token.
pub fn storage_key(salt: &TokenSalt, token: &str) -> Option<(String, String)> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let hash = salt.hash(token);
    Some((id_path(&hash), hash))
}

/// The writes that store a new token: its entry (which must not exist yet), its accessor and,
/// for a child, its place in the parent's index.
pub fn create_ops(hash: &str, entry: &TokenEntry) -> Vec<PlainOp> {
    let accessor = AccessorEntry {
        token_hash: hash.to_string(),
    };
    let mut ops = vec![
        PlainOp::Put {
            path: accessor_path(&entry.accessor),
            value: serde_json::to_vec(&accessor).expect("serializes"),
            condition: Some(Condition::Absent),
        },
        PlainOp::Put {
            path: id_path(hash),
            value: serde_json::to_vec(entry).expect("serializes"),
            condition: Some(Condition::Absent),
        },
    ];
    if let Some(parent) = &entry.parent_hash {
        ops.push(PlainOp::put(child_index_path(parent, hash), Vec::new()));
    }
    ops
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
        expire_time: None,
        period_seconds: 0,
        renewable: false,
        role: None,
        last_renewal: None,
        revoking: false,
    };
    (token.clone(), create_ops(&hash, &entry))
}

/// Looks a token up and validates it: one round trip. `None` for unknown, malformed, expired
/// or revoked tokens.
pub async fn lookup(
    barrier: &Barrier,
    salt: &TokenSalt,
    token: &str,
) -> Result<Option<ValidToken>, BarrierError> {
    let Some((path, hash)) = storage_key(salt, token) else {
        return Ok(None);
    };
    let plain = barrier.get(&path).await?;
    Ok(validate(plain, hash, Utc::now()).ok())
}

/// Looks a token up by its hash (as the accessor and child indexes name it), unvalidated.
pub async fn by_hash(
    barrier: &Barrier,
    hash: &str,
) -> Result<Option<(TokenEntry, u64)>, BarrierError> {
    let Some(plain) = barrier.get(&id_path(hash)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice(&plain.value)
        .ok()
        .map(|e| (e, plain.version)))
}

/// The token hash an accessor points at.
pub async fn hash_of_accessor(
    barrier: &Barrier,
    accessor: &str,
) -> Result<Option<String>, BarrierError> {
    if accessor.is_empty() || accessor.contains('/') {
        return Ok(None);
    }
    let Some(plain) = barrier.get(&accessor_path(accessor)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<AccessorEntry>(&plain.value)
        .ok()
        .map(|a| a.token_hash))
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
        let found = lookup(&barrier, &salt, &token).await.unwrap().unwrap();
        assert!(found.entry.is_root());
        assert!(lookup(&barrier, &salt, "s.wrong").await.unwrap().is_none());
        let keys = storage.list("s/sys/token/id/").await.unwrap();
        assert_eq!(keys, vec![salt.hash(&token)]);
        assert!(!keys[0].contains(&token[2..]));
    }

    fn entry_expiring(at: Option<DateTime<Utc>>) -> Plain {
        let (_, ops) = root_token_ops(&TokenSalt(vec![1; 32]), Some("x"));
        let PlainOp::Put { value, .. } = &ops[1] else {
            unreachable!()
        };
        let mut entry: TokenEntry = serde_json::from_slice(value).unwrap();
        entry.expire_time = at;
        Plain {
            value: serde_json::to_vec(&entry).unwrap(),
            version: 3,
        }
    }

    #[test]
    fn an_expired_entry_is_refused_without_any_background_task() {
        let now = Utc::now();
        let past = Some(now - chrono::Duration::seconds(1));
        let future = Some(now + chrono::Duration::seconds(60));
        assert_eq!(
            validate(Some(entry_expiring(past)), "h".into(), now).unwrap_err(),
            Invalid::Expired
        );
        let ok = validate(Some(entry_expiring(future)), "h".into(), now).unwrap();
        assert_eq!(ok.version, 3);
        assert!(validate(Some(entry_expiring(None)), "h".into(), now).is_ok());
        assert_eq!(
            validate(None, "h".into(), now).unwrap_err(),
            Invalid::Unknown
        );
    }
}
