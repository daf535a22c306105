//! `GET /metrics`: what the host has done and holds, in the Prometheus text format
//! (OpenMetrics 1.0), through the official Rust client, `prometheus-client`.
//!
//! | Metric | Type | Labels | What |
//! | --- | --- | --- | --- |
//! | `webhook_deliveries_total` | counter | `outcome`: `delivered`, `dead-letter` (given up), `endpoint-disabled` (a 410), `skipped` (not attempted) | Deliveries finished, each once. |
//! | `webhook_retries_total` | counter | | Attempts after which a retry was scheduled. |
//! | `webhook_attempt_duration_seconds` | histogram | | Each attempt that sent a request: from handing it to its engine (token, signature, request, response) to the verdict. |
//! | `webhook_outbox_deliveries` | gauge | `state`: `pending`, `delivered`, `dead` | The outbox's depth, read at each scrape. |
//! | `webhook_render_errors_total` | counter | `source`: `changes`, `batch`, `immediate`, `schedule` | Renders the component refused or failed. |
//! | `webhook_endpoint_breaker_state` | gauge | `endpoint`, `state`: `closed`, `open`, `half-open`, `disabled` | 1 for each endpoint's current state, 0 for the others. |
//!
//! Counters count since the process started. The breaker gauge reads its states from a
//! [`BreakerStates`] at each scrape ([`EndpointStates`]: the dispatcher's breakers and
//! the outbox's disabled endpoints). An endpoint label is the URL without its query, its
//! user-info and any secret the configurations name.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, text::encode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::catalog::Catalog;
use crate::delivery::breaker::Position;
use crate::delivery::deliver::{Step, endpoint_of};
use crate::delivery::log::DeliveryLog;
use crate::outbox::Outbox;
use crate::outbox::dispatch::{Dispatcher, Observer, Recorded};

/// The media type of the answer: OpenMetrics text, which Prometheus reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Where the attempt latency buckets start (5 ms, a loopback receiver) and how many
/// doublings they take: the last, 41 s, lies past the default 30 s request timeout, so
/// every attempt falls in a finite bucket.
const LATENCY_BUCKETS: (f64, f64, u16) = (0.005, 2.0, 14);

/// The deliveries' outcomes, as the outbox records them.
const OUTCOMES: [&str; 4] = ["delivered", "dead-letter", "endpoint-disabled", "skipped"];

/// Where renders come from.
pub const RENDER_SOURCES: [&str; 4] = ["changes", "batch", "immediate", "schedule"];

/// The state of one endpoint's circuit breaker, as the gauge reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Deliveries go.
    Closed,
    /// Paused after failures.
    Open,
    /// Probed with one delivery at a time.
    HalfOpen,
    /// Stopped by a 410 until a replay enables it again.
    Disabled,
}

impl BreakerState {
    /// Every state, in the order the gauge lists them.
    pub const ALL: [BreakerState; 4] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
        BreakerState::Disabled,
    ];

    /// The `state` label.
    pub fn word(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
            BreakerState::Disabled => "disabled",
        }
    }
}

impl From<Position> for BreakerState {
    fn from(p: Position) -> BreakerState {
        match p {
            Position::Closed => BreakerState::Closed,
            Position::Open => BreakerState::Open,
            Position::HalfOpen => BreakerState::HalfOpen,
        }
    }
}

/// The hook the breaker gauge reads at each scrape: every endpoint the host sends to,
/// with its state. `serve` gives [`EndpointStates`]; a host with breakers of its own
/// gives its own.
pub trait BreakerStates: Send + Sync {
    /// Each endpoint (as [`endpoint_of`] names it) and its state; the error in words.
    fn states(&self) -> Result<Vec<(String, BreakerState)>, String>;
}

/// `serve`'s states: each endpoint's breaker as the dispatcher keeps it (closed, open,
/// half-open), an endpoint a 410 disabled as disabled (whatever its breaker), and an
/// endpoint of a configuration in force that nothing was sent to yet as closed.
pub struct EndpointStates {
    /// The dispatcher, with its breakers and the outbox's disabled endpoints. Weak: the
    /// dispatcher holds the metrics as its observer.
    pub dispatcher: Weak<Dispatcher>,
    /// The configurations in force.
    pub catalog: Arc<Catalog>,
}

