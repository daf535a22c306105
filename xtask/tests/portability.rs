//! Portability: the golden corpus (tests/data/corpus/: the examples and edge cases) goes
//! through the same artefact under wasmtime (the reference host) and under jco in Node,
//! and every answer is the same, byte for byte: URLs, headers, bodies (base64), delivery
//! ids, signatures, fire times, problems. The test runs the README's JavaScript commands as
//! written, from the repository's root.

use support::{Scratch, readme_block, root, run_block, shims, tool};

mod support;

/// The first place two JSON values differ, as a path (`result.ok[0].headers[6].value`).
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value::{Array, Object};
    match (a, b) {
        (Object(x), Object(y)) => {
            let keys: std::collections::BTreeSet<_> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, format!("{at}.{k}")),
                _ => Some(format!("{at}.{k}")),
            })
        }
        (Array(x), Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}[{i}]"))),
        _ => (a != b).then_some(at),
    }
}

#[test]
fn wasmtime_and_jco_render_the_corpus_byte_for_byte_alike() {
    let Some(node) = tool("NODE", "node", "apt-get install nodejs (Node 20 or later)") else {
        return;
    };
    let Some(npx) = tool("NPX", "npx", "apt-get install npm") else {
        return;
    };
    let jco_dir = root().join("examples/jco");
    let installed = jco_dir.join("node_modules/@bytecodealliance/jco/package.json");
    if !installed.is_file() {
        let why = format!(
            "jco is not installed in {}: run `npm ci` there",
            jco_dir.display()
        );
        assert!(!support::in_ci(), "CI=true and {why}");
        eprintln!("skipped: {why}");
        return;
    }
    // The README's JavaScript is render.mjs's.
    let js = readme_block("examples/jco/render.mjs");
    let source = std::fs::read_to_string(jco_dir.join("render.mjs")).unwrap();
    assert!(
        source.contains(&js),
        "the README's JavaScript is not examples/jco/render.mjs's; copy it again:\n{js}"
    );
    let scratch = Scratch::new("xtask", "jco");
    let bin = shims(&scratch, &[("node", &node), ("npx", &npx)]);
    // `npm ci` is the install step: .ci/run makes it once, and the check above found it.
    run_block(
        &readme_block("xtask/tests/portability.rs"),
        &root(),
        &bin,
        &[],
        |line| line.starts_with("npm ci"),
    );

    let lines = |f: &str| -> Vec<String> {
        std::fs::read_to_string(jco_dir.join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (wasmtime, jco) = (lines("wasmtime.jsonl"), lines("jco.jsonl"));
    let calls = xtask::corpus::calls(&xtask::corpus::load().unwrap()).unwrap();
    assert_eq!(wasmtime.len(), calls.len(), "one line a call");
    assert_eq!(jco.len(), calls.len(), "one line a call");
    for (w, j) in wasmtime.iter().zip(&jco) {
        let (a, b): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(w).unwrap(),
            serde_json::from_str(j).unwrap(),
        );
        let at = first_difference(&a, &b, String::new());
        assert_eq!(
            w, j,
            "wasmtime and jco differ at {at:?} in {} of {}",
            a["call"], a["case"]
        );
    }

    // The corpus covers what the issue names: signed requests with their delivery ids,
    // typed errors, and the zone import across daylight-saving changes.
    let all = wasmtime.join("\n");
    for needle in [
        "\"name\":\"webhook-signature\",\"value\":\"v1,",
        "\"deliveryId\":\"msg_",
        "\"err\":{\"tag\":\"record-too-large\"",
        "\"err\":{\"tag\":\"missing-platform-token\"",
        "\"call\":\"cron-preview\",\"result\":{\"ok\"",
        "\"case\":\"New York spring forward\"",
        "\"case\":\"invalid\",\"call\":\"compile\",\"result\":{\"err\":[",
    ] {
        assert!(
            all.contains(needle),
            "the corpus renders nothing with {needle}"
        );
    }
    // Two secrets during a rotation: two signatures in one header.
    assert!(
        wasmtime
            .iter()
            .any(|l| l.contains("\"value\":\"v1,") && l.contains(" v1,")),
        "no request signed with both secrets"
    );
}
