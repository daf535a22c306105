//! The `host-test` commands, one file each, and what they share: loading the component,
//! the clock of `--now`, printing a definition's problems.

#[macro_use]
pub mod output;

pub mod demo;
pub mod eval;
pub mod options;
pub mod render;
pub mod schedule;
pub mod send;
pub mod serve;
pub mod validate;

use std::path::Path;

use host_test::bindings as b;
use host_test::{HostError, Limits, Runtime, time::instant};

/// The component to run, in a sandbox of `limits`: `--component`, or the one this binary
/// was built with (whose compiled artefact is cached beside it, in the build's own
/// directory).
pub fn load(component: Option<&Path>, limits: Limits) -> Result<Runtime, HostError> {
    let Some(path) = component else {
        return Runtime::new(limits);
    };
    let bytes = std::fs::read(path).map_err(|e| {
        HostError::Load(format!(
            "--component {}: cannot read it ({e}); give the path of a webhook-provider component (.wasm)",
            path.display()
        ))
    })?;
    // Compiled afresh: a compiled artefact is native code, so none is read from or
    // written to a directory this host does not own.
    Runtime::from_bytes(&bytes, limits)
}

/// [`load`] in the default sandbox, its error in words.
pub fn runtime(component: Option<&Path>) -> Result<Runtime, String> {
    load(component, Limits::default()).map_err(|e| e.to_string())
}

/// The `--now` of a command, or the machine's clock.
pub fn now_arg(now: Option<&str>) -> Result<b::Instant, String> {
    match now {
        None => Ok(instant::from_timestamp(jiff::Timestamp::now())),
        Some(t) => instant::parse(t).ok_or_else(|| {
            format!(
                "--now {t:?} is not an RFC 3339 time in years 1 to 9999 with an offset of at most ±18:00, such as 2024-06-15T10:30:00Z"
            )
        }),
    }
}

/// The async runtime of the commands that deliver.
pub fn tokio_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Compile the pair into a session, printing the problems when it is invalid.
pub fn session_or_problems(
    rt: &Runtime,
    config: &b::Configuration,
    strategy: &b::Strategy,
) -> Result<Option<host_test::Session>, String> {
    match rt.session(config, strategy) {
        Ok(s) => Ok(Some(s)),
        Err(HostError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{}", host_test::contract::text::problem_line(p));
            }
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}