impl BreakerStates for EndpointStates {
    fn states(&self) -> Result<Vec<(String, BreakerState)>, String> {
        let Some(dispatcher) = self.dispatcher.upgrade() else {
            return Ok(Vec::new());
        };
        let disabled = dispatcher
            .outbox()
            .disabled_endpoints()
            .map_err(|e| e.to_string())?;
        let mut out: Vec<(String, BreakerState)> = disabled
            .into_iter()
            .map(|(endpoint, _)| (endpoint, BreakerState::Disabled))
            .collect();
        let known = dispatcher
            .endpoints()
            .into_iter()
            .map(|v| (v.endpoint, v.breaker.position.into()));
        let configured = self
            .catalog
            .configurations()
            .into_iter()
            .map(|(_, c)| (endpoint_of(&c.config.webhook_url), BreakerState::Closed));
        for (endpoint, state) in known.chain(configured) {
            if !out.iter().any(|(e, _)| *e == endpoint) {
                out.push((endpoint, state));
            }
        }
        Ok(out)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    endpoint: String,
    state: &'static str,
}

/// The metrics of one `serve`: counted as work happens, the gauges read at each scrape.
pub struct Metrics {
    registry: Registry,
    deliveries: Family<OutcomeLabel, Counter>,
    retries: Counter,
    latency: Histogram,
    outbox: Family<StateLabel, Gauge>,
    render_errors: Family<SourceLabel, Counter>,
    breakers: Family<BreakerLabels, Gauge>,
    breaker_states: Box<dyn BreakerStates>,
    log: Arc<DeliveryLog>,
    /// One scrape at a time: the gauges are set, then written out.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics whose breaker gauge reads `breaker_states`, naming endpoints with what
    /// `log`'s redactor leaves of them.
    pub fn new(breaker_states: Box<dyn BreakerStates>, log: Arc<DeliveryLog>) -> Metrics {
        let mut registry = Registry::with_prefix("webhook");
        let deliveries = Family::<OutcomeLabel, Counter>::default();
        let retries = Counter::default();
        let (start, factor, n) = LATENCY_BUCKETS;
        let latency = Histogram::new(exponential_buckets(start, factor, n));
        let outbox = Family::<StateLabel, Gauge>::default();
        let render_errors = Family::<SourceLabel, Counter>::default();
        let breakers = Family::<BreakerLabels, Gauge>::default();
        registry.register(
            "deliveries",
            "Deliveries finished, by outcome",
            deliveries.clone(),
        );
        registry.register(
            "retries",
            "Attempts after which a retry was scheduled",
            retries.clone(),
        );
        registry.register(
            "attempt_duration_seconds",
            "Attempts that sent a request, from the engine taking it to the verdict",
            latency.clone(),
        );
        registry.register(
            "outbox_deliveries",
            "Deliveries in the outbox, by state",
            outbox.clone(),
        );
        registry.register(
            "render_errors",
            "Renders the component refused or failed, by where they came from",
            render_errors.clone(),
        );
        registry.register(
            "endpoint_breaker_state",
            "1 for each endpoint's circuit-breaker state, 0 for the others",
            breakers.clone(),
        );
        // Every series an operator alerts on exists from the start, at 0.
        for outcome in OUTCOMES {
            drop(deliveries.get_or_create(&OutcomeLabel { outcome }));
        }
        for source in RENDER_SOURCES {
            drop(render_errors.get_or_create(&SourceLabel { source }));
        }
        Metrics {
            registry,
            deliveries,
            retries,
            latency,
            outbox,
            render_errors,
            breakers,
            breaker_states,
            log,
            scrape: Mutex::new(()),
        }
    }

    /// A render from `source` (one of [`RENDER_SOURCES`]) failed.
    pub fn render_error(&self, source: &'static str) {
        self.render_errors
            .get_or_create(&SourceLabel { source })
            .inc();
    }

