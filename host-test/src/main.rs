//! `host-test`: the reference host's command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use host_test::bindings as b;
use host_test::schedule::{self, Target};
use host_test::{HostError, Limits, Runtime, json};

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

/// The configuration and strategy files that `validate`, `render` and `send` read.
#[derive(clap::Args)]
struct Pair {
    /// The service configuration (JSON).
    #[arg(long)]
    config: PathBuf,
    /// The integration strategy (JSON).
    #[arg(long)]
    strategy: PathBuf,
}

impl Pair {
    /// Read both files into the WIT types, naming the file and key of any error.
    fn load(&self) -> Result<(b::Configuration, b::Strategy), String> {
        Ok((
            json::read_configuration(&self.config).map_err(|e| e.to_string())?,
            json::read_strategy(&self.strategy).map_err(|e| e.to_string())?,
        ))
    }
}

/// How `send` and `serve` retry: the same options, the same defaults.
#[derive(clap::Args)]
struct RetryArgs {
    /// The first backoff's upper bound, in milliseconds.
    #[arg(long, default_value_t = host_test::deliver::RETRY_BASE.as_millis() as u64)]
    retry_base_ms: u64,
    /// The largest backoff upper bound, in milliseconds.
    #[arg(long, default_value_t = host_test::deliver::RETRY_CAP.as_millis() as u64)]
    retry_cap_ms: u64,
    /// Attempts per delivery, the first included.
    #[arg(long, default_value_t = host_test::deliver::MAX_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..=100))]
    max_attempts: u32,
}

impl RetryArgs {
    fn policy(&self) -> host_test::deliver::RetryPolicy {
        host_test::deliver::RetryPolicy {
            base: std::time::Duration::from_millis(self.retry_base_ms),
            cap: std::time::Duration::from_millis(self.retry_cap_ms.max(self.retry_base_ms)),
            max_attempts: self.max_attempts,
            ..Default::default()
        }
    }
}

/// How `send` and `serve` deliver.
#[derive(clap::Args)]
struct DeliveryArgs {
    /// Allow plain http:// URLs (for loopback tests).
    #[arg(long)]
    allow_http: bool,
    /// Let this host through the SSRF guard although it resolves to a private,
    /// loopback or other internal address (repeatable).
    #[arg(long = "allow-host", value_name = "HOST", value_parser = allow_host)]
    allow_hosts: Vec<String>,
    /// Per-request timeout in seconds, at least 1 (a zero timeout would fail every
    /// request before it is sent).
    #[arg(long, default_value_t = host_test::http::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Requests delivered at once, at least 1.
    #[arg(long, default_value_t = host_test::deliver::DEFAULT_CONCURRENCY,
          value_parser = at_least_one)]
    concurrency: usize,
    /// Write the delivery log (JSON lines) here instead of stderr.
    #[arg(long)]
    log: Option<PathBuf>,
}

impl DeliveryArgs {
    fn client(&self) -> host_test::http::HttpClient {
        host_test::http::HttpClient::new(host_test::http::ClientOptions {
            timeout: std::time::Duration::from_secs(self.timeout),
            allow_http: self.allow_http,
            allow_hosts: self.allow_hosts.clone(),
        })
    }

