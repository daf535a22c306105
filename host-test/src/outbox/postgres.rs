//! The outbox in a PostgreSQL database, shared by every `serve` pointed at it: the backend
//! of [`super::Outbox`] for a `postgres://` URL.
//!
//! It keeps the SQLite outbox's tables and guarantees ([`super::sqlite`]), made to hold
//! across processes:
//!
//! - **Claims under a lease.** A worker claims due deliveries with `FOR UPDATE SKIP LOCKED`
//!   and writes itself as their owner until a lease expires (the database's clock, so the
//!   workers' clocks need not agree). A delivery whose lease is live is handed to no other
//!   worker; one whose worker died goes to the next worker that asks after the lease. The
//!   lease is longer than an attempt can take (`serve` makes it
//!   [`crate::limits::lease_for`] the request timeout: every timed exchange of an attempt
//!   and a margin), so no two live workers attempt it at once. A worker
//!   records an attempt only while it still owns the claim.
//! - **Order per record.** A delivery is at the head of its records' queues when no
//!   pending delivery of its strategy with a smaller queue position shares one of its
//!   member codes (`queue_codes`, as in SQLite); only heads are claimed, and a finished
//!   delivery leaves the queues in the transaction that records it. The head is computed
//!   when claiming rather than stored, so finishing needs no lock. Positions come from a
//!   sequence taken while holding a transaction lock on each of the delivery's codes
//!   (`pg_advisory_xact_lock`, in one sorted order), so two workers accepting changes of
//!   one record queue them in the order they were accepted.
//! - **Accepted means committed**: an enqueue returns after its transaction commits
//!   (`synchronous_commit` as the server has it, `on` by default). Progress (claims and
//!   what each attempt came to) commits without waiting for the flush ([`PROGRESS`]), as
//!   the SQLite outbox's progress does with `synchronous=NORMAL`.
//! - **Duplicates refused by delivery id** (the primary key), across workers.
//! - **Endpoints disabled, schedule fires and definitions** live in the database, so every
//!   worker sees them; a fire instant is claimed before it is rendered
//!   ([`PgOutbox::claim_fire`]), so three replicas of one schedule render it once.
//!
//! **Schema.** The host creates the tables and migrates them in steps
//! ([`MIGRATIONS`]), under a lock so that workers starting together do it once; the version
//! is in `outbox_meta`, and a database of a newer version than this host knows is refused.
//!
//! **Connections.** A pool ([`deadpool_postgres`]) on a small runtime of its own: the
//! outbox's methods are synchronous (the SQLite outbox is, and the timer thread and the
//! CLI call them outside any runtime), so each call waits for its queries on the pool's
//! runtime while the caller's thread blocks, as it does on a SQLite write (a worker of the
//! dispatcher's runtime first hands its other tasks on, `block_in_place`). A connection
//! broken by a database restart fails the call it was in (the caller retries: the
//! dispatcher at its next poll, a client on its `503`) and is replaced by a new one.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, Row};

use super::sqlite::{
    QUEUE_SEPARATOR, codes_from, headers_from, headers_json, method_from, method_word,
};
use super::{
    Attempt, Candidate, Counts, Due, Enqueued, Kind, Last, Listed, Origin, OutboxError,
    ReplayError, ReplayFilter, Replayed, State, Stored, StoredRequest,
};
use crate::contract::bindings::HttpRequest;
use crate::delivery::breaker::{Breaker, Position};
use crate::delivery::deliver::endpoint_of;
use crate::limits::{MAX_BULK_REPLAY, MAX_LIST};

/// The schema steps: step `i` takes a database from version `i` to `i + 1` (version 0 is
/// an empty database; version 2 adds the attempt history and the breakers). The version this host writes is their number; add a step, never
/// change one that has shipped.
pub const MIGRATIONS: &[&str] = &[
    "
CREATE SEQUENCE delivery_seq;
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    source TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    budget BIGINT,
    strategy TEXT NOT NULL,
    strategy_version BIGINT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BYTEA NOT NULL,
    member_codes TEXT NOT NULL,
    outcome TEXT,
    last_status BIGINT,
    last_error TEXT,
    last_response TEXT,
    finished_ms BIGINT,
    lease_owner TEXT,
    lease_until_ms BIGINT,
    endpoint TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_ms, seq, endpoint)
    WHERE state = 'pending';
CREATE INDEX deliveries_by_state ON deliveries (state, seq);
CREATE INDEX deliveries_pending_by_strategy ON deliveries (strategy) WHERE state = 'pending';
CREATE TABLE queue_codes (
    code TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (code, seq)
);
CREATE INDEX queue_codes_by_seq ON queue_codes (seq, code);
CREATE TABLE disabled_endpoints (
    endpoint TEXT PRIMARY KEY,
    why TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE TABLE schedule_fires (
    strategy TEXT NOT NULL,
    schedule TEXT NOT NULL,
    fired_ms BIGINT NOT NULL,
    PRIMARY KEY (strategy, schedule)
);
CREATE TABLE fire_claims (
    strategy TEXT NOT NULL,
    schedule TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    owner TEXT NOT NULL,
    lease_until_ms BIGINT NOT NULL,
    done BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (strategy, schedule, at_ms)
);
CREATE TABLE definitions (
    kind TEXT NOT NULL CHECK (kind IN ('configuration', 'strategy')),
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, name, version)
);
",
    "
CREATE TABLE attempts (
    id BIGSERIAL PRIMARY KEY,
    delivery TEXT NOT NULL,
    number BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    latency_ms BIGINT,
    status BIGINT,
    outcome TEXT NOT NULL,
    error TEXT,
    response TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery, started_ms, id);
