//! The schedules of every strategy in force, on one timer in a thread of its own: each
//! fire's requests go to the outbox, and each fire instant too (so a restart catches up
//! once, and a fire re-run after a crash renders the same delivery ids).
//!
//! The thread follows the catalog: a strategy defined or redefined through the API is
//! loaded (its schedules continue from their last fires in the outbox), a deleted one is
//! unloaded; a change wakes the timer at once.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use jiff::Timestamp;

use crate::catalog::{Bound, Catalog, Change};
use crate::contract::bindings::{Configuration, HttpRequest};
use crate::limits::IDLE_POLL;
use crate::outbox::dispatch::Dispatcher;
use crate::outbox::{FireClaim, Origin};
use crate::sandbox::runtime::Runtime;
use crate::scheduler::{Event, Fire, FireErrorKind, Scheduler, Sink};
use crate::time::clock::MAX_SLEEP;
use crate::time::instant;

use super::members::SharedMembers;
use super::metrics::Metrics;

/// Start the timer thread over the strategies in force, following the catalog's changes
/// from now on; a fire whose render fails counts in `metrics`. Returns once every
/// strategy's schedules are loaded, or with the first that could not be.
pub fn start(
    runtime: Arc<Runtime>,
    catalog: Arc<Catalog>,
    members: SharedMembers,
    dispatcher: Arc<Dispatcher>,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    let (tx, rx) = mpsc::channel::<Change>();
    for b in catalog.strategies() {
        if let Some(c) = catalog.configuration(&b.configuration) {
            let _ = tx.send(Change::Put(b, Box::new(c.config)));
        }
    }
    let follow = std::sync::Mutex::new(tx);
    catalog.listen(Box::new(move |change| {
        let _ = follow
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(change);
    }));
    let (ready, loaded) = mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("schedules".into())
        .spawn(move || {
            let mut timer = Timer {
                runtime,
                catalog,
                members,
                dispatcher,
                metrics,
                scheduler: Scheduler::new(),
            };
            timer.install_tokens();
            // The definitions in force at start: all loaded before `start` returns.
            let mut first = Ok(());
            while let Ok(change) = rx.try_recv() {
                if let Err(e) = timer.apply(change)
                    && first.is_ok()
                {
                    first = Err(e);
                }
            }
            let failed = first.is_err();
            let _ = ready.send(first);
            if !failed {
                timer.run(&rx);
            }
        })
        .map_err(|e| format!("cannot start the schedules: {e}"))?;
    loaded
        .recv()
        .map_err(|_| "the schedules' thread ended before it started".to_string())?
}

struct Timer {
    runtime: Arc<Runtime>,
    catalog: Arc<Catalog>,
    members: SharedMembers,
    dispatcher: Arc<Dispatcher>,
    metrics: Arc<Metrics>,
    scheduler: Scheduler,
}

impl Timer {
    /// Each fire renders with its strategy's placeholders for the tokens (OAuth's and the
    /// platform token's): each attempt puts the current ones in.
    fn install_tokens(&mut self) {
        let catalog = self.catalog.clone();
        self.scheduler.with_tokens(Box::new(move |strategy, at| {
            catalog
                .strategy(strategy)
                .map(|b| b.deliverer.outbox_tokens(instant::from_timestamp(at)))
                .unwrap_or((None, None))
        }));
    }

    /// Load, reload or unload a strategy's schedules.
    fn apply(&mut self, change: Change) -> Result<(), String> {
        match change {
            Change::Deleted(name) => {
                self.scheduler.remove(&name);
                Ok(())
            }
            Change::Put(bound, config) => self.load(&bound, &config),
        }
    }

    fn load(&mut self, bound: &Bound, config: &Configuration) -> Result<(), String> {
        self.scheduler.remove(&bound.name);
        let strategy = &bound.strategy;
        if strategy.schedules.is_empty() {
            return Ok(());
        }
        // The timer's own session: a session serves one thread at a time, and the API's
        // must not wait for a fire.
        let session = self
            .runtime
            .session(config, strategy)
            .map_err(|e| format!("strategy {:?}: {e}", bound.name))?;
        self.scheduler.add(
            strategy,
            Box::new(session),
            Box::new(self.members.clone()),
            Timestamp::now(),
        )?;
        let outbox = self.dispatcher.outbox();
        for s in &strategy.schedules {
            let last = outbox
                .last_fired(&strategy.name, &s.name)
                .map_err(|e| e.to_string())?;
            if let Some(t) = last.and_then(|ms| Timestamp::from_millisecond(ms).ok()) {
                self.scheduler.resume(&strategy.name, &s.name, t);
            }
        }
        Ok(())
    }

