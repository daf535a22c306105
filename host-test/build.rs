//! Builds the webhook-provider component for `wasm32-wasip2` in a nested cargo with its
//! own target directory (the pattern of wasmtime's `crates/test-programs/artifacts`), and
//! exports its path as `WEBHOOK_PROVIDER_WASM`.
//!
//! A nested cargo keeps the component's size-optimised profile and target apart from the
//! host's, and never deadlocks on the outer build's target-directory lock.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target_dir = out_dir.join("component-target");

    for path in [
        "src",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .arg("build")
        .arg("--package=webhook-provider")
        .arg("--lib")
        .arg("--target=wasm32-wasip2")
        .arg("--profile=component")
        .arg("--target-dir")
        .arg(&target_dir)
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
        "building the component for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
    let wasm = target_dir.join("wasm32-wasip2/component/webhook_provider.wasm");
    assert!(
        wasm.exists(),
        "the component was not built at {}",
        wasm.display()
    );
    println!("cargo:rustc-env=WEBHOOK_PROVIDER_WASM={}", wasm.display());
}
