//! The component's size budget: the built component (host-test's `build.rs`, profile
//! `component`, then `wasm-opt -Oz`) must stay within [`MAX_COMPONENT_BYTES`].

/// The most bytes the built component may take: 256 KiB, the budget the rendering and
/// schedule issues set. The host reads and compiles the whole component before the first
/// call, so its size is paid on every deployment and every cold start.
///
/// It assumes host-test's build ran wasm-opt (`.ci/run` installs it). A change that
/// grows the component past this must win the bytes back (see BENCHMARKS.md for where
/// they go), or raise this deliberately with the measured size in the commit.
const MAX_COMPONENT_BYTES: u64 = 256 * 1024;

#[test]
fn the_component_is_within_its_size_budget() {
    let path = host_test::COMPONENT_WASM;
    let size = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
        .len();
    println!("the component is {size} bytes ({path}); the budget is {MAX_COMPONENT_BYTES}");
    assert!(
        size <= MAX_COMPONENT_BYTES,
        "the component is {size} bytes, {} over the budget of {MAX_COMPONENT_BYTES}; \
         if host-test's build warned that it used the component without wasm-opt, \
         install it with `npm ci --prefix .ci/tools` and build again",
        size - MAX_COMPONENT_BYTES
    );
}