CREATE TABLE breakers (
    endpoint TEXT PRIMARY KEY,
    position TEXT NOT NULL CHECK (position IN ('closed', 'open', 'half-open')),
    failures BIGINT NOT NULL,
    opened_ms BIGINT,
    probe_ms BIGINT,
    probe_wait_ms BIGINT NOT NULL,
    at_ms BIGINT NOT NULL
);
",
];

/// The schema version this host writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Progress (claims, attempts, outcomes) commits without waiting for the WAL flush, as
/// the SQLite outbox's `synchronous=NORMAL`: a crash of the database server may lose the
/// last few, and those deliveries are sent again (at least once); what accepts work waits
/// for the flush.
const PROGRESS: &str = "SET LOCAL synchronous_commit TO OFF";

/// The database's clock in Unix ms: leases are reckoned on it alone.
const DB_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// How many due heads [`PgOutbox::due`] reads at a time.
const DUE_PAGE: usize = 256;

/// Whether delivery `d` is at the head of its records' queues.
const HEAD: &str = "NOT EXISTS (SELECT 1 FROM queue_codes a JOIN queue_codes b
                     ON b.code = a.code AND b.seq < a.seq WHERE a.seq = d.seq)";

/// Takes a transaction lock on each code of `$1` (text[]) in one order (sorted by hash),
/// so transactions locking overlapping sets never deadlock.
const LOCK_CODES: &str = "SELECT pg_advisory_xact_lock(k) FROM
    (SELECT DISTINCT hashtextextended(c, 0) AS k FROM unnest($1::text[]) AS c ORDER BY k) AS s";

/// The columns [`due_row`] reads, in its order.
const DUE_COLUMNS: &str =
    "seq, id, method, url, headers, body, member_codes, attempts, budget, strategy, created_ms";

/// The columns [`listed_row`] reads, in its order (`d` is `deliveries`).
fn listed_columns() -> String {
    format!(
        "d.seq, d.id, d.state, d.source, d.url, d.member_codes, d.attempts, d.created_ms,
         d.next_attempt_ms, ({HEAD}) AS head, d.outcome, d.last_status, d.last_error,
         d.last_response, d.finished_ms, d.strategy, d.strategy_version"
    )
}

/// How a fire instant's claim went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FireClaim {
    /// This host renders it.
    Ours,
    /// It was rendered (by this host or another).
    Done,
    /// Another host is rendering it under a live lease: ask again later, it may die.
    Held,
}

/// The outbox in a PostgreSQL database.
pub struct PgOutbox {
    /// The URL without its password, for messages.
    shown: String,
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    /// Who this process is in `lease_owner`.
    owner: String,
    lease_ms: i64,
}

impl fmt::Debug for PgOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOutbox")
            .field("database", &self.shown)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Drop for PgOutbox {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which a caller inside another runtime may not do.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// `url` with any password replaced, so it can be printed.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

/// Run `f` to completion on this thread, parked between wakes. The futures are the
/// pool's clients talking to connection tasks on the outbox's own runtime, which does
/// their I/O; this thread only waits, as it would on a SQLite write, and may itself be a
/// worker of another runtime (where `Runtime::block_on` would refuse).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// An error of the pool or of a query, as one message.
#[derive(Debug)]
enum PgError {
    Pool(deadpool_postgres::PoolError),
    Query(tokio_postgres::Error),
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(e: deadpool_postgres::PoolError) -> PgError {
        PgError::Pool(e)
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> PgError {
        PgError::Query(e)
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Pool(e) => write!(f, "{e}"),
            // The server's own message says what is wrong (tokio-postgres's Display of a
            // server error is only "db error").
            PgError::Query(e) => match e.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.severity(), db.message()),
                None => write!(f, "{e}"),
            },
        }
    }
}

type PgResult<T> = Result<T, PgError>;

fn int(row: &Row, i: usize) -> i64 {
    row.get::<_, i64>(i)
}

fn due_row(row: &Row) -> Due {
    Due {
        seq: int(row, 0),
        request: HttpRequest {
            delivery_id: row.get(1),
            method: method_from(row.get(2)),
            url: row.get(3),
            headers: headers_from(row.get(4)),
            body: row.get(5),
            member_codes: codes_from(row.get(6)),
        },
        attempts: int(row, 7) as u32,
        budget: row.get::<_, Option<i64>>(8).map(|b| b as u32),
        strategy: row.get(9),
        created_ms: int(row, 10),
    }
}

fn listed_row(row: &Row) -> Listed {
    let state = State::parse(row.get(2)).unwrap_or(State::Dead);
    Listed {
        seq: int(row, 0),
        id: row.get(1),
        state,
        source: row.get(3),
        url: crate::delivery::log::redact_url(row.get(4)),
        member_codes: codes_from(row.get(5)),
        attempts: int(row, 6) as u32,
        created_ms: int(row, 7),
        next_attempt_ms: (state == State::Pending).then(|| int(row, 8)),
        waiting: !row.get::<_, bool>(9),
        outcome: row.get(10),
        last_status: row.get::<_, Option<i64>>(11).map(|s| s as u16),
        last_error: row.get(12),
        last_response: row.get(13),
        finished_ms: row.get(14),
        strategy: row.get(15),
        strategy_version: int(row, 16),
    }
}

/// `codes` as they queue in `strategy`'s record queues.
fn queue_keys(strategy: &str, codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .map(|c| format!("{strategy}{QUEUE_SEPARATOR}{c}"))
        .collect()
}

