//! Where the programs the harness drives are found: the coffer binary, the real `bao` (CLI and
//! the OpenBao reference server) and the venv's Python with hvac.
//!
//! A missing program is a broken checkout, never a reason to skip: every lookup panics with the
//! command that fixes it.

use std::path::{Path, PathBuf};

/// The repository root: this crate lives in `<repo>/tests`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// `COFFER_BIN`, or the `coffer` binary of the cargo target directory this test was built in
/// (`<target>/debug/deps/<test>-<hash>` → `<target>/debug/coffer`).
pub fn coffer_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("COFFER_BIN") {
        return require(PathBuf::from(path), "coffer binary (from COFFER_BIN)");
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps");
    require(profile_dir.join("coffer"), "coffer binary")
}

/// `COFFER_BAO_BIN`, or the `bao` that `scripts/setup` installs into `<repo>/.venv`.
pub fn bao_bin() -> PathBuf {
    match std::env::var_os("COFFER_BAO_BIN") {
        Some(path) => require(PathBuf::from(path), "bao binary (from COFFER_BAO_BIN)"),
        None => require(repo_root().join(".venv/bin/bao"), "bao binary"),
    }
}

/// The venv's Python, which has hvac installed.
pub fn python_bin() -> PathBuf {
    require(
        repo_root().join(".venv/bin/python"),
        "venv python with hvac",
    )
}

fn require(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "{what} not found at {}: run `scripts/setup` at the repository root \
         (it creates .venv with bao and hvac and builds the workspace binaries)",
        path.display()
    );
    path
}
