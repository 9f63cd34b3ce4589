//! The `seal "pkcs11"` auto seal: the root key is encrypted by a key (AES, or an RSA pair) that
//! lives in an HSM and never leaves it, reached through a PKCS#11 library (SoftHSM2 in tests).
//!
//! Settings are OpenBao's: `lib`, `slot` or `token_label`, `pin`, `key_label` and/or `key_id`
//! (hex), `mechanism`, `generate_key`. Each falls back to `COFFER_HSM_<NAME>`, then
//! `BAO_HSM_<NAME>`, then `VAULT_HSM_<NAME>` when absent from the block. The token is found by
//! its label when one is given, because slot ids change when a token is (re)initialised.
//!
//! Mechanisms:
//! - `CKM_AES_GCM` (0x1087, the default): an AES-256 secret key; the HSM encrypts the value
//!   with a 12-byte IV from `C_GenerateRandom`, a 128-bit tag and the caller's context as AAD.
//! - `CKM_RSA_PKCS_OAEP` (0x0009): an RSA key pair (found by the same label/id; generated as
//!   RSA-2048). Envelope encryption, as OpenBao does for RSA: a fresh AES-256 data key
//!   encrypts the value locally (AES-GCM, the header and context as AAD) and the HSM wraps
//!   the data key with RSA-OAEP. OAEP uses SHA-1 with MGF1-SHA1 and no label, because that is
//!   the only OAEP SoftHSM2 implements (SHA-256 gives CKR_ARGUMENTS_BAD); OAEP-SHA1 is still
//!   sound for encryption, and the context is bound by the GCM AAD instead of an OAEP label.
//!
//! The blob (see `Blob`) is versioned and self-describing, so a later mechanism can be added
//! without breaking stored root keys. An HSM that writes its own IV into the parameter buffer
//! is tolerated: the IV stored is the one the buffer holds after `C_Encrypt`.
//!
//! Process-wide state: `C_Initialize` may run only once per library per process, so contexts
//! live in one map keyed by library path (`context_for`). Logged-in sessions are pooled per
//! seal (`Session` is `Send` but not `Sync`, so each is used by one task at a time); a session
//! the HSM closed or logged out is dropped and replaced once per call. PKCS#11 login state is
//! per process and token, not per session: once any session of the process is logged in to a
//! token, a login with any PIN answers CKR_USER_ALREADY_LOGGED_IN. So the PIN of each
//! successful login is remembered per library and slot (`LOGINS`), and a seal whose PIN differs
//! from it is refused as a wrong PIN instead of riding on the other seal's login.
//!
//! Never: log, format or return the PIN or any plaintext; keep a session that failed in an
//! unknown way (it is dropped and a fresh one opened next time).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::settings::{process_env, EnvLookup, Resolver};
use crate::{AutoSeal, SealProviderError, SealSettings};

const KIND: &str = "pkcs11";

/// Every setting a `seal "pkcs11"` block may hold.
const SETTINGS: &[&str] = &[
    "lib",
    "slot",
    "token_label",
    "pin",
    "key_label",
    "key_id",
    "mechanism",
    "generate_key",
];

/// CKM_AES_GCM's value, as OpenBao also accepts it in `mechanism`.
const CKM_AES_GCM: u64 = 0x1087;
/// CKM_RSA_PKCS_OAEP's value.
const CKM_RSA_PKCS_OAEP: u64 = 0x0009;

/// GCM IV length: 96 bits, the length GCM is defined for without extra hashing.
const GCM_IV_LEN: usize = 12;
/// GCM tag length in bytes (128 bits), appended to the ciphertext by the HSM.
const GCM_TAG_LEN: usize = 16;

/// RSA-OAEP envelope: the data key's length, and the modulus of a generated pair.
const DATA_KEY_LEN: usize = 32;
const RSA_MODULUS_BITS: u64 = 2048;

/// RSA-OAEP with SHA-1 and MGF1-SHA1 and no label: the one variant SoftHSM2 implements.
fn rsa_oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

/// Sessions kept open per seal; more concurrent calls open extra sessions that are closed
/// after use rather than pooled.
const MAX_POOLED_SESSIONS: usize = 8;

/// The environment variables for setting `name`, in precedence order.
fn env_names(name: &str) -> [String; 3] {
    let upper = name.to_ascii_uppercase();
    [
        format!("COFFER_HSM_{upper}"),
        format!("BAO_HSM_{upper}"),
        format!("VAULT_HSM_{upper}"),
    ]
}

