//! A real server process (coffer or OpenBao) on a free 127.0.0.1 port, owned by the test.
//!
//! The `Server` owns the child process and a temp dir holding everything of that instance:
//! config, data, TLS files, the captured log and the HOME directories of the server and its
//! clients. Dropping it kills the process by pid (SIGTERM, then SIGKILL after a short grace),
//! also while a test panics, in which case the server log is printed to stderr first.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::config::{self, Placement, ServerOptions, Storage};
use crate::http::Http;
use crate::moto::Moto;
use crate::tls::{self, TlsFiles};
use crate::{binaries, ports, process, Flavor};

/// How long a starting server may take to answer HTTP at all.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `restart()` lets a server shut down gracefully before SIGKILL.
const RESTART_GRACE: Duration = Duration::from_secs(10);
/// How long `Drop` waits after SIGTERM: the instance is being thrown away.
const DROP_GRACE: Duration = Duration::from_secs(2);
/// Tries at starting on fresh ports when the chosen port was taken in the meantime.
const FRESH_PORT_ATTEMPTS: usize = 5;
/// Tries at restarting on the same port while the old socket is still being released.
const SAME_PORT_ATTEMPTS: usize = 20;

/// How the server was asked to run.
#[derive(Debug, Clone)]
enum Mode {
    /// `server -dev -dev-root-token-id=root -dev-listen-address=...`
    Dev,
    /// `server -config=<temp>/config.hcl`
    Config(ServerOptions),
}

/// Why a start attempt did not produce a serving process.
enum StartFailure {
    /// The listener's port was taken: worth retrying.
    AddressInUse,
}

/// A running (or deliberately stopped) server instance. See the module docs.
pub struct Server {
    flavor: Flavor,
    mode: Mode,
    port: u16,
    cluster_port: u16,
    addr: String,
    tls: Option<TlsFiles>,
    child: Option<Child>,
    http: Http,
    dir: TempDir,
    /// With `COFFER_TEST_STORAGE=dynamodb`, the emulator behind this server's persistent storage
    /// (see [`crate::moto::persistent_on_dynamodb`]); a field, so it outlives the process.
    moto: Option<Moto>,
}

impl Server {
    /// A dev-mode server: in memory, initialised, unsealed, root token `root`, KV v2 at
    /// `secret/`. Returns once `/v1/sys/health` answers 200.
    pub fn dev(flavor: Flavor) -> Server {
        let mut server = Server::unstarted(flavor, Mode::Dev, None, new_temp_dir());
        server.start_on_fresh_ports();
        server.wait_active();
        server
    }

    /// A server from an HCL config: uninitialised on first start. Returns once
    /// `/v1/sys/health` answers (with any status).
    pub fn with_config(flavor: Flavor, opts: ServerOptions) -> Server {
        let dir = new_temp_dir();
        let tls = opts.tls.then(|| tls::generate(&dir.path().join("tls")));
        let (opts, moto) = crate::moto::persistent_on_dynamodb(flavor, opts);
        let mut server = Server::unstarted(flavor, Mode::Config(opts), tls, dir);
        server.moto = moto;
        server.start_on_fresh_ports();
        server
    }

    fn unstarted(flavor: Flavor, mode: Mode, tls: Option<TlsFiles>, dir: TempDir) -> Server {
        for sub in ["data", "server-home", "client-home", "hvac-home", "scratch"] {
            fs::create_dir_all(dir.path().join(sub)).expect("create server dir");
        }
        Server {
            flavor,
            mode,
            port: 0,
            cluster_port: 0,
            addr: String::new(),
            http: Http::new("http://127.0.0.1:0", None),
            tls,
            child: None,
            dir,
            moto: None,
        }
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// "http://127.0.0.1:PORT", or "https://..." when serving TLS.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server certificate, when the server serves TLS.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_cert.as_path())
    }

    /// The storage directory (used by persistent storage; kept across restarts).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The process id while a process is running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// An HTTP client for this server (trusting its CA).
    pub fn http(&self) -> Http {
        self.http.clone()
    }

    /// Everything the server process printed (stdout and stderr, all its runs).
    pub fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Waits up to 10 s for `needle` to appear in the log (a server may print its banner just
    /// after it starts answering) and returns the whole log; panics if it never appears.
    #[track_caller]
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{} server log never showed {needle:?}",
                self.flavor
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process gracefully (SIGTERM; SIGKILL after 10 s) and starts a new one with the
    /// same config, port and data dir. Also starts a server stopped by [`Server::kill9`].
    pub fn restart(&mut self) {
        self.stop(RESTART_GRACE);
        for _ in 0..SAME_PORT_ATTEMPTS {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(StartFailure::AddressInUse) => thread::sleep(Duration::from_millis(250)),
            }
        }
        panic!(
            "{} server: port {} still in use after {SAME_PORT_ATTEMPTS} restart attempts\n{}",
            self.flavor,
            self.port,
            self.log()
        );
    }

