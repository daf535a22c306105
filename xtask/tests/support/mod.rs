//! What the release tests share: the artefact, built once per test binary by the same
//! `xtask dist` the README names, and the external tools they run, found or (under CI)
//! required.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub use scratch::Scratch;

#[path = "../../../host-test/tests/scratch/mod.rs"]
mod scratch;

/// The repository's root.
pub fn root() -> PathBuf {
    xtask::dist::root()
}

/// dist/, written by `xtask dist` (what `cargo xtask dist` runs) once per test binary.
pub fn dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let out = run(Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("dist")
            .current_dir(root()));
        assert!(out.status.success(), "xtask dist failed:\n{}", text(&out));
        xtask::dist::default_dir()
    })
}

/// Both streams of a finished command, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run a command to its end, naming it if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()))
}

/// Whether this run is CI's (`CI=true`, as `.ci/run` and CI services set it): there a
/// test that needs a missing tool fails instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The tool `name`: the path in the environment variable `var`, else the first `name` on
/// PATH. Missing, it fails the test under CI (saying how to install it) and skips it
/// elsewhere with a printed line: a test that silently passes without its tool in CI would
/// prove nothing.
pub fn tool(var: &str, name: &str, install: &str) -> Option<PathBuf> {
    let found = match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        }),
    };
    if found.is_none() {
        let why = format!(
            "{name} not found (set {var} to its path, or put it on PATH; install: {install})"
        );
        assert!(!in_ci(), "CI=true and {why}");
        eprintln!("skipped: {why}");
    }
    found
}
