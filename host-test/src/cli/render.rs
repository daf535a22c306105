//! `host-test render`: record changes rendered into the exact HTTP requests.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use host_test::bindings as b;
use host_test::{HostError, formats};

use super::options::Pair;
use super::output::emit_bytes;
use super::{now_arg, runtime};

/// What `render` takes.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pair: Pair,
    /// The record changes (JSON array).
    #[arg(long)]
    pub changes: PathBuf,
    /// The current time (RFC 3339); default: the machine's clock.
    #[arg(long)]
    pub now: Option<String>,
    /// The OAuth access token to send (needed when the configuration uses OAuth).
    #[arg(long)]
    pub token: Option<String>,
    /// The platform token (needed when the configuration includes it).
    #[arg(long)]
    pub platform_token: Option<String>,
    /// Seed for NEWGUID.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print each request's body bytes exactly as they are sent and signed, one
    /// request a line (a rendered body never holds a raw line break), instead of the
    /// JSON description: what a receiver's signature check hashes.
    #[arg(long)]
    pub bodies: bool,
}

/// Run `render`.
pub fn run(args: Args, component: Option<&Path>) -> Result<ExitCode, String> {
    let Args {
        pair,
        changes,
        now,
        token,
        platform_token,
        seed,
        bodies,
    } = args;
    let (config, strategy) = pair.load()?;
    let changes = formats::read_changes(&changes).map_err(|e| e.to_string())?;
    let context = b::RenderContext {
        now: now_arg(now.as_deref())?,
        access_token: token,
        platform_token,
        id_seed: seed,
    };
    let mut session = match runtime(component)?.session(&config, &strategy) {
        Ok(s) => s,
        Err(HostError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{}", host_test::contract::text::problem_line(p));
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.to_string()),
    };
    match session.on_changes(&changes, &context) {
        Ok(requests) if bodies => {
            let mut raw = Vec::new();
            for r in &requests {
                raw.extend_from_slice(&r.body);
                raw.push(b'\n');
            }
            emit_bytes(&raw);
            Ok(ExitCode::SUCCESS)
        }
        Ok(requests) => {
            let out: Vec<serde_json::Value> = requests.iter().map(formats::request_json).collect();
            out!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(HostError::Render(e)) => {
            let hint = match e {
                b::RenderError::MissingAccessToken => " (pass --token)",
                b::RenderError::MissingPlatformToken => " (pass --platform-token)",
                _ => "",
            };
            eprintln!(
                "error: {}{hint}",
                host_test::contract::text::render_error_text(&e)
            );
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.to_string()),
    }
}
