//! The dispatcher: takes due deliveries from the [`Outbox`], makes one attempt each
//! through the [`Deliverer`], and writes down what happened before taking the next.
//!
//! Nothing waits in memory: a delivery in backoff is a row with a due time, not a
//! sleeping task, so a receiver that is down makes the outbox grow on disk while the
//! host's memory stays flat. At most `concurrency` attempts run at once; the rows they
//! hold stay `pending` until the attempt is recorded, so a crash mid-attempt sends the
//! delivery again after the restart (at least once, same delivery id).
//!
//! Each delivery is attempted by the engine of the strategy that rendered it
//! ([`Deliverers`]): its configuration's secrets, token endpoint and platform-token
//! subject, as they are now (a rotated signing secret or client secret applies to
//! deliveries already waiting). A delivery of a strategy that is no longer known ends as
//! a dead letter saying so; `serve` keeps a deleted strategy's engine until its pending
//! deliveries have finished.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::delivery::deliver::{Deliverer, Delivery, DeliveryReport, Outcome, Step, endpoint_of};
use crate::delivery::endpoints::{EndpointLimits, EndpointView, Endpoints};
use crate::delivery::log::DeliveryLog;
use crate::outbox::{Candidate, Due, Enqueued, Last, Made, Origin, Outbox, OutboxError, State};
use crate::time::clock::Clock;

/// The delivery engines of the strategies the host knows, by strategy name.
pub trait Deliverers: Send + Sync {
    /// The engine for deliveries `strategy` rendered (`""`: one a version-1 outbox held,
    /// from the days of one strategy per host), or `None` when it is not known.
    fn get(&self, strategy: &str) -> Option<Arc<Deliverer>>;
    /// Every engine, to tell each about an endpoint disabled or enabled.
    fn all(&self) -> Vec<Arc<Deliverer>>;
    /// Catch up with the strategies other hosts sharing the outbox defined (a delivery
    /// one of them rendered may come before this host heard of its strategy).
    fn refresh(&self) {}
}

/// One engine for every strategy: a host of one strategy, and the tests.
impl Deliverers for Arc<Deliverer> {
    fn get(&self, _strategy: &str) -> Option<Arc<Deliverer>> {
        Some(self.clone())
    }
    fn all(&self) -> Vec<Arc<Deliverer>> {
        vec![self.clone()]
    }
}

pub use crate::limits::IDLE_POLL;

pub use crate::limits::SHUTDOWN_GRACE;

pub use crate::time::clock::now_ms;

/// What the dispatcher has done since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Attempts made.
    pub attempts: u64,
    /// Deliveries delivered.
    pub delivered: u64,
    /// Deliveries dead-lettered (given up, endpoint disabled, skipped).
    pub dead: u64,
    /// Outbox writes that failed (each is also printed).
    pub store_errors: u64,
}

/// What the other hosts sharing an outbox recorded, as this host last read it, and when.
#[derive(Default)]
struct Followed {
    disabled: HashSet<String>,
    breakers: std::collections::HashMap<String, crate::delivery::breaker::Breaker>,
    at: Option<tokio::time::Instant>,
}

/// One attempt as the dispatcher recorded it, for an [`Observer`].
#[derive(Clone, Copy, Debug)]
pub struct Recorded<'a> {
    /// The strategy that rendered the delivery.
    pub strategy: &'a str,
    /// Requests the engine sent in this attempt: 0 when it sent none (a disabled
    /// endpoint, an unknown strategy), more than 1 when it tried again at once (a
    /// refreshed token).
    pub sent: u32,
    /// From handing the delivery to its engine to the engine's answer.
    pub elapsed: Duration,
    /// Another attempt later, or finished with `outcome`.
    pub step: Step,
    /// How the delivery ended, when `step` is [`Step::Finished`].
    pub outcome: &'a Outcome,
}

