//! The outbox `serve` and the dispatcher use, on whichever store holds it: one SQLite file
//! for one host ([`SqliteOutbox`], the default), or a PostgreSQL database shared by many
//! ([`PgOutbox`]). Both keep the same guarantees; the shared one keeps them across hosts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::postgres::{FireClaim, PgOutbox};
use super::sqlite::SqliteOutbox;
use super::{
    Attempt, Candidate, Counts, Due, Enqueued, Kind, Last, Listed, Origin, OutboxError,
    ReplayError, ReplayFilter, Replayed, State, Stored, StoredRequest,
};
use crate::contract::bindings::HttpRequest;
use crate::delivery::breaker::Breaker;

/// Where an outbox is, as `--outbox` gives it.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL names a database; anything else is a file.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_string())
        } else {
            Location::File(PathBuf::from(text))
        }
    }
}

/// The way a location is printed: a file's path, a URL without its password.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&super::postgres::redact_url(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// How a shared outbox runs; a file ignores it.
#[derive(Clone, Copy, Debug)]
pub struct Sharing {
    /// Connections in the pool.
    pub connections: usize,
    /// How long a claim on a delivery or a fire lasts (longer than an attempt can take).
    pub lease: Duration,
}

/// The outbox: a SQLite file or a PostgreSQL database, with one set of methods.
pub struct Outbox {
    backend: Backend,
}

enum Backend {
    Sqlite(SqliteOutbox),
    Postgres(PgOutbox),
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Sqlite(b) => b.fmt(f),
            Backend::Postgres(b) => b.fmt(f),
        }
    }
}

/// Call the same method on whichever backend this is.
macro_rules! either {
    ($self:ident, $b:ident => $call:expr) => {
        match &$self.backend {
            Backend::Sqlite($b) => $call,
            Backend::Postgres($b) => $call,
        }
    };
}

impl Outbox {
    /// Open (creating it and its directory if need be) the SQLite outbox at `path`, and
    /// take it for this process alone.
    pub fn open(path: &Path) -> Result<Outbox, OutboxError> {
        Ok(Outbox {
            backend: Backend::Sqlite(SqliteOutbox::open(path)?),
        })
    }

    /// Open the outbox at `location`: a file as [`Outbox::open`] does, a database by
    /// connecting with `sharing`'s pool and lease (creating or migrating its schema).
    pub fn open_at(location: &Location, sharing: Sharing) -> Result<Outbox, OutboxError> {
        match location {
            Location::File(path) => Outbox::open(path),
            Location::Postgres(url) => Ok(Outbox {
                backend: Backend::Postgres(PgOutbox::connect(
                    url,
                    sharing.connections,
                    sharing.lease,
                )?),
            }),
        }
    }

    /// Whether other hosts may use this outbox at the same time (a database), so what
    /// they record (disabled endpoints) is read again now and then.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Where the outbox is, fit to print (no password).
    pub fn shown(&self) -> String {
        match &self.backend {
            Backend::Sqlite(b) => b.path().display().to_string(),
            Backend::Postgres(b) => b.shown().to_string(),
        }
    }

