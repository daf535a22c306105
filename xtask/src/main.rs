//! `cargo xtask`: the release tasks (see the README, "The artefact").

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{corpus, dist};

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
    /// Write the portability corpus as the values jco passes to the component (read by
    /// examples/jco/render.mjs).
    Corpus {
        /// The file to write; default `examples/jco/corpus.json`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Render the portability corpus through the reference host (wasmtime), one JSON line a
    /// call, in the format examples/jco/render.mjs prints.
    Render {
        /// The component to load.
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
        Task::Corpus { out } => {
            let out = out.unwrap_or_else(corpus::default_file);
            let calls = corpus::calls(&corpus::load()?)?;
            corpus::write(&calls, &out)?;
            println!("{} calls: {}", calls.len(), out.display());
            Ok(())
        }
        Task::Render { component } => {
            let calls = corpus::calls(&corpus::load()?)?;
            for line in corpus::render(&component, &calls)? {
                println!("{line}");
            }
            Ok(())
        }
    }
}