    /// Fire what is due, sleep until the next fire or the next change, and again, until
    /// the catalog is gone. Each fire instant is claimed in the outbox before it renders:
    /// in a database other hosts share, the host that claims it renders it and the others
    /// leave it, and come back to it while its claim is held (a holder that dies has it
    /// taken over after its lease).
    fn run(&mut self, changes: &mpsc::Receiver<Change>) {
        let mut sink = OutboxSink {
            dispatcher: self.dispatcher.clone(),
            catalog: self.catalog.clone(),
        };
        let outbox = self.dispatcher.outbox().clone();
        // Fires another host holds, to ask about again.
        let mut held: Vec<Fire> = Vec::new();
        let metrics = self.metrics.clone();
        loop {
            let now = Timestamp::now();
            let (fires, errors) = self.scheduler.due(now);
            for e in errors {
                println!("{}", line(&Event::ScheduleFailed(e)));
            }
            for fire in std::mem::take(&mut held).into_iter().chain(fires) {
                let at = fire.at.as_millisecond();
                match outbox.claim_fire(&fire.strategy, &fire.schedule, at) {
                    Ok(FireClaim::Ours) => {}
                    Ok(FireClaim::Done) => continue,
                    Ok(FireClaim::Held) => {
                        held.push(fire);
                        continue;
                    }
                    Err(e) => {
                        eprintln!("host-test serve: {e}");
                        held.push(fire);
                        continue;
                    }
                }
                let event = match self.scheduler.run_fire(&fire, &mut sink) {
                    Ok((pages, requests)) => Event::Fired {
                        fire,
                        pages,
                        requests,
                    },
                    Err(error) => {
                        if matches!(error.kind, FireErrorKind::Render { .. }) {
                            metrics.render_error("schedule");
                        }
                        Event::FireFailed { fire, error }
                    }
                };
                println!("{}", line(&event));
                if let Event::Fired { fire: f, .. } | Event::FireFailed { fire: f, .. } = &event
                    && let Err(e) = outbox.schedule_fired(&f.strategy, &f.schedule, at)
                {
                    eprintln!("host-test serve: {e}");
                }
            }
            let mut wait = self
                .scheduler
                .next_wake()
                .map(|w| Duration::try_from(now.duration_until(w)).unwrap_or_default())
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            if !held.is_empty() {
                wait = wait.min(IDLE_POLL);
            }
            match changes.recv_timeout(wait) {
                Ok(change) => {
                    if let Err(e) = self.apply(change) {
                        eprintln!("host-test serve: the schedules of {e}");
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// What a schedule event prints.
fn line(event: &Event) -> String {
    match event {
        Event::Fired {
            fire,
            pages,
            requests,
        } => format!(
            "schedule {:?} of {:?} fired at {}: {pages} page(s), {requests} request(s) written to the outbox",
            fire.schedule, fire.strategy, fire.at
        ),
        Event::FireFailed { error, .. } => format!("{error}"),
        Event::ScheduleFailed(e) => format!("{e}"),
    }
}

/// Each fire's requests, to the outbox as the strategy's current version.
struct OutboxSink {
    dispatcher: Arc<Dispatcher>,
    catalog: Arc<Catalog>,
}

impl Sink for OutboxSink {
    fn deliver(
        &mut self,
        strategy: &str,
        schedule: &str,
        _fire: Timestamp,
        requests: Vec<HttpRequest>,
    ) {
        let version = self.catalog.strategy(strategy).map_or(0, |b| b.version);
        let source = format!("schedule:{schedule}");
        let origin = Origin {
            source: &source,
            strategy,
            version,
        };
        if let Err(e) = self.dispatcher.enqueue(&origin, &requests) {
            eprintln!("host-test serve: {e}");
        }
    }
}