    fn log(&self) -> Result<host_test::log::DeliveryLog, String> {
        use host_test::log::DeliveryLog;
        Ok(match &self.log {
            Some(p) => DeliveryLog::to_writer(std::fs::File::create(p).map_err(|e| {
                format!(
                    "--log {}: cannot write the delivery log there: {e}; give a file in a writable directory",
                    p.display()
                )
            })?),
            None => DeliveryLog::to_writer(std::io::stderr()),
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration and a strategy; print every problem with its path.
    Validate {
        #[command(flatten)]
        pair: Pair,
    },
    /// Render record changes into the exact HTTP requests; print them as JSON.
    Render {
        #[command(flatten)]
        pair: Pair,
        /// The record changes (JSON array).
        #[arg(long)]
        changes: PathBuf,
        /// The current time (RFC 3339); default: the machine's clock.
        #[arg(long)]
        now: Option<String>,
        /// The OAuth access token to send (needed when the configuration uses OAuth).
        #[arg(long)]
        token: Option<String>,
        /// The platform token (needed when the configuration includes it).
        #[arg(long)]
        platform_token: Option<String>,
        /// Seed for NEWGUID.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print each request's body bytes exactly as they are sent and signed, one
        /// request a line (a rendered body never holds a raw line break), instead of the
        /// JSON description: what a receiver's signature check hashes.
        #[arg(long)]
        bodies: bool,
    },
    /// Evaluate an expression on a record; print the value as one JSON value.
    Eval {
        /// The record (JSON object; nested objects are related entities).
        #[arg(long)]
        record: PathBuf,
        /// The record's prior state, for PRIOR and CHANGED*.
        #[arg(long)]
        prior: Option<PathBuf>,
        /// The current time (RFC 3339) for NOW and TODAY; default: the machine's clock.
        #[arg(long)]
        now: Option<String>,
        /// The expression.
        expression: String,
    },
    /// Render record changes through the component and deliver them; print each request's outcome.
    Send {
        #[command(flatten)]
        pair: Pair,
        /// The record changes (JSON array).
        #[arg(long)]
        changes: PathBuf,
        #[command(flatten)]
        delivery: DeliveryArgs,
        #[command(flatten)]
        retry: RetryArgs,
    },
    /// Serve the platform's run-time API on loopback over a durable outbox: record
    /// changes, on-demand runs, the delivery history and replay, and the schedules.
    Serve {
        #[command(flatten)]
        pair: Pair,
        /// The member store's starting content (JSON array of records with a `Code`).
        #[arg(long)]
        members: Option<PathBuf>,
        /// The outbox file (SQLite); created when missing, resumed when present.
        #[arg(long, default_value = host_test::outbox::DEFAULT_PATH)]
        outbox: PathBuf,
        /// The API's address (loopback only; port 0 picks a free port).
        #[arg(long, default_value = host_test::serve::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        delivery: DeliveryArgs,
        #[command(flatten)]
        retry: RetryArgs,
    },
    /// Run the whole product locally: embedded receiver and token endpoint, the examples,
    /// a stream of changes; exits 0 only when every expected delivery arrived verified.
    Demo {
        /// How many changes to play.
        #[arg(long, default_value_t = 48)]
        changes: usize,
        /// Write the delivery log (JSON lines) here.
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Preview the next fire times of a cron text, or of a strategy's schedule, one per
    /// line in RFC 3339 with the zone's offset.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["cron", "strategy"])))]
    Schedule {
        /// A cron text (5 or 6 fields, or a macro such as @daily).
        #[arg(long, conflicts_with_all = ["strategy", "schedule"])]
        cron: Option<String>,
        /// The IANA time zone of the cron text's fields; default UTC.
        #[arg(long, requires = "cron")]
        tz: Option<String>,
        /// An integration strategy (JSON) whose schedule to preview, in its own zone.
        #[arg(long, requires = "schedule")]
        strategy: Option<PathBuf>,
        /// The name of the strategy's schedule.
        #[arg(long, requires = "strategy")]
        schedule: Option<String>,
        /// How many fire times, 1 to 100.
        #[arg(long)]
        count: u32,
        /// List fire times strictly after this: RFC 3339 with an offset, or a local time
        /// in the zone (2016-11-06T01:45:00); default: now.
        #[arg(long)]
        from: Option<String>,
    },
}

/// `println!` for the command's output, ending the command quietly (exit 0) when stdout
/// is closed, as it is under `host-test render ... | head -1`: `println!` would panic and
/// exit 101 with a message about a broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with the same rule as [`out!`].
macro_rules! out_part {
    ($($arg:tt)*) => {
        emit(format_args!($($arg)*))
    };
}

/// Write to stdout; a closed stdout ends the process quietly, any other failure says so.
fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    written(stdout.write_fmt(args).and_then(|()| stdout.flush()));
}

/// [`emit`] for bytes, written exactly as they are.
fn emit_bytes(bytes: &[u8]) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    written(stdout.write_all(bytes).and_then(|()| stdout.flush()));
}

/// The end of a write to stdout: a closed stdout ends the process quietly (exit 0), any
/// other failure says so (exit 2).
fn written(result: std::io::Result<()>) {
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("host-test: cannot write the output: {e}");
        std::process::exit(2);
    }
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

/// The component to run: `--component`, or the one this binary was built with (whose
/// compiled artefact is cached beside it, in the build's own directory).
fn load(component: Option<&Path>) -> Result<Runtime, HostError> {
    let Some(path) = component else {
        return Runtime::new(Limits::default());
    };
    let bytes = std::fs::read(path).map_err(|e| {
        HostError::Load(format!(
            "--component {}: cannot read it ({e}); give the path of a webhook-provider component (.wasm)",
            path.display()
        ))
    })?;
    // Compiled afresh: a compiled artefact is native code, so none is read from or
    // written to a directory this host does not own.
    Runtime::from_bytes(&bytes, Limits::default())
}

fn runtime(component: Option<&Path>) -> Result<Runtime, String> {
    load(component).map_err(|e| e.to_string())
}

fn now_arg(now: Option<&str>) -> Result<b::Instant, String> {
    match now {
        None => Ok(json::instant(jiff::Timestamp::now())),
        Some(t) => json::parse_instant(t).ok_or_else(|| {
            format!(
                "--now {t:?} is not an RFC 3339 time with an offset of at most ±18:00, such as 2024-06-15T10:30:00Z"
            )
        }),
    }
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Compile the pair into a session, printing the problems when it is invalid.
fn session_or_problems(
    rt: &Runtime,
    config: &b::Configuration,
    strategy: &b::Strategy,
) -> Result<Option<host_test::Session>, String> {
    match rt.session(config, strategy) {
        Ok(s) => Ok(Some(s)),
        Err(HostError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{}", json::problem_line(p));
            }
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// How often `send` reports its progress on stderr while deliveries are under way.
const SEND_PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

fn send(
    component: Option<&Path>,
    pair: Pair,
    changes: PathBuf,
    delivery: DeliveryArgs,
    policy: host_test::deliver::RetryPolicy,
) -> Result<ExitCode, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use host_test::deliver::{Deliverer, Outcome};
    use host_test::oauth::TokenCache;
    use host_test::plugin::{SessionPlugin, SystemClock};

    let (config, strategy) = pair.load()?;
    let changes = json::read_changes(&changes).map_err(|e| e.to_string())?;
    let rt = runtime(component)?;
    let Some(session) = session_or_problems(&rt, &config, &strategy)? else {
        return Ok(ExitCode::FAILURE);
    };
    let log = delivery.log()?;
    let started = std::time::Instant::now();
    // Progress on stderr, at most every SEND_PROGRESS_EVERY, as deliveries finish.
    let finished = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let progress = {
        let (finished, last) = (finished.clone(), last.clone());
        Arc::new(move |_: &host_test::deliver::DeliveryReport| {
            let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
            let now = started.elapsed().as_millis() as u64;
            let due = last.load(Ordering::Relaxed) + SEND_PROGRESS_EVERY.as_millis() as u64;
            if now >= due && last.swap(now, Ordering::Relaxed) < due {
                eprintln!(
                    "progress: {n} deliveries finished in {:.1} s",
                    now as f64 / 1000.0
                );
            }
        })
    };
    let reports = tokio_runtime()?.block_on(async {
        let client = Arc::new(delivery.client());
        let deliverer = Arc::new(
            Deliverer::new(
                Arc::new(SessionPlugin::new(session)),
                client,
                Arc::new(SystemClock),
            )
            .configure(
                &config,
                &strategy.run_options.run_as_user,
                Arc::new(TokenCache::default()),
            )
            .log(Arc::new(log))
            .policy(policy)
            .on_report(progress)
            .concurrency(delivery.concurrency),
        );
        deliverer.on_changes(&changes).await
    });
    let reports = match reports {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if reports.is_empty() {
        eprintln!("nothing to send: no change passed the strategy's triggers and filters");
    }
    for r in &reports {
        let status = r
            .last_response
            .as_ref()
            .map_or("-".to_string(), |x| x.status.to_string());
        let why = match &r.outcome {
            Outcome::Delivered => String::new(),
            Outcome::DeadLettered(w) | Outcome::EndpointDisabled(w) | Outcome::Skipped(w) => {
                format!(": {w}")
            }
        };
        out!(
            "{} {} ({} record(s), {} attempt(s), status {status}) {}{why}",
            r.outcome.word(),
            r.delivery_id,
            r.records,
            r.attempts,
            r.url
        );
    }
    let delivered = reports
        .iter()
        .filter(|r| r.outcome == Outcome::Delivered)
        .count();
    let records: usize = reports.iter().map(|r| r.records).sum();
    let attempts: u32 = reports.iter().map(|r| r.attempts).sum();
    eprintln!(
        "sent: {} of {} deliveries delivered ({records} record(s), {attempts} attempt(s)), {} not, in {:.1} s",
        delivered,
        reports.len(),
        reports.len() - delivered,
        started.elapsed().as_secs_f64()
    );
    let all = delivered == reports.len();
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn serve(
    component: Option<&Path>,
    pair: Pair,
    members: Option<PathBuf>,
    outbox: PathBuf,
    listen: std::net::SocketAddr,
    delivery: DeliveryArgs,
    policy: host_test::deliver::RetryPolicy,
) -> Result<ExitCode, String> {
    use std::sync::Arc;

    use host_test::deliver::Deliverer;
    use host_test::oauth::TokenCache;
    use host_test::plugin::{SessionPlugin, SystemClock};
    use host_test::serve::{ServeOptions, start};

    let (config, strategy) = pair.load()?;
    let members = match &members {
        Some(p) => json::read_members(p).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let rt = Arc::new(runtime(component)?);
    let Some(session) = session_or_problems(&rt, &config, &strategy)? else {
        return Ok(ExitCode::FAILURE);
    };
    let log = delivery.log()?;
    let tokio = tokio_runtime()?;
    let served = tokio.block_on(async {
        let plugin = Arc::new(SessionPlugin::new(session));
        let deliverer = Deliverer::new(
            plugin.clone(),
            Arc::new(delivery.client()),
            Arc::new(SystemClock),
        )
        .configure(
            &config,
            &strategy.run_options.run_as_user,
            Arc::new(TokenCache::default()),
        )
        .log(Arc::new(log))
        .policy(policy);
        let options = ServeOptions {
            listen,
            outbox: outbox.clone(),
            members,
            concurrency: delivery.concurrency,
        };
        let running = start(rt, config, strategy, plugin, deliverer, options).await?;
        let counts = running
            .service
            .dispatcher()
            .outbox()
            .counts()
            .map_err(|e| e.to_string())?;
        out!(
            "outbox {}: {} pending (resumed), {} delivered, {} dead",
            outbox.display(),
            counts.pending,
            counts.delivered,
            counts.dead
        );
        // Last: whoever waits for this line can call the API at once.
        out!("listening on http://{}", running.addr);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let dispatcher = running.service.dispatcher();
        let grace = host_test::dispatch::SHUTDOWN_GRACE;
        out!(
            "stopping: waiting up to {} s for attempts in flight",
            grace.as_secs()
        );
        let left = dispatcher.stop(grace).await;
        let stats = dispatcher.stats();
        out!(
            "stopped: {} attempt(s), {} delivered, {} dead this run; {left} attempt(s) cut off in flight; pending deliveries stay in the outbox",
            stats.attempts, stats.delivered, stats.dead
        );
        Ok::<_, String>(())
    });
    // Attempts still running (a DNS lookup, a slow receiver) are not waited for: their
    // deliveries are pending in the outbox and go again at the next start.
    tokio.shutdown_background();
    served?;
    Ok(ExitCode::SUCCESS)
}

fn demo(
    component: Option<&Path>,
    changes: usize,
    log: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let rt = runtime(component)?;
    let options = host_test::demo::DemoOptions {
        changes,
        log,
        ..host_test::demo::DemoOptions::examples()
    };
    out!(
        "demo: embedded webhook receiver and OAuth token endpoint on 127.0.0.1, the examples/ configuration and strategy, {changes} customer changes"
    );
    let summary = tokio_runtime()?.block_on(host_test::demo::run(&rt, &options))?;
    out_part!("{}", summary.text());
    Ok(if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run(command: Command, component: Option<&Path>) -> Result<ExitCode, String> {
    match command {
        Command::Send {
            pair,
            changes,
            delivery,
            retry,
        } => send(component, pair, changes, delivery, retry.policy()),
        Command::Serve {
            pair,
            members,
            outbox,
            listen,
            delivery,
            retry,
        } => serve(
            component,
            pair,
            members,
            outbox,
            listen,
            delivery,
            retry.policy(),
        ),
        Command::Demo { changes, log } => demo(component, changes, log),
        Command::Validate { pair } => {
            let (config, strategy) = pair.load()?;
            let rt = runtime(component)?;
            match rt.session(&config, &strategy) {
                Ok(mut session) => {
                    let warnings = session.warnings().map_err(|e| e.to_string())?;
                    for w in &warnings {
                        eprintln!("{}", json::problem_line(w));
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
                        eprintln!("{}", json::problem_line(p));
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
        Command::Render {
            pair,
            changes,
            now,
            token,
            platform_token,
            seed,
            bodies,
        } => {
            let (config, strategy) = pair.load()?;
            let changes = json::read_changes(&changes).map_err(|e| e.to_string())?;
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
                        eprintln!("{}", json::problem_line(p));
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
                    let out: Vec<serde_json::Value> =
                        requests.iter().map(json::request_json).collect();
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
                    eprintln!("error: {}{hint}", json::render_error_text(&e));
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Eval {
            record,
            prior,
            now,
            expression,
        } => {
            let state: serde_json::Value = json::read(&record).map_err(|e| e.to_string())?;
            let state = json::attributes(&state, "record").map_err(|e| e.to_string())?;
            let prior = match prior {
                Some(p) => {
                    let v: serde_json::Value = json::read(&p).map_err(|e| e.to_string())?;
                    Some(json::attributes(&v, "prior").map_err(|e| e.to_string())?)
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
                    out!("{}", json::value_json(&v));
                    Ok(ExitCode::SUCCESS)
                }
                Err(HostError::Problem(p)) => {
                    eprintln!("{}", json::problem_line(&p));
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Schedule {
            cron,
            tz,
            strategy,
            schedule: name,
            count,
            from,
        } => {
            let target = match (cron, strategy, name) {
                (Some(cron), _, _) => Target::Cron {
                    cron,
                    time_zone: tz,
                },
                (None, Some(strategy), Some(name)) => Target::Schedule { strategy, name },
                // clap requires --cron, or --strategy with --schedule.
                _ => return Err("give --cron, or --strategy with --schedule".into()),
            };
            let request = schedule::Request {
                target,
                count,
                from,
            };
            let lines = schedule::prepare(&request, jiff::Timestamp::now()).and_then(|prepared| {
                let rt = load(component).map_err(schedule::ScheduleError::Host)?;
                prepared.run(&rt)
            });
            match lines {
                Ok(preview) => {
                    // The same warning lines `validate` prints, on stderr: stdout is
                    // the fire times, one a line, for scripts.
                    for w in &preview.warnings {
                        eprintln!("{}", json::problem_line(w));
                    }
                    for line in preview.lines {
                        out!("{line}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ schedule::ScheduleError::Problems(_)) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(e.exit_code()))
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

/// A count that must be at least one.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// An `--allow-host` value: a host name or an address, without a port. A `host:port` form
/// is refused with what to write instead: the guard allows a host on every port, and a
/// port that seemed to narrow it would not.
fn allow_host(text: &str) -> Result<String, String> {
    let bracketed = text.starts_with('[');
    let port = if bracketed {
        text.split_once("]:").map(|(_, p)| p)
    } else if text.matches(':').count() == 1 {
        text.split_once(':').map(|(_, p)| p)
    } else {
        None
    };
    if let Some(port) = port {
        let host = text.trim_end_matches(port).trim_end_matches(':');
        return Err(format!(
            "--allow-host takes a host or an address without a port ({port:?} here): write --allow-host {host}, which allows every port of it"
        ));
    }
    if text.trim().is_empty() {
        return Err("--allow-host needs a host name or an address".into());
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::allow_host;

    #[test]
    fn allow_host_takes_hosts_and_addresses_and_refuses_ports_with_what_to_write() {
        for ok in [
            "localhost",
            "127.0.0.1",
            "::1",
            "[::1]",
            "hooks.example.com",
        ] {
            assert_eq!(allow_host(ok).as_deref(), Ok(ok));
        }
        for (bad, host) in [
            ("localhost:8080", "localhost"),
            ("127.0.0.1:9", "127.0.0.1"),
            ("[::1]:443", "[::1]"),
        ] {
            let e = allow_host(bad).unwrap_err();
            assert!(e.contains(&format!("write --allow-host {host},")), "{e}");
        }
        assert!(allow_host(" ").is_err());
    }
}