/// Which token the seal uses.
#[derive(Debug, Clone)]
enum TokenSelector {
    /// Found by label on every new session (slot ids move when tokens are initialised); a
    /// `slot`, when also given, must be the slot that holds it.
    Label { label: String, slot: Option<u64> },
    /// Only a slot id was configured.
    Slot(u64),
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSelector::Label { label, .. } => write!(f, "token {label:?}"),
            TokenSelector::Slot(id) => write!(f, "the token in slot {id}"),
        }
    }
}

/// Which key on the token: by label, by id, or both (both must match).
#[derive(Debug, Clone)]
struct KeySelector {
    label: Option<String>,
    id: Option<Vec<u8>>,
}

impl fmt::Display for KeySelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.label, &self.id) {
            (Some(label), Some(id)) => write!(f, "key {label:?} (id {})", hex::encode(id)),
            (Some(label), None) => write!(f, "key {label:?}"),
            (None, Some(id)) => write!(f, "key with id {}", hex::encode(id)),
            (None, None) => f.write_str("key"),
        }
    }
}

/// The mechanism a seal is configured with, which is also the blob's mechanism byte.
/// Byte values are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum SealMechanism {
    AesGcm = 1,
    RsaOaep = 2,
}

impl fmt::Display for SealMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SealMechanism::AesGcm => "CKM_AES_GCM",
            SealMechanism::RsaOaep => "CKM_RSA_PKCS_OAEP",
        })
    }
}

/// The stored form of one encrypted value, after a common prefix
/// `"CP" | version = 1 | mechanism`:
///
/// ```text
/// AES-GCM (1):   iv_len | iv | ciphertext || tag
/// RSA-OAEP (2):  wrapped_len (u16 BE) | RSA-OAEP-wrapped data key | nonce (12)
///                | ciphertext || tag      (AAD: every byte before the ciphertext, then context)
/// ```
///
/// Parsing never panics: any length or byte that does not fit is a [`SealProviderError::Decrypt`].
enum Blob<'a> {
    AesGcm {
        iv: &'a [u8],
        ciphertext: &'a [u8],
    },
    RsaOaep {
        header: &'a [u8],
        wrapped_key: &'a [u8],
        nonce: &'a [u8],
        ciphertext: &'a [u8],
    },
}

const BLOB_MAGIC: &[u8; 2] = b"CP";
const BLOB_VERSION: u8 = 1;

fn blob_prefix(mechanism: SealMechanism) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(BLOB_MAGIC);
    out.push(BLOB_VERSION);
    out.push(mechanism as u8);
    out
}

impl<'a> Blob<'a> {
    fn encode_aes_gcm(iv: &[u8; GCM_IV_LEN], ciphertext: &[u8]) -> Vec<u8> {
        let mut out = blob_prefix(SealMechanism::AesGcm);
        out.push(GCM_IV_LEN as u8);
        out.extend_from_slice(iv);
        out.extend_from_slice(ciphertext);
        out
    }

    /// The RSA-OAEP header (everything before the ciphertext), which is also the AAD prefix.
    fn rsa_oaep_header(
        wrapped_key: &[u8],
        nonce: &[u8; GCM_IV_LEN],
    ) -> Result<Vec<u8>, SealProviderError> {
        let len = u16::try_from(wrapped_key.len()).map_err(|_| {
            unavailable(format!(
                "the HSM returned a {}-byte wrapped key",
                wrapped_key.len()
            ))
        })?;
        let mut out = blob_prefix(SealMechanism::RsaOaep);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(wrapped_key);
        out.extend_from_slice(nonce);
        Ok(out)
    }

    fn mechanism(&self) -> SealMechanism {
        match self {
            Blob::AesGcm { .. } => SealMechanism::AesGcm,
            Blob::RsaOaep { .. } => SealMechanism::RsaOaep,
        }
    }