/// Told of every attempt once the outbox holds it: the seam for metrics (`serve`'s
/// `/metrics`), so that counting stays out of the dispatcher's bookkeeping.
pub trait Observer: Send + Sync {
    /// `attempt` was recorded.
    fn recorded(&self, attempt: &Recorded<'_>);
}

/// One outbox, the strategies' engines, one loop.
pub struct Dispatcher {
    outbox: Arc<Outbox>,
    deliverers: Arc<dyn Deliverers>,
    clock: Arc<dyn Clock>,
    log: Arc<DeliveryLog>,
    concurrency: usize,
    wake: Notify,
    /// Delivery ids being attempted (or reserved by a synchronous run).
    taken: Mutex<HashSet<String>>,
    /// What other hosts sharing the outbox recorded, as this host last read it.
    followed: Mutex<Followed>,
    /// Each endpoint's slots, rate and breaker.
    endpoints: Endpoints,
    stopping: std::sync::atomic::AtomicBool,
    attempts: AtomicU64,
    delivered: AtomicU64,
    dead: AtomicU64,
    store_errors: AtomicU64,
    observer: OnceLock<Arc<dyn Observer>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("outbox", &self.outbox)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher making at most `concurrency` attempts at once, keeping time with
    /// `clock` and redacting what it records with `log`'s redactor. Endpoints the outbox
    /// remembers as disabled are disabled in every engine.
    pub fn new(
        outbox: Arc<Outbox>,
        deliverers: Arc<dyn Deliverers>,
        clock: Arc<dyn Clock>,
        log: Arc<DeliveryLog>,
        concurrency: usize,
    ) -> Result<Arc<Dispatcher>, OutboxError> {
        let disabled = outbox.disabled_endpoints()?;
        for (endpoint, why) in &disabled {
            for d in deliverers.all() {
                d.disable(endpoint, why);
            }
        }
        let followed = disabled.into_iter().map(|(e, _)| e).collect();
        let endpoints = Endpoints::restored(
            outbox.breakers()?,
            concurrency.max(1),
            now_ms(clock.as_ref()),
        );
        Ok(Arc::new(Dispatcher {
            endpoints,
            outbox,
            deliverers,
            clock,
            log,
            concurrency: concurrency.max(1),
            wake: Notify::new(),
            taken: Mutex::new(HashSet::new()),
            followed: Mutex::new(Followed {
                disabled: followed,
                ..Followed::default()
            }),
            stopping: std::sync::atomic::AtomicBool::new(false),
            attempts: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dead: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            observer: OnceLock::new(),
        }))
    }

    /// The outbox.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// The strategies' engines.
    pub fn deliverers(&self) -> &Arc<dyn Deliverers> {
        &self.deliverers
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Counts since start.
    pub fn stats(&self) -> Stats {
        Stats {
            attempts: self.attempts.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            dead: self.dead.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
        }
    }

    /// Tell `observer` of every attempt from now on; `false` (and nothing changes) when
    /// one is already set.
    pub fn observe(&self, observer: Arc<dyn Observer>) -> bool {
        self.observer.set(observer).is_ok()
    }

    fn observed(&self, attempt: Recorded<'_>) {
        if let Some(o) = self.observer.get() {
            o.recorded(&attempt);
        }
    }

    /// Every endpoint's breaker and attempts in flight.
    pub fn endpoints(&self) -> Vec<EndpointView> {
        self.endpoints.views()
    }

    /// The limits of the endpoint a delivery of `strategy` goes to.
    fn limits_of(&self, strategy: &str) -> EndpointLimits {
        self.deliverers
            .get(strategy)
            .map(|d| *d.endpoint_limits())
            .unwrap_or_default()
    }

    /// Look at the outbox now (work was written).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn taken(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store_error(&self, e: &OutboxError) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
        eprintln!("host-test serve: {e}");
    }

    /// In an outbox other hosts share, follow what the others record, at most once per
    /// [`IDLE_POLL`]: disable (and enable again) in every engine the endpoints they
    /// disabled (or replayed), and take the breakers they moved.
    fn follow_others(&self) {
        if !self.outbox.is_shared() {
            return;
        }
        let mut followed = self.followed.lock().unwrap_or_else(|p| p.into_inner());
        let at = tokio::time::Instant::now();
        if followed
            .at
            .is_some_and(|l| at.duration_since(l) < IDLE_POLL)
        {
            return;
        }
        followed.at = Some(at);
        let (disabled, breakers) = match (self.outbox.disabled_endpoints(), self.outbox.breakers())
        {
            (Ok(d), Ok(b)) => (d, b),
            (Err(e), _) | (_, Err(e)) => return self.store_error(&e),
        };
        let now: HashSet<String> = disabled.iter().map(|(e, _)| e.clone()).collect();
        for engine in self.deliverers.all() {
            for (endpoint, why) in disabled
                .iter()
                .filter(|(e, _)| !followed.disabled.contains(e))
            {
                engine.disable(endpoint, why);
            }
            for endpoint in followed.disabled.difference(&now) {
                engine.enable(endpoint);
            }
        }
        followed.disabled = now;
        let now_ms = now_ms(self.clock.as_ref());
        for (endpoint, b) in breakers {
            if followed.breakers.get(&endpoint) != Some(&b) {
                self.endpoints.adopt(&endpoint, b.clone(), now_ms);
                followed.breakers.insert(endpoint, b);
            }
        }
    }

