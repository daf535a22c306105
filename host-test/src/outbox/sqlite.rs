//! The durable outbox: every rendered request is written here before its first attempt,
//! and stays until it is delivered or dead-lettered.
//!
//! One SQLite file (WAL journal) holds:
//!
//! - **deliveries**: the request exactly as the component rendered it (method, URL,
//!   headers, body, member codes, delivery id), its state (`pending`, `delivered`,
//!   `dead`), attempts made, the attempt budget, when the next attempt is due, and the
//!   last response (status, a body snippet, the error). Finished deliveries stay as the
//!   delivery history until they are replayed or the file is removed.
//! - **queue_codes**: the member codes of each pending delivery, which keep the order per
//!   record (below).
//! - **disabled_endpoints**: endpoints that answered 410, so a restart does not
//!   hammer them again.
//! - **schedule_fires**: when each schedule last fired, so a restart catches up once
//!   instead of forgetting a fire or repeating one.
//! - **definitions**: every version of every configuration and strategy `serve` was given
//!   (at start or through the API), with deletions as tombstones, so a restart comes back
//!   with the definitions in force. Their secrets are sealed (`crate::catalog::seal`): the file
//!   holds ciphertext, and the key lives outside it.
//!
//! Each delivery records the strategy and the strategy version that rendered it.
//!
//! **Order per record.** Each pending delivery has a queue position (`seq`, the order in
//! which requests were written). A delivery is at the *head* when no pending delivery of
//! the same strategy with a smaller position shares one of its member codes; only heads
//! are handed out. Strategies are independent streams (often to different endpoints), so
//! one strategy's slow endpoint never holds back another's deliveries of the same record. So a
//! later change never overtakes an earlier one for the same record, while deliveries for
//! other records go ahead in parallel: there is no order across records. When a delivery
//! finishes (delivered or dead-lettered), the next delivery of each of its codes becomes a
//! head if nothing else holds it back.
//!
//! **Attempts are counted before they are made** (`due` and `take` write the count),
//! so a delivery during which the host dies every time runs out of attempts instead of
//! looping; recording the attempt then writes the exact count.
//!
//! **Durability.** A write that accepts work (`enqueue`) commits with
//! `synchronous=FULL`: once it returns, the requests survive a crash of the process or
//! the machine. Progress (attempt counts, finishing) commits with `synchronous=NORMAL`,
//! which survives a crash of the process; after a power loss the last few progress writes
//! may be lost, which means those deliveries are sent again: the delivery is at least once
//! anyway, with a stable id for receivers to deduplicate on.
//!
//! **Secrets.** The `Authorization` header is stored as [`TOKEN_PLACEHOLDER`]: the
//! delivery engine puts the current token in at each attempt, so no access token is ever
//! written to disk. The values of the configuration's secret-looking query parameters
//! (`api_key`, `token`, ...) are stored as `crate::delivery::deliver::QUERY_PLACEHOLDER` and put
//! back from the configuration at each attempt, in the same way; a secret-looking
//! parameter whose value is an expression is stored as rendered, since it cannot be
//! rendered again without its request. Signatures are made again at each attempt. The body is stored as
//! rendered; when a configuration includes the platform token, the body carries it, so
//! the file is created readable by its owner only.
//!
//! **One host per file.** The database is opened in exclusive locking mode: a second
//! `serve` on the same file fails at start instead of sending everything twice.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value as Json, json};

use crate::contract::bindings::{Header, HttpMethod, HttpRequest};
pub use crate::delivery::placeholders::TOKEN_PLACEHOLDER;

/// The outbox file when none is given: under the working directory, where an operator
/// running `serve` will look for it.
pub const DEFAULT_PATH: &str = ".webhook-provider/outbox.sqlite";

pub use crate::limits::MAX_LIST;

/// The schema this code writes. A version-1 file (one strategy per host, before the
/// deliveries named their strategy) and a version-2 file (before the attempt history and
/// the breakers) are migrated in place; a newer one is refused, not guessed at.
const SCHEMA_VERSION: i64 = 3;

/// Separates a strategy's name from a member code in `queue_codes`, where each
/// strategy's records queue on their own: a control character no name or code holds.
pub(super) const QUEUE_SEPARATOR: char = '\u{1f}';

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    head INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    budget INTEGER,
    strategy TEXT NOT NULL DEFAULT '',
    strategy_version INTEGER NOT NULL DEFAULT 0,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    member_codes TEXT NOT NULL,
    outcome TEXT,
    last_status INTEGER,
    last_error TEXT,
    last_response TEXT,
    finished_ms INTEGER,
    endpoint TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (state, seq);
CREATE TABLE IF NOT EXISTS queue_codes (
    code TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (code, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_codes_by_seq ON queue_codes (seq, code);
CREATE TABLE IF NOT EXISTS disabled_endpoints (
    endpoint TEXT PRIMARY KEY,
    why TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_fires (
    strategy TEXT NOT NULL,
    schedule TEXT NOT NULL,
    fired_ms INTEGER NOT NULL,
    PRIMARY KEY (strategy, schedule)
);
CREATE TABLE IF NOT EXISTS attempts (
    delivery TEXT NOT NULL,
    number INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    latency_ms INTEGER,
    status INTEGER,
    outcome TEXT NOT NULL,
    error TEXT,
    response TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON attempts (delivery, started_ms);
CREATE TABLE IF NOT EXISTS breakers (
    endpoint TEXT PRIMARY KEY,
    position TEXT NOT NULL CHECK (position IN ('closed', 'open', 'half-open')),
    failures INTEGER NOT NULL,
    opened_ms INTEGER,
    probe_ms INTEGER,
    probe_wait_ms INTEGER NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS definitions (
    kind TEXT NOT NULL CHECK (kind IN ('configuration', 'strategy')),
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, name, version)
);
";

/// The due index, made after any migration (it needs version 3's `endpoint`): due time
/// first, and the endpoint in it, so [`Outbox::due`] passes over a paused or full
/// endpoint's backlog in the index alone, without reading those rows.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS deliveries_due_at ON deliveries (next_attempt_ms, seq, endpoint)
    WHERE state = 'pending' AND head = 1;
";

/// Version 2 to 3: each delivery names its endpoint (filled in from its URL after this),
/// and the due index that lacks it goes.
const MIGRATE_2_TO_3: &str = "
ALTER TABLE deliveries ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
DROP INDEX IF EXISTS deliveries_due;
";

/// Version 1 to 2: deliveries name their strategy (`''`, "the one strategy", for what
/// version 1 wrote) and the record queues are per strategy.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE deliveries ADD COLUMN strategy TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN strategy_version INTEGER NOT NULL DEFAULT 0;
UPDATE queue_codes SET code = char(31) || code;
";

/// An outbox failure: the file and what went wrong.
#[derive(Debug)]
pub struct OutboxError(pub String);

impl fmt::Display for OutboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OutboxError {}

/// A delivery's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for its first or next attempt (or being attempted).
    Pending,
    /// The receiver accepted it.
    Delivered,
    /// Dead-lettered: given up, the endpoint disabled, or skipped because it was.
    Dead,
}

impl State {
    /// The word stored and shown.
    pub fn word(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Delivered => "delivered",
            State::Dead => "dead",
        }
    }

    /// The state a word names.
    pub fn parse(word: &str) -> Option<State> {
        match word {
            "pending" => Some(State::Pending),
            "delivered" => Some(State::Delivered),
            "dead" => Some(State::Dead),
            _ => None,
        }
    }
}

/// A pending delivery handed out for an attempt.
pub struct Due {
    /// Its queue position.
    pub seq: i64,
    /// The strategy that rendered it (`""` for a delivery a version-1 outbox held).
    pub strategy: String,
    /// The request as rendered (the `Authorization` value is [`TOKEN_PLACEHOLDER`]).
    pub request: HttpRequest,
    /// Attempts already made.
    pub attempts: u32,
    /// The attempt budget recorded with them, if one was.
    pub budget: Option<u32>,
    /// When it was written (or replayed), Unix ms: its maximum age counts from here.
    pub created_ms: i64,
}

impl fmt::Debug for Due {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Due")
            .field("seq", &self.seq)
            .field("delivery_id", &self.request.delivery_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What the last attempt got, for the record.
#[derive(Clone, Debug, Default)]
pub struct Last {
    /// The response status, if there was a response.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The start of the response body, secrets redacted.
    pub response: Option<String>,
    /// The attempt made, for the history (`None`: none was made, as for a delivery
    /// skipped because its endpoint is disabled).
    pub attempt: Option<Made>,
}

/// An attempt made: the history's row beside the delivery's last state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Made {
    /// Its number among the delivery's attempts (1 for the first).
    pub number: u32,
    /// When it started, Unix ms.
    pub started_ms: i64,
    /// How long its request took, when one was sent.
    pub latency_ms: Option<u64>,
}

/// A candidate for [`Outbox::due`]'s `skip`: the delivery's id, strategy and URL.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// Its delivery id.
    pub id: &'a str,
    /// The strategy that rendered it.
    pub strategy: &'a str,
    /// Its URL (its endpoint's limits apply).
    pub url: &'a str,
}

/// Where rendered requests come from: what made them and which strategy version.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// `changes`, `batch`, `immediate`, `schedule:<name>`.
    pub source: &'a str,
    /// The strategy that rendered them.
    pub strategy: &'a str,
    /// Its version.
    pub version: i64,
}

/// One enqueued request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The delivery id.
    pub id: String,
    /// The strategy that rendered it.
    pub strategy: String,
    /// Records it carries.
    pub records: usize,
    /// False when a delivery with this id was already in the outbox (the same changes
    /// sent twice): it is not queued again.
    pub new: bool,
}

