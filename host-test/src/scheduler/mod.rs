//! The host's scheduler: one timer for every schedule of every loaded strategy.
//!
//! The component knows when a schedule fires (`plan.next-fire`) and what a fire sends
//! (`plan.on-schedule`); the host owns the clock and the timer. The scheduler sleeps until
//! the earliest next fire across all schedules, and after every wake re-reads the clock
//! and decides again, so a wake that comes early (a capped sleep, a spurious wake-up)
//! just sleeps again, and a clock that jumped is noticed at the next wake.
//!
//! Deciding and doing are separate: [`Scheduler::due`] says which schedules fire at which
//! instants (and records them as fired), [`Scheduler::run_fire`] pages the members through
//! `on-schedule` and hands the requests to a [`Sink`]. [`Scheduler::run`] loops the two on a
//! [`Clock`]: [`crate::time::clock::SystemClock`] in production, [`SimClock`] in tests.
//!
//! **Missed fires: no burst of stale fires.** When the clock jumps forward (a suspended
//! machine, an NTP step, a long pause) over several fire times of a schedule, the schedule
//! fires **once**, at the **latest** missed instant, and then continues from now: a
//! `*/15` schedule after a three-hour jump sends one run, not twelve. Each schedule is
//! decided on its own, so every schedule that missed at least one fire fires once.
//! [`Fire::skipped_earlier`] says that earlier instants were dropped.
//!
//! **Backward jumps never re-fire.** Each schedule keeps the instant it last fired; after
//! the clock jumps backwards the next fire is recomputed from that instant, so fire times
//! that already ran do not run again and the schedule stays quiet until the clock passes
//! its last fire.
//!
//! **Errors are reported per fire, never fatal.** A fire whose members cannot be read or
//! whose rendering fails (the component's typed errors, such as `unsupported`, or a host
//! limit) is reported as [`Event::FireFailed`] and counts as fired: rendering is deterministic,
//! so running it again would fail again; retrying deliveries is the delivery layer's job.
//! A schedule whose next fire time cannot be computed is reported once and then left out.
//!
//! **The render context of a fire.** `now` is the fire instant (not the wall clock), so a
//! late or re-run fire renders the same `NOW` and `TODAY`; `id-seed` is derived from the
//! strategy name, schedule name, fire instant and page number ([`id_seed`]), so a re-run
//! of the same fire renders the same delivery ids; the tokens are what the hook given to
//! [`Scheduler::with_tokens`] supplies (`serve` gives the outbox's placeholders for the
//! access token and the platform token), and none without one (a configuration that needs a token then fails
//! with `missing-access-token`).
//!
//! The scheduler's state (each schedule's last fire) lives in memory. A host that persists
//! it (`serve` keeps it in the outbox) passes it back through [`Scheduler::resume`], and
//! the policy above catches up once.

pub mod preview;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::contract::bindings::{HttpRequest, Member, RenderContext, Strategy};
use crate::time::clock::Clock;
use crate::{sandbox::error::HostError, sandbox::runtime::Session, time::instant};

pub use crate::limits::PAGE_MEMBERS;

pub use crate::time::clock::MAX_SLEEP;

/// Members per `on-schedule` call for a strategy with this batch size: [`PAGE_MEMBERS`]
/// rounded up to a whole number of batches, so that a page boundary never splits a batch
/// (the component batches within one call). A batch size over [`PAGE_MEMBERS`] (at most
/// 10,000) makes a page one batch; a batch size of 0 (invalid, refused by `compile`)
/// counts as 1.
pub fn page_size(batch_size: u32) -> usize {
    let batch = (batch_size as usize).max(1);
    PAGE_MEMBERS.div_ceil(batch) * batch
}

/// A simulated clock for tests: sleeping moves it, instantly; it can wake early and jump.
#[derive(Debug)]
pub struct SimClock {
    state: std::sync::Mutex<SimState>,
}

#[derive(Clone, Copy, Debug)]
struct SimState {
    now: Timestamp,
    max_step: Option<SignedDuration>,
    wakes: usize,
}

