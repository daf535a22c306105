//! `host-test eval`: an expression evaluated on a record, printed as one JSON value.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use host_test::bindings as b;
use host_test::{HostError, formats};

use super::{now_arg, runtime};

/// What `eval` takes.
#[derive(clap::Args)]
pub struct Args {
    /// The record (JSON object; nested objects are related entities).
    #[arg(long)]
    pub record: PathBuf,
    /// The record's prior state, for PRIOR and CHANGED*.
    #[arg(long)]
    pub prior: Option<PathBuf>,
    /// The current time (RFC 3339) for NOW and TODAY; default: the machine's clock.
    #[arg(long)]
    pub now: Option<String>,
    /// The expression.
    pub expression: String,
}

/// Run `eval`.
pub fn run(args: Args, component: Option<&Path>) -> Result<ExitCode, String> {
    let Args {
        record,
        prior,
        now,
        expression,
    } = args;
    let state: serde_json::Value = formats::read(&record).map_err(|e| e.to_string())?;
    let state = formats::attributes(&state, "record").map_err(|e| e.to_string())?;
    let prior = match prior {
        Some(p) => {
            let v: serde_json::Value = formats::read(&p).map_err(|e| e.to_string())?;
            Some(formats::attributes(&v, "prior").map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let context = b::RenderContext {
        now: now_arg(now.as_deref())?,
        access_token: None,
        platform_token: None,
        id_seed: 0,
    };
    let sample = b::Sample { state, prior };
    match runtime(component)?.evaluate(&expression, &sample, &context) {
        Ok(v) => {
            out!("{}", formats::value_json(&v));
            Ok(ExitCode::SUCCESS)
        }
        Err(HostError::Problem(p)) => {
            eprintln!("{}", host_test::contract::text::problem_line(&p));
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.to_string()),
    }
}