    fn parse(blob: &'a [u8]) -> Result<Self, SealProviderError> {
        let bad = |message: &str| decrypt_error(message.to_string());
        let rest = blob
            .strip_prefix(BLOB_MAGIC)
            .ok_or_else(|| bad("not a pkcs11 seal blob (bad magic)"))?;
        let (&version, rest) = rest.split_first().ok_or_else(|| bad("blob is truncated"))?;
        if version != BLOB_VERSION {
            return Err(decrypt_error(format!("unsupported blob version {version}")));
        }
        let (&mechanism, rest) = rest.split_first().ok_or_else(|| bad("blob is truncated"))?;
        match mechanism {
            1 => {
                let (&iv_len, rest) = rest.split_first().ok_or_else(|| bad("blob is truncated"))?;
                let iv_len = usize::from(iv_len);
                if iv_len == 0 || rest.len() < iv_len + GCM_TAG_LEN {
                    return Err(bad("blob is truncated"));
                }
                let (iv, ciphertext) = rest.split_at(iv_len);
                Ok(Blob::AesGcm { iv, ciphertext })
            }
            2 => {
                let (len, rest) = rest
                    .split_first_chunk::<2>()
                    .ok_or_else(|| bad("blob is truncated"))?;
                let len = usize::from(u16::from_be_bytes(*len));
                if len == 0 || rest.len() < len + GCM_IV_LEN + GCM_TAG_LEN {
                    return Err(bad("blob is truncated"));
                }
                let (wrapped_key, rest) = rest.split_at(len);
                let (nonce, ciphertext) = rest.split_at(GCM_IV_LEN);
                Ok(Blob::RsaOaep {
                    header: &blob[..blob.len() - ciphertext.len()],
                    wrapped_key,
                    nonce,
                    ciphertext,
                })
            }
            other => Err(decrypt_error(format!("unknown blob mechanism {other}"))),
        }
    }
}

fn decrypt_error(message: String) -> SealProviderError {
    SealProviderError::Decrypt {
        kind: KIND,
        message,
    }
}

fn config_error(message: String) -> SealProviderError {
    SealProviderError::Config {
        kind: KIND,
        message,
    }
}

fn unavailable(message: String) -> SealProviderError {
    SealProviderError::Unavailable {
        kind: KIND,
        message,
    }
}

fn key_error(message: String) -> SealProviderError {
    SealProviderError::Key {
        kind: KIND,
        message,
    }
}

/// The resolved settings of one seal block.
struct Config {
    lib: String,
    token: TokenSelector,
    pin: AuthPin,
    key: KeySelector,
    mechanism: SealMechanism,
    generate_key: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("lib", &self.lib)
            .field("token", &self.token)
            .field("pin", &"<redacted>")
            .field("key", &self.key)
            .field("mechanism", &self.mechanism)
            .field("generate_key", &self.generate_key)
            .finish()
    }
}

fn parse_number(name: &str, value: &str) -> Result<u64, SealProviderError> {
    let parsed = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    parsed.map_err(|_| config_error(format!("{name} must be a number, got {value:?}")))
}

impl Config {
    fn resolve(settings: &SealSettings, env: EnvLookup<'_>) -> Result<Config, SealProviderError> {
        let r = Resolver::new(KIND, settings, env, SETTINGS)?;
        let get = |name: &str| {
            let names = env_names(name);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            r.get(name, &names)
        };

        let lib = get("lib").ok_or_else(|| {
            config_error("lib is required (the path of the PKCS#11 library)".into())
        })?;
        let slot = get("slot").map(|s| parse_number("slot", &s)).transpose()?;
        let token = match (get("token_label"), slot) {
            (Some(label), slot) => TokenSelector::Label { label, slot },
            (None, Some(slot)) => TokenSelector::Slot(slot),
            (None, None) => {
                return Err(config_error(
                    "token_label or slot is required (token_label is preferred: slot ids \
                     change when tokens are initialised)"
                        .into(),
                ))
            }
        };
        let pin = get("pin").ok_or_else(|| config_error("pin is required".into()))?;
        let key_id = get("key_id")
            .map(|id| {
                let trimmed = id.strip_prefix("0x").unwrap_or(&id);
                hex::decode(trimmed)
                    .ok()
                    .filter(|bytes| !bytes.is_empty())
                    .ok_or_else(|| config_error(format!("key_id must be hex, got {id:?}")))
            })
            .transpose()?;
        let key = KeySelector {
            label: get("key_label"),
            id: key_id,
        };
        if key.label.is_none() && key.id.is_none() {
            return Err(config_error("key_label or key_id is required".into()));
        }
        let mechanism = match get("mechanism") {
            None => SealMechanism::AesGcm,
            Some(name) => {
                let value = match name.to_ascii_uppercase().as_str() {
                    "CKM_AES_GCM" => CKM_AES_GCM,
                    "CKM_RSA_PKCS_OAEP" => CKM_RSA_PKCS_OAEP,
                    _ => parse_number("mechanism", &name)?,
                };
                match value {
                    CKM_AES_GCM => SealMechanism::AesGcm,
                    CKM_RSA_PKCS_OAEP => SealMechanism::RsaOaep,
                    _ => {
                        return Err(config_error(format!(
                            "mechanism {name:?} is not supported; use CKM_AES_GCM or \
                             CKM_RSA_PKCS_OAEP"
                        )))
                    }
                }
            }
        };
        let generate_key = match get("generate_key") {
            None => false,
            // "true"/"false", and the other spellings Go's strconv.ParseBool takes.
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "t" => true,
                "false" | "0" | "f" => false,
                _ => {
                    return Err(config_error(format!(
                        "generate_key must be \"true\" or \"false\", got {v:?}"
                    )))
                }
            },
        };
        Ok(Config {
            lib,
            token,
            pin: AuthPin::from(pin),
            key,
            mechanism,
            generate_key,
        })
    }
}