    /// Run forever: hand out due deliveries, sleep until the next is due or work comes.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.follow_others();
            let now = now_ms(self.clock.as_ref());
            let free = self.concurrency.saturating_sub(self.taken().len());
            // When a paused or rate-limited endpoint may take a delivery again.
            let mut reopens: Option<i64> = None;
            if free > 0 && !self.stopping.load(Ordering::Relaxed) {
                // This round's choices per endpoint, on top of those in flight.
                let chosen: Mutex<std::collections::HashMap<String, usize>> = Mutex::default();
                let later: Mutex<Option<i64>> = Mutex::default();
                // URLs (with the strategies sending there) found blocked this round: an
                // endpoint that is full or paused stays so until the round ends, and a
                // backlog of thousands behind it is skipped at a hash lookup each.
                let blocked: Mutex<std::collections::HashMap<String, Vec<String>>> =
                    Mutex::default();
                let skip = |c: &Candidate<'_>| {
                    // The live set, not a copy from before the query: an immediate run
                    // reserves its ids before it commits them, so a row this query sees
                    // is either reserved here already or free.
                    if self.taken().contains(c.id) {
                        return true;
                    }
                    let mut blocked = blocked.lock().unwrap_or_else(|p| p.into_inner());
                    if blocked
                        .get(c.url)
                        .is_some_and(|s| s.iter().any(|s| s == c.strategy))
                    {
                        return true;
                    }
                    let endpoint = endpoint_of(c.url);
                    let limits = self.limits_of(c.strategy);
                    let mut chosen = chosen.lock().unwrap_or_else(|p| p.into_inner());
                    let n = chosen.entry(endpoint.clone()).or_default();
                    match self.endpoints.allows(&endpoint, &limits, *n, now) {
                        Ok(()) => {
                            *n += 1;
                            false
                        }
                        Err(at) => {
                            blocked
                                .entry(c.url.to_string())
                                .or_default()
                                .push(c.strategy.to_string());
                            let mut l = later.lock().unwrap_or_else(|p| p.into_inner());
                            *l = match (*l, at) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                            true
                        }
                    }
                };
                let blocked = self.endpoints.blocked(now);
                let result = self.outbox.due(now, free, &blocked, &skip);
                reopens = later.into_inner().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(due) => {
                        for d in due {
                            let limits = self.limits_of(&d.strategy);
                            let endpoint = endpoint_of(&d.request.url);
                            self.endpoints
                                .start(&endpoint, &d.request.delivery_id, &limits, now);
                            self.taken().insert(d.request.delivery_id.clone());
                            let me = self.clone();
                            tokio::spawn(async move {
                                let id = d.request.delivery_id.clone();
                                me.attempt(d).await;
                                me.taken().remove(&id);
                                me.wake();
                            });
                        }
                    }
                    Err(e) => self.store_error(&e),
                }
            }
            let next = match self.outbox.next_due_after(now) {
                Ok(t) => t,
                Err(e) => {
                    self.store_error(&e);
                    None
                }
            };
            let next = [next, reopens, self.endpoints.next_change(now)]
                .into_iter()
                .flatten()
                .min();
            let wait = next.map_or(IDLE_POLL, |t| {
                Duration::from_millis((t - now).max(0) as u64).min(IDLE_POLL)
            });
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Stop handing out deliveries and wait up to `grace` for the attempts in flight to
    /// end and be recorded. Returns how many were still in flight: they stay pending and
    /// go again at the next start.
    pub async fn stop(&self, grace: Duration) -> usize {
        self.stopping.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let left = self.taken().len();
            if left == 0 || tokio::time::Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// One attempt of a delivery handed out, recorded. The caller holds its id in
    /// `taken`. Returns the report and the step.
    async fn attempt(&self, due: Due) -> (DeliveryReport, Step) {
        let seq = due.seq;
        let known = self.deliverers.get(&due.strategy).or_else(|| {
            self.outbox.is_shared().then(|| {
                self.deliverers.refresh();
                self.deliverers.get(&due.strategy)
            })?
        });
        let Some(engine) = known else {
            return self.unknown_strategy(due);
        };
        let mut d = engine.begin(due.request, due.attempts, due.budget);
        d.written = crate::time::instant::from_ms(due.created_ms);
        let started = Instant::now();
        let step = engine.attempt(&mut d).await;
        let elapsed = started.elapsed();
        self.attempts.fetch_add(1, Ordering::Relaxed);
        self.record(seq, &d, step);
        let now = now_ms(self.clock.as_ref());
        let endpoint = endpoint_of(&d.request.url);
        let changed = self.endpoints.end(
            &endpoint,
            &d.request.delivery_id,
            d.health,
            engine.endpoint_limits(),
            now,
        );
        if let Some(b) = changed {
            if let Err(e) = self.outbox.save_breaker(&endpoint, &b, now) {
                self.store_error(&e);
            }
            let endpoint = crate::delivery::log::redact_url(&endpoint);
            match b.probe_ms {
                Some(t) if b.position == crate::delivery::breaker::Position::Open => eprintln!(
                    "host-test serve: {endpoint} is paused after {} failed attempts in a row; one delivery probes it in {} s",
                    b.failures,
                    (t - now).max(0) / 1000
                ),
                _ => eprintln!("host-test serve: {endpoint} answered; its deliveries go again"),
            }
        }
        self.observed(Recorded {
            strategy: &due.strategy,
            sent: d.report.attempts.saturating_sub(due.attempts),
            elapsed,
            step,
            outcome: &d.report.outcome,
        });
        let report = match step {
            Step::Finished => engine.finish(d.report, &d.request),
            Step::Retry(_) => d.report,
        };
        (report, step)
    }

    /// A delivery whose strategy this host does not know (deleted, and its engine gone
    /// with a restart; or from a version-1 outbox opened with several strategies): it
    /// cannot be signed or authorized as its strategy would, so it ends as a dead letter
    /// that says why, for an operator to replay once the strategy is back.
    fn unknown_strategy(&self, due: Due) -> (DeliveryReport, Step) {
        let why = if due.strategy.is_empty() {
            "not attempted: it was written by a host of one strategy, and this host serves several; define the strategy and replay it".to_string()
        } else {
            format!(
                "not attempted: the strategy {:?} that rendered it is no longer defined; define it again and replay this delivery",
                due.strategy
            )
        };
        let now = now_ms(self.clock.as_ref());
        let last = Last {
            error: Some(why.clone()),
            ..Last::default()
        };
        // The attempt was counted when it was handed out; none was made.
        if let Err(e) =
            self.outbox
                .finish(due.seq, State::Dead, "skipped", due.attempts, &last, now)
        {
            self.store_error(&e);
        }
        self.dead.fetch_add(1, Ordering::Relaxed);
        let report = DeliveryReport::not_attempted(&due.request, Outcome::Skipped(why));
        self.observed(Recorded {
            strategy: &due.strategy,
            sent: 0,
            elapsed: Duration::ZERO,
            step: Step::Finished,
            outcome: &report.outcome,
        });
        (report, Step::Finished)
    }

    fn record(&self, seq: i64, d: &Delivery, step: Step) {
        let now = now_ms(self.clock.as_ref());
        let redact = |s: &str| self.log.redactor().apply(s);
        let response = d.report.last_response.as_ref();
        let mut last = Last {
            status: response.map(|r| r.status),
            error: d.last_error.as_deref().map(redact),
            response: response
                .filter(|r| !r.body.is_empty())
                .map(|r| self.log.redactor().snippet(&r.body)),
            attempt: d.last_attempt.map(|(started, latency)| Made {
                number: d.report.attempts,
                started_ms: crate::time::instant::to_ms(started),
                latency_ms: latency.map(|l| l.as_millis() as u64),
            }),
        };
        let result = match step {
            Step::Retry(wait) => self.outbox.retry(
                seq,
                d.report.attempts,
                d.budget,
                now.saturating_add(wait.as_millis() as i64),
                &last,
            ),
            Step::Finished => {
                let (state, word, why) = match &d.report.outcome {
                    Outcome::Delivered => (State::Delivered, "delivered", None),
                    Outcome::DeadLettered(w) => (State::Dead, "dead-letter", Some(w)),
                    Outcome::EndpointDisabled(w) => {
                        let endpoint = endpoint_of(&d.request.url);
                        if let Err(e) = self.outbox.disable_endpoint(&endpoint, w, now) {
                            self.store_error(&e);
                        }
                        // Every strategy that sends there stops too.
                        for engine in self.deliverers.all() {
                            engine.disable(&endpoint, w);
                        }
                        (State::Dead, "endpoint-disabled", Some(w))
                    }
                    Outcome::Skipped(w) => (State::Dead, "skipped", Some(w)),
                };
                if state == State::Delivered {
                    self.delivered.fetch_add(1, Ordering::Relaxed);
                    last.error = None;
                } else {
                    self.dead.fetch_add(1, Ordering::Relaxed);
                    last.error = why.map(|w| redact(w));
                }
                self.outbox
                    .finish(seq, state, word, d.report.attempts, &last, now)
            }
        };
        if let Err(e) = result {
            self.store_error(&e);
        }
    }

    /// Write `requests` from `origin` to the outbox for the background loop.
    pub fn enqueue(
        &self,
        origin: &Origin<'_>,
        requests: &[crate::contract::bindings::HttpRequest],
    ) -> Result<Vec<Enqueued>, OutboxError> {
        self.enqueue_all(&[(*origin, requests)])
    }

    /// Write the requests of several origins in one transaction: all or none.
    pub fn enqueue_all(
        &self,
        batches: &[(Origin<'_>, &[crate::contract::bindings::HttpRequest])],
    ) -> Result<Vec<Enqueued>, OutboxError> {
        self.write(batches, false)
    }

    /// Write, and with `held` claim what is new for this host (an immediate run, which
    /// attempts them itself: no other host sharing the outbox takes them first).
    fn write(
        &self,
        batches: &[(Origin<'_>, &[crate::contract::bindings::HttpRequest])],
        held: bool,
    ) -> Result<Vec<Enqueued>, OutboxError> {
        let now = now_ms(self.clock.as_ref());
        // Secret query values never reach the disk: each attempt puts them back.
        let stored: Vec<Vec<_>> = batches
            .iter()
            .map(
                |(origin, requests)| match self.deliverers.get(origin.strategy) {
                    Some(engine) => requests.iter().map(|r| engine.stored_form(r)).collect(),
                    None => requests.to_vec(),
                },
            )
            .collect();
        let batches: Vec<_> = batches
            .iter()
            .zip(&stored)
            .map(|((origin, _), requests)| (*origin, requests.as_slice()))
            .collect();
        let out = if held {
            self.outbox.enqueue_held(&batches, now)?
        } else {
            self.outbox.enqueue_all(&batches, now)?
        };
        self.wake();
        Ok(out)
    }

    /// Write `requests` from `origin` to the outbox and attempt each once now, in order,
    /// whatever the queue holds before them (the caller is waiting). A delivery that is
    /// to be retried stays in the outbox for the background loop.
    pub async fn attempt_now(
        &self,
        origin: &Origin<'_>,
        requests: &[crate::contract::bindings::HttpRequest],
    ) -> Result<Vec<(Enqueued, Option<(DeliveryReport, Step)>)>, OutboxError> {
        {
            let mut taken = self.taken();
            for r in requests {
                taken.insert(r.delivery_id.clone());
            }
        }
        let release = |ids: &[crate::contract::bindings::HttpRequest]| {
            let mut taken = self.taken();
            for r in ids {
                taken.remove(&r.delivery_id);
            }
        };
        // Reserved above, so the loop this wakes leaves them to us.
        let enqueued = match self.write(&[(*origin, requests)], true) {
            Ok(e) => e,
            Err(e) => {
                release(requests);
                return Err(e);
            }
        };
        let mut out = Vec::with_capacity(enqueued.len());
        for e in enqueued {
            // An id already in the outbox is not attempted twice: it is someone else's.
            let due = if e.new {
                self.outbox.take(&e.id)
            } else {
                Ok(None)
            };
            let done = match due {
                Ok(Some(due)) => Some(self.attempt(due).await),
                Ok(None) => None,
                Err(err) => {
                    self.store_error(&err);
                    None
                }
            };
            out.push((e, done));
        }
        release(requests);
        self.wake();
        Ok(out)
    }
}
