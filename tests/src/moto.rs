//! moto's server as a local DynamoDB (and KMS): the real AWS wire protocol on 127.0.0.1.
//!
//! [`Moto::start`] runs moto's server (installed by `scripts/setup`) on a free port through
//! `localstack/moto_server.py`, which applies requests one at a time as DynamoDB applies a
//! conditional write atomically (plain `moto_server` does not: see that file), waits until it
//! answers, and kills it by pid when dropped, as `Server` does for its child.
//! Tests that share one emulator keep apart by table: [`Moto::fresh_table`] hands out a new
//! name each call. [`Moto::freeze`]/[`Moto::thaw`] (SIGSTOP/SIGCONT) and [`Moto::kill9`] are
//! the fault injections.

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{binaries, ports, process, Flavor, ServerOptions, Storage};

/// How long moto may take to answer after it was started (it starts in about a second).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The static credentials every client of the emulator uses; moto accepts any.
pub const ACCESS_KEY_ID: &str = "coffertest";
pub const SECRET_ACCESS_KEY: &str = "coffertest";
pub const REGION: &str = "us-east-1";

/// With `COFFER_TEST_STORAGE=dynamodb`, a coffer server asked for persistent storage gets a
/// table on an emulator of its own instead of the embedded file, so the whole black-box suite
/// runs on `storage "dynamodb"`: `COFFER_TEST_STORAGE=dynamodb scripts/test -p coffer-blackbox`.
/// The emulator lives as long as the `Server` (restarts keep the table).
pub(crate) fn persistent_on_dynamodb(
    flavor: Flavor,
    mut opts: ServerOptions,
) -> (ServerOptions, Option<Moto>) {
    let wanted = std::env::var("COFFER_TEST_STORAGE").is_ok_and(|s| s == "dynamodb");
    if !wanted
        || flavor != Flavor::Coffer
        || opts.storage != Storage::Persistent
        || opts.storage_block.is_some()
    {
        return (opts, None);
    }
    let moto = Moto::start();
    opts.storage_block = Some(moto.storage_block("coffer"));
    opts.env.extend(moto.client_env());
    (opts, Some(moto))
}