/// Who this process is, as a lease owner: unique across processes and restarts.
fn owner_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 6];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}:{}:{hex}", host.trim(), std::process::id())
}

impl PgOutbox {
    /// Connect to the database at `url` (a `postgres://` URL) with a pool of `connections`,
    /// create or migrate its schema, and claim deliveries under leases of `lease`.
    pub fn connect(
        url: &str,
        connections: usize,
        lease: Duration,
    ) -> Result<PgOutbox, OutboxError> {
        let shown = redact_url(url);
        let at =
            |what: &str, e: &dyn fmt::Display| OutboxError(format!("outbox {shown}: {what}: {e}"));
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            at(
                "not a PostgreSQL URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)",
                &e,
            )
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("outbox-postgres")
            .enable_all()
            .build()
            .map_err(|e| at("cannot start its connections' runtime", &e))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _in = runtime.enter();
            Pool::builder(manager)
                .max_size(connections.max(2))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .create_timeout(Some(Duration::from_secs(10)))
                .wait_timeout(Some(Duration::from_secs(30)))
                .build()
                .map_err(|e| at("cannot make its connection pool", &e))?
        };
        let outbox = PgOutbox {
            shown,
            pool,
            runtime: Some(runtime),
            owner: owner_id(),
            lease_ms: lease.as_millis() as i64,
        };
        outbox.migrate()?;
        Ok(outbox)
    }

    /// The database, its password left out.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// This process as a lease owner.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn run<R>(&self, what: &str, f: impl Future<Output = PgResult<R>>) -> Result<R, OutboxError> {
        let wait = || {
            let _in = self.runtime.as_ref().map(|rt| rt.enter());
            // Unconstrained: a caller that is a task which spent its cooperative budget
            // (an attempt's HTTP exchange) would otherwise have the pool's semaphore
            // answer "not yet" for ever, as tokio tells a task to yield to the scheduler
            // it is not running on here.
            block_on(tokio::task::unconstrained(f))
        };
        // A worker of a multi-threaded runtime (the dispatcher's) hands its other tasks
        // to the rest while it waits for the database, so attempts in flight go on.
        let out = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        out.map_err(|e| OutboxError(format!("outbox {}: {what}: {e}", self.shown)))
    }

    /// Create the schema, or bring it to [`SCHEMA_VERSION`], or refuse a newer one.
    fn migrate(&self) -> Result<(), OutboxError> {
        let found = self.run("cannot create or migrate its schema", async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            // Workers starting together: one migrates, the others wait and find it done.
            tx.execute("SELECT pg_advisory_xact_lock(2003, 1)", &[]).await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            )
            .await?;
            let found: i64 = tx
                .query_opt("SELECT value FROM outbox_meta WHERE key = 'schema'", &[])
                .await?
                .map_or(0, |r| r.get(0));
            if found > SCHEMA_VERSION {
                return Ok(found);
            }
            for step in &MIGRATIONS[found as usize..] {
                tx.batch_execute(step).await?;
            }
            tx.execute(
                "INSERT INTO outbox_meta (key, value) VALUES ('schema', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&SCHEMA_VERSION],
            )
            .await?;
            tx.commit().await?;
            Ok(found)
        })?;
        if found > SCHEMA_VERSION {
            return Err(OutboxError(format!(
                "outbox {}: unsupported: the database has outbox schema version {found}, this host knows versions up to {SCHEMA_VERSION}; run a newer host-test, or give --outbox another database",
                self.shown
            )));
        }
        Ok(())
    }

    /// See [`super::Outbox::enqueue_all`].
    pub fn enqueue_all(
        &self,
        batches: &[(Origin<'_>, &[HttpRequest])],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, OutboxError> {
        self.enqueue(batches, now_ms, false)
    }

    /// Write the requests; with `held`, the new ones leased to this process at once (see
    /// [`super::Outbox::enqueue_held`]).
    pub fn enqueue(
        &self,
        batches: &[(Origin<'_>, &[HttpRequest])],
        now_ms: i64,
        held: bool,
    ) -> Result<Vec<Enqueued>, OutboxError> {
        let rows: Vec<(&Origin<'_>, &HttpRequest)> = batches
            .iter()
            .flat_map(|(o, rs)| rs.iter().map(move |r| (o, r)))
            .collect();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Vec<String>> = rows
            .iter()
            .map(|(o, r)| queue_keys(o.strategy, &r.member_codes))
            .collect();
        let all_keys: Vec<&String> = keys.iter().flatten().collect();
        let ids: Vec<&str> = rows.iter().map(|(_, r)| r.delivery_id.as_str()).collect();
        let sources: Vec<&str> = rows.iter().map(|(o, _)| o.source).collect();
        let strategies: Vec<&str> = rows.iter().map(|(o, _)| o.strategy).collect();
        let versions: Vec<i64> = rows.iter().map(|(o, _)| o.version).collect();
        let methods: Vec<&str> = rows.iter().map(|(_, r)| method_word(r.method)).collect();
        let urls: Vec<&str> = rows.iter().map(|(_, r)| r.url.as_str()).collect();
        let headers: Vec<String> = rows.iter().map(|(_, r)| headers_json(&r.headers)).collect();
        let bodies: Vec<&[u8]> = rows.iter().map(|(_, r)| r.body.as_slice()).collect();
        let endpoints: Vec<String> = rows.iter().map(|(_, r)| endpoint_of(&r.url)).collect();
        let codes: Vec<String> = rows
            .iter()
            .map(|(_, r)| serde_json::Value::from(r.member_codes.clone()).to_string())
            .collect();
        let inserted =
            self.run("cannot write deliveries", async {
                let mut c = self.pool.get().await?;
                let tx = c.transaction().await?;
                tx.execute(LOCK_CODES, &[&all_keys]).await?;
                // Positions taken under the codes' locks: after every delivery of these
                // records already accepted.
                let mut seqs: Vec<i64> = tx
                    .query(
                        "SELECT nextval('delivery_seq') FROM generate_series(1, $1::bigint)",
                        &[&(rows.len() as i64)],
                    )
                    .await?
                    .iter()
                    .map(|r| int(r, 0))
                    .collect();
                seqs.sort_unstable();
                let new: Vec<(String, i64)> = tx
                .query(
                    &format!("INSERT INTO deliveries (id, seq, state, source, created_ms, next_attempt_ms,
                        method, url, headers, body, member_codes, strategy, strategy_version,
                        lease_owner, lease_until_ms, endpoint)
                     SELECT id, seq, 'pending', source, $11, $11, method, url, headers, body,
                        codes, strategy, version, $12, CASE WHEN $12::text IS NULL THEN NULL
                        ELSE {DB_NOW_MS} + $13 END, endpoint
                     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::bytea[], $8::text[], $9::text[], $10::bigint[],
                                 $14::text[])
                       AS t(id, seq, source, method, url, headers, body, codes, strategy, version,
                            endpoint)
                     ORDER BY seq
                     ON CONFLICT (id) DO NOTHING
                     RETURNING id, seq"),
                    &[
                        &ids, &seqs, &sources, &methods, &urls, &headers, &bodies, &codes,
                        &strategies, &versions, &now_ms, &held.then_some(self.owner.as_str()),
                        &self.lease_ms,
                        &endpoints,
                    ],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), int(r, 1)))
                .collect();
                let new_seqs: std::collections::HashSet<i64> =
                    new.iter().map(|(_, s)| *s).collect();
                let (mut qcodes, mut qseqs) = (Vec::new(), Vec::new());
                for (i, k) in keys.iter().enumerate() {
                    if new_seqs.contains(&seqs[i]) {
                        for code in k {
                            qcodes.push(code.as_str());
                            qseqs.push(seqs[i]);
                        }
                    }
                }
                tx.execute(
                "INSERT INTO queue_codes (code, seq) SELECT * FROM unnest($1::text[], $2::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&qcodes, &qseqs],
            )
            .await?;
                tx.commit().await?;
                Ok((seqs, new_seqs))
            })?;
        let (seqs, new_seqs) = inserted;
        Ok(rows
            .iter()
            .zip(seqs)
            .map(|((o, r), seq)| Enqueued {
                id: r.delivery_id.clone(),
                strategy: o.strategy.to_string(),
                records: r.member_codes.len(),
                new: new_seqs.contains(&seq),
            })
            .collect())
    }

    /// See [`super::Outbox::due`]: claimed under this process's lease. The due heads are
    /// read a page at a time, in due order, until `limit` are chosen, the `blocked`
    /// endpoints' left out in the query (`skip` may still pass over many).
    pub fn due(
        &self,
        now_ms: i64,
        limit: usize,
        blocked: &[String],
        skip: &dyn Fn(&Candidate<'_>) -> bool,
    ) -> Result<Vec<Due>, OutboxError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.run("cannot hand out due deliveries", async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            tx.batch_execute(PROGRESS).await?;
            let page = tx
                .prepare_cached(&format!(
                    "SELECT d.seq, d.id, d.url, d.strategy, d.next_attempt_ms FROM deliveries d
                     WHERE d.state = 'pending' AND d.next_attempt_ms <= $1
                       AND (d.next_attempt_ms, d.seq) > ($2, $3)
                       AND d.endpoint <> ALL($4::text[])
                       AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= {DB_NOW_MS})
                       AND {HEAD}
                     ORDER BY d.next_attempt_ms, d.seq
                     LIMIT $5
                     FOR UPDATE OF d SKIP LOCKED"
                ))
                .await?;
            let (mut chosen, mut after) = (Vec::new(), (i64::MIN, i64::MIN));
            loop {
                // A page of what is asked and a little more first (the rows read are
                // locked until the commit, and other workers pass over them), then more.
                let size = if after.0 == i64::MIN {
                    (limit * 2).max(16)
                } else {
                    DUE_PAGE
                };
                let rows = tx
                    .query(
                        &page,
                        &[&now_ms, &after.0, &after.1, &blocked, &(size as i64)],
                    )
                    .await?;
                for r in &rows {
                    let candidate = Candidate {
                        id: r.get(1),
                        url: r.get(2),
                        strategy: r.get(3),
                    };
                    if chosen.len() < limit && !skip(&candidate) {
                        chosen.push(int(r, 0));
                    }
                }
                match rows.last() {
                    Some(r) if rows.len() == size && chosen.len() < limit => {
                        after = (int(r, 4), int(r, 0));
                    }
                    _ => break,
                }
            }
            let out = self.claim(&tx, &chosen).await?;
            tx.commit().await?;
            Ok(out)
        })
    }

    /// Count an attempt on each of `seqs` and lease them to this process; in the order of
    /// `seqs`, with the attempts from before.
    async fn claim(
        &self,
        c: &deadpool_postgres::Transaction<'_>,
        seqs: &[i64],
    ) -> PgResult<Vec<Due>> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let claim = c
            .prepare_cached(&format!(
                "UPDATE deliveries SET attempts = attempts + 1, lease_owner = $2,
                    lease_until_ms = {DB_NOW_MS} + $3
                 WHERE seq = ANY($1)
                 RETURNING seq, id, method, url, headers, body, member_codes, attempts - 1,
                    budget, strategy, created_ms"
            ))
            .await?;
        let rows = c
            .query(&claim, &[&seqs, &self.owner, &self.lease_ms])
            .await?;
        let mut out: Vec<Due> = rows.iter().map(due_row).collect();
        out.sort_by_key(|d| seqs.iter().position(|s| *s == d.seq));
        Ok(out)
    }

    /// See [`super::Outbox::take`]: `None` also when another worker holds it.
    pub fn take(&self, id: &str) -> Result<Option<Due>, OutboxError> {
        self.run("cannot hand out a delivery", async {
            let c = self.pool.get().await?;
            let row = c
                .query_opt(
                    &format!(
                        "UPDATE deliveries SET attempts = attempts + 1, lease_owner = $2,
                            lease_until_ms = {DB_NOW_MS} + $3
                         WHERE id = $1 AND state = 'pending'
                           AND (lease_until_ms IS NULL OR lease_until_ms <= {DB_NOW_MS}
                                OR lease_owner = $2)
                         RETURNING {}",
                        DUE_COLUMNS.replace("attempts", "attempts - 1")
                    ),
                    &[&id, &self.owner, &self.lease_ms],
                )
                .await?;
            Ok(row.as_ref().map(due_row))
        })
    }

    /// See [`super::Outbox::next_due_after`]; over every pending delivery, heads or not
    /// (the index answers at once, where checking heads would read the whole backlog):
    /// a time that turns out to be a waiting delivery's only wakes the dispatcher early.
    pub fn next_due_after(&self, now_ms: i64) -> Result<Option<i64>, OutboxError> {
        self.run("cannot read the queue", async {
            let c = self.pool.get().await?;
            let row = c
                .query_one(
                    "SELECT MIN(next_attempt_ms) FROM deliveries
                     WHERE state = 'pending' AND next_attempt_ms > $1",
                    &[&now_ms],
                )
                .await?;
            Ok(row.get(0))
        })
    }

    /// See [`super::Outbox::retry`]; written only while this process holds the claim.
    pub fn retry(
        &self,
        seq: i64,
        attempts: u32,
        budget: u32,
        next_ms: i64,
        last: &Last,
    ) -> Result<(), OutboxError> {
        let n = self.run("cannot record an attempt", async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            tx.batch_execute(PROGRESS).await?;
            let n = tx
                .execute(
                    &tx.prepare_cached(
                        "UPDATE deliveries SET attempts = $2, budget = $3, next_attempt_ms = $4,
                       outcome = 'retry', last_status = $5, last_error = $6, last_response = $7,
                       lease_owner = NULL, lease_until_ms = NULL
                     WHERE seq = $1 AND state = 'pending' AND lease_owner = $8",
                    )
                    .await?,
                    &[
                        &seq,
                        &(attempts as i64),
                        &(budget as i64),
                        &next_ms,
                        &last.status.map(i64::from),
                        &last.error,
                        &last.response,
                        &self.owner,
                    ],
                )
                .await?;
            if n == 1 {
                made(&tx, seq, "retry", last).await?;
            }
            tx.commit().await?;
            Ok(n)
        })?;
        self.lost_if_none(n, seq)
    }

    fn lost_if_none(&self, n: u64, seq: i64) -> Result<(), OutboxError> {
        if n == 0 {
            return Err(OutboxError(format!(
                "outbox {}: delivery at position {seq} not recorded: this host's claim on it expired and another host took it over (is the lease shorter than an attempt takes?)",
                self.shown
            )));
        }
        Ok(())
    }

    /// See [`super::Outbox::finish`]; written only while this process holds the claim.
    pub fn finish(
        &self,
        seq: i64,
        state: State,
        outcome: &str,
        attempts: u32,
        last: &Last,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        let n = self.run("cannot record a finished delivery", async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            tx.batch_execute(PROGRESS).await?;
            let n = tx
                .execute(
                    &tx.prepare_cached(
                        "UPDATE deliveries SET state = $2, outcome = $3, attempts = $4,
                       last_status = $5, last_error = $6, last_response = $7, finished_ms = $8,
                       lease_owner = NULL, lease_until_ms = NULL
                     WHERE seq = $1 AND state = 'pending' AND lease_owner = $9",
                    )
                    .await?,
                    &[
                        &seq,
                        &state.word(),
                        &outcome,
                        &(attempts as i64),
                        &last.status.map(i64::from),
                        &last.error,
                        &last.response,
                        &now_ms,
                        &self.owner,
                    ],
                )
                .await?;
            if n == 1 {
                made(&tx, seq, outcome, last).await?;
                // Out of its records' queues: the next delivery of each is a head now.
                tx.execute(
                    &tx.prepare_cached("DELETE FROM queue_codes WHERE seq = $1")
                        .await?,
                    &[&seq],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(n)
        })?;
        self.lost_if_none(n, seq)
    }

    /// See [`super::Outbox::list`].
    pub fn list(
        &self,
        state: Option<State>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Listed>, OutboxError> {
        let limit = limit.min(MAX_LIST) as i64;
        self.run("cannot list deliveries", async {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {} FROM deliveries d
                         WHERE ($1::text IS NULL OR d.state = $1) AND d.seq > $2
                         ORDER BY d.seq LIMIT $3",
                        listed_columns()
                    ),
                    &[&state.map(State::word), &after, &limit],
                )
                .await?;
            Ok(rows.iter().map(listed_row).collect())
        })
    }

    /// See [`super::Outbox::get`].
    pub fn get(&self, id: &str) -> Result<Option<Listed>, OutboxError> {
        self.run("cannot read a delivery", async {
            let c = self.pool.get().await?;
            let row = c
                .query_opt(
                    &format!(
                        "SELECT {} FROM deliveries d WHERE d.id = $1",
                        listed_columns()
                    ),
                    &[&id],
                )
                .await?;
            Ok(row.as_ref().map(listed_row))
        })
    }

    /// See [`super::Outbox::probe_write`]: the probe's time in `outbox_meta`.
    pub fn probe_write(&self, now_ms: i64) -> Result<(), OutboxError> {
        self.exec(
            "cannot write (the readiness probe)",
            "INSERT INTO outbox_meta (key, value) VALUES ('health-probe', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&now_ms],
        )
    }

    /// See [`super::Outbox::counts`].
    pub fn counts(&self) -> Result<Counts, OutboxError> {
        self.run("cannot count deliveries", async {
            let c = self.pool.get().await?;
            let mut counts = Counts::default();
            for row in c
                .query("SELECT state, COUNT(*) FROM deliveries GROUP BY state", &[])
                .await?
            {
                let n = int(&row, 1) as u64;
                match State::parse(row.get(0)) {
                    Some(State::Pending) => counts.pending = n,
                    Some(State::Delivered) => counts.delivered = n,
                    Some(State::Dead) => counts.dead = n,
                    None => {}
                }
            }
            Ok(counts)
        })
    }

    /// See [`super::Outbox::replay`].
    pub fn replay(&self, id: &str, now_ms: i64) -> Result<String, ReplayError> {
        let run = async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            let out = replay_one(&tx, id, now_ms).await?;
            if out.is_ok() {
                tx.commit().await?;
            }
            Ok(out)
        };
        self.run("cannot replay a delivery", run)
            .unwrap_or_else(|e| Err(ReplayError::Store(e.0)))
    }

    /// See [`super::Outbox::disable_endpoint`].
    pub fn disable_endpoint(
        &self,
        endpoint: &str,
        why: &str,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.exec(
            "cannot record a disabled endpoint",
            "INSERT INTO disabled_endpoints (endpoint, why, at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (endpoint) DO UPDATE SET why = excluded.why, at_ms = excluded.at_ms",
            &[&endpoint, &why, &now_ms],
        )
    }

    /// See [`super::Outbox::enable_endpoint`].
    pub fn enable_endpoint(&self, endpoint: &str) -> Result<(), OutboxError> {
        self.exec(
            "cannot re-enable an endpoint",
            "DELETE FROM disabled_endpoints WHERE endpoint = $1",
            &[&endpoint],
        )
    }

    fn exec(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), OutboxError> {
        self.run(what, async {
            self.pool.get().await?.execute(sql, params).await?;
            Ok(())
        })
    }

    /// See [`super::Outbox::disabled_endpoints`].
    pub fn disabled_endpoints(&self) -> Result<Vec<(String, String)>, OutboxError> {
        self.run("cannot read disabled endpoints", async {
            let rows = self
                .pool
                .get()
                .await?
                .query(
                    "SELECT endpoint, why FROM disabled_endpoints ORDER BY endpoint",
                    &[],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// Claim fire instant `at_ms` of `schedule` of `strategy` for this process to render,
    /// under the lease; a claim whose holder died is taken over once its lease is past.
    pub fn claim_fire(
        &self,
        strategy: &str,
        schedule: &str,
        at_ms: i64,
    ) -> Result<FireClaim, OutboxError> {
        self.run("cannot claim a schedule fire", async {
            let c = self.pool.get().await?;
            let fired: Option<i64> = c
                .query_opt(
                    "SELECT fired_ms FROM schedule_fires WHERE strategy = $1 AND schedule = $2",
                    &[&strategy, &schedule],
                )
                .await?
                .map(|r| r.get(0));
            if fired.is_some_and(|f| f >= at_ms) {
                return Ok(FireClaim::Done);
            }
            let ours = c
                .query_opt(
                    &format!(
                        "INSERT INTO fire_claims (strategy, schedule, at_ms, owner, lease_until_ms)
                         VALUES ($1, $2, $3, $4, {DB_NOW_MS} + $5)
                         ON CONFLICT (strategy, schedule, at_ms) DO UPDATE
                           SET owner = excluded.owner, lease_until_ms = excluded.lease_until_ms
                           WHERE NOT fire_claims.done AND fire_claims.lease_until_ms <= {DB_NOW_MS}
                         RETURNING owner"
                    ),
                    &[&strategy, &schedule, &at_ms, &self.owner, &self.lease_ms],
                )
                .await?;
            if ours.is_some() {
                return Ok(FireClaim::Ours);
            }
            let done: bool = c
                .query_opt(
                    "SELECT done FROM fire_claims WHERE strategy = $1 AND schedule = $2 AND at_ms = $3",
                    &[&strategy, &schedule, &at_ms],
                )
                .await?
                .is_some_and(|r| r.get(0));
            Ok(if done { FireClaim::Done } else { FireClaim::Held })
        })
    }

    /// See [`super::Outbox::schedule_fired`]: also marks the fire's claim done.
    pub fn schedule_fired(
        &self,
        strategy: &str,
        schedule: &str,
        fired_ms: i64,
    ) -> Result<(), OutboxError> {
        self.run("cannot record a schedule fire", async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute(
                "INSERT INTO schedule_fires (strategy, schedule, fired_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (strategy, schedule) DO UPDATE
                   SET fired_ms = GREATEST(schedule_fires.fired_ms, excluded.fired_ms)",
                &[&strategy, &schedule, &fired_ms],
            )
            .await?;
            tx.execute(
                "UPDATE fire_claims SET done = true WHERE strategy = $1 AND schedule = $2 AND at_ms = $3",
                &[&strategy, &schedule, &fired_ms],
            )
            .await?;
            // Claims of earlier fires are settled by this one.
            tx.execute(
                "DELETE FROM fire_claims WHERE strategy = $1 AND schedule = $2 AND at_ms < $3",
                &[&strategy, &schedule, &fired_ms],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// See [`super::Outbox::last_fired`].
    pub fn last_fired(&self, strategy: &str, schedule: &str) -> Result<Option<i64>, OutboxError> {
        self.run("cannot read schedule fires", async {
            let row = self
                .pool
                .get()
                .await?
                .query_opt(
                    "SELECT fired_ms FROM schedule_fires WHERE strategy = $1 AND schedule = $2",
                    &[&strategy, &schedule],
                )
                .await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    /// See [`super::Outbox::put_definition`]; two workers defining one name at once get
    /// one version each.
    pub fn put_definition(
        &self,
        kind: Kind,
        name: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<i64, OutboxError> {
        self.run("cannot store a definition", async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            let version = define(&tx, kind, name, Some(body), now_ms).await?;
            tx.commit().await?;
            Ok(version)
        })
    }

    /// See [`super::Outbox::delete_definition`].
    pub fn delete_definition(
        &self,
        kind: Kind,
        name: &str,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.run("cannot delete a definition", async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            define(&tx, kind, name, None, now_ms).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// See [`super::Outbox::definitions`].
    pub fn definitions(&self) -> Result<Vec<Stored>, OutboxError> {
        self.run("cannot read definitions", async {
            let rows = self
                .pool
                .get()
                .await?
                .query(
                    "SELECT DISTINCT ON (kind, name) kind, name, version, body FROM definitions
                     ORDER BY kind, name, version DESC",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let body: Option<String> = r.get(3);
                    Some(Stored {
                        kind: if r.get::<_, &str>(0) == "strategy" {
                            Kind::Strategy
                        } else {
                            Kind::Configuration
                        },
                        name: r.get(1),
                        version: int(r, 2),
                        body: body?,
                    })
                })
                .collect())
        })
    }

    /// See [`super::Outbox::pending_of`].
    pub fn pending_of(&self, strategy: &str) -> Result<u64, OutboxError> {
        self.run("cannot count deliveries", async {
            let row = self
                .pool
                .get()
                .await?
                .query_one(
                    "SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND strategy = $1",
                    &[&strategy],
                )
                .await?;
            Ok(int(&row, 0) as u64)
        })
    }
}

/// Write the next version of a definition (`None`: its deletion) under a lock on its name.
async fn define(
    tx: &deadpool_postgres::Transaction<'_>,
    kind: Kind,
    name: &str,
    body: Option<&str>,
    now_ms: i64,
) -> PgResult<i64> {
    let key = format!(
        "definition{QUEUE_SEPARATOR}{}{QUEUE_SEPARATOR}{name}",
        kind.word()
    );
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&key],
    )
    .await?;
    let row = tx
        .query_one(
            "INSERT INTO definitions (kind, name, version, body, at_ms)
             SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4
             FROM definitions WHERE kind = $1 AND name = $2
             RETURNING version",
            &[&kind.word(), &name, &body, &now_ms],
        )
        .await?;
    Ok(int(&row, 0))
}

/// Add the attempt `last` records, if one was made, to the history of delivery `seq`.
async fn made(
    tx: &deadpool_postgres::Transaction<'_>,
    seq: i64,
    outcome: &str,
    last: &Last,
) -> PgResult<()> {
    let Some(m) = last.attempt else {
        return Ok(());
    };
    tx.execute(
        &tx.prepare_cached("INSERT INTO attempts (delivery, number, started_ms, latency_ms, status, outcome, error, response)
         SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM deliveries WHERE seq = $1").await?,
        &[
            &seq,
            &i64::from(m.number),
            &m.started_ms,
            &m.latency_ms.map(|l| l as i64),
            &last.status.map(i64::from),
            &outcome,
            &last.error,
            &last.response,
        ],
    )
    .await?;
    Ok(())
}

/// Queue the finished delivery `id` again, as new, inside `tx`: a new position taken
/// under its codes' locks, at the back of its records' queues.
async fn replay_one(
    tx: &deadpool_postgres::Transaction<'_>,
    id: &str,
    now_ms: i64,
) -> PgResult<Result<String, ReplayError>> {
    let Some(row) = tx
        .query_opt(
            "SELECT state, url, member_codes, strategy FROM deliveries WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
    else {
        return Ok(Err(ReplayError::NotFound));
    };
    if row.get::<_, &str>(0) == State::Pending.word() {
        return Ok(Err(ReplayError::Pending));
    }
    let url: String = row.get(1);
    let keys = queue_keys(row.get(3), &codes_from(row.get(2)));
    tx.execute(LOCK_CODES, &[&keys]).await?;
    let seq = int(
        &tx.query_one("SELECT nextval('delivery_seq')", &[]).await?,
        0,
    );
    tx.execute(
        "UPDATE deliveries SET seq = $2, state = 'pending', attempts = 0, budget = NULL,
           next_attempt_ms = $3, created_ms = $3, outcome = 'replayed', finished_ms = NULL,
           lease_owner = NULL, lease_until_ms = NULL
         WHERE id = $1",
        &[&id, &seq, &now_ms],
    )
    .await?;
    let seqs = vec![seq; keys.len()];
    tx.execute(
        "INSERT INTO queue_codes (code, seq) SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT DO NOTHING",
        &[&keys, &seqs],
    )
    .await?;
    Ok(Ok(url))
}

/// The attempt history, the stored request, the bulk replay and the breakers: what the
/// SQLite outbox keeps in `history.rs` and `breakers.rs`, here in the shared database.
impl PgOutbox {
    /// See [`super::Outbox::attempts_of`].
    pub fn attempts_of(&self, id: &str) -> Result<Option<Vec<Attempt>>, OutboxError> {
        self.run("cannot read the attempts", async {
            let c = self.pool.get().await?;
            if c.query_opt("SELECT 1 FROM deliveries WHERE id = $1", &[&id])
                .await?
                .is_none()
            {
                return Ok(None);
            }
            let rows = c
                .query(
                    "SELECT number, started_ms, latency_ms, status, outcome, error, response
                     FROM attempts WHERE delivery = $1 ORDER BY started_ms, id",
                    &[&id],
                )
                .await?;
            Ok(Some(
                rows.iter()
                    .map(|r| Attempt {
                        number: int(r, 0) as u32,
                        started_ms: int(r, 1),
                        latency_ms: r.get::<_, Option<i64>>(2).map(|l| l.max(0) as u64),
                        status: r.get::<_, Option<i64>>(3).map(|s| s as u16),
                        outcome: r.get(4),
                        error: r.get(5),
                        response: r.get(6),
                    })
                    .collect(),
            ))
        })
    }

    /// See [`super::Outbox::request_of`].
    pub fn request_of(&self, id: &str) -> Result<Option<StoredRequest>, OutboxError> {
        self.run("cannot read a delivery", async {
            let row = self
                .pool
                .get()
                .await?
                .query_opt(
                    "SELECT method, url, headers, body, member_codes FROM deliveries WHERE id = $1",
                    &[&id],
                )
                .await?;
            Ok(row.map(|r| {
                StoredRequest(HttpRequest {
                    delivery_id: id.to_string(),
                    method: method_from(r.get(0)),
                    url: r.get(1),
                    headers: headers_from(r.get(2)),
                    body: r.get(3),
                    member_codes: codes_from(r.get(4)),
                })
            }))
        })
    }

    /// See [`super::Outbox::replay_dead`].
    pub fn replay_dead(&self, filter: &ReplayFilter, now_ms: i64) -> Result<Replayed, OutboxError> {
        self.run("cannot replay deliveries", async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            let ids: Vec<String> = tx
                .query(
                    "SELECT id, url FROM deliveries
                     WHERE state = 'dead' AND ($1::text IS NULL OR strategy = $1)
                       AND ($2::bigint IS NULL OR finished_ms >= $2)
                     ORDER BY seq",
                    &[&filter.strategy, &filter.since_ms],
                )
                .await?
                .iter()
                .filter(|r| {
                    filter
                        .endpoint
                        .as_deref()
                        .is_none_or(|e| endpoint_of(r.get(1)) == e)
                })
                .map(|r| r.get(0))
                .collect();
            let mut out = Replayed {
                left: ids.len().saturating_sub(MAX_BULK_REPLAY),
                ..Replayed::default()
            };
            for id in ids.iter().take(MAX_BULK_REPLAY) {
                // Another host may have replayed it since: then it is pending, and left.
                if let Ok(url) = replay_one(&tx, id, now_ms).await? {
                    out.count += 1;
                    let e = endpoint_of(&url);
                    if !out.endpoints.contains(&e) {
                        out.endpoints.push(e);
                    }
                }
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    /// See [`super::Outbox::save_breaker`].
    pub fn save_breaker(
        &self,
        endpoint: &str,
        b: &Breaker,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.exec(
            "cannot record a breaker",
            "INSERT INTO breakers (endpoint, position, failures, opened_ms, probe_ms, probe_wait_ms, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (endpoint) DO UPDATE SET position = excluded.position,
               failures = excluded.failures, opened_ms = excluded.opened_ms,
               probe_ms = excluded.probe_ms, probe_wait_ms = excluded.probe_wait_ms,
               at_ms = excluded.at_ms",
            &[
                &endpoint,
                &b.position.word(),
                &i64::from(b.failures),
                &b.opened_ms,
                &b.probe_ms,
                &(b.probe_wait.as_millis() as i64),
                &now_ms,
            ],
        )
    }

    /// See [`super::Outbox::breakers`].
    pub fn breakers(&self) -> Result<Vec<(String, Breaker)>, OutboxError> {
        self.run("cannot read the breakers", async {
            let rows = self
                .pool
                .get()
                .await?
                .query(
                    "SELECT endpoint, position, failures, opened_ms, probe_ms, probe_wait_ms
                     FROM breakers ORDER BY endpoint",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        Breaker {
                            position: Position::parse(r.get(1)).unwrap_or(Position::Closed),
                            failures: int(r, 2) as u32,
                            opened_ms: r.get(3),
                            probe_ms: r.get(4),
                            probe_wait: Duration::from_millis(int(r, 5).max(0) as u64),
                        },
                    )
                })
                .collect())
        })
    }
}
