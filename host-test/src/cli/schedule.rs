//! `host-test schedule`: the next fire times of a cron text or of a strategy's schedule.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use host_test::Limits;
use host_test::scheduler::preview::{self, Target};

use super::load;

/// What `schedule` takes.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["cron", "strategy"])))]
pub struct Args {
    /// A cron text (5 or 6 fields, or a macro such as @daily).
    #[arg(long, conflicts_with_all = ["strategy", "schedule"])]
    pub cron: Option<String>,
    /// The IANA time zone of the cron text's fields; default UTC.
    #[arg(long, requires = "cron")]
    pub tz: Option<String>,
    /// An integration strategy (JSON) whose schedule to preview, in its own zone.
    #[arg(long, requires = "schedule")]
    pub strategy: Option<PathBuf>,
    /// The name of the strategy's schedule.
    #[arg(long, requires = "strategy")]
    pub schedule: Option<String>,
    /// How many fire times, 1 to 100.
    #[arg(long)]
    pub count: u32,
    /// List fire times strictly after this: RFC 3339 with an offset, or a local time
    /// in the zone (2016-11-06T01:45:00); default: now.
    #[arg(long)]
    pub from: Option<String>,
}

/// Run `schedule`.
pub fn run(args: Args, component: Option<&Path>) -> Result<ExitCode, String> {
    let Args {
        cron,
        tz,
        strategy,
        schedule: name,
        count,
        from,
    } = args;
    let target = match (cron, strategy, name) {
        (Some(cron), _, _) => Target::Cron {
            cron,
            time_zone: tz,
        },
        (None, Some(strategy), Some(name)) => Target::Schedule { strategy, name },
        // clap requires --cron, or --strategy with --schedule.
        _ => return Err("give --cron, or --strategy with --schedule".into()),
    };
    let request = preview::Request {
        target,
        count,
        from,
    };
    let lines = preview::prepare(&request, jiff::Timestamp::now()).and_then(|prepared| {
        let rt = load(component, Limits::default()).map_err(preview::ScheduleError::Host)?;
        prepared.run(&rt)
    });
    match lines {
        Ok(preview) => {
            // The same warning lines `validate` prints, on stderr: stdout is
            // the fire times, one a line, for scripts.
            for w in &preview.warnings {
                eprintln!("{}", host_test::contract::text::problem_line(w));
            }
            for line in preview.lines {
                out!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ preview::ScheduleError::Problems(_)) => {
            eprintln!("{e}");
            Ok(ExitCode::from(e.exit_code()))
        }
        Err(e) => Err(e.to_string()),
    }
}
