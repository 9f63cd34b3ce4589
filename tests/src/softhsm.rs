//! SoftHSM2 as a local HSM: a PKCS#11 token in a temp dir of its own, for `seal "pkcs11"`.
//!
//! [`SoftHsm::start`] writes a `softhsm2.conf` whose token directory is inside a fresh temp
//! dir, initialises one token there with `softhsm2-util`, and removes everything when
//! dropped. [`SoftHsm::env`] is the `SOFTHSM2_CONF` pair a child process (a coffer server)
//! needs; [`SoftHsm::create_aes_key`] (and `create_rsa_key_pair_on`) make keys with
//! `pkcs11-tool`, for tests that want an existing key rather than `generate_key`.
//!
//! One instance per test binary for in-process use: SoftHSM reads `SOFTHSM2_CONF` (and scans
//! its token directory) once, at `C_Initialize`, and `C_Initialize` happens once per process.
//! So a test binary that loads the library itself keeps ONE `SoftHsm` in a `LazyLock`, calls
//! [`SoftHsm::add_token`] for every token it needs, [`SoftHsm::set_process_env`] and
//! [`SoftHsm::remove_at_exit`] inside that initialiser (before any test touches the library),
//! and gives each test its own key label. (A static is never dropped: `remove_at_exit` is
//! what removes its directory.)
//! Black-box tests, whose coffer servers are child processes, can each start their own.
//!
//! The programs come from `scripts/setup` (Debian's softhsm2 and opensc); a missing one is a
//! panic saying so, never a skip.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once};

use tempfile::TempDir;

/// The SoftHSM2 module Debian's softhsm2 package installs.
pub const SOFTHSM_LIB: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The security officer PIN of every token the harness creates (tests never log in as SO).
const SO_PIN: &str = "coffer-so-1234";

/// Directories [`SoftHsm::remove_at_exit`] removes when the process exits.
static REMOVE_AT_EXIT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn remove_registered_dirs() {
    let dirs = REMOVE_AT_EXIT.lock().unwrap_or_else(|e| e.into_inner());
    for dir in dirs.iter() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// A SoftHSM2 token store owned by the test. See the module docs.
pub struct SoftHsm {
    dir: TempDir,
    label: String,
    pin: String,
}

impl SoftHsm {
    /// Creates the store and initialises a token `label` whose user PIN is `pin`.
    pub fn start(label: &str, pin: &str) -> SoftHsm {
        for program in ["softhsm2-util", "pkcs11-tool"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .is_ok_and(|out| out.status.success());
            assert!(
                found,
                "{program} not found: run `scripts/setup` (it installs softhsm2 and opensc)"
            );
        }
        assert!(
            Path::new(SOFTHSM_LIB).is_file(),
            "{SOFTHSM_LIB} not found: run `scripts/setup` (it installs softhsm2)"
        );
        let dir = tempfile::Builder::new()
            .prefix("coffer-softhsm-")
            .tempdir()
            .expect("create temp dir");
        let tokens = dir.path().join("tokens");
        fs::create_dir(&tokens).expect("create token dir");
        fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
                 slots.removable = false\n",
                tokens.display()
            ),
        )
        .expect("write softhsm2.conf");
        let hsm = SoftHsm {
            dir,
            label: label.to_string(),
            pin: pin.to_string(),
        };
        hsm.add_token(label, pin);
        hsm
    }

    /// Initialises one more token in this store. In-process users must do this before the
    /// library's `C_Initialize` (see the module docs): SoftHSM does not see later tokens.
    pub fn add_token(&self, label: &str, pin: &str) {
        self.run(Command::new("softhsm2-util").args([
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            SO_PIN,
        ]));
    }

    /// Creates an AES-256 key `key_label` on the token `token_label` (with `pin`), and the
    /// CKA_ID `id_hex` when given.
    pub fn create_aes_key_on(
        &self,
        token_label: &str,
        pin: &str,
        key_label: &str,
        id_hex: Option<&str>,
    ) {
        let mut cmd = Command::new("pkcs11-tool");
        cmd.args([
            "--module",
            SOFTHSM_LIB,
            "--login",
            "--pin",
            pin,
            "--keygen",
            "--key-type",
            "AES:32",
            "--label",
            key_label,
            "--token-label",
            token_label,
        ]);
        if let Some(id) = id_hex {
            cmd.args(["--id", id]);
        }
        self.run(&mut cmd);
    }

    /// Creates an RSA-2048 key pair `key_label` (public half: encrypt; private half: decrypt)
    /// on the token `token_label`, for `mechanism = "CKM_RSA_PKCS_OAEP"`.
    pub fn create_rsa_key_pair_on(&self, token_label: &str, pin: &str, key_label: &str) {
        self.run(Command::new("pkcs11-tool").args([
            "--module",
            SOFTHSM_LIB,
            "--login",
            "--pin",
            pin,
            "--keypairgen",
            "--key-type",
            "rsa:2048",
            "--usage-decrypt",
            "--label",
            key_label,
            "--token-label",
            token_label,
        ]));
    }

    /// Creates an AES-256 key `key_label` on this store's first token.
    pub fn create_aes_key(&self, key_label: &str) {
        self.create_aes_key_on(&self.label, &self.pin, key_label, None);
    }

    /// The PKCS#11 module to load (`lib` of `seal "pkcs11"`).
    pub fn lib(&self) -> &'static str {
        SOFTHSM_LIB
    }

    /// This store's `softhsm2.conf`.
    pub fn conf_path(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// The first token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The first token's user PIN.
    pub fn pin(&self) -> &str {
        &self.pin
    }

    /// A `seal "pkcs11"` block for a coffer server using this token and key `key_label`,
    /// creating the key on first use (`generate_key`). Pair it with [`SoftHsm::env`].
    pub fn seal_block(&self, key_label: &str) -> String {
        format!(
            "seal \"pkcs11\" {{\n  lib = {lib:?}\n  token_label = {label:?}\n  pin = {pin:?}\n  \
             key_label = {key_label:?}\n  mechanism = \"CKM_AES_GCM\"\n  generate_key = \"true\"\n}}",
            lib = self.lib(),
            label = self.label(),
            pin = self.pin(),
        )
    }

    /// `SOFTHSM2_CONF` for child processes: `cmd.envs(hsm.env())`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![(
            "SOFTHSM2_CONF".to_string(),
            self.conf_path().display().to_string(),
        )]
    }

    /// Points this process's own SoftHSM at this store. Call it once, from the `LazyLock`
    /// that holds the binary's one instance, before anything loads the library.
    pub fn set_process_env(&self) {
        std::env::set_var("SOFTHSM2_CONF", self.conf_path());
    }

    /// Removes this store's directory when the process exits, for an instance held in a
    /// static (which is never dropped).
    pub fn remove_at_exit(&self) {
        REMOVE_AT_EXIT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.dir.path().to_path_buf());
        static REGISTER: Once = Once::new();
        REGISTER.call_once(|| {
            // SAFETY: registers a plain `extern "C"` function that neither unwinds nor needs
            // any state beyond a static; it runs once, when the process exits.
            unsafe {
                libc::atexit(remove_registered_dirs);
            }
        });
    }

    fn run(&self, cmd: &mut Command) {
        cmd.envs(self.env());
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
        assert!(
            out.status.success(),
            "{:?} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