impl SimClock {
    /// A clock standing at `now`.
    pub fn new(now: Timestamp) -> SimClock {
        SimClock {
            state: std::sync::Mutex::new(SimState {
                now,
                max_step: None,
                wakes: 0,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every sleep ends after at most `step`, as [`crate::time::clock::SystemClock`]'s capped sleeps do.
    pub fn waking_every(self, step: SignedDuration) -> SimClock {
        self.state().max_step = Some(step);
        self
    }

    /// Set the time, forwards or backwards: a clock jump.
    pub fn set(&mut self, now: Timestamp) {
        self.state().now = now;
    }

    /// How many times a sleep has ended.
    pub fn wakes(&self) -> usize {
        self.state().wakes
    }
}

impl Clock for SimClock {
    fn now(&self) -> crate::contract::bindings::Instant {
        instant::from_timestamp(self.state().now)
    }

    fn sleep(&self, duration: Duration) -> crate::time::clock::BoxFuture<'static, ()> {
        let mut s = self.state();
        s.now = s
            .now
            .saturating_add(SignedDuration::try_from(duration).unwrap_or_default())
            .unwrap_or(s.now);
        Box::pin(std::future::ready(()))
    }

    fn block_until(&self, t: crate::contract::bindings::Instant) {
        let mut s = self.state();
        let t = instant::to_timestamp(t).unwrap_or(Timestamp::MAX);
        let mut target = t.max(s.now);
        if let Some(step) = s.max_step {
            target = target.min(s.now.saturating_add(step).unwrap_or(target));
        }
        s.now = target;
        s.wakes += 1;
    }
}

/// What the scheduler needs of a compiled plan; [`Session`] is the real one.
pub trait Plan {
    /// The first fire of `schedule` strictly after `after`; none when it never fires again.
    fn next_fire(
        &mut self,
        schedule: &str,
        after: Timestamp,
    ) -> Result<Option<Timestamp>, HostError>;
    /// Render one page of members for a fire of `schedule`.
    fn on_schedule(
        &mut self,
        schedule: &str,
        members: &[Member],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError>;
}

impl Plan for Session {
    fn next_fire(
        &mut self,
        schedule: &str,
        after: Timestamp,
    ) -> Result<Option<Timestamp>, HostError> {
        // A fire in the last 26 hours of year 9999 has no `Timestamp`: it is never due
        // in this process's life.
        let after = instant::from_timestamp(after);
        Ok(Session::next_fire(self, schedule, after)?.and_then(instant::to_timestamp))
    }

    fn on_schedule(
        &mut self,
        schedule: &str,
        members: &[Member],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        Session::on_schedule(self, schedule, members, context)
    }
}

/// Where a scheduled run reads the entity's members from, a page at a time.
pub trait MemberStore {
    /// Up to `size` members of `entity`, starting at the `start`-th, in a stable order;
    /// fewer than `size` means the last page.
    fn page(&mut self, entity: &str, start: usize, size: usize) -> Result<Vec<Member>, String>;
}

/// Members held in memory, such as a members file (`crate::formats::read_members`). It
/// holds one entity's members and serves them whatever entity is asked for.
#[derive(Clone, Debug, Default)]
pub struct MemoryMembers(pub Vec<Member>);

impl MemberStore for MemoryMembers {
    fn page(&mut self, _entity: &str, start: usize, size: usize) -> Result<Vec<Member>, String> {
        let start = start.min(self.0.len());
        let end = start.saturating_add(size).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}

/// Where the requests of a fire go: the delivery layer.
pub trait Sink {
    /// Deliver the requests one page of a fire rendered, in order. Called once per page
    /// that rendered at least one request.
    fn deliver(
        &mut self,
        strategy: &str,
        schedule: &str,
        fire: Timestamp,
        requests: Vec<HttpRequest>,
    );
}

/// One decision of [`Scheduler::due`]: this schedule fires at this instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fire {
    /// The strategy's name.
    pub strategy: String,
    /// The schedule's name.
    pub schedule: String,
    /// The fire instant: the render context's `now`.
    pub at: Timestamp,
    /// Earlier fire times were missed (the clock jumped over them) and dropped.
    pub skipped_earlier: bool,
}

/// What went wrong, for [`FireError`].
#[derive(Debug)]
pub enum FireErrorKind {
    /// The schedule's next fire time could not be computed; the schedule is left out from
    /// now on.
    NextFire(Box<HostError>),
    /// The member store failed; the fire stopped there.
    Members {
        /// The first member of the page that could not be read.
        start: usize,
        /// The store's message.
        message: String,
    },
    /// The member store broke its contract by returning more members than asked for.
    PageTooLarge {
        /// The first member of the page.
        start: usize,
        /// The page size asked for.
        asked: usize,
        /// The members returned.
        got: usize,
    },
    /// Rendering a page failed; the fire stopped there, and the pages before it were
    /// delivered.
    Render {
        /// The first member of the page.
        start: usize,
        /// The members in the page.
        len: usize,
        /// The component's or the host's error.
        error: Box<HostError>,
    },
}

/// A failure of one schedule or one fire. The scheduler keeps going.
#[derive(Debug)]
pub struct FireError {
    /// The strategy's name.
    pub strategy: String,
    /// The schedule's name.
    pub schedule: String,
    /// The fire instant, when the failure belongs to a fire.
    pub at: Option<Timestamp>,
    /// What went wrong.
    pub kind: FireErrorKind,
}

impl std::fmt::Display for FireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "strategy {:?}, schedule {:?}",
            self.strategy, self.schedule
        )?;
        if let Some(at) = self.at {
            write!(f, ", fire at {at}")?;
        }
        match &self.kind {
            FireErrorKind::NextFire(e) => write!(
                f,
                ": cannot compute the next fire time, so the schedule is stopped: {e}"
            ),
            FireErrorKind::Members { start, message } => write!(
                f,
                ": cannot read the members from number {start} on: {message}"
            ),
            FireErrorKind::PageTooLarge { start, asked, got } => write!(
                f,
                ": the member store returned {got} members for a page of at most {asked} (from number {start}); it must return at most what is asked"
            ),
            FireErrorKind::Render { start, len, error } => write!(
                f,
                ": members {start} to {} were not sent: {error}",
                start + len.saturating_sub(1)
            ),
        }
    }
}

impl std::error::Error for FireError {}

/// What happened, for [`Scheduler::run`]'s observer.
#[derive(Debug)]
pub enum Event {
    /// A fire rendered every page and handed the requests to the sink.
    Fired {
        /// The fire.
        fire: Fire,
        /// Pages rendered.
        pages: usize,
        /// Requests delivered.
        requests: usize,
    },
    /// A fire failed (and counts as fired); see [`FireError`].
    FireFailed {
        /// The fire.
        fire: Fire,
        /// Why.
        error: FireError,
    },
    /// A schedule's next fire time could not be computed; it is left out from now on.
    ScheduleFailed(FireError),
}

/// A deterministic `id-seed` for one page of one fire: 64-bit FNV-1a over the strategy
/// name, schedule name, fire instant and page number, each length-prefixed or fixed-width
/// so that no two inputs run together. FNV-1a because it is fixed forever (std's hasher
/// may change between Rust releases, and the seed must not: it makes delivery ids). The
/// page number is in it because each `on-schedule` call numbers its requests from the
/// seed, so two pages sharing one seed would share delivery ids.
pub fn id_seed(strategy: &str, schedule: &str, fire: Timestamp, page: u64) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(PRIME);
        }
    };
    for text in [strategy, schedule] {
        eat(&(text.len() as u64).to_le_bytes());
        eat(text.as_bytes());
    }
    eat(&fire.as_second().to_le_bytes());
    eat(&fire.subsec_nanosecond().to_le_bytes());
    eat(&page.to_le_bytes());
    hash
}