/// Initialised PKCS#11 contexts by library path. `C_Initialize` may run once per process and
/// library; every seal on the same library shares its context (and so its login state).
static CONTEXTS: LazyLock<Mutex<HashMap<String, Pkcs11>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The PIN that last logged in successfully, per (library, slot id): what a later login that
/// answers CKR_USER_ALREADY_LOGGED_IN is compared with.
static LOGINS: LazyLock<Mutex<HashMap<(String, u64), AuthPin>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Held while any seal of the process looks a key up and maybe generates it: two sessions
/// opened at once must not both find nothing and create two keys with one label, and SoftHSM2's
/// file store fails key generation (CKR_TEMPLATE_INCONSISTENT, CKR_GENERAL_ERROR) when another
/// thread creates or searches objects at the same moment. Lookups happen once per new session,
/// so serialising them costs nothing measurable.
static KEY_LOOKUP: Mutex<()> = Mutex::new(());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves the data consistent (a map or a pool).
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's context for `lib`, loading and initialising the library on first use. A
/// library some other code of this process already initialised is accepted as it is.
fn context_for(lib: &str) -> Result<Pkcs11, SealProviderError> {
    let mut contexts = lock(&CONTEXTS);
    if let Some(ctx) = contexts.get(lib) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(lib)
        .map_err(|e| config_error(format!("cannot load the PKCS#11 library {lib:?}: {e}")))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(unavailable(format!("C_Initialize of {lib:?} failed: {e}"))),
    }
    contexts.insert(lib.to_string(), ctx.clone());
    Ok(ctx)
}

/// A logged-in session and the key's handle in it.
struct Pooled {
    session: Session,
    keys: KeyHandles,
}

/// The objects that encrypt and decrypt: the same AES key twice, or an RSA pair's public and
/// private halves.
#[derive(Debug, Clone, Copy)]
struct KeyHandles {
    encrypt: ObjectHandle,
    decrypt: ObjectHandle,
}

/// Errors after which the session (or the key handle found in it) is no longer usable but a
/// new session may well work: the HSM closed the session, logged it out, or forgot handles.
fn is_session_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid,
            _
        )
    )
}

struct Inner {
    ctx: Pkcs11,
    config: Config,
    pool: Mutex<Vec<Pooled>>,
    /// Sessions opened so far; see [`Pkcs11Seal::sessions_opened`].
    sessions_opened: AtomicU64,
}

/// The PKCS#11 auto seal. Cheap to share: all state sits behind an `Arc`.
pub struct Pkcs11Seal {
    inner: Arc<Inner>,
}

impl fmt::Debug for Pkcs11Seal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Seal")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Seal {
    /// Resolves `settings` against the process environment and loads the library. Does not
    /// log in: [`AutoSeal::check`] does, so start-up can report a bad PIN or missing key.
    pub async fn open(settings: &SealSettings) -> Result<Pkcs11Seal, SealProviderError> {
        Self::open_with_env(settings, &process_env).await
    }

    /// As [`Pkcs11Seal::open`], with environment variables read through `env`.
    pub async fn open_with_env(
        settings: &SealSettings,
        env: EnvLookup<'_>,
    ) -> Result<Pkcs11Seal, SealProviderError> {
        let config = Config::resolve(settings, env)?;
        let lib = config.lib.clone();
        let ctx = blocking(move || context_for(&lib)).await?;
        Ok(Pkcs11Seal {
            inner: Arc::new(Inner {
                ctx,
                config,
                pool: Mutex::new(Vec::new()),
                sessions_opened: AtomicU64::new(0),
            }),
        })
    }

    /// How many sessions this seal has opened (and logged in). Sessions are pooled, so this
    /// stays small; a count that keeps rising means the HSM keeps closing or logging out
    /// sessions and every call pays for a new login.
    pub fn sessions_opened(&self) -> u64 {
        self.inner.sessions_opened.load(Ordering::Relaxed)
    }
}

