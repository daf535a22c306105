//! Builds the webhook-provider component in a nested cargo with its own target directory
//! (the pattern of wasmtime's `crates/test-programs/artifacts`) and exports the path of
//! the result as `WEBHOOK_PROVIDER_WASM`.
//!
//! The core module is built for `wasm32-unknown-unknown`, which links no WASI at all, and
//! made a component here with `wit-component` (what `wasm-tools component new` does), so
//! the component imports exactly what its world names: `connect:webhook/zone`. Built for
//! `wasm32-wasip2`, Rust's standard library pulls in 13 WASI interfaces the component
//! never calls.
//!
//! A nested cargo keeps the component's profile and target apart from the host's, and
//! never deadlocks on the outer build's target-directory lock. No other tool is needed:
//! the profile's choice (speed over size, no wasm-opt) is measured in BENCHMARKS.md.
//!
//! The component is written with its name, version, licence, source and description (the
//! root package's, from `cargo metadata`) by `wasm-metadata`, so the file every test loads
//! is byte for byte the one `cargo xtask dist` ships.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    for path in [
        "src",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    let core = build_core_module(&root, &out_dir.join("component-target"));
    let wasm = out_dir.join("webhook_provider.wasm");
    let module = fs::read(&core).expect("reading the core module");
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .and_then(|mut e| e.encode())
        .unwrap_or_else(|e| panic!("making the core module a component failed: {e:#}"));
    let component = metadata(&root)
        .to_wasm(&component)
        .unwrap_or_else(|e| panic!("writing the component's metadata failed: {e:#}"));
    fs::write(&wasm, component).expect("writing the component");
    println!("cargo:rustc-env=WEBHOOK_PROVIDER_WASM={}", wasm.display());
}

/// The package the component is built from: its Cargo.toml fields are the component's
/// metadata.
const COMPONENT_PACKAGE: &str = "webhook-provider";

/// The component's metadata, from the root package's Cargo.toml (through `cargo metadata`,
/// so the fields are written in one place). No build revision: the same sources give the
/// same bytes, whatever the commit.
fn metadata(root: &Path) -> wasm_metadata::AddMetadata {
    use wasm_metadata::{AddMetadata, AddMetadataField::Set, Description, Licenses, Source};

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--no-deps", "--offline", "--format-version=1"])
        .output()
        .expect("failed to run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed in {}: {}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata printed no JSON");
    let package = doc["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == COMPONENT_PACKAGE))
        .unwrap_or_else(|| panic!("cargo metadata lists no package {COMPONENT_PACKAGE}"));
    let field = |key: &str| {
        package[key].as_str().unwrap_or_else(|| {
            panic!(
                "{COMPONENT_PACKAGE}'s Cargo.toml has no `{key}`; the component's metadata needs it"
            )
        })
    };
    let mut m = AddMetadata::default();
    m.name = Set(field("name").into());
    m.version = Set(wasm_metadata::Version::new(field("version").to_string()));
    m.description = Set(Description::new(field("description").to_string()));
    m.licenses = Set(Licenses::new(field("license"))
        .unwrap_or_else(|e| panic!("Cargo.toml's license is not an SPDX expression: {e}")));
    m.source = Set(Source::new(field("repository"))
        .unwrap_or_else(|e| panic!("Cargo.toml's repository is not a URL: {e}")));
    m
}

/// Runs the nested cargo build of the root package and returns the core module's path.
fn build_core_module(root: &Path, target_dir: &Path) -> PathBuf {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .arg("--package=webhook-provider")
        .arg("--lib")
        .arg("--target=wasm32-unknown-unknown")
        .arg("--profile=component")
        .arg("--target-dir")
        .arg(target_dir)
        // The outer build's flags are for the host, never for the guest.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        // `cargo clippy` of the host must not turn the guest build into a lint run.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CLIPPY_ARGS");
    let status = cmd
        .status()
        .expect("failed to run cargo to build the component");
    assert!(
        status.success(),
        "building the component for wasm32-unknown-unknown failed (is the target installed? `rustup target add wasm32-unknown-unknown`)"
    );
    let wasm = target_dir.join("wasm32-unknown-unknown/component/webhook_provider.wasm");
    assert!(
        wasm.exists(),
        "the core module was not built at {}",
        wasm.display()
    );
    wasm
}