/// Where a schedule stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// Not asked yet.
    Unknown,
    /// The next fire, strictly after `after`.
    At(Timestamp),
    /// It never fires again.
    Never,
    /// Its next fire time could not be computed (reported once).
    Failed,
}

struct Slot {
    name: String,
    /// Fires are looked for strictly after this: the start, or the last fire.
    after: Timestamp,
    last_fired: Option<Timestamp>,
    next: Next,
}

struct Loaded {
    name: String,
    entity: String,
    page_size: usize,
    plan: Box<dyn Plan>,
    members: Box<dyn MemberStore>,
    slots: Vec<Slot>,
}

/// Supplies the tokens of a fire's render context for a strategy at the fire instant:
/// `(access token, platform token)`.
pub type Tokens = Box<dyn FnMut(&str, Timestamp) -> (Option<String>, Option<String>) + Send>;

/// Every schedule of every loaded strategy, on one timer.
#[derive(Default)]
pub struct Scheduler {
    strategies: Vec<Loaded>,
    tokens: Option<Tokens>,
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new() -> Scheduler {
        Scheduler::default()
    }

    /// Load a strategy: its schedules fire strictly after `since` (the start time, or a
    /// persisted last fire to catch up once). `plan` is its compiled session, `members`
    /// its entity's members. Strategy names must be unique: they make the delivery ids.
    pub fn add(
        &mut self,
        strategy: &Strategy,
        plan: Box<dyn Plan>,
        members: Box<dyn MemberStore>,
        since: Timestamp,
    ) -> Result<(), String> {
        if self.strategies.iter().any(|s| s.name == strategy.name) {
            return Err(format!(
                "a strategy named {:?} is already loaded; strategy names must be unique because delivery ids derive from them",
                strategy.name
            ));
        }
        self.strategies.push(Loaded {
            name: strategy.name.clone(),
            entity: strategy.entity.clone(),
            page_size: page_size(strategy.run_options.batch_size),
            plan,
            members,
            slots: strategy
                .schedules
                .iter()
                .map(|s| Slot {
                    name: s.name.clone(),
                    after: since,
                    last_fired: None,
                    next: Next::Unknown,
                })
                .collect(),
        });
        Ok(())
    }