/// A delivery as listed.
#[derive(Clone, Debug)]
pub struct Listed {
    /// Queue position (page on with it).
    pub seq: i64,
    /// Delivery id.
    pub id: String,
    /// State.
    pub state: State,
    /// Where it came from: `changes`, `batch`, `immediate`, `schedule:<name>`.
    pub source: String,
    /// The strategy that rendered it.
    pub strategy: String,
    /// The strategy version that rendered it.
    pub strategy_version: i64,
    /// URL (query string redacted).
    pub url: String,
    /// Member codes it carries.
    pub member_codes: Vec<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Written, Unix ms.
    pub created_ms: i64,
    /// Next attempt due, Unix ms (pending only).
    pub next_attempt_ms: Option<i64>,
    /// Whether it waits behind an earlier delivery of the same record (pending only).
    pub waiting: bool,
    /// How it ended or last went (`delivered`, `retry`, `dead-letter`, ...).
    pub outcome: Option<String>,
    /// Last response status.
    pub last_status: Option<u16>,
    /// Last error.
    pub last_error: Option<String>,
    /// Last response body snippet.
    pub last_response: Option<String>,
    /// Finished, Unix ms.
    pub finished_ms: Option<i64>,
}

impl Listed {
    /// As JSON for the API: kebab-case keys, times RFC 3339.
    pub fn to_json(&self) -> Json {
        let time = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        json!({
            "id": self.id,
            "status": self.state.word(),
            "source": self.source,
            "strategy": self.strategy,
            "strategy-version": self.strategy_version,
            "url": self.url,
            "member-codes": self.member_codes,
            "attempts": self.attempts,
            "created": time(self.created_ms),
            "next-attempt": self.next_attempt_ms.map(time),
            "waiting-for-earlier": self.state == State::Pending && self.waiting,
            "outcome": self.outcome,
            "last-status": self.last_status,
            "last-error": self.last_error,
            "last-response": self.last_response,
            "finished": self.finished_ms.map(time),
        })
    }
}

/// How many deliveries are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Pending.
    pub pending: u64,
    /// Delivered.
    pub delivered: u64,
    /// Dead.
    pub dead: u64,
}

/// Why a replay was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// No delivery has this id.
    NotFound,
    /// It is still pending: it will be attempted anyway.
    Pending,
    /// The store failed.
    Store(String),
}

/// The outbox file (SQLite): the backend of [`super::Outbox`] for a path.
pub struct SqliteOutbox {
    path: PathBuf,
    pub(super) conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteOutbox")
            .field("path", &self.path)
            .finish()
    }
}

pub(super) fn headers_json(headers: &[Header]) -> String {
    let list: Vec<Json> = headers
        .iter()
        .map(|h| {
            let value = if h.name.eq_ignore_ascii_case("authorization") {
                format!("Bearer {TOKEN_PLACEHOLDER}")
            } else {
                h.value.clone()
            };
            json!([h.name, value])
        })
        .collect();
    Json::Array(list).to_string()
}

pub(super) fn headers_from(text: &str) -> Vec<Header> {
    serde_json::from_str::<Vec<(String, String)>>(text)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| Header { name, value })
        .collect()
}

pub(super) fn method_word(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Post => "POST",
        HttpMethod::Get => "GET",
    }
}

pub(super) fn method_from(word: &str) -> HttpMethod {
    if word == "GET" {
        HttpMethod::Get
    } else {
        HttpMethod::Post
    }
}

