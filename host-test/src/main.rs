//! `host-test`: the reference host's command line. Each command is a file in `cli/`.

#[macro_use]
mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "host-test",
    version,
    about = "The reference wasmtime host for the webhook-provider component"
)]
struct Cli {
    /// Load this component instead of the one this binary was built with (a build from
    /// `dist/`, or one pulled from a registry); it is compiled at every run, never cached
    /// beside the file.
    #[arg(long, global = true, value_name = "PATH")]
    component: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command, cli.component.as_deref()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("host-test: {message}");
            ExitCode::from(2)
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration and a strategy; print every problem with its path.
    Validate(cli::validate::Args),
    /// Render record changes into the exact HTTP requests; print them as JSON.
    Render(cli::render::Args),
    /// Evaluate an expression on a record; print the value as one JSON value.
    Eval(cli::eval::Args),
    /// Render record changes through the component and deliver them; print each request's outcome.
    Send(cli::send::Args),
    /// Serve the platform's run-time API over a durable outbox (on loopback, or beyond
    /// it with API tokens): record changes, on-demand runs, the delivery history and
    /// replay, the schedules, health and metrics.
    Serve(cli::serve::Args),
    /// Run the whole product locally: embedded receiver and token endpoint, the examples,
    /// a stream of changes; exits 0 only when every expected delivery arrived verified.
    Demo(cli::demo::Args),
    /// Preview the next fire times of a cron text, or of a strategy's schedule, one per
    /// line in RFC 3339 with the zone's offset.
    Schedule(cli::schedule::Args),
}

fn run(command: Command, component: Option<&Path>) -> Result<ExitCode, String> {
    match command {
        Command::Validate(a) => cli::validate::run(a, component),
        Command::Render(a) => cli::render::run(a, component),
        Command::Eval(a) => cli::eval::run(a, component),
        Command::Send(a) => cli::send::run(a, component),
        Command::Serve(a) => cli::serve::run(a, component),
        Command::Demo(a) => cli::demo::run(a, component),
        Command::Schedule(a) => cli::schedule::run(a, component),
    }
}