/// Runs blocking PKCS#11 work off the async executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SealProviderError> + Send + 'static,
) -> Result<T, SealProviderError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| unavailable(format!("PKCS#11 worker failed: {e}")))?
}

impl Inner {
    /// The slot holding the configured token, looked up now (not cached: ids can change).
    fn find_slot(&self) -> Result<Slot, SealProviderError> {
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(|e| unavailable(format!("C_GetSlotList failed: {e}")))?;
        match &self.config.token {
            TokenSelector::Slot(id) => slots
                .into_iter()
                .find(|s| s.id() == *id)
                .ok_or_else(|| unavailable(format!("no token present in slot {id}"))),
            TokenSelector::Label { label, slot } => {
                let mut labels = Vec::new();
                for candidate in slots {
                    let info = self.ctx.get_token_info(candidate).map_err(|e| {
                        unavailable(format!("C_GetTokenInfo on slot {}: {e}", candidate.id()))
                    })?;
                    if info.label() == label {
                        if let Some(want) = slot.filter(|want| *want != candidate.id()) {
                            return Err(config_error(format!(
                                "token {label:?} is in slot {}, not in the configured slot \
                                 {want}",
                                candidate.id()
                            )));
                        }
                        return Ok(candidate);
                    }
                    labels.push(format!("{:?}", info.label()));
                }
                Err(unavailable(format!(
                    "no token labelled {label:?} (tokens present: {})",
                    if labels.is_empty() {
                        "none".to_string()
                    } else {
                        labels.join(", ")
                    }
                )))
            }
        }
    }

