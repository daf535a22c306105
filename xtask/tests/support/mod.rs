//! What the release tests share: the artefact, built once per test binary by the same
//! `xtask dist` the README names; the external tools they run, found or (under CI) required;
//! and the README's tested blocks, run as written.
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

/// The fenced block after the marker `<!-- tested: NAME -->` in the README: its text.
pub fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let marker = format!("<!-- tested: {name} -->");
    let after = readme
        .split_once(&marker)
        .unwrap_or_else(|| panic!("the README has no {marker}"))
        .1;
    let fence = after
        .find("```")
        .expect("a fenced block follows the marker");
    let body = &after[fence..];
    let start = body.find('\n').unwrap() + 1;
    let end = body[start..].find("\n```").expect("the block is closed") + start;
    body[start..=end].to_string()
}

/// A bin directory whose `cargo` runs `xtask` for `cargo xtask ...` lines (a nested cargo
/// would wait for the lock the running `cargo test` holds) and refuses anything else, and
/// with a link to each of `tools`.
pub fn shims(dir: &Path, tools: &[(&str, &Path)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\n[ \"$1\" = xtask ] || {{ echo \"the README test runs cargo xtask only, not: cargo $*\" >&2; exit 2; }}\nshift\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_xtask")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, path) in tools {
        std::os::unix::fs::symlink(path, bin.join(name)).unwrap();
    }
    bin
}

/// Run a README shell block with bash (`-eu -o pipefail`) in `dir`, with `bin` first on
/// PATH and `env` set, skipping the lines `skip` says to. Every line must succeed.
pub fn run_block(
    block: &str,
    dir: &Path,
    bin: &Path,
    env: &[(&str, &str)],
    skip: impl Fn(&str) -> bool,
) -> Output {
    let script: String = block
        .lines()
        .map(|l| {
            if skip(l.trim()) {
                format!("# skipped by the test: {l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["-eu", "-o", "pipefail", "-c", &script])
        .current_dir(dir)
        .env("PATH", path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "the README block failed in {}:\n{script}\n---\n{}",
        dir.display(),
        text(&out)
    );
    out
}
