//! `host-test send`: record changes rendered through the component and delivered, each
//! request's outcome printed, with progress on stderr and a one-line summary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use host_test::formats;
use host_test::limits::SEND_PROGRESS_EVERY;

use super::options::{DeliveryArgs, PLATFORM_KEY_FILE, Pair, RetryArgs};
use super::{runtime, session_or_problems, tokio_runtime};

/// What `send` takes.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pair: Pair,
    /// The record changes (JSON array).
    #[arg(long)]
    pub changes: PathBuf,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    /// The keys signing platform tokens, when the configuration includes one (made when
    /// missing). Default: `serve`'s, `platform-key.json` beside its default outbox, so the
    /// tokens verify against the JWKS `serve` publishes.
    #[arg(long, value_name = "FILE")]
    pub platform_key: Option<PathBuf>,
}

/// Run `send`.
pub fn run(args: Args, component: Option<&Path>) -> Result<ExitCode, String> {
    let Args {
        pair,
        changes,
        delivery,
        retry,
        platform_key,
    } = args;
    let policy = retry.policy();
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use host_test::delivery::deliver::{Deliverer, Outcome};
    use host_test::delivery::oauth::TokenCache;
    use host_test::delivery::platform_key::PlatformKeys;
    use host_test::delivery::plugin::SessionPlugin;
    use host_test::time::clock::SystemClock;

    let (config, strategy) = pair.load()?;
    let changes = formats::read_changes(&changes).map_err(|e| e.to_string())?;
    let rt = runtime(component)?;
    let Some(session) = session_or_problems(&rt, &config, &strategy)? else {
        return Ok(ExitCode::FAILURE);
    };
    let platform_keys = if config.include_platform_token {
        let path = platform_key.unwrap_or_else(|| {
            Path::new(host_test::outbox::DEFAULT_PATH).with_file_name(PLATFORM_KEY_FILE)
        });
        let now = host_test::time::clock::Clock::now(&SystemClock).seconds;
        Some(Arc::new(PlatformKeys::load_or_create(&path, now)?))
    } else {
        None
    };
    let log = delivery.log()?;
    let started = std::time::Instant::now();
    // Progress on stderr, at most every SEND_PROGRESS_EVERY, as deliveries finish.
    let finished = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let progress = {
        let (finished, last) = (finished.clone(), last.clone());
        Arc::new(move |_: &host_test::delivery::deliver::DeliveryReport| {
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
        let mut deliverer = Deliverer::new(
            Arc::new(SessionPlugin::new(session)),
            client,
            Arc::new(SystemClock),
        )
        .configure(
            &config,
            &strategy.run_options.run_as_user,
            Arc::new(TokenCache::default()),
        );
        if let Some(keys) = platform_keys {
            deliverer = deliverer.platform_keys(keys);
        }
        let deliverer = Arc::new(
            deliverer
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
