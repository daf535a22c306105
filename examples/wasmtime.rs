//! The shipped component, loaded in wasmtime through the reference host's library, renders
//! the examples: `cargo run --release --example wasmtime -- dist/webhook-provider-0.2.0.wasm`
//! (after `cargo xtask dist`). The README quotes `render_examples`, and
//! xtask/tests/dist.rs runs it.

use std::error::Error;
use std::path::Path;

use host_test::bindings::{HttpRequest, RenderContext};
use host_test::{Limits, Runtime, formats};

/// The requests the component in the file `component` renders for the changes in
/// `examples` (a directory holding the customer configuration, strategy and changes).
pub fn render_examples(
    component: &Path,
    examples: &Path,
) -> Result<Vec<HttpRequest>, Box<dyn Error>> {
    let runtime = Runtime::from_bytes(&std::fs::read(component)?, Limits::default())?;
    let config = formats::read_configuration(&examples.join("customer.config.json"))?;
    let strategy = formats::read_strategy(&examples.join("customer.strategy.json"))?;
    let changes = formats::read_changes(&examples.join("customer.changes.json"))?;
    let context = RenderContext {
        now: host_test::time::instant::parse("2024-06-15T10:30:00Z")
            .ok_or("not an RFC 3339 time")?,
        access_token: Some("example-access-token".into()),
        platform_token: None,
        id_seed: 0,
    };
    let mut session = runtime.session(&config, &strategy)?;
    Ok(session.on_changes(&changes, &context)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let component = std::env::args().nth(1);
    let component = component
        .as_deref()
        .unwrap_or("dist/webhook-provider-0.2.0.wasm");
    for r in render_examples(Path::new(component), Path::new("examples"))? {
        println!(
            "{} {} ({} records, {} bytes)",
            r.delivery_id,
            r.url,
            r.member_codes.len(),
            r.body.len()
        );
    }
    Ok(())
}
