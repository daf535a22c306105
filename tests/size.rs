//! The component's size budget and its world: the built component (host-test's
//! `build.rs`, profile `component`; the file `cargo xtask dist` ships, its metadata
//! included) must stay within [`MAX_COMPONENT_BYTES`], and import nothing but its own
//! contract's interfaces.

/// The most bytes the built component may take: 512 KiB. Speed is the budget now, not
/// size: the component is built at opt-level 3 (BENCHMARKS.md, "Build profile", has the
/// speed and size of each choice), which is about 370 KB; 512 KiB leaves room to grow
/// and still loads in a few milliseconds from the compiled-artefact cache (the host reads
/// and compiles the whole component before the first call, so its size is paid on every
/// deployment and every cold start). A change that grows the component past this must win
/// the bytes back, or raise this deliberately with the measured size in the commit.
const MAX_COMPONENT_BYTES: u64 = 512 * 1024;

fn size() -> u64 {
    let path = host_test::COMPONENT_WASM;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
        .len()
}

#[test]
fn the_component_is_within_its_size_budget() {
    let size = size();
    println!(
        "the component is {size} bytes ({}); the budget is {MAX_COMPONENT_BYTES}",
        host_test::COMPONENT_WASM
    );
    assert!(
        size <= MAX_COMPONENT_BYTES,
        "the component is {size} bytes, {} over the budget of {MAX_COMPONENT_BYTES}",
        size - MAX_COMPONENT_BYTES
    );
}

#[test]
fn the_budget_is_tight_enough_to_notice_growth() {
    // The budget is a limit, not a formality: the component uses most of it, so a
    // doubling (a bundled time-zone database, a second copy of the expression language)
    // would fail the test above.
    assert!(
        size() * 2 > MAX_COMPONENT_BYTES,
        "the component ({} bytes) is under half its budget; lower MAX_COMPONENT_BYTES",
        size()
    );
}
