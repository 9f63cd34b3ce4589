//! The `seal "awskms"` auto seal: envelope encryption under an AWS KMS key.
//!
//! Each `encrypt` makes a fresh random 256-bit data key, encrypts the value locally with
//! AES-256-GCM, and has KMS `Encrypt` wrap the data key under the configured key with an
//! encryption context that binds it to the caller's `context`. `decrypt` has KMS `Decrypt`
//! unwrap it with the same context and the *configured* key id, so a blob made under another
//! key is refused by KMS rather than silently decrypted with whatever key it names.
//!
//! Only the calls the deployment's IAM policy allows are used: Encrypt, Decrypt, DescribeKey.
//! Every operation starts with DescribeKey (see `usable_key_arn`): a disabled or missing key
//! is a Key error naming it, and a blob made by another key is refused by its ARN.
//!
//! Settings are OpenBao's: `region`, `kms_key_id` (key id, ARN, alias name or alias ARN),
//! `endpoint`, `access_key`, `secret_key`, `session_token`. Fallbacks when absent:
//! `COFFER_`/`BAO_`/`VAULT_AWSKMS_SEAL_KEY_ID`, `AWS_KMS_ENDPOINT`, `AWS_REGION` then
//! `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`;
//! without static credentials the SDK's default credential chain applies.
//!
//! Never: log or return the data key, the plaintext, or the secret key; retry for long (a
//! start-up against a wrong endpoint fails in seconds, not minutes).

use std::fmt;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_kms::config::{Credentials, Region};
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use aws_sdk_kms::Client;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::settings::{process_env, EnvLookup, Resolver};
use crate::{AutoSeal, SealProviderError, SealSettings};

const KIND: &str = "awskms";

/// Every setting a `seal "awskms"` block may hold.
const SETTINGS: &[&str] = &[
    "region",
    "kms_key_id",
    "endpoint",
    "access_key",
    "secret_key",
    "session_token",
];

/// The encryption-context entry that binds a wrapped data key to the caller's context.
const CONTEXT_KEY: &str = "coffer:context";

/// Bounded so that an unreachable endpoint is an error within seconds at start-up.
/// KMS answers in milliseconds; an endpoint that accepts but never answers (a partition) is
/// given up on after OPERATION_TIMEOUT in all, retries included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: u32 = 3;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const DATA_KEY_LEN: usize = 32;

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

fn decrypt_error(message: String) -> SealProviderError {
    SealProviderError::Decrypt {
        kind: KIND,
        message,
    }
}

/// The stored form of one encrypted value:
///
/// ```text
/// "CK" | version = 1 | key_len (u16 BE) | key ARN (UTF-8, as KMS returned it)
///      | wrapped_len (u16 BE) | wrapped data key | nonce (12) | ciphertext || tag
/// ```
///
/// Everything before the ciphertext (the header) is GCM AAD together with the context, so a
/// changed byte anywhere fails the tag check even where KMS never looks (the key ARN is kept
/// for error messages; KMS is always asked with the configured key).
struct Envelope<'a> {
    header: &'a [u8],
    key_arn: &'a str,
    wrapped_key: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

const MAGIC: &[u8; 2] = b"CK";
const VERSION: u8 = 1;

fn push_field(out: &mut Vec<u8>, field: &[u8]) -> Result<(), SealProviderError> {
    let len = u16::try_from(field.len())
        .map_err(|_| unavailable(format!("KMS returned a {}-byte field", field.len())))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
    Ok(())
}