    /// The text of a scrape: the gauges read from `outbox` and the breaker states now.
    pub fn scrape(&self, outbox: &Outbox) -> Result<String, String> {
        let _one = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        let counts = outbox.counts().map_err(|e| e.to_string())?;
        for (state, n) in [
            ("pending", counts.pending),
            ("delivered", counts.delivered),
            ("dead", counts.dead),
        ] {
            self.outbox
                .get_or_create(&StateLabel { state })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let states = self.breaker_states.states()?;
        self.breakers.clear();
        for (endpoint, current) in states {
            let endpoint = self.endpoint_label(&endpoint);
            for state in BreakerState::ALL {
                self.breakers
                    .get_or_create(&BreakerLabels {
                        endpoint: endpoint.clone(),
                        state: state.word(),
                    })
                    .set(i64::from(state == current));
            }
        }
        let mut text = String::new();
        encode(&mut text, &self.registry).map_err(|e| format!("cannot write the metrics: {e}"))?;
        Ok(text)
    }

    /// An endpoint as a label: no user-info, no secret a configuration names.
    fn endpoint_label(&self, endpoint: &str) -> String {
        let without_userinfo = match endpoint.split_once("://") {
            Some((scheme, rest)) => {
                let authority_end = rest.find('/').unwrap_or(rest.len());
                match rest[..authority_end].rfind('@') {
                    Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                    None => endpoint.to_string(),
                }
            }
            None => endpoint.to_string(),
        };
        self.log.redactor().apply(&without_userinfo)
    }

    fn observe_latency(&self, d: Duration) {
        self.latency.observe(d.as_secs_f64());
    }
}

impl Observer for Metrics {
    fn recorded(&self, attempt: &Recorded<'_>) {
        if attempt.sent > 0 {
            self.observe_latency(attempt.elapsed);
        }
        match attempt.step {
            Step::Retry(_) => {
                self.retries.inc();
            }
            Step::Finished => {
                self.deliveries
                    .get_or_create(&OutcomeLabel {
                        outcome: attempt.outcome.word(),
                    })
                    .inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::deliver::Outcome;

    struct Fixed(Vec<(String, BreakerState)>);

    impl BreakerStates for Fixed {
        fn states(&self) -> Result<Vec<(String, BreakerState)>, String> {
            Ok(self.0.clone())
        }
    }

    fn line<'a>(text: &'a str, series: &str) -> &'a str {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    }

    #[test]
    fn attempts_count_by_what_came_of_them_and_endpoints_hide_their_secrets() {
        let d = crate::scratch::Scratch::new("metrics", "observer");
        let outbox = Outbox::open(&d.join("outbox.sqlite")).unwrap();
        let log = Arc::new(DeliveryLog::discard());
        log.redactor().add("s3cret-path-token");
        let states = Fixed(vec![
            (
                "https://user:pw@hooks.example/in/s3cret-path-token".into(),
                BreakerState::HalfOpen,
            ),
            ("https://other.example/in".into(), BreakerState::Open),
        ]);
        let m = Metrics::new(Box::new(states), log);
        let delivered = Outcome::Delivered;
        let skipped = Outcome::Skipped("disabled".into());
        let attempt = |sent, step, outcome| Recorded {
            strategy: "s",
            sent,
            elapsed: Duration::from_millis(15),
            step,
            outcome,
        };
        m.recorded(&attempt(1, Step::Retry(Duration::from_secs(1)), &delivered));
        m.recorded(&attempt(1, Step::Finished, &delivered));
        m.recorded(&attempt(0, Step::Finished, &skipped));
        m.render_error("schedule");
        let text = m.scrape(&outbox).unwrap();
        // The skipped delivery sent nothing, so it has no latency.
        for (series, want) in [
            ("webhook_deliveries_total{outcome=\"delivered\"}", "1"),
            ("webhook_deliveries_total{outcome=\"skipped\"}", "1"),
            ("webhook_deliveries_total{outcome=\"dead-letter\"}", "0"),
            ("webhook_retries_total", "1"),
            ("webhook_attempt_duration_seconds_count", "2"),
            ("webhook_attempt_duration_seconds_bucket{le=\"0.01\"}", "0"),
            ("webhook_attempt_duration_seconds_bucket{le=\"0.02\"}", "2"),
            ("webhook_render_errors_total{source=\"schedule\"}", "1"),
            ("webhook_outbox_deliveries{state=\"pending\"}", "0"),
        ] {
            assert_eq!(line(&text, series), want, "{series}");
        }
        let hidden = "https://hooks.example/in/[redacted]";
        for (state, want) in [("half-open", "1"), ("closed", "0")] {
            let series = format!(
                "webhook_endpoint_breaker_state{{endpoint=\"{hidden}\",state=\"{state}\"}}"
            );
            assert_eq!(line(&text, &series), want, "{series}");
        }
        assert!(
            !text.contains("s3cret") && !text.contains("user:pw"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
