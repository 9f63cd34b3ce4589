//! hvac (the Python Vault client) pointed at one server.
//!
//! A test passes a Python snippet; a prelude has already built
//! `client = hvac.Client(url=ADDR, token=TOKEN, verify=CA or True)` (the names `ADDR`, `TOKEN`,
//! `CA` stay available for building other clients). The snippet assigns `result = ...`; the
//! prelude prints it as JSON on the last line (a `requests.Response`, which hvac returns for
//! answers without a JSON body, becomes `{"status_code", "json", "text"}`). A Python exception
//! fails the test with the traceback.

use std::fs;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::{binaries, process, Server};

const PRELUDE: &str = r#"
import json, os, textwrap
import hvac, requests

ADDR = os.environ["COFFER_TEST_ADDR"]
TOKEN = os.environ.get("COFFER_TEST_TOKEN") or None
CA = os.environ.get("COFFER_TEST_CACERT") or None
client = hvac.Client(url=ADDR, token=TOKEN, verify=CA if CA else True)

def _as_json(value):
    if isinstance(value, requests.Response):
        try:
            body = value.json()
        except ValueError:
            body = None
        return {"status_code": value.status_code, "json": body, "text": value.text}
    raise TypeError("not JSON serialisable: " + type(value).__name__)

result = None
with open(os.environ["COFFER_TEST_SCRIPT"]) as _f:
    exec(compile(textwrap.dedent(_f.read()), "<test script>", "exec"))
print()
print(json.dumps(result, default=_as_json))
"#;

impl Server {
    /// Runs `script` with an hvac `client` for this server (see the module docs) and returns
    /// its `result`.
    #[track_caller]
    pub fn hvac(&self, token: Option<&str>, script: &str) -> Value {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let scratch = self.scratch_dir();
        let script_path = scratch.join(format!("hvac-{n}.py"));
        let prelude_path = scratch.join("hvac-prelude.py");
        fs::write(&script_path, script).expect("write hvac script");
        fs::write(&prelude_path, PRELUDE).expect("write hvac prelude");

        let mut cmd = Command::new(binaries::python_bin());
        cmd.arg(&prelude_path);
        process::hermetic_env(&mut cmd);
        cmd.env("COFFER_TEST_ADDR", self.addr())
            .env("COFFER_TEST_SCRIPT", &script_path)
            .env("HOME", self.hvac_home())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(self.hvac_home());
        if let Some(token) = token {
            cmd.env("COFFER_TEST_TOKEN", token);
        }
        if let Some(ca) = self.ca_cert() {
            cmd.env("COFFER_TEST_CACERT", ca);
        }
        let output = process::run(cmd, &scratch);
        assert!(
            output.success(),
            "hvac script failed\n--- script ---\n{script}\n{output}"
        );
        let last = output.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("hvac result is not JSON ({e})\n{output}"))
    }
}
