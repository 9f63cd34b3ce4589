//! Operator chores over plain HTTP, for tests whose subject is something else: initialise,
//! unseal, wait until active, make sure a KV v2 mount exists. Tests *about* init and unseal
//! drive the real clients instead (bao CLI, hvac).

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::Resp;
use crate::Server;

/// How long an unsealed server may take to report itself active (200 on `sys/health`).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// What `PUT /v1/sys/init` returned.
#[derive(Debug, Clone)]
pub struct InitKeys {
    /// Unseal keys, hex.
    pub keys: Vec<String>,
    /// The same keys, base64.
    pub keys_base64: Vec<String>,
    pub root_token: String,
}

impl Server {
    /// `PUT /v1/sys/init` with `shares`/`threshold`; panics unless it answers 200.
    #[track_caller]
    pub fn init(&self, shares: u32, threshold: u32) -> InitKeys {
        let body = json!({"secret_shares": shares, "secret_threshold": threshold});
        self.init_with(&body, "keys")
    }

    /// `PUT /v1/sys/init` of an auto-sealed server with `shares`/`threshold` recovery keys;
    /// the returned `keys` are the recovery keys. Panics unless it answers 200 with no unseal
    /// keys.
    #[track_caller]
    pub fn init_recovery(&self, shares: u32, threshold: u32) -> InitKeys {
        let body = json!({"recovery_shares": shares, "recovery_threshold": threshold});
        self.init_with(&body, "recovery_keys")
    }

    /// Initialises with `body` and reads the key shares from `field` (hex) and
    /// `<field>_base64`; with recovery keys, the unseal key list must be empty.
    #[track_caller]
    fn init_with(&self, body: &Value, field: &str) -> InitKeys {
        let resp = self.http().put("/v1/sys/init", None, body);
        resp.assert_status(200);
        if field != "keys" {
            assert_eq!(resp.json["keys"], json!([]), "{resp}");
        }
        let strings = |field: &str| -> Vec<String> {
            resp.json[field]
                .as_array()
                .unwrap_or_else(|| panic!("init response has no `{field}` array\n{resp}"))
                .iter()
                .map(|k| k.as_str().expect("key is a string").to_owned())
                .collect()
        };
        InitKeys {
            keys: strings(field),
            keys_base64: strings(&format!("{field}_base64")),
            root_token: resp.json["root_token"]
                .as_str()
                .unwrap_or_else(|| panic!("init response has no root_token\n{resp}"))
                .to_owned(),
        }
    }

    /// Submits `keys` in order through `PUT /v1/sys/unseal` until the server reports itself
    /// unsealed, then waits until it is active. Panics if the keys run out first.
    #[track_caller]
    pub fn unseal(&self, keys: &[String]) {
        for key in keys {
            let resp = self
                .http()
                .put("/v1/sys/unseal", None, &json!({"key": key}));
            resp.assert_status(200);
            if resp.json["sealed"] == Value::Bool(false) {
                self.wait_active();
                return;
            }
        }
        panic!(
            "{} server still sealed after {} keys",
            self.flavor(),
            keys.len()
        );
    }

    /// A one-share init followed by unseal: a ready server for tests about other things.
    #[track_caller]
    pub fn init_unsealed(&self) -> InitKeys {
        let keys = self.init(1, 1);
        self.unseal(&keys.keys);
        keys
    }

    /// Polls `GET /v1/sys/health` until it answers 200 (initialised, unsealed, active).
    #[track_caller]
    pub fn wait_active(&self) {
        let deadline = Instant::now() + ACTIVE_TIMEOUT;
        let mut last: Option<Resp> = None;
        while Instant::now() < deadline {
            if let Ok(resp) = self.http().req("GET", "/v1/sys/health").try_send() {
                if resp.status == 200 {
                    return;
                }
                last = Some(resp);
            }
            thread::sleep(Duration::from_millis(50));
        }
        match last {
            Some(resp) => panic!(
                "{} server not active after {ACTIVE_TIMEOUT:?}\n{resp}",
                self.flavor()
            ),
            None => panic!("{} server not answering sys/health", self.flavor()),
        }
    }

    /// Makes sure a KV v2 engine is mounted at `path` (e.g. "secret"): mounts one through
    /// `POST /v1/sys/mounts/<path>` unless `sys/internal/ui/mounts/<path>` already shows it.
    #[track_caller]
    pub fn ensure_kv2(&self, token: &str, path: &str) {
        let http = self.http();
        let existing = http.get(&format!("/v1/sys/internal/ui/mounts/{path}"), Some(token));
        if existing.status == 200 && existing.json["data"]["options"]["version"] == "2" {
            return;
        }
        http.post(
            &format!("/v1/sys/mounts/{path}"),
            Some(token),
            &json!({"type": "kv", "options": {"version": "2"}}),
        )
        .assert_status(204);
    }
}
