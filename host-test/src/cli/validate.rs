//! `host-test validate`: every problem of a configuration and a strategy, with its path.

use std::path::Path;
use std::process::ExitCode;

use host_test::HostError;
use host_test::bindings as b;

use super::options::Pair;
use super::runtime;

/// What `validate` takes.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pair: Pair,
}

/// Run `validate`.
pub fn run(args: Args, component: Option<&Path>) -> Result<ExitCode, String> {
    let Args { pair } = args;
    let (config, strategy) = pair.load()?;
    let rt = runtime(component)?;
    match rt.session(&config, &strategy) {
        Ok(mut session) => {
            let warnings = session.warnings().map_err(|e| e.to_string())?;
            for w in &warnings {
                eprintln!("{}", host_test::contract::text::problem_line(w));
            }
            out!(
                "ok: {:?} with strategy {:?} is valid ({} warning(s))",
                config.name,
                strategy.name,
                warnings.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(HostError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{}", host_test::contract::text::problem_line(p));
            }
            let errors = problems
                .iter()
                .filter(|p| matches!(p.severity, b::Severity::Error))
                .count();
            eprintln!("invalid: {errors} error(s)");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.to_string()),
    }
}
