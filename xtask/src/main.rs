//! `cargo xtask`: the release tasks (see the README, "The artefact").

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::dist;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Release tasks for webhook-provider")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the distributable artefact: the component, the binary WIT package and their
    /// SHA-256 sums.
    Dist {
        /// The directory to write; default `dist/` under the repository's root.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a component as `dist` does before shipping one: its metadata, that the
    /// reference host loads it, and that it renders the examples.
    Check {
        /// The component, such as one pulled from a registry.
        component: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> Result<(), String> {
    match task {
        Task::Dist { out } => {
            let d = dist::dist(&out.unwrap_or_else(dist::default_dir))?;
            for (path, sha) in [(&d.component, &d.component_sha256), (&d.wit, &d.wit_sha256)] {
                let size = std::fs::metadata(path).map_or(0, |m| m.len());
                println!("{sha}  {} ({size} bytes)", path.display());
            }
            println!("{}", d.sums.display());
            Ok(())
        }
        Task::Check { component } => {
            for line in dist::check(&component)? {
                println!("{line}");
            }
            Ok(())
        }
    }
}
