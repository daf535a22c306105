//! `cargo xtask dist`: the distributable artefact, in one directory.
//!
//! - `webhook-provider-<version>.wasm`: the component, byte for byte the one host-test's
//!   build.rs built and every test loads (with its name, version, licence, source and
//!   description written in by that build);
//! - `connect-webhook-<version>.wasm`: the contract `wit/` as a binary WIT package (what
//!   `wkg wit build` makes), with the same licence and source;
//! - `SHA256SUMS`: both files' SHA-256, in the format `sha256sum -c` reads.
//!
//! Before writing, it checks what a release must hold: the component's metadata names this
//! version, `wit/` is the package of the same version (the component's version is its
//! contract's), and the reference host loads the component.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasm_metadata::{AddMetadata, AddMetadataField::Set, Description, Payload};

/// The version of everything shipped: the workspace's (Cargo.toml, `[workspace.package]`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The component's name, in its metadata and its file name.
pub const COMPONENT_NAME: &str = "webhook-provider";

/// The WIT package's namespace and name (`wit/world.wit`).
pub const WIT_PACKAGE: (&str, &str) = ("connect", "webhook");

/// The component's file name in dist/.
pub fn component_file() -> String {
    format!("{COMPONENT_NAME}-{VERSION}.wasm")
}

/// The WIT package's file name in dist/.
pub fn wit_file() -> String {
    format!("{}-{}-{VERSION}.wasm", WIT_PACKAGE.0, WIT_PACKAGE.1)
}

/// The checksum file's name in dist/.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// The repository's root directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lies in the repository")
        .to_path_buf()
}

/// Where `cargo xtask dist` writes by default: `dist/` under the repository's root.
pub fn default_dir() -> PathBuf {
    root().join("dist")
}

/// What `dist` wrote.
#[derive(Debug)]
pub struct Dist {
    /// The component.
    pub component: PathBuf,
    /// The binary WIT package.
    pub wit: PathBuf,
    /// The checksum file.
    pub sums: PathBuf,
    /// The component's SHA-256, lower-case hex.
    pub component_sha256: String,
    /// The WIT package's SHA-256, lower-case hex.
    pub wit_sha256: String,
}

/// Build the artefact into `out` (created when missing). Files are written whole under a
/// temporary name and renamed, so a reader never sees half a file.
pub fn dist(out: &Path) -> Result<Dist, String> {
    let component = fs::read(host_test::COMPONENT_WASM).map_err(|e| {
        format!(
            "cannot read the component host-test built at {}: {e}",
            host_test::COMPONENT_WASM
        )
    })?;
    check_component(&component)?;
    let wit = wit_package(&root().join("wit"), &component)?;

    fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let component_path = out.join(component_file());
    let wit_path = out.join(wit_file());
    let sums_path = out.join(SUMS_FILE);
    let (component_sha256, wit_sha256) = (sha256_hex(&component), sha256_hex(&wit));
    let sums = format!(
        "{component_sha256}  {}\n{wit_sha256}  {}\n",
        component_file(),
        wit_file()
    );
    write(&component_path, &component)?;
    write(&wit_path, &wit)?;
    write(&sums_path, sums.as_bytes())?;
    Ok(Dist {
        component: component_path,
        wit: wit_path,
        sums: sums_path,
        component_sha256,
        wit_sha256,
    })
}

/// SHA-256 of `bytes`, lower-case hex (as `sha256sum` and OCI digests print it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The component must name itself and this version, carry its licence and source, and
/// load in the reference host (which checks its export's version and its imports). What it
/// found, in words.
fn check_component(component: &[u8]) -> Result<Vec<String>, String> {
    let meta = metadata(component)?;
    let name = meta.name.as_deref().unwrap_or("(none)");
    let version = meta.version.map_or("(none)".into(), |v| v.to_string());
    if name != COMPONENT_NAME || version != VERSION {
        return Err(format!(
            "the component's metadata says {name} {version}, but this release is {COMPONENT_NAME} {VERSION}: build it again (`cargo build -p host-test` writes the metadata)"
        ));
    }
    let (Some(licenses), Some(source)) = (meta.licenses, meta.source) else {
        return Err(
            "the component carries no licence or no source in its metadata; host-test's build.rs writes them from Cargo.toml".into(),
        );
    };
    let runtime = host_test::Runtime::from_bytes(component, host_test::Limits::default())
        .map_err(|e| format!("the reference host does not load the component: {e}"))?;
    let requests = render_examples(&runtime)?;
    Ok(vec![
        format!("{name} {version}, licence {licenses}, source {source}"),
        format!(
            "loads in the reference host: exports {}, imports only {}",
            host_test::sandbox::runtime::PROVIDER_EXPORT,
            host_test::sandbox::runtime::ALLOWED_IMPORTS.join(", ")
        ),
        format!(
            "renders examples/ into {} request(s) carrying {} record(s)",
            requests.len(),
            requests.iter().map(|r| r.member_codes.len()).sum::<usize>()
        ),
    ])
}