    /// Unload the strategy `name` (deleted, or about to be loaded again as a new
    /// version); whether it was loaded. Its schedules fire no more.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.strategies.len();
        self.strategies.retain(|s| s.name != name);
        self.strategies.len() < before
    }

    /// Render fires with the tokens `f` gives (the delivery layer's, or its placeholders)
    /// instead of none.
    pub fn with_tokens(&mut self, f: Tokens) {
        self.tokens = Some(f);
    }

    /// Continue `schedule` of `strategy` from a persisted last fire: it fires strictly
    /// after `last_fired`, catching up once under the missed-fire policy. Returns whether
    /// the schedule is loaded.
    pub fn resume(&mut self, strategy: &str, schedule: &str, last_fired: Timestamp) -> bool {
        let slot = self
            .strategies
            .iter_mut()
            .find(|s| s.name == strategy)
            .and_then(|s| s.slots.iter_mut().find(|s| s.name == schedule));
        match slot {
            Some(slot) => {
                slot.after = last_fired;
                slot.last_fired = Some(last_fired);
                slot.next = Next::Unknown;
                true
            }
            None => false,
        }
    }

    /// The instant `schedule` of `strategy` last fired, if it has.
    pub fn last_fired(&self, strategy: &str, schedule: &str) -> Option<Timestamp> {
        self.strategies
            .iter()
            .find(|s| s.name == strategy)?
            .slots
            .iter()
            .find(|s| s.name == schedule)?
            .last_fired
    }

    /// Which schedules fire at `now`, each at most once (at its latest fire time not after
    /// `now`), recorded as fired; and the schedules whose next fire time failed. Does not
    /// render: pass each fire to [`Scheduler::run_fire`].
    pub fn due(&mut self, now: Timestamp) -> (Vec<Fire>, Vec<FireError>) {
        let mut fires = Vec::new();
        let mut errors = Vec::new();
        for strategy in &mut self.strategies {
            for slot in &mut strategy.slots {
                let failed = |e| FireError {
                    strategy: strategy.name.clone(),
                    schedule: slot.name.clone(),
                    at: None,
                    kind: FireErrorKind::NextFire(Box::new(e)),
                };
                if slot.next == Next::Unknown {
                    match strategy.plan.next_fire(&slot.name, slot.after) {
                        Ok(next) => slot.next = next.map_or(Next::Never, Next::At),
                        Err(e) => {
                            slot.next = Next::Failed;
                            errors.push(failed(e));
                            continue;
                        }
                    }
                }
                let Next::At(first) = slot.next else { continue };
                if first > now {
                    continue;
                }
                let at = match latest_fire(&mut *strategy.plan, &slot.name, first, now) {
                    Ok(at) => at,
                    Err(e) => {
                        slot.next = Next::Failed;
                        errors.push(failed(e));
                        continue;
                    }
                };
                fires.push(Fire {
                    strategy: strategy.name.clone(),
                    schedule: slot.name.clone(),
                    at,
                    skipped_earlier: at != first,
                });
                slot.last_fired = Some(at);
                slot.after = at;
                slot.next = match strategy.plan.next_fire(&slot.name, at) {
                    Ok(next) => next.map_or(Next::Never, Next::At),
                    Err(e) => {
                        errors.push(failed(e));
                        Next::Failed
                    }
                };
            }
        }
        (fires, errors)
    }

    /// The earliest next fire across all schedules, as of the last [`Scheduler::due`];
    /// none when nothing will fire.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.strategies
            .iter()
            .flat_map(|s| &s.slots)
            .filter_map(|slot| match slot.next {
                Next::At(t) => Some(t),
                _ => None,
            })
            .min()
    }

    /// Run one fire: page the strategy's members through `on-schedule` and hand each
    /// page's requests to `sink`. Stops at the first page that fails. Returns the pages
    /// rendered and the requests delivered.
    pub fn run_fire(
        &mut self,
        fire: &Fire,
        sink: &mut dyn Sink,
    ) -> Result<(usize, usize), FireError> {
        let error = |kind| FireError {
            strategy: fire.strategy.clone(),
            schedule: fire.schedule.clone(),
            at: Some(fire.at),
            kind,
        };
        let Some(strategy) = self.strategies.iter_mut().find(|s| s.name == fire.strategy) else {
            return Err(error(FireErrorKind::Members {
                start: 0,
                message: format!("no strategy named {:?} is loaded", fire.strategy),
            }));
        };
        let size = strategy.page_size;
        let (mut start, mut pages, mut requests) = (0usize, 0usize, 0usize);
        loop {
            let page = strategy
                .members
                .page(&strategy.entity, start, size)
                .map_err(|message| error(FireErrorKind::Members { start, message }))?;
            if page.len() > size {
                return Err(error(FireErrorKind::PageTooLarge {
                    start,
                    asked: size,
                    got: page.len(),
                }));
            }
            if page.is_empty() {
                break;
            }
            let (access_token, platform_token) = self
                .tokens
                .as_mut()
                .map_or((None, None), |f| f(&fire.strategy, fire.at));
            let context = RenderContext {
                now: instant::from_timestamp(fire.at),
                access_token,
                platform_token,
                id_seed: id_seed(&fire.strategy, &fire.schedule, fire.at, pages as u64),
            };
            let out = strategy
                .plan
                .on_schedule(&fire.schedule, &page, &context)
                .map_err(|e| {
                    error(FireErrorKind::Render {
                        start,
                        len: page.len(),
                        error: Box::new(e),
                    })
                })?;
            pages += 1;
            requests += out.len();
            if !out.is_empty() {
                sink.deliver(&fire.strategy, &fire.schedule, fire.at, out);
            }
            if page.len() < size {
                break;
            }
            start += page.len();
        }
        Ok((pages, requests))
    }

    /// Decide and run everything due at `now`, reporting each outcome to `on_event`.
    pub fn step(&mut self, now: Timestamp, sink: &mut dyn Sink, on_event: &mut dyn FnMut(Event)) {
        let (fires, errors) = self.due(now);
        for e in errors {
            on_event(Event::ScheduleFailed(e));
        }
        for fire in fires {
            match self.run_fire(&fire, sink) {
                Ok((pages, requests)) => on_event(Event::Fired {
                    fire,
                    pages,
                    requests,
                }),
                Err(error) => on_event(Event::FireFailed { fire, error }),
            }
        }
    }

    /// The timer: read the clock, run what is due, sleep until the earliest next fire,
    /// and again. Returns when the next wake would be after `until` (never when none).
    pub fn run(
        &mut self,
        clock: &dyn Clock,
        sink: &mut dyn Sink,
        until: Option<Timestamp>,
        on_event: &mut dyn FnMut(Event),
    ) {
        loop {
            // The last 26 hours of year 9999 have no `Timestamp`: nothing fires there.
            let Some(now) = instant::to_timestamp(clock.now()) else {
                return;
            };
            if until.is_some_and(|u| now > u) {
                return;
            }
            self.step(now, sink, on_event);
            let wake = self.next_wake();
            match (wake, until) {
                (Some(w), Some(u)) if w > u => return,
                (None, Some(_)) => return,
                (Some(w), _) => clock.block_until(instant::from_timestamp(w)),
                (None, None) => clock.block_until(crate::time::clock::add(
                    instant::from_timestamp(now),
                    MAX_SLEEP,
                )),
            }
        }
    }
}