/// A running moto server owned by the test. See the module docs.
pub struct Moto {
    port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl Moto {
    /// Starts moto on a free port and returns once it answers HTTP.
    pub fn start() -> Moto {
        let dir = tempfile::Builder::new()
            .prefix("coffer-moto-")
            .tempdir()
            .expect("create temp dir");
        let mut moto = Moto {
            port: ports::free_port(),
            child: None,
            dir,
        };
        moto.spawn();
        moto
    }

    /// "http://127.0.0.1:PORT".
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A table name no other test of this process has used.
    pub fn fresh_table(&self) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        format!("coffer-test-{}", NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The environment a client of the emulator needs (credentials, region), for child
    /// processes: `cmd.envs(moto.client_env())`.
    pub fn client_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET_ACCESS_KEY.into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    }

    /// Runs one KMS call against the emulator with boto3 (shipped with moto in the venv) and
    /// returns what the snippet prints. `call` is Python using a client named `kms`.
    fn kms(&self, call: &str) -> String {
        let script = format!(
            "import boto3\nkms = boto3.client('kms', endpoint_url={endpoint:?}, region_name={REGION:?}, \
             aws_access_key_id={ACCESS_KEY_ID:?}, aws_secret_access_key={SECRET_ACCESS_KEY:?})\n{call}\n",
            endpoint = self.endpoint(),
        );
        let out = Command::new(binaries::python_bin())
            .args(["-c", &script])
            .output()
            .expect("run venv python");
        assert!(
            out.status.success(),
            "KMS call failed: {call}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Creates a symmetric KMS key with alias `alias/<alias>`; returns its key id.
    pub fn create_kms_key(&self, alias: &str) -> String {
        self.kms(&format!(
            "k = kms.create_key()['KeyMetadata']['KeyId']\n\
             kms.create_alias(AliasName='alias/{alias}', TargetKeyId=k)\nprint(k)"
        ))
    }

    /// `DisableKey` on `key_id`.
    pub fn disable_kms_key(&self, key_id: &str) {
        self.kms(&format!("kms.disable_key(KeyId={key_id:?})"));
    }

    /// `EnableKey` on `key_id`.
    pub fn enable_kms_key(&self, key_id: &str) {
        self.kms(&format!("kms.enable_key(KeyId={key_id:?})"));
    }

    /// A `seal "awskms"` block for a coffer server using `key` (id, ARN or alias) of this
    /// emulator. Pair it with [`Moto::client_env`].
    pub fn awskms_seal_block(&self, key: &str) -> String {
        format!(
            "seal \"awskms\" {{\n  region = {REGION:?}\n  kms_key_id = {key:?}\n  endpoint = {:?}\n}}\n",
            self.endpoint()
        )
    }

    /// The `storage "dynamodb"` block of a coffer config using this emulator.
    pub fn storage_block(&self, table: &str) -> String {
        format!(
            "storage \"dynamodb\" {{\n  table = {table:?}\n  region = {REGION:?}\n  \
             endpoint = {:?}\n  create_table = true\n}}\n",
            self.endpoint()
        )
    }

    /// Options for a coffer server on `table` of this emulator (created at start-up).
    pub fn coffer_options(&self, table: &str) -> ServerOptions {
        ServerOptions::persistent()
            .storage_block(self.storage_block(table))
            .env(self.client_env())
    }

    /// How many DynamoDB calls moto has served so far: one `POST /` access-log line each.
    /// Counted from the outside, so it also sees calls a storage-level counter would miss
    /// (retries, extra pages, unprocessed keys).
    pub fn calls(&self) -> usize {
        self.log()
            .lines()
            .filter(|line| line.contains("\"POST / HTTP/1.1\""))
            .count()
    }

    /// Everything moto printed.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops the process (SIGSTOP): connections hang as on a network partition.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Resumes a frozen process (SIGCONT).
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Kills the process (SIGKILL): connections are refused. moto keeps its state in memory, so
    /// a restarted emulator is empty.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("moto.log")
    }

    fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("moto is running");
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) on our own unreaped child, so the pid cannot have been reused.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    fn spawn(&mut self) {
        let repo = binaries::repo_root();
        assert!(
            repo.join(".venv/bin/moto_server").is_file(),
            "moto_server not found in {}/.venv: run `scripts/setup` at the repository root",
            repo.display()
        );
        let log = File::create(self.log_path()).expect("create moto log");
        let mut cmd = Command::new(binaries::python_bin());
        cmd.arg(repo.join("localstack/moto_server.py")).args([
            "-H",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
        ]);
        process::hermetic_env(&mut cmd);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start moto_server"));
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/moto-api/", self.endpoint());
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "moto_server exited ({status}) before answering\n{}",
                    self.log()
                );
            }
            if client.get(&url).send().is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer {url} within {READY_TIMEOUT:?}\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen process ignores SIGTERM until continued; SIGKILL works either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Two coffer processes on one fresh table of one emulator, initialised through `a` (one key
/// share) and unsealed in both: where every multi-process test starts. Fields drop in order:
/// the servers before the emulator they use.
pub struct TwoProcesses {
    pub a: crate::Server,
    pub b: crate::Server,
    pub root: String,
    pub moto: Moto,
}

impl TwoProcesses {
    pub fn start() -> TwoProcesses {
        let moto = Moto::start();
        let table = moto.fresh_table();
        let a = crate::Server::with_config(Flavor::Coffer, moto.coffer_options(&table));
        let b = crate::Server::with_config(Flavor::Coffer, moto.coffer_options(&table));
        let keys = a.init(1, 1);
        a.unseal(&keys.keys);
        b.unseal(&keys.keys);
        b.wait_active();
        TwoProcesses {
            a,
            b,
            root: keys.root_token,
            moto,
        }
    }
}