/// `cargo xtask check FILE`: what [`dist`] checks before it ships a component, for a file
/// from anywhere (one pulled from a registry, say).
pub fn check(path: &Path) -> Result<Vec<String>, String> {
    let component = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = vec![format!(
        "{}: sha256 {}",
        path.display(),
        sha256_hex(&component)
    )];
    lines.extend(check_component(&component)?);
    Ok(lines)
}

/// The examples' changes, rendered at the golden file's time with its token
/// (host-test/tests/golden/customer.render.json).
fn render_examples(
    runtime: &host_test::Runtime,
) -> Result<Vec<host_test::bindings::HttpRequest>, String> {
    use host_test::formats;
    let examples = root().join("examples");
    let e = |e: formats::FormatError| e.to_string();
    let config = formats::read_configuration(&examples.join("customer.config.json")).map_err(e)?;
    let strategy = formats::read_strategy(&examples.join("customer.strategy.json")).map_err(e)?;
    let changes = formats::read_changes(&examples.join("customer.changes.json")).map_err(e)?;
    let context = host_test::bindings::RenderContext {
        now: host_test::time::instant::parse(EXAMPLES_NOW).expect("EXAMPLES_NOW is RFC 3339"),
        access_token: Some("example-access-token".into()),
        platform_token: None,
        id_seed: 0,
    };
    runtime
        .session(&config, &strategy)
        .and_then(|mut s| s.on_changes(&changes, &context))
        .map_err(|e| format!("the examples do not render: {e}"))
}

/// The render time of the examples' golden requests.
const EXAMPLES_NOW: &str = "2024-06-15T10:30:00Z";

/// The top-level metadata of a component or WIT package.
pub fn metadata(wasm: &[u8]) -> Result<wasm_metadata::Metadata, String> {
    match Payload::from_binary(wasm) {
        Ok(Payload::Component { metadata, .. }) => Ok(metadata),
        Ok(Payload::Module(_)) => Err("a core module, not a component".into()),
        Err(e) => Err(format!("cannot read the metadata: {e:#}")),
    }
}

/// `wit/` as a binary WIT package, checked to be `connect:webhook@VERSION`, with the
/// component's licence and source and the package's own first doc paragraph.
pub fn wit_package(dir: &Path, component: &[u8]) -> Result<Vec<u8>, String> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(dir)
        .map_err(|e| format!("cannot read the WIT package in {}: {e:#}", dir.display()))?;
    let name = &resolve.packages[package].name;
    let version = name.version.as_ref().map(|v| v.to_string());
    if (name.namespace.as_str(), name.name.as_str()) != WIT_PACKAGE
        || version.as_deref() != Some(VERSION)
    {
        return Err(format!(
            "{} declares package {name}, but this release is {}:{}@{VERSION}: the component's version is its contract's (README, \"Versioning\"), so change both together",
            dir.display(),
            WIT_PACKAGE.0,
            WIT_PACKAGE.1
        ));
    }
    let summary = resolve.packages[package]
        .docs
        .contents
        .as_deref()
        .and_then(|d| d.split("\n\n").next())
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .ok_or_else(|| format!("the package in {} has no doc comment", dir.display()))?;
    let wit = wit_component::encode(&resolve, package)
        .map_err(|e| format!("cannot encode {name}: {e:#}"))?;
    let meta = metadata(component)?;
    let mut add = AddMetadata::default();
    add.version = Set(wasm_metadata::Version::new(VERSION.to_string()));
    add.description = Set(Description::new(summary));
    if let Some(l) = meta.licenses {
        add.licenses = Set(l);
    }
    if let Some(s) = meta.source {
        add.source = Set(s);
    }
    add.to_wasm(&wit)
        .map_err(|e| format!("cannot write the WIT package's metadata: {e:#}"))
}