    /// Opens a session, logs in and finds (or generates) the key.
    fn open_session(&self) -> Result<Pooled, SealProviderError> {
        let token = &self.config.token;
        let slot = self.find_slot()?;
        let session = self
            .ctx
            .open_rw_session(slot)
            .map_err(|e| unavailable(format!("cannot open a session on {token}: {e}")))?;
        self.sessions_opened.fetch_add(1, Ordering::Relaxed);
        let login_key = (self.config.lib.clone(), slot.id());
        match session.login(UserType::User, Some(&self.config.pin)) {
            Ok(()) => {
                lock(&LOGINS).insert(login_key, self.config.pin.clone());
            }
            // Login state is per process and token: another session is already logged in, and
            // the HSM did not look at this PIN.
            Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                let same = lock(&LOGINS).get(&login_key).is_none_or(|pin| {
                    pin.expose_secret().as_bytes() == self.config.pin.expose_secret().as_bytes()
                });
                if !same {
                    return Err(unavailable(format!(
                        "login to {token} refused: the PIN is wrong (this process is logged in \
                         to the token with another PIN)"
                    )));
                }
            }
            Err(CkError::Pkcs11(
                rv @ (RvError::PinIncorrect
                | RvError::PinInvalid
                | RvError::PinLenRange
                | RvError::PinExpired
                | RvError::PinLocked),
                _,
            )) => {
                return Err(unavailable(format!(
                    "login to {token} refused: the PIN is wrong or locked ({rv})"
                )))
            }
            Err(e) => return Err(unavailable(format!("login to {token} failed: {e}"))),
        }
        let keys = self.find_or_generate_key(&session)?;
        Ok(Pooled { session, keys })
    }

    /// The search template for the configured key's objects of `class` and `key_type`.
    fn template(&self, class: ObjectClass, key_type: KeyType) -> Vec<Attribute> {
        let mut template = vec![Attribute::Class(class), Attribute::KeyType(key_type)];
        if let Some(label) = &self.config.key.label {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.config.key.id {
            template.push(Attribute::Id(id.clone()));
        }
        template
    }

    /// The one object matching `template`, or None; several are an error (which would we use?).
    fn find_unique(
        &self,
        session: &Session,
        template: &[Attribute],
        what: &str,
    ) -> Result<Option<ObjectHandle>, SealProviderError> {
        let (key, token) = (&self.config.key, &self.config.token);
        let found = session
            .find_objects(template)
            .map_err(|e| unavailable(format!("cannot search {token} for the {key}: {e}")))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(key_error(format!(
                "{} {what} objects on {token} match the {key}; it must be unique",
                many.len()
            ))),
        }
    }

    fn find_or_generate_key(&self, session: &Session) -> Result<KeyHandles, SealProviderError> {
        let _guard = lock(&KEY_LOOKUP);
        let (key, token) = (&self.config.key, &self.config.token);
        let missing = |what: &str| {
            key_error(format!(
                "{what} {key} not found on {token}; set generate_key = \"true\" to create it"
            ))
        };
        match self.config.mechanism {
            SealMechanism::AesGcm => {
                let template = self.template(ObjectClass::SECRET_KEY, KeyType::AES);
                match self.find_unique(session, &template, "AES key")? {
                    Some(handle) => Ok(KeyHandles {
                        encrypt: handle,
                        decrypt: handle,
                    }),
                    None if self.config.generate_key => self.generate_aes_key(session, template),
                    None => Err(missing("AES")),
                }
            }
            SealMechanism::RsaOaep => {
                let public = self.template(ObjectClass::PUBLIC_KEY, KeyType::RSA);
                let private = self.template(ObjectClass::PRIVATE_KEY, KeyType::RSA);
                match (
                    self.find_unique(session, &public, "RSA public key")?,
                    self.find_unique(session, &private, "RSA private key")?,
                ) {
                    (Some(encrypt), Some(decrypt)) => Ok(KeyHandles { encrypt, decrypt }),
                    (None, None) if self.config.generate_key => {
                        self.generate_rsa_pair(session, public, private)
                    }
                    (None, None) => Err(missing("RSA key pair")),
                    (Some(_), None) => Err(key_error(format!(
                        "RSA {key} on {token} has a public key but no private key"
                    ))),
                    (None, Some(_)) => Err(key_error(format!(
                        "RSA {key} on {token} has a private key but no public key"
                    ))),
                }
            }
        }
    }

    /// Creates the 256-bit AES key: a token object that is sensitive and never extractable.
    fn generate_aes_key(
        &self,
        session: &Session,
        mut template: Vec<Attribute>,
    ) -> Result<KeyHandles, SealProviderError> {
        template.extend([
            Attribute::ValueLen(32u64.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ]);
        let handle = session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| self.generation_failed("AES", e))?;
        Ok(KeyHandles {
            encrypt: handle,
            decrypt: handle,
        })
    }

    /// Creates an RSA-2048 pair whose private half is sensitive and never extractable.
    fn generate_rsa_pair(
        &self,
        session: &Session,
        mut public: Vec<Attribute>,
        mut private: Vec<Attribute>,
    ) -> Result<KeyHandles, SealProviderError> {
        // The class and key type come from the key pair mechanism.
        public.drain(..2);
        private.drain(..2);
        public.extend([
            Attribute::Token(true),
            Attribute::Encrypt(true),
            Attribute::ModulusBits(RSA_MODULUS_BITS.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        ]);
        private.extend([
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Decrypt(true),
        ]);
        let (encrypt, decrypt) = session
            .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
            .map_err(|e| self.generation_failed("RSA", e))?;
        Ok(KeyHandles { encrypt, decrypt })
    }

    fn generation_failed(&self, what: &str, e: CkError) -> SealProviderError {
        key_error(format!(
            "cannot generate the {what} {} on {}: {e}",
            self.config.key, self.config.token
        ))
    }

    /// Runs `op` on a pooled (or new) session. If the session turns out to be lost, it is
    /// dropped and `op` runs once more on a fresh session. A session comes back to the pool
    /// only after `op` succeeded on it.
    fn with_session<T>(
        &self,
        op: impl Fn(&Session, KeyHandles) -> Result<T, CkError>,
    ) -> Result<Result<T, CkError>, SealProviderError> {
        let pooled = lock(&self.pool).pop();
        let (pooled, result) = match pooled {
            Some(pooled) => {
                let result = op(&pooled.session, pooled.keys);
                match result {
                    Err(e) if is_session_lost(&e) => {
                        drop(pooled);
                        let fresh = self.open_session()?;
                        let result = op(&fresh.session, fresh.keys);
                        (fresh, result)
                    }
                    result => (pooled, result),
                }
            }
            None => {
                let fresh = self.open_session()?;
                let result = op(&fresh.session, fresh.keys);
                (fresh, result)
            }
        };
        if result.is_ok() {
            let mut pool = lock(&self.pool);
            if pool.len() < MAX_POOLED_SESSIONS {
                pool.push(pooled);
            }
        }
        Ok(result)
    }

    fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealProviderError> {
        match self.config.mechanism {
            SealMechanism::AesGcm => self
                .with_session(|session, keys| {
                    let mut iv = [0u8; GCM_IV_LEN];
                    session.generate_random_slice(&mut iv)?;
                    let ciphertext = {
                        let params = GcmParams::new(&mut iv, context, 128.into())?;
                        session.encrypt(&Mechanism::AesGcm(params), keys.encrypt, plaintext)?
                    };
                    // `iv` now holds what the HSM left in the parameter buffer: ours, or its own.
                    Ok(Blob::encode_aes_gcm(&iv, &ciphertext))
                })?
                .map_err(|e| self.encrypt_failed(e)),
            SealMechanism::RsaOaep => {
                let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
                OsRng.fill_bytes(data_key.as_mut());
                let wrapped = self
                    .with_session(|session, keys| {
                        session.encrypt(&rsa_oaep(), keys.encrypt, data_key.as_ref())
                    })?
                    .map_err(|e| self.encrypt_failed(e))?;
                let mut nonce = [0u8; GCM_IV_LEN];
                OsRng.fill_bytes(&mut nonce);
                let header = Blob::rsa_oaep_header(&wrapped, &nonce)?;
                let cipher = Aes256Gcm::new_from_slice(data_key.as_ref())
                    .map_err(|_| unavailable("data key has the wrong length".into()))?;
                let ciphertext = cipher
                    .encrypt(
                        Nonce::from_slice(&nonce),
                        Payload {
                            msg: plaintext,
                            aad: &[header.as_slice(), context].concat(),
                        },
                    )
                    .map_err(|_| unavailable("AES-GCM encryption failed".into()))?;
                Ok([header, ciphertext].concat())
            }
        }
    }

    fn encrypt_failed(&self, e: CkError) -> SealProviderError {
        unavailable(format!(
            "C_Encrypt ({}) with the {}: {e}",
            self.config.mechanism, self.config.key
        ))
    }

    fn decrypt(
        &self,
        blob: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealProviderError> {
        let parsed = Blob::parse(blob)?;
        if parsed.mechanism() != self.config.mechanism {
            return Err(decrypt_error(format!(
                "the blob was made with {}, but this seal is configured for {}",
                parsed.mechanism(),
                self.config.mechanism
            )));
        }
        match parsed {
            Blob::AesGcm { iv, ciphertext } => self
                .with_session(|session, keys| {
                    let mut iv = iv.to_vec();
                    let params = GcmParams::new(&mut iv, context, 128.into())?;
                    session
                        .decrypt(&Mechanism::AesGcm(params), keys.decrypt, ciphertext)
                        .map(Zeroizing::new)
                })?
                .map_err(|e| self.decrypt_failed(e)),
            Blob::RsaOaep {
                header,
                wrapped_key,
                nonce,
                ciphertext,
            } => {
                let data_key = self
                    .with_session(|session, keys| {
                        session
                            .decrypt(&rsa_oaep(), keys.decrypt, wrapped_key)
                            .map(Zeroizing::new)
                    })?
                    .map_err(|e| self.decrypt_failed(e))?;
                let cipher = Aes256Gcm::new_from_slice(&data_key).map_err(|_| {
                    decrypt_error("the unwrapped data key has the wrong length".into())
                })?;
                cipher
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: &[header, context].concat(),
                        },
                    )
                    .map(Zeroizing::new)
                    .map_err(|_| {
                        decrypt_error(
                            "the value failed its integrity check (damaged blob or another \
                             context)"
                                .into(),
                        )
                    })
            }
        }
    }

    fn decrypt_failed(&self, e: CkError) -> SealProviderError {
        match e {
            // SoftHSM2 reports a failed tag check as CKR_GENERAL_ERROR; others use the
            // ENCRYPTED_DATA codes.
            CkError::Pkcs11(
                RvError::GeneralError
                | RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid
                | RvError::DataLenRange
                | RvError::MechanismParamInvalid,
                _,
            ) => decrypt_error(format!(
                "the {} on {} rejected the ciphertext (tampered, another key, or another \
                 context)",
                self.config.key, self.config.token
            )),
            e => unavailable(format!(
                "C_Decrypt ({}) with the {}: {e}",
                self.config.mechanism, self.config.key
            )),
        }
    }

    /// A full round trip through the HSM: proves login, key and mechanism all work.
    fn check(&self) -> Result<(), SealProviderError> {
        let probe = self.encrypt(&[], b"coffer seal check")?;
        self.decrypt(&probe, b"coffer seal check").map(drop)
    }
}

