//! `host-test demo`: the whole product locally, through the reference receiver and token
//! endpoint; exits 0 only when every expected delivery arrived verified.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{runtime, tokio_runtime};

/// What `demo` takes.
#[derive(clap::Args)]
pub struct Args {
    /// How many changes to play.
    #[arg(long, default_value_t = 48)]
    pub changes: usize,
    /// Write the delivery log (JSON lines) here.
    #[arg(long)]
    pub log: Option<PathBuf>,
}

/// Run `demo`.
pub fn run(args: Args, component: Option<&Path>) -> Result<ExitCode, String> {
    let Args { changes, log } = args;
    let rt = runtime(component)?;
    let options = host_test::reference::demo::DemoOptions {
        changes,
        log,
        ..host_test::reference::demo::DemoOptions::examples()
    };
    out!(
        "demo: embedded webhook receiver and OAuth token endpoint on 127.0.0.1, the examples/ configuration and strategy, {changes} customer changes"
    );
    let summary = tokio_runtime()?.block_on(host_test::reference::demo::run(&rt, &options))?;
    out_part!("{}", summary.text());
    Ok(if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
