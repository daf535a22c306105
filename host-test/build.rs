//! Builds the webhook-provider component for `wasm32-wasip2` in a nested cargo with its
//! own target directory (the pattern of wasmtime's `crates/test-programs/artifacts`),
//! shrinks its core module with binaryen's `wasm-opt` when one is available, and exports
//! the path of the result as `WEBHOOK_PROVIDER_WASM`.
//!
//! A nested cargo keeps the component's size-optimised profile and target apart from the
//! host's, and never deadlocks on the outer build's target-directory lock.
//!
//! `wasm-opt -Oz` takes about 40 KB off the component (see `tests/size.rs` for the
//! budget). It is optional: without it, or if it fails, the build goes on with the
//! unoptimised component and a `cargo:warning`.

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
        // Installing or upgrading the project-local wasm-opt changes the output.
        ".ci/tools",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=WASM_OPT");

    let built = build_component(&root, &out_dir.join("component-target"));
    let optimised = out_dir.join("webhook_provider.wasm");
    let wasm = match optimise_component(&root, &built, &optimised) {
        Ok(()) => optimised,
        Err(why) => {
            println!(
                "cargo:warning=using the component without wasm-opt ({why}); \
                 install it with `npm ci --prefix .ci/tools` or set WASM_OPT"
            );
            built
        }
    };
    println!("cargo:rustc-env=WEBHOOK_PROVIDER_WASM={}", wasm.display());
}

/// Runs the nested cargo build of the root package and returns the component's path.
fn build_component(root: &Path, target_dir: &Path) -> PathBuf {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .arg("--package=webhook-provider")
        .arg("--lib")
        .arg("--target=wasm32-wasip2")
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
        "building the component for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
    let wasm = target_dir.join("wasm32-wasip2/component/webhook_provider.wasm");
    assert!(
        wasm.exists(),
        "the component was not built at {}",
        wasm.display()
    );
    wasm
}

/// Writes to `out` the component at `input` with its core module run through
/// `wasm-opt -Oz`, or says why it could not.
///
/// wasm-opt works on core modules, not components, so the largest core module (the
/// program; the others are small shims) is cut out, optimised and spliced back in. Its
/// imports and exports keep their names, so the component's other sections still refer
/// to it correctly; the result is validated all the same before it is used.
fn optimise_component(root: &Path, input: &Path, out: &Path) -> Result<(), String> {
    let wasm_opt = find_wasm_opt(root).ok_or("no wasm-opt found")?;
    let component = fs::read(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    let sections = sections(&component)?;
    let core = sections
        .iter()
        .filter(|s| s.id == CORE_MODULE_SECTION)
        .max_by_key(|s| s.payload.len())
        .ok_or("the component has no core module")?;

    let dir = out.parent().unwrap();
    let core_in = dir.join("core.wasm");
    let core_out = dir.join("core.opt.wasm");
    fs::write(&core_in, core.payload).map_err(|e| e.to_string())?;
    run_wasm_opt(&wasm_opt, &core_in, &core_out)?;
    let optimised_core = fs::read(&core_out).map_err(|e| e.to_string())?;

    let mut result = component[..8].to_vec();
    for section in &sections {
        if section.id == CUSTOM_SECTION && custom_name(section.payload) == Some("component-name") {
            // Debug names only, like the core module's names that `strip = true` drops.
            continue;
        }
        let payload = if std::ptr::eq(section, core) {
            &optimised_core[..]
        } else {
            section.payload
        };
        result.push(section.id);
        write_leb128(&mut result, payload.len());
        result.extend_from_slice(payload);
    }

    wasmparser::Validator::new()
        .validate_all(&result)
        .map_err(|e| format!("the optimised component does not validate: {e}"))?;
    fs::write(out, &result).map_err(|e| format!("writing {}: {e}", out.display()))
}

/// The `wasm-opt` to use: `$WASM_OPT` if set; else the pinned one that `.ci/run`
/// installs under `.ci/tools` (preferred to one on `PATH`, which may be too old for the
/// features Rust emits, and would make the component's size depend on the machine);
/// else one on `PATH`.
fn find_wasm_opt(root: &Path) -> Option<PathBuf> {
    if let Some(path) = env::var_os("WASM_OPT").filter(|p| !p.is_empty()) {
        return Some(path.into());
    }
    let local = root.join(".ci/tools/node_modules/.bin/wasm-opt");
    if local.exists() {
        return Some(local);
    }
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join("wasm-opt"))
        .find(|candidate| candidate.is_file())
}

/// The WebAssembly features that Rust 1.95 enables by default for `wasm32-wasip2`.
/// The core module carries no `target_features` section once stripped, so wasm-opt must
/// be told; it keeps to these, all of which wasmtime's default configuration accepts.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// Runs `wasm-opt -Oz --converge --low-memory-unused` on a core module (2.5 KB less than
/// `-Oz` alone, which was measured against `-Os` and extra passes).
///
/// `--low-memory-unused` lets wasm-opt assume the first 1 KiB of linear memory is never
/// accessed. Rust's wasm targets put the 1 MiB stack first, growing down towards
/// address 0, so those bytes are touched only by a call nested within 1 KiB of a stack
/// overflow; the component bounds every recursion (expression nesting 32, JSON nesting
/// 32) far below that. `-tnh` (traps never happen) stays off: a trap must stay a trap.
fn run_wasm_opt(wasm_opt: &Path, input: &Path, output: &Path) -> Result<(), String> {
    let result = Command::new(wasm_opt)
        .args(["-Oz", "--converge", "--low-memory-unused"])
        .args(WASM_FEATURES)
        .arg(input)
        .arg("-o")
        .arg(output)
        .output()
        .map_err(|e| format!("running {}: {e}", wasm_opt.display()))?;
    if result.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&result.stderr);
        let first = stderr.lines().next().unwrap_or("no message");
        Err(format!("{} failed: {first}", wasm_opt.display()))
    }
}

/// A component's core module section (component-model binary format).
const CORE_MODULE_SECTION: u8 = 1;
/// A custom section, in a component as in a module.
const CUSTOM_SECTION: u8 = 0;

/// One top-level section of a component: its id and payload.
struct Section<'a> {
    id: u8,
    payload: &'a [u8],
}

/// Splits a component into its top-level sections, after the 8-byte preamble.
fn sections(component: &[u8]) -> Result<Vec<Section<'_>>, String> {
    if component.len() < 8 || &component[..4] != b"\0asm" {
        return Err("not a WebAssembly binary".into());
    }
    let mut sections = Vec::new();
    let mut at = 8;
    while at < component.len() {
        let id = component[at];
        let (size, start) = read_leb128(component, at + 1)?;
        let end = start
            .checked_add(size)
            .filter(|&end| end <= component.len())
            .ok_or("a section runs past the end of the component")?;
        sections.push(Section {
            id,
            payload: &component[start..end],
        });
        at = end;
    }
    Ok(sections)
}

/// The name of a custom section, from the start of its payload.
fn custom_name(payload: &[u8]) -> Option<&str> {
    let (len, start) = read_leb128(payload, 0).ok()?;
    std::str::from_utf8(payload.get(start..start.checked_add(len)?)?).ok()
}

/// Reads an unsigned LEB128 number at `at`; returns it and the offset just past it.
fn read_leb128(bytes: &[u8], mut at: usize) -> Result<(usize, usize), String> {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(at).ok_or("a LEB128 number runs past the end")?;
        at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((value, at));
        }
    }
    Err("a LEB128 number is longer than 5 bytes".into())
}

/// Appends `value` as unsigned LEB128, the encoding of section sizes.
fn write_leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