#[async_trait::async_trait]
impl AutoSeal for Pkcs11Seal {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn check(&self) -> Result<(), SealProviderError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.check()).await
    }

    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, SealProviderError> {
        let inner = Arc::clone(&self.inner);
        let plaintext = Zeroizing::new(plaintext.to_vec());
        let context = context.to_vec();
        blocking(move || inner.encrypt(&plaintext, &context)).await
    }

    async fn decrypt(
        &self,
        blob: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealProviderError> {
        let inner = Arc::clone(&self.inner);
        let blob = blob.to_vec();
        let context = context.to_vec();
        blocking(move || inner.decrypt(&blob, &context)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> SealSettings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn aes_gcm_blob_round_trips_and_every_truncation_is_refused() {
        let blob = Blob::encode_aes_gcm(&[7; 12], &[9; 20]);
        let Ok(Blob::AesGcm { iv, ciphertext }) = Blob::parse(&blob) else {
            panic!("not parsed as AES-GCM");
        };
        assert_eq!((iv, ciphertext), (&[7u8; 12][..], &[9u8; 20][..]));
        for len in 0..(5 + 12 + GCM_TAG_LEN) {
            assert!(
                matches!(
                    Blob::parse(&blob[..len]),
                    Err(SealProviderError::Decrypt { .. })
                ),
                "a {len}-byte prefix parsed"
            );
        }
    }

    #[test]
    fn rsa_oaep_blob_round_trips_and_every_truncation_is_refused() {
        let mut blob = Blob::rsa_oaep_header(&[5; 256], &[6; 12]).expect("header");
        let header_len = blob.len();
        blob.extend_from_slice(&[7; 20]);
        let Ok(Blob::RsaOaep {
            header,
            wrapped_key,
            nonce,
            ciphertext,
        }) = Blob::parse(&blob)
        else {
            panic!("not parsed as RSA-OAEP");
        };
        assert_eq!(header, &blob[..header_len]);
        assert_eq!(wrapped_key, &[5; 256]);
        assert_eq!(nonce, &[6; 12]);
        assert_eq!(ciphertext, &[7; 20]);
        for len in 0..header_len + GCM_TAG_LEN {
            assert!(
                matches!(
                    Blob::parse(&blob[..len]),
                    Err(SealProviderError::Decrypt { .. })
                ),
                "a {len}-byte prefix parsed"
            );
        }
    }

    #[test]
    fn blob_with_unknown_version_or_mechanism_is_refused() {
        let mut blob = Blob::encode_aes_gcm(&[7; 12], &[9; 20]);
        blob[2] = 2;
        assert!(matches!(
            Blob::parse(&blob),
            Err(SealProviderError::Decrypt { message, .. }) if message.contains("version 2")
        ));
        blob[2] = BLOB_VERSION;
        blob[3] = 9;
        assert!(matches!(
            Blob::parse(&blob),
            Err(SealProviderError::Decrypt { message, .. }) if message.contains("mechanism 9")
        ));
    }

    #[test]
    fn mechanisms_are_accepted_by_name_and_number_and_others_refused() {
        let with = |mechanism: &str| {
            settings(&[
                ("lib", "/x.so"),
                ("token_label", "t"),
                ("pin", "1"),
                ("key_label", "k"),
                ("mechanism", mechanism),
            ])
        };
        for (name, want) in [
            ("CKM_AES_GCM", SealMechanism::AesGcm),
            ("0x1087", SealMechanism::AesGcm),
            ("4231", SealMechanism::AesGcm),
            ("ckm_rsa_pkcs_oaep", SealMechanism::RsaOaep),
            ("0x0009", SealMechanism::RsaOaep),
        ] {
            let config = Config::resolve(&with(name), &no_env).expect(name);
            assert_eq!(config.mechanism, want, "{name}");
        }
        for bad in ["CKM_AES_CBC", "0x1082", "gcm"] {
            let err = Config::resolve(&with(bad), &no_env).expect_err(bad);
            assert!(
                matches!(&err, SealProviderError::Config { message, .. } if message.contains("mechanism")),
                "{err}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_pin() {
        let s = settings(&[
            ("lib", "/x.so"),
            ("token_label", "t"),
            ("pin", "s3cr3t-pin"),
            ("key_label", "k"),
        ]);
        let config = Config::resolve(&s, &no_env).expect("config");
        assert!(!format!("{config:?}").contains("s3cr3t-pin"));
    }

    #[test]
    fn missing_required_settings_are_named() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (
                &[("token_label", "t"), ("pin", "1"), ("key_label", "k")],
                "lib",
            ),
            (
                &[("lib", "/x.so"), ("pin", "1"), ("key_label", "k")],
                "token_label",
            ),
            (
                &[("lib", "/x.so"), ("token_label", "t"), ("key_label", "k")],
                "pin",
            ),
            (
                &[("lib", "/x.so"), ("token_label", "t"), ("pin", "1")],
                "key_label",
            ),
        ];
        for (pairs, named) in cases {
            let err = Config::resolve(&settings(pairs), &no_env).expect_err(named);
            assert!(err.to_string().contains(named), "{err}");
        }
    }
}
