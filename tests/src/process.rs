//! Running a client program (bao, python) to completion with a deadline, and the environment
//! every child of the harness starts from.
//!
//! Output goes to files rather than pipes: no pipe can fill up and block the child, and a child
//! that hangs is killed at the deadline with whatever it printed so far still readable.

use std::fmt;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one client command may run before it counts as hung.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// What a finished client command left behind.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// The exit code; -1 if the command was killed by a signal (or by the deadline).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for failure messages.
    pub command: String,
}

impl CmdOutput {
    /// Whether the command exited 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// Panics (showing the command and its output) unless it exited 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    /// Panics (showing the command and its output) unless it exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    /// Panics unless it exited non-zero.
    #[track_caller]
    pub fn assert_failed(&self) -> &Self {
        assert_ne!(self.code, 0, "expected a failure\n{self}");
        self
    }

    /// stdout parsed as JSON; panics with the output if it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

/// Removes from `cmd` every inherited variable that could point a Vault client at something
/// other than the test server (`VAULT_*`, `BAO_*`, CA bundles), and keeps proxies off loopback.
pub(crate) fn hermetic_env(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("VAULT_")
            || name.starts_with("BAO_")
            || name == "REQUESTS_CA_BUNDLE"
            || name == "CURL_CA_BUNDLE"
        {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
}

/// Runs `cmd` to completion (stdin closed), capturing its output in files under `scratch`.
pub(crate) fn run(mut cmd: Command, scratch: &Path) -> CmdOutput {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    fs::create_dir_all(scratch).expect("create scratch dir");
    let out_path = scratch.join(format!("cmd-{n}.stdout"));
    let err_path = scratch.join(format!("cmd-{n}.stderr"));
    let command = describe(&cmd);

    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("create stdout file"))
        .stderr(File::create(&err_path).expect("create stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));

    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for command") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };

    let output = CmdOutput {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        command,
    };
    assert!(
        status.is_some(),
        "command still running after {COMMAND_TIMEOUT:?}, killed\n{output}"
    );
    output
}

fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}
