//! `sys/generate-root`: a new root token from a threshold of unseal keys and a one-time pad.
//!
//! An attempt (its nonce, OTP and the shares given so far) lives in this process only, as
//! unseal progress does: each process collects its own shares. At the threshold the shares
//! are checked against the stored root key exactly as unsealing checks them; a wrong set
//! aborts and forgets the shares but keeps the attempt, as OpenBao does. The new token leaves
//! only XOR'd with the OTP, so whoever watches the responses alone learns nothing.
//!
//! The endpoints need no token, so they are off unless the operator turns them on
//! (`disable_unauthed_generate_root_endpoints = false`, OpenBao 2.7's default is off too).
//! The OTP, shares and token are zeroized and never reach logs or errors.

use std::sync::{Mutex, MutexGuard};

use base64::engine::general_purpose::STANDARD_NO_PAD as B64_RAW;
use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::auth::token::{self, TOKEN_LEN};
use crate::http::error::ApiError;
use crate::logical::{Operation, Request, Response};
use crate::seal::SealError;
use crate::store::Store;

/// One root generation in progress.
struct Attempt {
    nonce: String,
    otp: Zeroizing<String>,
    shares: Vec<Zeroizing<Vec<u8>>>,
}

/// What adding a share led to.
enum Added {
    /// Below the threshold: this many shares so far.
    Pending(usize),
    /// The threshold is reached: the shares, taken out of the attempt.
    Threshold(Vec<Zeroizing<Vec<u8>>>),
}

/// The generate-root state of this process, and whether the endpoints are served at all.
pub struct GenerateRoot {
    enabled: bool,
    attempt: Mutex<Option<Attempt>>,
}

impl Default for GenerateRoot {
    fn default() -> Self {
        GenerateRoot::new(false)
    }
}

fn no_attempt() -> ApiError {
    ApiError::bad_request("no root generation in progress")
}