    /// Changes the config (e.g. adds or disables a `seal` block) and restarts with it, on the
    /// same port and data dir.
    pub fn restart_with(&mut self, change: impl FnOnce(&mut ServerOptions)) {
        match &mut self.mode {
            Mode::Config(opts) => change(opts),
            Mode::Dev => panic!("a dev server has no config to change"),
        }
        self.stop(RESTART_GRACE);
        self.write_config();
        self.restart();
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and reaps it. Start it
    /// again with [`Server::restart`].
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn scratch_dir(&self) -> PathBuf {
        self.dir.path().join("scratch")
    }

    /// HOME of `bao` commands: where `bao login` keeps `~/.vault-token`.
    pub(crate) fn client_home(&self) -> PathBuf {
        self.dir.path().join("client-home")
    }

    /// HOME of hvac scripts, separate so a `bao login` token never reaches hvac unasked.
    pub(crate) fn hvac_home(&self) -> PathBuf {
        self.dir.path().join("hvac-home")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.hcl")
    }

    fn start_on_fresh_ports(&mut self) {
        for _ in 0..FRESH_PORT_ATTEMPTS {
            self.place_on_fresh_ports();
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(StartFailure::AddressInUse) => continue,
            }
        }
        panic!(
            "{} server: every port tried was in use\n{}",
            self.flavor,
            self.log()
        );
    }

    fn place_on_fresh_ports(&mut self) {
        let openbao_dev = self.flavor == Flavor::OpenBao && matches!(self.mode, Mode::Dev);
        // `bao server -dev` also listens on port + 1 (its cluster port).
        self.port = if openbao_dev {
            ports::free_port_pair()
        } else {
            ports::free_port()
        };
        if let Mode::Config(opts) = &self.mode {
            if self.flavor == Flavor::OpenBao && opts.storage == Storage::Persistent {
                self.cluster_port = ports::free_port();
            }
        }
        self.write_config();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.addr = format!("{scheme}://127.0.0.1:{}", self.port);
        self.http = Http::new(&self.addr, self.ca_cert());
    }

    /// Renders the config file of a configured server for its current ports.
    fn write_config(&self) {
        if let Mode::Config(opts) = &self.mode {
            let data_dir = self.data_dir();
            let hcl = config::render(
                self.flavor,
                opts,
                &Placement {
                    port: self.port,
                    cluster_port: self.cluster_port,
                    data_dir: &data_dir,
                    tls: self.tls.as_ref(),
                },
            );
            fs::write(self.config_path(), hcl).expect("write config");
        }
    }

    fn command(&self) -> Command {
        let bin = match self.flavor {
            Flavor::Coffer => binaries::coffer_bin(),
            Flavor::OpenBao => binaries::bao_bin(),
        };
        let mut cmd = Command::new(bin);
        match self.mode {
            Mode::Dev => cmd.args([
                "server".to_owned(),
                "-dev".to_owned(),
                "-dev-root-token-id=root".to_owned(),
                format!("-dev-listen-address=127.0.0.1:{}", self.port),
            ]),
            Mode::Config(_) => cmd.args([
                "server".to_owned(),
                format!("-config={}", self.config_path().display()),
            ]),
        };
        process::hermetic_env(&mut cmd);
        if let Mode::Config(opts) = &self.mode {
            cmd.envs(opts.env.iter().map(|(name, value)| (name, value)));
        }
        cmd.env("HOME", self.dir.path().join("server-home"))
            .env("RUST_BACKTRACE", "1")
            .current_dir(self.dir.path());
        cmd
    }

    /// Starts one process and waits until it answers HTTP. Panics if it exits for any reason
    /// other than a taken port, or does not answer in time.
    fn spawn_and_wait(&mut self) -> Result<(), StartFailure> {
        let log_start = fs::metadata(self.log_path()).map(|m| m.len()).unwrap_or(0) as usize;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open server log");
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} server: {e}", self.flavor));
        self.child = Some(child);

        let probe = Http::with_timeout(&self.addr, self.ca_cert(), Duration::from_secs(2));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.exited() {
                self.child = None;
                let log = self.log();
                if mentions_address_in_use(log.get(log_start..).unwrap_or(&log)) {
                    return Err(StartFailure::AddressInUse);
                }
                panic!(
                    "{} server exited ({status}) before answering on {} (its log follows)",
                    self.flavor, self.addr
                );
            }
            if probe.req("GET", "/v1/sys/health").try_send().is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "{} server did not answer GET {}/v1/sys/health within {READY_TIMEOUT:?}",
                    self.flavor, self.addr
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("wait for server"))
    }

    /// SIGTERM, then SIGKILL after `grace`; reaps the process either way.
    fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: plain kill(2) on our own unreaped child, so the pid cannot have been reused.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if thread::panicking() {
            let config = fs::read_to_string(self.config_path()).unwrap_or_default();
            eprintln!(
                "===== {flavor} server ({addr}, {dir}) =====\n--- config ---\n{config}\
                 --- log ---\n{log}\n===== end of {flavor} server =====",
                flavor = self.flavor,
                addr = self.addr,
                dir = self.dir.path().display(),
                log = self.log(),
            );
        }
        self.stop(DROP_GRACE);
    }
}

fn new_temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("coffer-blackbox-")
        .tempdir()
        .expect("create temp dir")
}

fn mentions_address_in_use(log: &str) -> bool {
    let log = log.to_lowercase();
    log.contains("address already in use") || log.contains("addrinuse")
}