/// The latest fire of `schedule` not after `now`, given `first`, a fire not after `now`.
///
/// Walking fire by fire would take one call per missed fire (half a million for a
/// minutely job after a year); this bisects instead. It keeps `lo`, a fire not after
/// `now`, and `hi`, with no fire in `(hi, now]`; a probe at the middle either finds a
/// later fire or moves `hi` down, so the gap halves with each probe: a few dozen calls.
fn latest_fire(
    plan: &mut dyn Plan,
    schedule: &str,
    first: Timestamp,
    now: Timestamp,
) -> Result<Timestamp, HostError> {
    let (mut lo, mut hi) = (first, now);
    loop {
        match plan.next_fire(schedule, lo)? {
            Some(next) if next <= hi => lo = next,
            _ => return Ok(lo),
        }
        let half = lo.duration_until(hi) / 2;
        let Ok(mid) = lo.checked_add(half) else {
            continue;
        };
        match plan.next_fire(schedule, mid)? {
            Some(f) if f <= hi => lo = f,
            _ => hi = mid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fires every `period` seconds on the epoch grid; counts calls.
    struct Every {
        period: i64,
        calls: usize,
    }

    impl Plan for Every {
        fn next_fire(&mut self, _: &str, after: Timestamp) -> Result<Option<Timestamp>, HostError> {
            self.calls += 1;
            let s = after.as_second().div_euclid(self.period) * self.period + self.period;
            Ok(Some(Timestamp::from_second(s).unwrap()))
        }
        fn on_schedule(
            &mut self,
            _: &str,
            _: &[Member],
            _: &RenderContext,
        ) -> Result<Vec<HttpRequest>, HostError> {
            Ok(vec![])
        }
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_latest_missed_fire_is_found_in_a_few_dozen_calls() {
        let mut plan = Every {
            period: 60,
            calls: 0,
        };
        let now = t("2025-01-01T00:00:30Z");
        let first = t("2024-01-01T00:01:00Z");
        assert_eq!(
            latest_fire(&mut plan, "s", first, now).unwrap(),
            t("2025-01-01T00:00:00Z")
        );
        assert!(plan.calls < 80, "{} calls", plan.calls);
        // Only one missed: it is the first.
        assert_eq!(
            latest_fire(&mut plan, "s", t("2025-01-01T00:00:00Z"), now).unwrap(),
            t("2025-01-01T00:00:00Z")
        );
        // A fire exactly at now counts.
        assert_eq!(
            latest_fire(&mut plan, "s", first, t("2025-01-01T00:00:00Z")).unwrap(),
            t("2025-01-01T00:00:00Z")
        );
    }

    #[test]
    fn the_id_seed_is_fixed_and_depends_on_every_input() {
        let at = t("2016-03-13T07:00:00Z");
        let seed = id_seed("Customers", "Nightly", at, 0);
        // Pinned (and checked against an independent FNV-1a in Python): delivery ids
        // derive from it, so it must never change.
        assert_eq!(seed, id_seed("Customers", "Nightly", at, 0));
        assert_eq!(seed, 0xf9ad_d96a_1104_f281_u64, "{seed:#018x}");
        let others = [
            id_seed("Customers ", "Nightly", at, 0),
            id_seed("Customers", "Nightly ", at, 0),
            id_seed("CustomersN", "ightly", at, 0),
            id_seed("Customers", "Nightly", at + SignedDuration::from_secs(1), 0),
            id_seed(
                "Customers",
                "Nightly",
                at + SignedDuration::from_nanos(1),
                0,
            ),
            id_seed("Customers", "Nightly", at, 1),
        ];
        for (i, o) in others.iter().enumerate() {
            assert_ne!(*o, seed, "variant {i}");
        }
    }

    #[test]
    fn pages_hold_whole_batches() {
        assert_eq!(page_size(50), 1_000);
        assert_eq!(page_size(1), PAGE_MEMBERS);
        assert_eq!(page_size(300), 1_200);
        assert_eq!(page_size(1_000), 1_000);
        assert_eq!(page_size(10_000), 10_000);
        assert_eq!(page_size(0), PAGE_MEMBERS);
    }

    #[test]
    fn the_sim_clock_wakes_early_when_asked() {
        let c = SimClock::new(t("2020-01-01T00:00:00Z")).waking_every(SignedDuration::from_mins(7));
        let at = |s| instant::from_timestamp(t(s));
        c.block_until(at("2020-01-01T00:15:00Z"));
        assert_eq!(c.now(), at("2020-01-01T00:07:00Z"));
        c.block_until(at("2020-01-01T00:10:00Z"));
        assert_eq!(c.now(), at("2020-01-01T00:10:00Z"));
        c.block_until(at("2019-01-01T00:00:00Z"));
        assert_eq!(c.now(), at("2020-01-01T00:10:00Z"));
        assert_eq!(c.wakes(), 3);
    }
}