impl GenerateRoot {
    pub fn new(enabled: bool) -> Self {
        GenerateRoot {
            enabled,
            attempt: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Attempt>> {
        self.attempt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an attempt with a fresh nonce and a server-drawn OTP; returns both.
    fn start(&self) -> Result<(String, Zeroizing<String>), ApiError> {
        let mut guard = self.lock();
        if guard.is_some() {
            return Err(ApiError::bad_request("root generation already in progress"));
        }
        let otp = Zeroizing::new(
            rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(TOKEN_LEN)
                .map(char::from)
                .collect::<String>(),
        );
        let nonce = uuid::Uuid::new_v4().to_string();
        *guard = Some(Attempt {
            nonce: nonce.clone(),
            otp: otp.clone(),
            shares: Vec::new(),
        });
        Ok((nonce, otp))
    }

    fn cancel(&self) {
        *self.lock() = None;
    }

    /// `(nonce, progress)` of the attempt in progress.
    fn progress(&self) -> Option<(String, usize)> {
        self.lock()
            .as_ref()
            .map(|a| (a.nonce.clone(), a.shares.len()))
    }

    fn check_nonce(attempt: Option<&Attempt>, nonce: &str) -> Result<(), ApiError> {
        let attempt = attempt.ok_or_else(no_attempt)?;
        if attempt.nonce != nonce {
            return Err(ApiError::bad_request(format!(
                "incorrect nonce supplied; nonce for this root generation operation is {:?}",
                attempt.nonce
            )));
        }
        Ok(())
    }

    /// Adds a decoded share to the attempt named by `nonce`.
    fn add_share(
        &self,
        nonce: &str,
        share: Zeroizing<Vec<u8>>,
        required: usize,
    ) -> Result<Added, ApiError> {
        let mut guard = self.lock();
        GenerateRoot::check_nonce(guard.as_ref(), nonce)?;
        let attempt = guard.as_mut().ok_or_else(no_attempt)?;
        if attempt.shares.iter().any(|s| **s == *share) {
            return Err(ApiError::bad_request(
                "given key has already been provided during this generation operation",
            ));
        }
        attempt.shares.push(share);
        if attempt.shares.len() < required {
            return Ok(Added::Pending(attempt.shares.len()));
        }
        Ok(Added::Threshold(std::mem::take(&mut attempt.shares)))
    }

    /// Ends the attempt named by `nonce` and hands back its OTP.
    fn finish(&self, nonce: &str) -> Result<Zeroizing<String>, ApiError> {
        let mut guard = self.lock();
        GenerateRoot::check_nonce(guard.as_ref(), nonce)?;
        Ok(guard.take().ok_or_else(no_attempt)?.otp)
    }
}

/// The token XOR'd with the OTP, base64 without padding, as `bao operator generate-root
/// -decode` expects.
fn encode_token(token: &str, otp: &str) -> Result<String, ApiError> {
    if token.len() != otp.len() {
        return Err(ApiError::Internal(
            "root token and OTP lengths differ".into(),
        ));
    }
    let xored = Zeroizing::new(
        token
            .bytes()
            .zip(otp.bytes())
            .map(|(t, o)| t ^ o)
            .collect::<Vec<u8>>(),
    );
    Ok(B64_RAW.encode(xored.as_slice()))
}

/// What a generate-root request led to, before it is rendered for one of the two paths.
enum Answer {
    /// The attempt in progress, if any: its nonce and shares so far.
    Status(Option<(String, usize)>),
    /// A new attempt and the OTP drawn for it (shown once).
    Started(String, Zeroizing<String>),
    /// A share was added: progress, and the encoded token once complete.
    Updated {
        nonce: String,
        progress: usize,
        encoded: String,
    },
}

impl Answer {
    /// The bare body of `sys/generate-root/*`: every key, always, as OpenBao's.
    fn unauthed_body(&self, required: u8) -> Value {
        let (nonce, progress, encoded, otp, otp_length) = match self {
            Answer::Status(s) => {
                let (nonce, progress) = s.clone().unwrap_or_default();
                (nonce, progress, "", "", TOKEN_LEN)
            }
            Answer::Started(nonce, otp) => (nonce.clone(), 0, "", otp.as_str(), TOKEN_LEN),
            Answer::Updated {
                nonce,
                progress,
                encoded,
            } => (nonce.clone(), *progress, encoded.as_str(), "", 0),
        };
        json!({
            "nonce": nonce,
            "started": !nonce.is_empty(),
            "progress": progress,
            "required": required,
            "complete": !encoded.is_empty(),
            "encoded_token": encoded,
            "encoded_root_token": encoded,
            "pgp_fingerprint": "",
            "otp": otp,
            "otp_length": otp_length,
        })
    }

    /// The `data` of `sys/generate-root-token/*`, whose keys OpenBao varies with the answer.
    fn authed_data(&self, required: u8) -> Value {
        match self {
            Answer::Status(None) => json!({
                "complete": false, "otp": "", "otp_length": TOKEN_LEN, "progress": 0,
                "required": required, "started": false,
            }),
            Answer::Status(Some((nonce, progress))) => json!({
                "complete": false, "nonce": nonce, "otp": "", "otp_length": TOKEN_LEN,
                "pgp_fingerprint": "", "progress": progress, "required": required,
                "started": true,
            }),
            Answer::Started(nonce, otp) => json!({
                "complete": false, "nonce": nonce, "otp": otp.as_str(), "otp_length": TOKEN_LEN,
                "pgp_fingerprint": "", "progress": 0, "required": required, "started": true,
            }),
            Answer::Updated {
                nonce,
                progress,
                encoded,
            } => json!({
                "complete": !encoded.is_empty(), "encoded_token": encoded, "nonce": nonce,
                "pgp_fingerprint": "", "progress": progress, "required": required,
                "started": true,
            }),
        }
    }
}

async fn required_shares(store: &Store) -> Result<u8, ApiError> {
    let config = store.seal.config().await?.ok_or(ApiError::Sealed)?;
    Ok(config.operator_shares().1)
}

/// Sealed first (503), then disabled (405), as OpenBao orders them.
async fn unauthed_gate(store: &Store) -> Result<u8, ApiError> {
    store.state()?;
    if !store.generate_root.enabled {
        return Err(ApiError::UnsupportedOperation);
    }
    required_shares(store).await
}

/// `sys/generate-root/attempt` (no token; off by default): status, start or cancel.
pub async fn unauthed_attempt(store: &Store, req: &Request) -> Result<Response, ApiError> {
    let required = unauthed_gate(store).await?;
    Ok(match attempt(store, req)? {
        Some(answer) => Response::raw(200, answer.unauthed_body(required)),
        None => Response::empty(),
    })
}

/// `sys/generate-root/update` (no token; off by default), whatever the method, as OpenBao.
pub async fn unauthed_update(store: &Store, req: &Request) -> Result<Response, ApiError> {
    let required = unauthed_gate(store).await?;
    let answer = update(store, req, required, false).await?;
    Ok(Response::raw(200, answer.unauthed_body(required)))
}

/// `sys/generate-root-token/attempt`, what `bao operator generate-root` calls, under the ACL.
pub async fn authed_attempt(store: &Store, req: &Request) -> Result<Response, ApiError> {
    let required = required_shares(store).await?;
    Ok(match attempt(store, req)? {
        Some(answer) => Response::data(answer.authed_data(required)),
        None => Response::empty(),
    })
}

/// `sys/generate-root-token/update` (PUT/POST), under the ACL.
pub async fn authed_update(store: &Store, req: &Request) -> Result<Response, ApiError> {
    if req.operation != Operation::Update {
        return Err(ApiError::UnsupportedOperation);
    }
    let required = required_shares(store).await?;
    let answer = update(store, req, required, true).await?;
    Ok(Response::data(answer.authed_data(required)))
}

/// Read, start or cancel (`None`: answered with no body).
fn attempt(store: &Store, req: &Request) -> Result<Option<Answer>, ApiError> {
    let gr = &store.generate_root;
    match req.operation {
        Operation::Read => Ok(Some(Answer::Status(gr.progress()))),
        Operation::Update => {
            if req.str_field("pgp_key").is_some_and(|k| !k.is_empty()) {
                return Err(ApiError::bad_request(
                    "PGP-encrypted root tokens are not supported; start without pgp_key to use an OTP",
                ));
            }
            if req.str_field("otp").is_some_and(|k| !k.is_empty()) {
                return Err(ApiError::bad_request(
                    "a client-supplied OTP is not supported; the server generates it",
                ));
            }
            let (nonce, otp) = gr.start()?;
            Ok(Some(Answer::Started(nonce, otp)))
        }
        Operation::Delete => {
            gr.cancel();
            Ok(None)
        }
        _ => Err(ApiError::UnsupportedOperation),
    }
}

/// One unseal key share; at the threshold, the shares are checked as unsealing checks them
/// and a new root token is written and returned encoded with the OTP.
async fn update(
    store: &Store,
    req: &Request,
    required: u8,
    nonce_first: bool,
) -> Result<Answer, ApiError> {
    let gr = &store.generate_root;
    let nonce = req.str_field("nonce").unwrap_or_default();
    if nonce_first && nonce.is_empty() {
        return Err(ApiError::bad_request("nonce is required"));
    }
    let key = req
        .str_field("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::bad_request("'key' must be specified in request body as JSON"))?;
    GenerateRoot::check_nonce(gr.lock().as_ref(), nonce)?;
    let share = store.seal.decode_share(key).await?;
    let shares = match gr.add_share(nonce, share, usize::from(required))? {
        Added::Pending(progress) => {
            return Ok(Answer::Updated {
                nonce: nonce.to_owned(),
                progress,
                encoded: String::new(),
            })
        }
        Added::Threshold(shares) => shares,
    };
    match store.seal.verify_shares(&shares).await {
        Ok(()) => {}
        Err(e @ SealError::WrongKey) => {
            return Err(ApiError::bad_request(format!(
                "root generation aborted: unable to authenticate: {e}"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    let otp = gr.finish(nonce)?;
    let state = store.state()?;
    let (root_token, ops) = token::root_token_ops(&state.salt, None);
    let root_token = Zeroizing::new(root_token);
    store.barrier.write(ops).await?;
    Ok(Answer::Updated {
        nonce: nonce.to_owned(),
        progress: shares.len(),
        encoded: encode_token(&root_token, &otp)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(b: u8) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(vec![b; 33])
    }

    /// What `bao operator generate-root -decode` does.
    fn decode_token(encoded: &str, otp: &str) -> String {
        let raw = B64_RAW.decode(encoded).unwrap();
        raw.iter()
            .zip(otp.bytes())
            .map(|(e, o)| char::from(e ^ o))
            .collect()
    }

    #[test]
    fn encoded_token_decodes_with_the_otp_and_hides_the_token() {
        let token = token::generate_token();
        let otp: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(TOKEN_LEN)
            .map(char::from)
            .collect();
        let encoded = encode_token(&token, &otp).unwrap();
        assert!(!encoded.contains('='));
        assert!(!encoded.contains(&token[2..10]));
        assert_eq!(decode_token(&encoded, &otp), token);
    }

    #[test]
    fn token_and_otp_of_different_lengths_are_refused() {
        assert!(encode_token("s.abc", "abcd").is_err());
    }

    #[test]
    fn start_draws_an_otp_of_token_length_and_refuses_a_second_start() {
        let gr = GenerateRoot::new(true);
        let (nonce, otp) = gr.start().unwrap();
        assert_eq!(otp.len(), TOKEN_LEN);
        assert!(otp.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(gr.progress(), Some((nonce, 0)));
        assert!(gr.start().is_err());
        gr.cancel();
        assert_eq!(gr.progress(), None);
        gr.start().unwrap();
    }

    #[test]
    fn shares_count_up_to_the_threshold_and_duplicates_are_refused() {
        let gr = GenerateRoot::new(true);
        let (nonce, _) = gr.start().unwrap();
        assert!(matches!(
            gr.add_share(&nonce, share(1), 3),
            Ok(Added::Pending(1))
        ));
        assert!(gr.add_share(&nonce, share(1), 3).is_err());
        assert!(matches!(
            gr.add_share(&nonce, share(2), 3),
            Ok(Added::Pending(2))
        ));
        match gr.add_share(&nonce, share(3), 3) {
            Ok(Added::Threshold(shares)) => assert_eq!(shares.len(), 3),
            _ => panic!("threshold not reached"),
        }
        // The shares are taken out (a wrong set starts over); the attempt stays until finished.
        assert_eq!(gr.progress(), Some((nonce.clone(), 0)));
        assert_eq!(gr.finish(&nonce).unwrap().len(), TOKEN_LEN);
        assert_eq!(gr.progress(), None);
    }

    #[test]
    fn a_wrong_nonce_or_no_attempt_is_refused() {
        let gr = GenerateRoot::new(true);
        assert!(gr.add_share("n", share(1), 2).is_err());
        assert!(gr.finish("n").is_err());
        let (nonce, _) = gr.start().unwrap();
        let err = gr.add_share("other", share(1), 2).err().unwrap();
        assert!(err.to_string().contains(&nonce));
        assert_eq!(gr.progress(), Some((nonce, 0)));
    }
}