pub(super) fn codes_from(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl SqliteOutbox {
    /// Open (creating it and its directory if need be) the outbox at `path`, and take it
    /// for this process alone.
    pub fn open(path: &Path) -> Result<SqliteOutbox, OutboxError> {
        let at = |what: &str, e: &dyn fmt::Display| {
            OutboxError(format!("outbox {}: {what}: {e}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| at("cannot create its directory", &e))?;
        }
        create_private(path).map_err(|e| at("cannot create the file", &e))?;
        let conn = Connection::open(path).map_err(|e| at("cannot open", &e))?;
        conn.busy_timeout(std::time::Duration::from_millis(0))
            .map_err(|e| at("cannot configure", &e))?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
            .map_err(|e| {
                at(
                    "cannot take it (is another `host-test serve` using this file? give each its own --outbox)",
                    &e,
                )
            })?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| at("cannot configure", &e))?;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
            .map_err(|e| {
                at(
                    "cannot take it (is another `host-test serve` using this file? give each its own --outbox)",
                    &e,
                )
            })?;
        let version: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| at("cannot read", &e))?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(|e| at("cannot write", &e))?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v @ (1 | 2)) => {
                // Version 3's new tables the schema above has just created.
                let steps = if v == 1 {
                    format!("{MIGRATE_1_TO_2} {MIGRATE_2_TO_3}")
                } else {
                    MIGRATE_2_TO_3.to_string()
                };
                let mut conn = conn;
                migrate_to_3(&mut conn, &steps)
                    .map_err(|e| at(&format!("cannot migrate it from schema version {v}"), &e))?;
                return SqliteOutbox::finish_open(path, conn);
            }
            Some(v) => {
                return Err(at(
                    "unsupported",
                    &format!(
                        "the file has schema version {v}, this host reads version {SCHEMA_VERSION}; use a new --outbox file"
                    ),
                ));
            }
        }
        SqliteOutbox::finish_open(path, conn)
    }

    fn finish_open(path: &Path, conn: Connection) -> Result<SqliteOutbox, OutboxError> {
        conn.execute_batch(INDEXES)
            .map_err(|e| OutboxError(format!("outbox {}: cannot index: {e}", path.display())))?;
        Ok(SqliteOutbox {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn with<R>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>,
    ) -> Result<R, OutboxError> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(|e| OutboxError(format!("outbox {}: {what}: {e}", self.path.display())))
    }

    /// Write rendered requests, in order, as pending deliveries due at `now_ms`, from
    /// `origin`; committed to disk before this returns. A delivery id already in the
    /// outbox is not written again.
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
        self.with("cannot write deliveries", |c| {
            c.pragma_update(None, "synchronous", "FULL")?;
            let tx = c.transaction()?;
            let mut out = Vec::new();
            {
                let mut next_seq: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM deliveries",
                    [],
                    |r| r.get(0),
                )?;
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO deliveries
                       (id, seq, state, head, source, created_ms, next_attempt_ms,
                        method, url, headers, body, member_codes, strategy, strategy_version,
                        endpoint)
                     VALUES (?1, ?2, 'pending', 0, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?;
                for (origin, requests) in batches {
                    for r in *requests {
                        let codes = Json::from(r.member_codes.clone()).to_string();
                        let n = insert.execute(params![
                            r.delivery_id,
                            next_seq,
                            origin.source,
                            now_ms,
                            method_word(r.method),
                            r.url,
                            headers_json(&r.headers),
                            r.body,
                            codes,
                            origin.strategy,
                            origin.version,
                            crate::delivery::deliver::endpoint_of(&r.url),
                        ])?;
                        let new = n == 1;
                        if new {
                            queue(&tx, next_seq, origin.strategy, &r.member_codes)?;
                            next_seq += 1;
                        }
                        out.push(Enqueued {
                            id: r.delivery_id.clone(),
                            strategy: origin.strategy.to_string(),
                            records: r.member_codes.len(),
                            new,
                        });
                    }
                }
            }
            tx.commit()?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            Ok(out)
        })
    }

    /// Up to `limit` pending deliveries at the head of their records' queues and due at
    /// `now_ms`, earliest due first, leaving out the ids `skip` says are taken. Each is
    /// counted as attempted before it is handed out (see `claim`).
    pub fn due(
        &self,
        now_ms: i64,
        limit: usize,
        blocked: &[String],
        skip: &dyn Fn(&Candidate<'_>) -> bool,
    ) -> Result<Vec<Due>, OutboxError> {
        self.with("cannot hand out due deliveries", |c| {
            let tx = c.transaction()?;
            let mut out = Vec::new();
            {
                let mut st = tx.prepare_cached(
                    // INDEXED BY: without statistics the planner prefers the state index
                    // and sorts every pending row on each call (measured: most of the
                    // dispatcher's time with 3,000 pending).
                    concat!(
                        "SELECT ",
                        due_columns!(),
                        " FROM deliveries INDEXED BY deliveries_due_at
                         WHERE state = 'pending' AND head = 1 AND next_attempt_ms <= ?1
                           AND endpoint NOT IN (SELECT value FROM json_each(?2))
                         ORDER BY next_attempt_ms, seq"
                    ),
                )?;
                let blocked = Json::from(blocked).to_string();
                let mut rows = st.query(params![now_ms, blocked])?;
                while let Some(row) = rows.next()? {
                    if out.len() >= limit {
                        break;
                    }
                    let candidate = Candidate {
                        id: row.get_ref(1)?.as_str()?,
                        url: row.get_ref(3)?.as_str()?,
                        strategy: row.get_ref(9)?.as_str()?,
                    };
                    if skip(&candidate) {
                        continue;
                    }
                    out.push(due_row(row)?);
                }
            }
            claim(&tx, &out)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// One delivery for an attempt by id, whatever its place in the queue (the
    /// synchronous on-demand run attempts its own requests at once); counted as
    /// attempted like [`Outbox::due`]'s.
    pub fn take(&self, id: &str) -> Result<Option<Due>, OutboxError> {
        self.with("cannot hand out a delivery", |c| {
            let tx = c.transaction()?;
            let due = tx
                .query_row(
                    concat!(
                        "SELECT ",
                        due_columns!(),
                        " FROM deliveries WHERE id = ?1 AND state = 'pending'"
                    ),
                    [id],
                    due_row,
                )
                .optional()?;
            claim(&tx, due.as_slice())?;
            tx.commit()?;
            Ok(due)
        })
    }

    /// When the next pending head that is not yet due becomes due, if any.
    pub fn next_due_after(&self, now_ms: i64) -> Result<Option<i64>, OutboxError> {
        self.with("cannot read the queue", |c| {
            c.query_row(
                "SELECT MIN(next_attempt_ms) FROM deliveries INDEXED BY deliveries_due_at
                 WHERE state = 'pending' AND head = 1 AND next_attempt_ms > ?1",
                [now_ms],
                |r| r.get(0),
            )
        })
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
        self.with("cannot record an attempt", |c| {
            let tx = c.transaction()?;
            tx.prepare_cached(
                "UPDATE deliveries SET attempts = ?2, budget = ?3, next_attempt_ms = ?4,
                   outcome = 'retry', last_status = ?5, last_error = ?6, last_response = ?7
                 WHERE seq = ?1 AND state = 'pending'",
            )?
            .execute(params![
                seq,
                attempts,
                budget,
                next_ms,
                last.status,
                last.error,
                last.response
            ])?;
            made(&tx, seq, "retry", last)?;
            tx.commit()
        })
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
        self.with("cannot record a finished delivery", |c| {
            let tx = c.transaction()?;
            tx.prepare_cached(
                "UPDATE deliveries SET state = ?2, outcome = ?3, attempts = ?4, head = 0,
                   last_status = ?5, last_error = ?6, last_response = ?7, finished_ms = ?8
                 WHERE seq = ?1",
            )?
            .execute(params![
                seq,
                state.word(),
                outcome,
                attempts,
                last.status,
                last.error,
                last.response,
                now_ms
            ])?;
            made(&tx, seq, outcome, last)?;
            release(&tx, seq)?;
            tx.commit()
        })
    }

    /// Deliveries in `state` (all when none), in queue order after position `after`, at
    /// most `limit` (capped at [`MAX_LIST`]).
    pub fn list(
        &self,
        state: Option<State>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Listed>, OutboxError> {
        let limit = limit.min(MAX_LIST) as i64;
        self.with("cannot list deliveries", |c| {
            let sql = concat!(
                "SELECT ",
                listed_columns!(),
                " FROM deliveries WHERE (?1 IS NULL OR state = ?1) AND seq > ?2
                  ORDER BY seq LIMIT ?3"
            );
            let mut st = c.prepare_cached(sql)?;
            let rows = st.query_map(params![state.map(State::word), after, limit], listed_row)?;
            rows.collect()
        })
    }

    /// One delivery by id.
    pub fn get(&self, id: &str) -> Result<Option<Listed>, OutboxError> {
        self.with("cannot read a delivery", |c| {
            c.query_row(
                concat!(
                    "SELECT ",
                    listed_columns!(),
                    " FROM deliveries WHERE id = ?1"
                ),
                [id],
                listed_row,
            )
            .optional()
        })
    }

    /// Prove the file takes writes (`serve`'s readiness check): the probe's time goes
    /// into `meta`, committed like any progress write, and no delivery is touched.
    pub fn probe_write(&self, now_ms: i64) -> Result<(), OutboxError> {
        self.with("cannot write (the readiness probe)", |c| {
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('health-probe', ?1)",
                [now_ms],
            )?;
            Ok(())
        })
    }

    /// From now on, this connection refuses every write, as a file that cannot be written
    /// does: for the tests of what depends on writing.
    #[cfg(test)]
    pub(crate) fn refuse_writes(&self) {
        let c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        c.pragma_update(None, "query_only", true)
            .expect("query_only is a pragma every SQLite has");
    }

    /// How many deliveries are in each state.
    pub fn counts(&self) -> Result<Counts, OutboxError> {
        self.with("cannot count deliveries", |c| {
            let mut st =
                c.prepare_cached("SELECT state, COUNT(*) FROM deliveries GROUP BY state")?;
            let mut counts = Counts::default();
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
            for row in rows {
                let (state, n) = row?;
                match State::parse(&state) {
                    Some(State::Pending) => counts.pending = n,
                    Some(State::Delivered) => counts.delivered = n,
                    Some(State::Dead) => counts.dead = n,
                    None => {}
                }
            }
            Ok(counts)
        })
    }

    /// Queue a finished delivery again, as new: at the back of its records' queues,
    /// no attempts made, due at `now_ms`. Returns its URL (to re-enable its endpoint).
    pub fn replay(&self, id: &str, now_ms: i64) -> Result<String, ReplayError> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let run = |c: &mut Connection| -> rusqlite::Result<Result<String, ReplayError>> {
            let tx = c.transaction()?;
            let out = replay_one(&tx, id, now_ms)?;
            if out.is_ok() {
                tx.commit()?;
            }
            Ok(out)
        };
        run(&mut c).unwrap_or_else(|e| Err(ReplayError::Store(e.to_string())))
    }

    /// Remember that `endpoint` is disabled, and why.
    pub fn disable_endpoint(
        &self,
        endpoint: &str,
        why: &str,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.with("cannot record a disabled endpoint", |c| {
            c.execute(
                "INSERT OR REPLACE INTO disabled_endpoints (endpoint, why, at_ms) VALUES (?1, ?2, ?3)",
                params![endpoint, why, now_ms],
            )?;
            Ok(())
        })
    }

    /// Forget that `endpoint` is disabled.
    pub fn enable_endpoint(&self, endpoint: &str) -> Result<(), OutboxError> {
        self.with("cannot re-enable an endpoint", |c| {
            c.execute(
                "DELETE FROM disabled_endpoints WHERE endpoint = ?1",
                [endpoint],
            )?;
            Ok(())
        })
    }

    /// Endpoints disabled, with why.
    pub fn disabled_endpoints(&self) -> Result<Vec<(String, String)>, OutboxError> {
        self.with("cannot read disabled endpoints", |c| {
            let mut st = c.prepare("SELECT endpoint, why FROM disabled_endpoints")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Remember that `schedule` of `strategy` fired at `fired_ms`.
    pub fn schedule_fired(
        &self,
        strategy: &str,
        schedule: &str,
        fired_ms: i64,
    ) -> Result<(), OutboxError> {
        self.with("cannot record a schedule fire", |c| {
            c.execute(
                "INSERT OR REPLACE INTO schedule_fires (strategy, schedule, fired_ms) VALUES (?1, ?2, ?3)",
                params![strategy, schedule, fired_ms],
            )?;
            Ok(())
        })
    }

    /// When `schedule` of `strategy` last fired, if it has.
    pub fn last_fired(&self, strategy: &str, schedule: &str) -> Result<Option<i64>, OutboxError> {
        self.with("cannot read schedule fires", |c| {
            c.query_row(
                "SELECT fired_ms FROM schedule_fires WHERE strategy = ?1 AND schedule = ?2",
                [strategy, schedule],
                |r| r.get(0),
            )
            .optional()
        })
    }
}

/// What a definition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A service configuration.
    Configuration,
    /// An integration strategy.
    Strategy,
}

impl Kind {
    /// The word the outbox and the API use.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Configuration => "configuration",
            Kind::Strategy => "strategy",
        }
    }
}

/// A stored definition in force: its latest version, not deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Configuration or strategy.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Its version (1 for the first).
    pub version: i64,
    /// The definition's JSON, secrets sealed.
    pub body: String,
}

impl SqliteOutbox {
    /// Store a new version of a definition; its version number.
    pub fn put_definition(
        &self,
        kind: Kind,
        name: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<i64, OutboxError> {
        self.with("cannot store a definition", |c| {
            let tx = c.transaction()?;
            let version: i64 = tx.query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM definitions WHERE kind = ?1 AND name = ?2",
                params![kind.word(), name],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO definitions (kind, name, version, body, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind.word(), name, version, body, now_ms],
            )?;
            tx.commit()?;
            Ok(version)
        })
    }

    /// Record that a definition is deleted (a version without a body), so a restart does
    /// not bring it back.
    pub fn delete_definition(
        &self,
        kind: Kind,
        name: &str,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.with("cannot delete a definition", |c| {
            c.execute(
                "INSERT INTO definitions (kind, name, version, body, at_ms)
                 SELECT ?1, ?2, COALESCE(MAX(version), 0) + 1, NULL, ?3
                 FROM definitions WHERE kind = ?1 AND name = ?2",
                params![kind.word(), name, now_ms],
            )?;
            Ok(())
        })
    }

    /// The definitions in force: each one's latest version, unless that is a deletion.
    pub fn definitions(&self) -> Result<Vec<Stored>, OutboxError> {
        self.with("cannot read definitions", |c| {
            let mut st = c.prepare(
                "SELECT d.kind, d.name, d.version, d.body FROM definitions d
                 WHERE d.version = (SELECT MAX(version) FROM definitions
                                    WHERE kind = d.kind AND name = d.name)
                   AND d.body IS NOT NULL
                 ORDER BY d.kind, d.name",
            )?;
            let rows = st.query_map([], |r| {
                let kind: String = r.get(0)?;
                Ok(Stored {
                    kind: if kind == "strategy" {
                        Kind::Strategy
                    } else {
                        Kind::Configuration
                    },
                    name: r.get(1)?,
                    version: r.get(2)?,
                    body: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Pending deliveries of `strategy`.
    pub fn pending_of(&self, strategy: &str) -> Result<u64, OutboxError> {
        self.with("cannot count deliveries", |c| {
            c.query_row(
                "SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND strategy = ?1",
                [strategy],
                |r| r.get(0),
            )
        })
    }
}

/// Create `path` readable and writable by its owner only, if it does not exist.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map(drop)
}

/// Count the attempt about to be made on each of `due` before it is made: a host that
/// dies during an attempt (a crash, a kill, a delivery that brings it down) has the attempt
/// counted when it restarts, so a delivery that kills the host every time ends as a dead
/// letter after its budget instead of looping forever. The attempt's own record
/// ([`Outbox::retry`], [`Outbox::finish`]) then writes the exact count. The `Due` keeps
/// the count from before, which is what [`crate::delivery::deliver::Deliverer::begin`] takes.
/// Add the attempt `last` records, if one was made, to the history of delivery `seq`.
fn made(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    outcome: &str,
    last: &Last,
) -> rusqlite::Result<()> {
    let Some(m) = last.attempt else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO attempts (delivery, number, started_ms, latency_ms, status, outcome, error, response)
         SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8 FROM deliveries WHERE seq = ?1",
    )?
    .execute(params![
        seq,
        m.number,
        m.started_ms,
        m.latency_ms,
        last.status,
        outcome,
        last.error,
        last.response
    ])?;
    Ok(())
}

/// Queue the finished delivery `id` again, as new, inside `tx` (see [`Outbox::replay`]).
pub(super) fn replay_one(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    now_ms: i64,
) -> rusqlite::Result<Result<String, ReplayError>> {
    let row: Option<(String, String, String, String)> = tx
        .query_row(
            "SELECT state, url, member_codes, strategy FROM deliveries WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((state, url, codes, strategy)) = row else {
        return Ok(Err(ReplayError::NotFound));
    };
    if state == State::Pending.word() {
        return Ok(Err(ReplayError::Pending));
    }
    let seq: i64 = tx.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM deliveries",
        [],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE deliveries SET seq = ?2, state = 'pending', head = 0, attempts = 0,
           budget = NULL, next_attempt_ms = ?3, created_ms = ?3, outcome = 'replayed',
           finished_ms = NULL
         WHERE id = ?1",
        params![id, seq, now_ms],
    )?;
    queue(tx, seq, &strategy, &codes_from(&codes))?;
    Ok(Ok(url))
}

/// Run migration `steps` to version 3 and fill in each delivery's endpoint, in one
/// transaction.
fn migrate_to_3(conn: &mut Connection, steps: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(steps)?;
    let rows: Vec<(i64, String)> = {
        let mut st = tx.prepare("SELECT rowid, url FROM deliveries")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    {
        let mut up = tx.prepare("UPDATE deliveries SET endpoint = ?2 WHERE rowid = ?1")?;
        for (rowid, url) in rows {
            up.execute(params![rowid, crate::delivery::deliver::endpoint_of(&url)])?;
        }
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema'",
        [SCHEMA_VERSION],
    )?;
    tx.commit()
}

fn claim(tx: &rusqlite::Transaction<'_>, due: &[Due]) -> rusqlite::Result<()> {
    let mut st =
        tx.prepare_cached("UPDATE deliveries SET attempts = attempts + 1 WHERE seq = ?1")?;
    for d in due {
        st.execute([d.seq])?;
    }
    Ok(())
}

/// Put a new pending delivery's codes in `strategy`'s queues and mark it a head if
/// nothing earlier holds any of them.
fn queue(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    strategy: &str,
    codes: &[String],
) -> rusqlite::Result<()> {
    let codes: Vec<String> = codes
        .iter()
        .map(|c| format!("{strategy}{QUEUE_SEPARATOR}{c}"))
        .collect();
    let mut held =
        tx.prepare_cached("SELECT 1 FROM queue_codes WHERE code = ?1 AND seq < ?2 LIMIT 1")?;
    let mut head = true;
    for code in &codes {
        if held.exists(params![code, seq])? {
            head = false;
            break;
        }
    }
    let mut add =
        tx.prepare_cached("INSERT OR IGNORE INTO queue_codes (code, seq) VALUES (?1, ?2)")?;
    for code in &codes {
        add.execute(params![code, seq])?;
    }
    if head {
        tx.prepare_cached("UPDATE deliveries SET head = 1 WHERE seq = ?1")?
            .execute([seq])?;
    }
    Ok(())
}

/// Take a finished delivery out of its records' queues and promote the next delivery of
/// each record when nothing earlier holds it.
fn release(tx: &rusqlite::Transaction<'_>, seq: i64) -> rusqlite::Result<()> {
    let codes: Vec<String> = {
        let mut st = tx.prepare_cached("SELECT code FROM queue_codes WHERE seq = ?1")?;
        st.query_map([seq], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    tx.prepare_cached("DELETE FROM queue_codes WHERE seq = ?1")?
        .execute([seq])?;
    let mut next = tx.prepare_cached("SELECT MIN(seq) FROM queue_codes WHERE code = ?1")?;
    let mut blocked = tx.prepare_cached(
        "SELECT 1 FROM queue_codes a JOIN queue_codes b ON b.code = a.code AND b.seq < a.seq
         WHERE a.seq = ?1 LIMIT 1",
    )?;
    for code in codes {
        let n: Option<i64> = next.query_row([&code], |r| r.get(0))?;
        if let Some(n) = n
            && !blocked.exists([n])?
        {
            tx.prepare_cached("UPDATE deliveries SET head = 1 WHERE seq = ?1")?
                .execute([n])?;
        }
    }
    Ok(())
}

/// The columns [`due_row`] reads, in its order.
macro_rules! due_columns {
    () => {
        "seq, id, method, url, headers, body, member_codes, attempts, budget, strategy,
         created_ms"
    };
}
use due_columns;

/// The columns [`listed_row`] reads, in its order.
macro_rules! listed_columns {
    () => {
        "seq, id, state, source, url, member_codes, attempts, created_ms, next_attempt_ms,
         head, outcome, last_status, last_error, last_response, finished_ms, strategy,
         strategy_version"
    };
}
use listed_columns;

fn due_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Due> {
    Ok(Due {
        seq: row.get(0)?,
        request: HttpRequest {
            delivery_id: row.get(1)?,
            method: method_from(&row.get::<_, String>(2)?),
            url: row.get(3)?,
            headers: headers_from(&row.get::<_, String>(4)?),
            body: row.get(5)?,
            member_codes: codes_from(&row.get::<_, String>(6)?),
        },
        attempts: row.get(7)?,
        budget: row.get(8)?,
        strategy: row.get(9)?,
        created_ms: row.get(10)?,
    })
}

fn listed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Listed> {
    let state = State::parse(&row.get::<_, String>(2)?).unwrap_or(State::Dead);
    Ok(Listed {
        seq: row.get(0)?,
        id: row.get(1)?,
        state,
        source: row.get(3)?,
        url: crate::delivery::log::redact_url(&row.get::<_, String>(4)?),
        member_codes: codes_from(&row.get::<_, String>(5)?),
        attempts: row.get(6)?,
        created_ms: row.get(7)?,
        next_attempt_ms: (state == State::Pending).then(|| row.get(8)).transpose()?,
        waiting: row.get::<_, i64>(9)? == 0,
        outcome: row.get(10)?,
        last_status: row.get(11)?,
        last_error: row.get(12)?,
        last_response: row.get(13)?,
        finished_ms: row.get(14)?,
        strategy: row.get(15)?,
        strategy_version: row.get(16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::SqliteOutbox as Outbox;
    use super::*;
    use crate::scratch::Scratch;

    /// A test's directory, removed when the test passes (kept, and named, when it fails).
    fn dir(name: &str) -> Scratch {
        Scratch::new("outbox", name)
    }

    fn request(id: &str, codes: &[&str]) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Post,
            url: "https://hooks.example/in?k=v".into(),
            headers: vec![Header {
                name: "Content-Type".into(),
                value: "application/json".into(),
            }],
            body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
            member_codes: codes.iter().map(|c| c.to_string()).collect(),
            delivery_id: id.into(),
        }
    }

    fn origin() -> Origin<'static> {
        Origin {
            source: "changes",
            strategy: "s",
            version: 1,
        }
    }

    use crate::outbox::ReplayFilter;

    fn due_ids(o: &Outbox, now: i64) -> Vec<String> {
        o.due(now, 100, &[], &|_| false)
            .unwrap()
            .into_iter()
            .map(|d| d.request.delivery_id)
            .collect()
    }

    fn seq(o: &Outbox, id: &str) -> i64 {
        o.get(id).unwrap().unwrap().seq
    }

    fn end(o: &Outbox, id: &str, state: State, now: i64) {
        let word = if state == State::Delivered {
            "delivered"
        } else {
            "dead-letter"
        };
        o.finish(seq(o, id), state, word, 1, &Last::default(), now)
            .unwrap();
    }

    #[test]
    fn a_later_delivery_of_a_record_waits_for_the_earlier_one() {
        let d = dir("order");
        let o = Outbox::open(&d.join("o.sqlite")).unwrap();
        let reqs = [
            request("a", &["X"]),
            request("b", &["Y"]),
            request("c", &["X"]),
            request("d", &["Y", "Z"]),
            request("e", &["Z"]),
        ];
        o.enqueue(&origin(), &reqs, 0).unwrap();
        assert_eq!(due_ids(&o, 0), ["a", "b"]);
        // A retry keeps the record's queue held.
        o.retry(seq(&o, "a"), 1, 8, 1_000, &Last::default())
            .unwrap();
        assert_eq!(due_ids(&o, 0), ["b"]);
        assert_eq!(o.next_due_after(0).unwrap(), Some(1_000));
        assert_eq!(due_ids(&o, 1_000), ["b", "a"]);
        // Delivered: the next change of X goes.
        end(&o, "a", State::Delivered, 1_000);
        assert_eq!(due_ids(&o, 1_000), ["b", "c"]);
        // A dead letter lets later changes go too; d then holds e (both carry Z).
        end(&o, "b", State::Dead, 1_000);
        assert_eq!(due_ids(&o, 1_000), ["c", "d"]);
        let listed = o.get("e").unwrap().unwrap();
        assert!(listed.waiting);
        end(&o, "d", State::Delivered, 1_000);
        assert_eq!(due_ids(&o, 1_000), ["c", "e"]);
        let counts = o.counts().unwrap();
        assert_eq!((counts.pending, counts.delivered, counts.dead), (2, 2, 1));
    }

    #[test]
    fn an_attempt_is_counted_before_it_is_made() {
        let d = dir("claim");
        let path = d.join("o.sqlite");
        let o = Outbox::open(&path).unwrap();
        o.enqueue(&origin(), &[request("a", &["X"]), request("b", &["Y"])], 0)
            .unwrap();
        let first = o.due(0, 1, &[], &|_| false).unwrap();
        assert_eq!(
            (first[0].request.delivery_id.as_str(), first[0].attempts),
            ("a", 0)
        );
        assert_eq!(o.get("a").unwrap().unwrap().attempts, 1);
        assert_eq!(o.take("b").unwrap().unwrap().attempts, 0);
        // The host dies during both attempts; after the restart they count.
        drop(o);
        let o = Outbox::open(&path).unwrap();
        let again = o.due(0, 10, &[], &|_| false).unwrap();
        let counts: Vec<u32> = again.iter().map(|d| d.attempts).collect();
        assert_eq!(counts, [1, 1]);
        // Recording the attempt writes the exact count.
        o.retry(again[0].seq, 2, 8, 10, &Last::default()).unwrap();
        assert_eq!(o.get("a").unwrap().unwrap().attempts, 2);
    }

    #[test]
    fn the_same_delivery_id_is_queued_once() {
        let d = dir("dedupe");
        let o = Outbox::open(&d.join("o.sqlite")).unwrap();
        let first = o.enqueue(&origin(), &[request("a", &["X"])], 0).unwrap();
        let again = o
            .enqueue(&origin(), &[request("a", &["X"]), request("b", &["X"])], 5)
            .unwrap();
        assert!(first[0].new);
        assert_eq!((again[0].new, again[1].new), (false, true));
        assert_eq!(o.counts().unwrap().pending, 2);
        assert_eq!(due_ids(&o, 5), ["a"]);
    }

    #[test]
    fn no_access_token_reaches_the_disk() {
        let d = dir("secret");
        let path = d.join("o.sqlite");
        let o = Outbox::open(&path).unwrap();
        let mut r = request("a", &["X"]);
        r.headers.push(Header {
            name: "Authorization".into(),
            value: "Bearer real-token-do-not-store".into(),
        });
        o.enqueue(&origin(), &[r], 0).unwrap();
        let due = o.due(0, 10, &[], &|_| false).unwrap();
        let auth = due[0]
            .request
            .headers
            .iter()
            .find(|h| h.name == "Authorization")
            .unwrap();
        assert_eq!(auth.value, format!("Bearer {TOKEN_PLACEHOLDER}"));
        drop(o);
        for f in std::fs::read_dir(&d).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("real-token-do-not-store"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the outbox is readable by its owner only");
        }
    }

    #[test]
    fn pending_work_survives_reopening() {
        let d = dir("reopen");
        let path = d.join("o.sqlite");
        let o = Outbox::open(&path).unwrap();
        o.enqueue(&origin(), &[request("a", &["X"]), request("b", &["X"])], 0)
            .unwrap();
        o.retry(seq(&o, "a"), 3, 9, 7_000, &Last::default())
            .unwrap();
        o.disable_endpoint("https://gone.example/in", "HTTP 410", 1)
            .unwrap();
        o.schedule_fired("S", "nightly", 42).unwrap();
        drop(o);
        let o = Outbox::open(&path).unwrap();
        assert!(due_ids(&o, 6_999).is_empty());
        let due = o.due(7_000, 10, &[], &|_| false).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].attempts, due[0].budget), (3, Some(9)));
        assert_eq!(
            o.disabled_endpoints().unwrap(),
            [(
                "https://gone.example/in".to_string(),
                "HTTP 410".to_string()
            )]
        );
        assert_eq!(o.last_fired("S", "nightly").unwrap(), Some(42));
        assert_eq!(o.last_fired("S", "other").unwrap(), None);
    }

    #[test]
    fn a_replay_goes_to_the_back_of_its_records_queue() {
        let d = dir("replay");
        let o = Outbox::open(&d.join("o.sqlite")).unwrap();
        o.enqueue(&origin(), &[request("a", &["X"])], 0).unwrap();
        assert_eq!(o.replay("a", 1), Err(ReplayError::Pending));
        assert_eq!(o.replay("zz", 1), Err(ReplayError::NotFound));
        end(&o, "a", State::Dead, 1);
        o.enqueue(&origin(), &[request("b", &["X"])], 2).unwrap();
        assert_eq!(o.replay("a", 3).unwrap(), "https://hooks.example/in?k=v");
        let a = o.get("a").unwrap().unwrap();
        assert_eq!((a.state, a.attempts, a.waiting), (State::Pending, 0, true));
        assert_eq!(due_ids(&o, 3), ["b"]);
    }

    #[test]
    fn one_process_per_file_and_one_schema() {
        let d = dir("exclusive");
        let path = d.join("o.sqlite");
        let o = Outbox::open(&path).unwrap();
        let second = Outbox::open(&path).unwrap_err();
        assert!(second.0.contains("another `host-test serve`"), "{second}");
        drop(o);
        let c = Connection::open(&path).unwrap();
        c.execute("UPDATE meta SET value = 99 WHERE key = 'schema'", [])
            .unwrap();
        drop(c);
        let e = Outbox::open(&path).unwrap_err();
        assert!(e.0.contains("schema version 99"), "{e}");
    }

    #[test]
    fn a_listing_obeys_its_cap() {
        let d = dir("list");
        let o = Outbox::open(&d.join("o.sqlite")).unwrap();
        let reqs: Vec<HttpRequest> = (0..MAX_LIST + 5)
            .map(|i| request(&format!("m{i:05}"), &[]))
            .collect();
        o.enqueue(&origin(), &reqs, 0).unwrap();
        assert_eq!(o.list(None, 0, MAX_LIST).unwrap().len(), MAX_LIST);
        assert_eq!(o.list(None, 0, MAX_LIST + 5).unwrap().len(), MAX_LIST);
        let first = o.list(Some(State::Pending), 0, 3).unwrap();
        let next = o.list(Some(State::Pending), first[2].seq, 3).unwrap();
        assert_eq!(next[0].id, "m00003");
        assert!(o.list(Some(State::Dead), 0, 10).unwrap().is_empty());
    }

    #[test]
    fn each_strategy_keeps_its_own_order_per_record() {
        let d = dir("per_strategy");
        let o = Outbox::open(&d.join("o.sqlite")).unwrap();
        let a = Origin {
            strategy: "A",
            ..origin()
        };
        let b = Origin {
            strategy: "B",
            version: 3,
            ..origin()
        };
        let first = [request("a1", &["X"]), request("a2", &["X"])];
        let second = [request("b1", &["X"])];
        let out = o
            .enqueue_all(&[(a, &first[..]), (b, &second[..])], 0)
            .unwrap();
        assert_eq!(
            out.iter().map(|e| e.strategy.as_str()).collect::<Vec<_>>(),
            ["A", "A", "B"]
        );
        // X's second change of A waits for the first; B's change of X does not.
        assert_eq!(due_ids(&o, 0), ["a1", "b1"]);
        let listed = o.get("b1").unwrap().unwrap();
        assert_eq!(
            (listed.strategy.as_str(), listed.strategy_version),
            ("B", 3)
        );
        assert_eq!(listed.to_json()["strategy-version"], 3);
        assert_eq!(o.pending_of("A").unwrap(), 2);
        end(&o, "a1", State::Delivered, 1);
        // (b1 was handed out and not recorded: still due.)
        assert_eq!(due_ids(&o, 1), ["a2", "b1"]);
        assert_eq!(o.pending_of("A").unwrap(), 1);
        // A replay goes to the back of its own strategy's queue.
        end(&o, "b1", State::Dead, 1);
        end(&o, "a2", State::Delivered, 1);
        o.replay("b1", 2).unwrap();
        assert_eq!(due_ids(&o, 2), ["b1"]);
    }

    #[test]
    fn definitions_keep_their_versions_and_deletions() {
        let d = dir("definitions");
        let path = d.join("o.sqlite");
        let o = Outbox::open(&path).unwrap();
        assert!(o.definitions().unwrap().is_empty());
        assert_eq!(
            o.put_definition(Kind::Configuration, "c", "{1}", 0)
                .unwrap(),
            1
        );
        assert_eq!(o.put_definition(Kind::Strategy, "s", "{a}", 0).unwrap(), 1);
        assert_eq!(o.put_definition(Kind::Strategy, "s", "{b}", 1).unwrap(), 2);
        assert_eq!(
            o.put_definition(Kind::Strategy, "gone", "{g}", 1).unwrap(),
            1
        );
        o.delete_definition(Kind::Strategy, "gone", 2).unwrap();
        drop(o);
        // A restart sees the latest version of each, and not the deleted one.
        let o = Outbox::open(&path).unwrap();
        let stored = o.definitions().unwrap();
        let seen: Vec<_> = stored
            .iter()
            .map(|s| (s.kind, s.name.as_str(), s.version, s.body.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (Kind::Configuration, "c", 1, "{1}"),
                (Kind::Strategy, "s", 2, "{b}")
            ]
        );
        // Defined again after a deletion, it goes on counting.
        assert_eq!(
            o.put_definition(Kind::Strategy, "gone", "{h}", 3).unwrap(),
            3
        );
    }

    /// The version-1 schema, as a host of wave 1 wrote it.
    const SCHEMA_1: &str = "
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO meta VALUES ('schema', 1);
        CREATE TABLE deliveries (
            id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE,
            state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
            head INTEGER NOT NULL, source TEXT NOT NULL, created_ms INTEGER NOT NULL,
            next_attempt_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            budget INTEGER, method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT NOT NULL,
            body BLOB NOT NULL, member_codes TEXT NOT NULL, outcome TEXT, last_status INTEGER,
            last_error TEXT, last_response TEXT, finished_ms INTEGER);
        CREATE TABLE queue_codes (code TEXT NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (code, seq)) WITHOUT ROWID;
        INSERT INTO deliveries (id, seq, state, head, source, created_ms, next_attempt_ms,
            method, url, headers, body, member_codes)
          VALUES ('old1', 1, 'pending', 1, 'changes', 0, 0, 'POST', 'https://h.example/',
                  '[]', x'7B7D', '[\"X\"]'),
                 ('old2', 2, 'pending', 0, 'changes', 0, 0, 'POST', 'https://h.example/',
                  '[]', x'7B7D', '[\"X\"]');
        INSERT INTO queue_codes VALUES ('X', 1), ('X', 2);
    ";

    #[test]
    fn a_version_1_outbox_is_migrated_with_its_queues() {
        let d = dir("migrate");
        let path = d.join("o.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch(SCHEMA_1)
            .unwrap();
        let o = Outbox::open(&path).unwrap();
        let due = o.due(0, 10, &[], &|_| false).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            (
                due[0].request.delivery_id.as_str(),
                due[0].strategy.as_str()
            ),
            ("old1", "")
        );
        o.finish(
            due[0].seq,
            State::Delivered,
            "delivered",
            1,
            &Last::default(),
            1,
        )
        .unwrap();
        // The record's order survived the migration: old2 waited for old1.
        assert_eq!(due_ids(&o, 1), ["old2"]);
        drop(o);
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    fn made(number: u32, at: i64, status: u16, error: Option<&str>) -> Last {
        Last {
            status: Some(status),
            error: error.map(str::to_string),
            response: Some("body".into()),
            attempt: Some(Made {
                number,
                started_ms: at,
                latency_ms: Some(7),
            }),
        }
    }

    /// A bulk replay takes at most `MAX_BULK_REPLAY` (oldest first) and says how many are
    /// left; the next call takes the rest.
    #[test]
    fn a_bulk_replay_obeys_its_cap_and_counts_what_is_left() {
        use crate::limits::MAX_BULK_REPLAY;
        let d = dir("bulk");
        let o = Outbox::open(&d.join("o.sqlite")).unwrap();
        let n = MAX_BULK_REPLAY + 1;
        let reqs: Vec<_> = (0..n)
            .map(|i| {
                let id = format!("d{i}");
                request(&id, &[id.as_str()])
            })
            .collect();
        o.enqueue(&origin(), &reqs, 0).unwrap();
        for i in 0..n {
            end(&o, &format!("d{i}"), State::Dead, 1);
        }
        let all = ReplayFilter {
            strategy: Some("s".into()),
            ..ReplayFilter::default()
        };
        let first = o.replay_dead(&all, 2).unwrap();
        assert_eq!((first.count, first.left), (MAX_BULK_REPLAY, 1));
        // The oldest went first: the newest is the one left dead.
        assert_eq!(
            o.get(&format!("d{}", n - 1)).unwrap().unwrap().state,
            State::Dead
        );
        let rest = o.replay_dead(&all, 3).unwrap();
        assert_eq!((rest.count, rest.left), (1, 0));
        assert_eq!(o.counts().unwrap().pending, n as u64);
    }

    #[test]
    fn every_attempt_is_kept_with_its_outcome_and_replays_add_to_it() {
        let d = dir("attempts");
        let o = Outbox::open(&d.join("o.sqlite")).unwrap();
        o.enqueue(&origin(), &[request("a", &["X"])], 0).unwrap();
        let s = seq(&o, "a");
        o.retry(s, 1, 3, 10, &made(1, 1, 503, Some("HTTP 503")))
            .unwrap();
        o.finish(
            s,
            State::Dead,
            "dead-letter",
            2,
            &made(2, 11, 500, Some("gave up")),
            12,
        )
        .unwrap();
        // A delivery skipped without an attempt adds none.
        o.enqueue(&origin(), &[request("b", &["Y"])], 0).unwrap();
        o.finish(
            seq(&o, "b"),
            State::Dead,
            "skipped",
            0,
            &Last::default(),
            12,
        )
        .unwrap();
        let a = o.attempts_of("a").unwrap().unwrap();
        let got: Vec<_> = a
            .iter()
            .map(|a| (a.number, a.status, a.outcome.as_str()))
            .collect();
        assert_eq!(
            got,
            [(1, Some(503), "retry"), (2, Some(500), "dead-letter")]
        );
        assert_eq!(
            (a[0].latency_ms, a[0].error.as_deref()),
            (Some(7), Some("HTTP 503"))
        );
        assert_eq!(o.attempts_of("b").unwrap().unwrap(), Vec::new());
        assert_eq!(o.attempts_of("nope").unwrap(), None);
        // A bulk replay by strategy since a time: both dead ones finished at 12.
        let none = ReplayFilter {
            strategy: Some("s".into()),
            since_ms: Some(13),
            ..ReplayFilter::default()
        };
        assert_eq!(o.replay_dead(&none, 20).unwrap().count, 0);
        let other = ReplayFilter {
            endpoint: Some("https://elsewhere.example/in".into()),
            ..ReplayFilter::default()
        };
        assert_eq!(o.replay_dead(&other, 20).unwrap().count, 0);
        let all = ReplayFilter {
            strategy: Some("s".into()),
            endpoint: Some("https://hooks.example/in".into()),
            since_ms: Some(12),
        };
        let done = o.replay_dead(&all, 20).unwrap();
        assert_eq!((done.count, done.left), (2, 0));
        assert_eq!(done.endpoints, ["https://hooks.example/in"]);
        assert_eq!(o.counts().unwrap().pending, 2);
        // The replay's attempts go on from the history kept.
        let s = seq(&o, "a");
        o.finish(
            s,
            State::Delivered,
            "delivered",
            1,
            &made(1, 30, 200, None),
            31,
        )
        .unwrap();
        assert_eq!(o.attempts_of("a").unwrap().unwrap().len(), 3);
        // The stored request, as written.
        let r = o.request_of("a").unwrap().unwrap().0;
        assert_eq!(
            (r.body, r.member_codes),
            (br#"{"id":"a"}"#.to_vec(), vec!["X".to_string()])
        );
    }

    #[test]
    fn breakers_are_kept_and_a_version_2_outbox_gains_the_new_tables() {
        use crate::delivery::breaker::{Breaker, Position};
        let d = dir("breakers");
        let path = d.join("o.sqlite");
        let o = Outbox::open(&path).unwrap();
        let open = Breaker {
            position: Position::Open,
            failures: 10,
            opened_ms: Some(5),
            probe_ms: Some(30_005),
            probe_wait: std::time::Duration::from_secs(30),
        };
        o.save_breaker("https://a.example/", &open, 5).unwrap();
        o.save_breaker("https://b.example/", &Breaker::default(), 5)
            .unwrap();
        assert_eq!(
            o.breakers().unwrap(),
            [
                ("https://a.example/".to_string(), open.clone()),
                ("https://b.example/".to_string(), Breaker::default())
            ]
        );
        o.enqueue(&origin(), &[request("p", &["X"])], 0).unwrap();
        drop(o);
        // As a version-2 host left it: no attempts, no breakers, deliveries without their
        // endpoint, the old due index.
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE attempts; DROP TABLE breakers; DROP INDEX deliveries_due_at;
             ALTER TABLE deliveries DROP COLUMN endpoint;
             CREATE INDEX deliveries_due ON deliveries (next_attempt_ms, seq)
                 WHERE state = 'pending' AND head = 1;
             UPDATE meta SET value = 2 WHERE key = 'schema';",
        )
        .unwrap();
        drop(c);
        let o = Outbox::open(&path).unwrap();
        assert_eq!(o.breakers().unwrap(), Vec::new());
        // The endpoint was filled in from the URL: the pending delivery is left out when
        // its endpoint is blocked, and handed out when it is not.
        let blocked = ["https://hooks.example/in".to_string()];
        assert!(o.due(0, 10, &blocked, &|_| false).unwrap().is_empty());
        assert_eq!(o.due(0, 10, &[], &|_| false).unwrap().len(), 1);
        o.save_breaker("https://a.example/", &open, 6).unwrap();
        drop(o);
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, 3);
    }

    #[test]
    fn the_readiness_probe_writes_without_touching_a_delivery_and_fails_when_writes_do() {
        let d = dir("probe");
        let path = d.join("outbox.sqlite");
        let o = Outbox::open(&path).unwrap();
        o.enqueue(&origin(), &[request("a", &["C1"])], 1_000)
            .unwrap();
        let before = (o.counts().unwrap(), o.next_due_after(0).unwrap());
        o.probe_write(2_000).unwrap();
        o.probe_write(3_000).unwrap();
        assert_eq!((o.counts().unwrap(), o.next_due_after(0).unwrap()), before);
        let due = o.due(1_000, 10, &[], &|_| false).unwrap();
        assert_eq!(due.len(), 1, "the delivery is still due, untouched");

        o.refuse_writes();
        let e = o.probe_write(4_000).unwrap_err().to_string();
        assert!(e.contains("cannot write (the readiness probe)"), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
    }
}