    /// Write rendered requests, in order, as pending deliveries due at `now_ms`, from
    /// `origin`; committed before this returns. A delivery id already in the outbox is
    /// not written again.
    pub fn enqueue(
        &self,
        origin: &Origin<'_>,
        requests: &[HttpRequest],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, OutboxError> {
        self.enqueue_all(&[(*origin, requests)], now_ms)
    }

    /// Write the requests of several origins (each strategy a change reached) in one
    /// transaction: all of them are accepted, or none.
    pub fn enqueue_all(
        &self,
        batches: &[(Origin<'_>, &[HttpRequest])],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, OutboxError> {
        either!(self, b => b.enqueue_all(batches, now_ms))
    }

    /// [`Outbox::enqueue_all`], the new deliveries claimed for this host at once (in a
    /// database other hosts share: they leave them to [`Outbox::take`] here). A file has
    /// one host: the same as `enqueue_all`.
    pub fn enqueue_held(
        &self,
        batches: &[(Origin<'_>, &[HttpRequest])],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, OutboxError> {
        match &self.backend {
            Backend::Sqlite(b) => b.enqueue_all(batches, now_ms),
            Backend::Postgres(b) => b.enqueue(batches, now_ms, true),
        }
    }

    /// Up to `limit` pending deliveries at the head of their records' queues and due at
    /// `now_ms`, earliest due first, leaving out the `blocked` endpoints' (paused or full)
    /// and the ids `skip` says are taken (and, in a database, those another host holds). Each is counted as attempted before it is
    /// handed out.
    pub fn due(
        &self,
        now_ms: i64,
        limit: usize,
        blocked: &[String],
        skip: &dyn Fn(&Candidate<'_>) -> bool,
    ) -> Result<Vec<Due>, OutboxError> {
        either!(self, b => b.due(now_ms, limit, blocked, skip))
    }

    /// One delivery for an attempt by id, whatever its place in the queue; counted as
    /// attempted like [`Outbox::due`]'s. `None` when it is not pending (or another host
    /// holds it).
    pub fn take(&self, id: &str) -> Result<Option<Due>, OutboxError> {
        either!(self, b => b.take(id))
    }

    /// When the next pending head that is not yet due becomes due, if any.
    pub fn next_due_after(&self, now_ms: i64) -> Result<Option<i64>, OutboxError> {
        either!(self, b => b.next_due_after(now_ms))
    }

    /// Record a failed attempt to be retried at `next_ms`.
    pub fn retry(
        &self,
        seq: i64,
        attempts: u32,
        budget: u32,
        next_ms: i64,
        last: &Last,
    ) -> Result<(), OutboxError> {
        either!(self, b => b.retry(seq, attempts, budget, next_ms, last))
    }

    /// Record how a delivery ended (`Delivered` or `Dead`, with the outcome's word) and
    /// let the next delivery of each of its records go.
    pub fn finish(
        &self,
        seq: i64,
        state: State,
        outcome: &str,
        attempts: u32,
        last: &Last,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        either!(self, b => b.finish(seq, state, outcome, attempts, last, now_ms))
    }

    /// Deliveries in `state` (all when none), in queue order after position `after`, at
    /// most `limit` (capped at [`super::MAX_LIST`]).
    pub fn list(
        &self,
        state: Option<State>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Listed>, OutboxError> {
        either!(self, b => b.list(state, after, limit))
    }

    /// One delivery by id.
    pub fn get(&self, id: &str) -> Result<Option<Listed>, OutboxError> {
        either!(self, b => b.get(id))
    }

    /// Prove the outbox takes writes (`serve`'s readiness check), touching no delivery.
    pub fn probe_write(&self, now_ms: i64) -> Result<(), OutboxError> {
        either!(self, b => b.probe_write(now_ms))
    }

    /// From now on, a SQLite outbox refuses every write, as a file that cannot be written
    /// does: for the tests of what depends on writing (they run on SQLite).
    #[cfg(test)]
    pub(crate) fn refuse_writes(&self) {
        if let Backend::Sqlite(b) = &self.backend {
            b.refuse_writes();
        }
    }

    /// How many deliveries are in each state.
    pub fn counts(&self) -> Result<Counts, OutboxError> {
        either!(self, b => b.counts())
    }

    /// Queue a finished delivery again, as new: at the back of its records' queues, no
    /// attempts made, due at `now_ms`. Returns its URL (to re-enable its endpoint).
    pub fn replay(&self, id: &str, now_ms: i64) -> Result<String, ReplayError> {
        either!(self, b => b.replay(id, now_ms))
    }

    /// Remember that `endpoint` is disabled, and why.
    pub fn disable_endpoint(
        &self,
        endpoint: &str,
        why: &str,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        either!(self, b => b.disable_endpoint(endpoint, why, now_ms))
    }

    /// Forget that `endpoint` is disabled.
    pub fn enable_endpoint(&self, endpoint: &str) -> Result<(), OutboxError> {
        either!(self, b => b.enable_endpoint(endpoint))
    }

    /// Endpoints disabled, with why.
    pub fn disabled_endpoints(&self) -> Result<Vec<(String, String)>, OutboxError> {
        either!(self, b => b.disabled_endpoints())
    }

    /// Claim a fire instant for this host to render. A file has one host: always
    /// [`FireClaim::Ours`]. A database hands each instant to one host, and to another
    /// once the first's lease is past without the fire recorded.
    pub fn claim_fire(
        &self,
        strategy: &str,
        schedule: &str,
        at_ms: i64,
    ) -> Result<FireClaim, OutboxError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(FireClaim::Ours),
            Backend::Postgres(b) => b.claim_fire(strategy, schedule, at_ms),
        }
    }

    /// Remember that `schedule` of `strategy` fired at `fired_ms`.
    pub fn schedule_fired(
        &self,
        strategy: &str,
        schedule: &str,
        fired_ms: i64,
    ) -> Result<(), OutboxError> {
        either!(self, b => b.schedule_fired(strategy, schedule, fired_ms))
    }

    /// When `schedule` of `strategy` last fired, if it has.
    pub fn last_fired(&self, strategy: &str, schedule: &str) -> Result<Option<i64>, OutboxError> {
        either!(self, b => b.last_fired(strategy, schedule))
    }

    /// Store a new version of a definition; its version number.
    pub fn put_definition(
        &self,
        kind: Kind,
        name: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<i64, OutboxError> {
        either!(self, b => b.put_definition(kind, name, body, now_ms))
    }

    /// Record that a definition is deleted (a version without a body), so a restart does
    /// not bring it back.
    pub fn delete_definition(
        &self,
        kind: Kind,
        name: &str,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        either!(self, b => b.delete_definition(kind, name, now_ms))
    }

    /// The definitions in force: each one's latest version, unless that is a deletion.
    pub fn definitions(&self) -> Result<Vec<Stored>, OutboxError> {
        either!(self, b => b.definitions())
    }

    /// Pending deliveries of `strategy`.
    pub fn pending_of(&self, strategy: &str) -> Result<u64, OutboxError> {
        either!(self, b => b.pending_of(strategy))
    }

    /// Every attempt of delivery `id`, in order; `None` when no delivery has the id.
    pub fn attempts_of(&self, id: &str) -> Result<Option<Vec<Attempt>>, OutboxError> {
        either!(self, b => b.attempts_of(id))
    }

    /// The request of delivery `id` as stored.
    pub fn request_of(&self, id: &str) -> Result<Option<StoredRequest>, OutboxError> {
        either!(self, b => b.request_of(id))
    }

    /// Queue again, as new, every dead delivery `filter` takes (at most
    /// [`crate::limits::MAX_BULK_REPLAY`], oldest first), in one transaction: all or none.
    pub fn replay_dead(&self, filter: &ReplayFilter, now_ms: i64) -> Result<Replayed, OutboxError> {
        either!(self, b => b.replay_dead(filter, now_ms))
    }

    /// Keep `endpoint`'s breaker as it is now.
    pub fn save_breaker(
        &self,
        endpoint: &str,
        breaker: &Breaker,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        either!(self, b => b.save_breaker(endpoint, breaker, now_ms))
    }

    /// Every breaker kept, closed ones included, by endpoint.
    pub fn breakers(&self) -> Result<Vec<(String, Breaker)>, OutboxError> {
        either!(self, b => b.breakers())
    }
}