fn take_field(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The header of a new envelope, which is also its AAD prefix.
fn encode_header(
    key_arn: &str,
    wrapped_key: &[u8],
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, SealProviderError> {
    let mut out = Vec::with_capacity(7 + key_arn.len() + wrapped_key.len() + NONCE_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    push_field(&mut out, key_arn.as_bytes())?;
    push_field(&mut out, wrapped_key)?;
    out.extend_from_slice(nonce);
    Ok(out)
}

impl<'a> Envelope<'a> {
    fn parse(blob: &'a [u8]) -> Result<Self, SealProviderError> {
        let truncated = || decrypt_error("blob is truncated".into());
        let rest = blob
            .strip_prefix(MAGIC)
            .ok_or_else(|| decrypt_error("not an awskms seal blob (bad magic)".into()))?;
        let (&version, rest) = rest.split_first().ok_or_else(truncated)?;
        if version != VERSION {
            return Err(decrypt_error(format!("unsupported blob version {version}")));
        }
        let (key_arn, rest) = take_field(rest).ok_or_else(truncated)?;
        let key_arn = std::str::from_utf8(key_arn)
            .map_err(|_| decrypt_error("blob's key id is not UTF-8".into()))?;
        let (wrapped_key, rest) = take_field(rest).ok_or_else(truncated)?;
        if wrapped_key.is_empty() || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(truncated());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let header_len = blob.len() - ciphertext.len();
        Ok(Envelope {
            header: &blob[..header_len],
            key_arn,
            wrapped_key,
            nonce,
            ciphertext,
        })
    }
}

fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
    [header, context].concat()
}

/// The KMS encryption context for `context` (base64, since KMS wants strings).
fn encryption_context(context: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(context)
}

/// The resolved settings of one seal block. `Credentials`' own Debug redacts the secret key
/// and session token.
#[derive(Debug)]
struct Config {
    key_id: String,
    region: Option<String>,
    endpoint: Option<String>,
    credentials: Option<Credentials>,
}

impl Config {
    fn resolve(settings: &SealSettings, env: EnvLookup<'_>) -> Result<Config, SealProviderError> {
        let r = Resolver::new(KIND, settings, env, SETTINGS)?;
        let key_id = r
            .get(
                "kms_key_id",
                &[
                    "COFFER_AWSKMS_SEAL_KEY_ID",
                    "BAO_AWSKMS_SEAL_KEY_ID",
                    "VAULT_AWSKMS_SEAL_KEY_ID",
                ],
            )
            .ok_or_else(|| {
                config_error(
                    "kms_key_id is required (key id, key ARN or alias/NAME; or set \
                     VAULT_AWSKMS_SEAL_KEY_ID)"
                        .into(),
                )
            })?;
        let region = r.get("region", &["AWS_REGION", "AWS_DEFAULT_REGION"]);
        let endpoint = r.get("endpoint", &["AWS_KMS_ENDPOINT"]);
        let access_key = r.get("access_key", &["AWS_ACCESS_KEY_ID"]);
        let secret_key = r.get("secret_key", &["AWS_SECRET_ACCESS_KEY"]);
        let session_token = r.get("session_token", &["AWS_SESSION_TOKEN"]);
        let credentials = match (access_key, secret_key) {
            (Some(access), Some(secret)) => Some(Credentials::new(
                access,
                secret,
                session_token,
                None,
                "coffer seal \"awskms\"",
            )),
            (None, None) => None,
            (Some(_), None) => {
                return Err(config_error(
                    "access_key is set but secret_key is not".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(config_error(
                    "secret_key is set but access_key is not".into(),
                ))
            }
        };
        Ok(Config {
            key_id,
            region,
            endpoint,
            credentials,
        })
    }
}

/// The AWS KMS auto seal.
pub struct AwsKmsSeal {
    client: Client,
    key_id: String,
    endpoint: Option<String>,
}

impl fmt::Debug for AwsKmsSeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsSeal")
            .field("key_id", &self.key_id)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsKmsSeal {
    /// Resolves `settings` against the process environment and builds the KMS client. Makes
    /// no request: [`AutoSeal::check`] does (DescribeKey).
    pub async fn open(settings: &SealSettings) -> Result<AwsKmsSeal, SealProviderError> {
        Self::open_with_env(settings, &process_env).await
    }

    /// As [`AwsKmsSeal::open`], with environment variables read through `env`.
    pub async fn open_with_env(
        settings: &SealSettings,
        env: EnvLookup<'_>,
    ) -> Result<AwsKmsSeal, SealProviderError> {
        let config = Config::resolve(settings, env)?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(credentials) = config.credentials {
            loader = loader.credentials_provider(credentials);
        }
        let shared = loader.load().await;
        if shared.region().is_none() {
            return Err(config_error(
                "no AWS region: set region in the seal block, or AWS_REGION".into(),
            ));
        }
        let kms_config = aws_sdk_kms::config::Builder::from(&shared)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .build();
        Ok(AwsKmsSeal {
            client: Client::from_conf(kms_config),
            key_id: config.key_id,
            endpoint: config.endpoint,
        })
    }

    /// Where requests go, for messages.
    fn target(&self) -> &str {
        self.endpoint
            .as_deref()
            .unwrap_or("the regional KMS endpoint")
    }

    /// DescribeKey: the key must exist, be enabled and be a symmetric encryption key. Returns
    /// its ARN (what an alias or key id resolves to now).
    ///
    /// `encrypt` and `decrypt` call this first too (they are rare: init, unseal, rekey). KMS
    /// would refuse a disabled key itself, but asking first turns that into a Key error that
    /// names the key, also on emulators that do not enforce key state, and gives the ARN so a
    /// blob made by another key is refused by name before KMS is asked to unwrap it.
    async fn usable_key_arn(&self) -> Result<String, SealProviderError> {
        let out = self
            .client
            .describe_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| self.classify("DescribeKey", e, false))?;
        let key = &self.key_id;
        let meta = out
            .key_metadata()
            .ok_or_else(|| unavailable(format!("DescribeKey for {key:?} returned no metadata")))?;
        match meta.key_state() {
            Some(KeyState::Enabled) => {}
            Some(KeyState::Disabled) => {
                return Err(key_error(format!("KMS key {key:?} is disabled")))
            }
            state => {
                return Err(key_error(format!(
                    "KMS key {key:?} is not enabled (state {})",
                    state.map_or("unknown", |s| s.as_str())
                )))
            }
        }
        let symmetric = meta
            .key_spec()
            .is_none_or(|s| *s == KeySpec::SymmetricDefault)
            && meta
                .key_usage()
                .is_none_or(|u| *u == KeyUsageType::EncryptDecrypt);
        if !symmetric {
            return Err(key_error(format!(
                "KMS key {key:?} is not a symmetric encryption key (spec {}, usage {})",
                meta.key_spec().map_or("unknown", |s| s.as_str()),
                meta.key_usage().map_or("unknown", |u| u.as_str()),
            )));
        }
        Ok(meta.arn().unwrap_or(meta.key_id()).to_string())
    }

    /// Sorts a failed KMS call into the seal's error kinds. `decrypting` turns errors that
    /// mean "this ciphertext is not for this key or context" into `Decrypt`.
    fn classify<E>(&self, call: &str, err: SdkError<E>, decrypting: bool) -> SealProviderError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let key = &self.key_id;
        let detail = DisplayErrorContext(&err).to_string();
        let Some(code) = err.as_service_error().and_then(|e| e.code()) else {
            return unavailable(format!(
                "KMS {call} for key {key:?} at {} failed: {detail}",
                self.target()
            ));
        };
        match code {
            "NotFoundException" => key_error(format!("KMS key {key:?} does not exist")),
            "DisabledException" => key_error(format!("KMS key {key:?} is disabled")),
            "KMSInvalidStateException" => key_error(format!(
                "KMS key {key:?} is not usable in its current state: {detail}"
            )),
            "InvalidKeyUsageException" => key_error(format!(
                "KMS key {key:?} cannot be used for encrypt/decrypt: {detail}"
            )),
            // A ciphertext that names a key this seal cannot use is AccessDenied on AWS (and
            // on moto for any damaged key reference).
            "InvalidCiphertextException" | "IncorrectKeyException" | "AccessDeniedException"
                if decrypting =>
            {
                decrypt_error(format!(
                    "KMS refused to unwrap the data key with key {key:?} ({code}: made by \
                     another key, bound to another context, damaged, or kms:Decrypt denied)"
                ))
            }
            _ => unavailable(format!("KMS {call} for key {key:?} failed: {detail}")),
        }
    }
}

#[async_trait::async_trait]
impl AutoSeal for AwsKmsSeal {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn check(&self) -> Result<(), SealProviderError> {
        self.usable_key_arn().await.map(drop)
    }

    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, SealProviderError> {
        let arn = self.usable_key_arn().await?;
        let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        OsRng.fill_bytes(data_key.as_mut());
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);

        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(data_key.to_vec()))
            .encryption_context(CONTEXT_KEY, encryption_context(context))
            .send()
            .await
            .map_err(|e| self.classify("Encrypt", e, false))?;
        let wrapped = out
            .ciphertext_blob()
            .ok_or_else(|| unavailable("KMS Encrypt returned no ciphertext".into()))?;
        // KMS reports the ARN of the key it used; an emulator may give a bare id instead.
        let key_arn = out
            .key_id()
            .filter(|id| id.starts_with("arn:"))
            .unwrap_or(&arn);

        let mut blob = encode_header(key_arn, wrapped.as_ref(), &nonce)?;
        let cipher = Aes256Gcm::new_from_slice(data_key.as_ref())
            .map_err(|_| unavailable("data key has the wrong length".into()))?;
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad(&blob, context),
                },
            )
            .map_err(|_| unavailable("AES-GCM encryption failed".into()))?;
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    async fn decrypt(
        &self,
        blob: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealProviderError> {
        let envelope = Envelope::parse(blob)?;
        let arn = self.usable_key_arn().await?;
        if envelope.key_arn != arn {
            return Err(decrypt_error(format!(
                "the blob was made by KMS key {:?}, but this seal uses {:?} ({arn})",
                envelope.key_arn, self.key_id
            )));
        }
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(envelope.wrapped_key))
            .encryption_context(CONTEXT_KEY, encryption_context(context))
            .send()
            .await
            .map_err(|e| match self.classify("Decrypt", e, true) {
                SealProviderError::Decrypt { kind, message } => SealProviderError::Decrypt {
                    kind,
                    message: format!("{message}; the blob was made by {:?}", envelope.key_arn),
                },
                other => other,
            })?;
        let data_key = Zeroizing::new(
            out.plaintext
                .ok_or_else(|| unavailable("KMS Decrypt returned no plaintext".into()))?
                .into_inner(),
        );
        let cipher = Aes256Gcm::new_from_slice(&data_key)
            .map_err(|_| decrypt_error("the unwrapped data key has the wrong length".into()))?;
        cipher
            .decrypt(
                Nonce::from_slice(envelope.nonce),
                Payload {
                    msg: envelope.ciphertext,
                    aad: &aad(envelope.header, context),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                decrypt_error(
                    "the value failed its integrity check (damaged blob or another context)".into(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn envelope_round_trips_and_every_truncation_is_refused() {
        let mut blob =
            encode_header("arn:aws:kms:us-east-1:1:key/k", &[5; 40], &[6; 12]).expect("header");
        let header_len = blob.len();
        blob.extend_from_slice(&[7; 20]);
        let parsed = Envelope::parse(&blob).expect("parse");
        assert_eq!(parsed.key_arn, "arn:aws:kms:us-east-1:1:key/k");
        assert_eq!(parsed.wrapped_key, &[5; 40]);
        assert_eq!(parsed.nonce, &[6; 12]);
        assert_eq!(parsed.ciphertext, &[7; 20]);
        assert_eq!(parsed.header, &blob[..header_len]);
        for len in 0..header_len + TAG_LEN {
            assert!(
                matches!(
                    Envelope::parse(&blob[..len]),
                    Err(SealProviderError::Decrypt { .. })
                ),
                "a {len}-byte prefix parsed"
            );
        }
    }

    #[test]
    fn half_static_credentials_are_refused() {
        let settings: SealSettings = [("kms_key_id", "k"), ("access_key", "a")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let err = Config::resolve(&settings, &no_env).expect_err("refused");
        assert!(err.to_string().contains("secret_key"), "{err}");
    }

    #[test]
    fn debug_output_never_shows_the_secret_key_or_session_token() {
        let settings: SealSettings = [
            ("kms_key_id", "k"),
            ("access_key", "AKIDEXAMPLE"),
            ("secret_key", "very-secret-key"),
            ("session_token", "very-secret-token"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::resolve(&settings, &no_env).expect("config");
        let debug = format!("{config:?}");
        assert!(debug.contains("AKIDEXAMPLE"), "{debug}");
        assert!(!debug.contains("very-secret"), "{debug}");
    }

    #[test]
    fn missing_key_id_is_a_config_error_naming_the_setting() {
        let err = Config::resolve(&SealSettings::new(), &no_env).expect_err("refused");
        assert!(
            matches!(&err, SealProviderError::Config { message, .. } if message.contains("kms_key_id")),
            "{err}"
        );
    }
}
