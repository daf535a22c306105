//! Every limit of the host, as a named constant with the reason for its value: the
//! sandbox's, the servers', the delivery engine's, the outbox's, the scheduler's and the
//! API's, in one place.

use std::time::Duration;

/// Fuel per call. One unit is roughly one wasm instruction; rendering 10,000 records
/// through a 10-field mapping takes well under a tenth of this, so an honest call never
/// meets it, while a runaway loop stops after about two seconds of CPU.
pub const DEFAULT_FUEL: u64 = 10_000_000_000;

/// Linear memory per instance: a full batch of the largest allowed body (16 MiB) plus its
/// input records fits with room to spare; more than this is a bug or an attack.
pub const DEFAULT_MEMORY_BYTES: usize = 128 * 1024 * 1024;

/// The largest memory cap an instance may be given, and so the size of each slot of the
/// pooling allocator: 1 GiB, eight times the default cap. Slots are reserved address
/// space, not memory, so a large slot costs nothing until it is touched.
pub const MAX_MEMORY_BYTES: usize = 1024 * 1024 * 1024;

/// Instances the pooling allocator holds at once: one per live session (a strategy) and
/// per call in flight; 1,000 is far above what one process serves, and an instance past it
/// fails to start with an error rather than waiting.
pub const POOLED_INSTANCES: u32 = 1_000;

/// Core instances, and tables, per component instance: the component is one core module
/// plus the small shims `wit-component` adds for its imports.
pub const CORE_INSTANCES_PER_COMPONENT: u32 = 4;

/// Wall-clock backstop per call, for time fuel does not count (host calls, a stalled
/// engine): generous, because fuel is the precise bound.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// How often the epoch ticks: the deadline's resolution. 10 ms costs nothing measurable.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Input bytes per call (strings and lists, as they cross the boundary): 32 MiB is far
/// above a page of 10,000 rich records and keeps one call from flooding guest memory.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;

/// Output bytes per call (request bodies, headers and URLs): 64 MiB, about four full
/// 16 MiB batches; more in one call means the caller should page its input.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 64 * 1024 * 1024;

/// The largest configuration or strategy file the host reads: 4 MiB. The component's own
/// limits (256 fields, 64 schedules, 256-character names, expressions of a few thousand
/// characters) keep a real one under 1 MiB; a file is refused at this size before it is
/// held in memory, so `--config /dev/zero` ends at once.
pub const MAX_DEFINITION_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The largest changes, members or record file the host reads: 64 MiB, twice what one
/// call may carry as input ([`DEFAULT_MAX_INPUT_BYTES`]; JSON is wordier than the page it
/// becomes). A bigger file is refused after reading at most this much, not held whole.
pub const MAX_DATA_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Time a client has to send a request's head (request line and headers) to the API or a
/// reference server: 10 s, far above any real client; a connection that sends nothing is
/// closed then instead of being held open.
pub const HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a client has to send a request's body once its head is read: 60 s carries a
/// 16 MiB body over a slow link (2 Mbit/s); a trickled body is answered 408 then.
pub const HTTP_BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections one server serves at once: 256 is far above what a platform's few API
/// clients open, and keeps the descriptors well under the usual 1,024 per process; more
/// wait in the listen backlog.
pub const HTTP_MAX_CONNECTIONS: usize = 256;

/// Request body bytes held across all connections at once: 128 MiB (eight of the largest
/// API bodies). A body waits for room before it is read, so 48 clients holding 16 MiB
/// bodies cost this, not 800 MB.
pub const HTTP_MAX_BUFFERED_BYTES: usize = 128 * 1024 * 1024;

/// The first and the longest wait after a failed `accept` (out of descriptors, say):
/// backing off keeps a core free instead of spinning, and retries soon when it passes.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// See [`ACCEPT_BACKOFF_MIN`].
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

// ---- The sandbox ----

/// The most table elements an instance may grow to: Rust components use one small
/// function table; 10,000 is far above it.
pub const MAX_TABLE_ELEMENTS: usize = 10_000;

// ---- Formats ----

/// The most significant digits an exact decimal holds: a 128-bit mantissa, as the
/// component's decimals.
pub const MAX_DECIMAL_DIGITS: usize = 38;

// ---- Time ----

/// The largest UTC offset an instant may be written with: ±18:00, RFC 3339's and ISO
/// 8601's bound (and every real zone's); jiff alone would read up to ±25:59.
pub const MAX_OFFSET_SECONDS: i32 = 18 * 3600;

/// The longest a blocking sleep lasts before the caller reads the clock again. A sleep
/// runs on the monotonic clock, which does not see the wall clock being stepped (a
/// suspended machine, an NTP step), so a long sleep would miss a jump by as much as it
/// sleeps; 30 seconds bounds how late a fire can be after a jump, at the cost of one
/// wake-up every 30 seconds.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);

// ---- Delivery ----

/// The first backoff's upper bound: a receiver that hiccuped is usually back within
/// seconds.
pub const RETRY_BASE: Duration = Duration::from_secs(2);

/// The largest backoff upper bound: past two minutes, waiting longer between attempts
/// mostly delays the dead letter someone has to look at.
pub const RETRY_CAP: Duration = Duration::from_secs(120);

/// Attempts per delivery, the first included: with the schedule above, the last attempt
/// comes at most about four minutes after the first. This is the brief policy of `send`,
/// whose caller waits; `serve` retries on [`DURABLE_DELAYS`] unless told otherwise.
pub const MAX_ATTEMPTS: u32 = 8;

/// `serve`'s default waits between attempts: Svix's published schedule (immediately,
/// then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). Eight attempts over about 27.6 hours:
/// the early ones catch a hiccup or a deploy, the late ones an outage of a night or most
/// of a day, and the receiver is never hammered while it is down (a breaker also pauses
/// it, see `BREAKER_FAILURES`).
pub const DURABLE_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// `serve`'s default maximum age: no retry is planned later than three days after the
/// delivery was written. The schedule ends after 27.6 hours; the rest is room for waits
/// that `Retry-After` stretches and for an endpoint paused by its breaker, whose
/// deliveries wait without spending attempts.
pub const DURABLE_MAX_AGE: Duration = Duration::from_secs(3 * 24 * 3600);

/// Attempts per delivery at most, in any schedule (`--max-attempts`, a configuration's
/// `retry`): past a hundred, more attempts only hammer a receiver that is not coming
/// back, and the attempt history of one delivery stays a page long.
pub const MOST_ATTEMPTS: u32 = 100;

/// The longest single wait a configuration's schedule may name: two days. A longer one is
/// almost surely a typo (`30d` for `30m`), and the maximum age bounds the whole anyway.
pub const LONGEST_WAIT: Duration = Duration::from_secs(2 * 24 * 3600);

/// The longest maximum age a configuration may set: thirty days, past which a change is
/// stale for any receiver and the outbox should not keep carrying it.
pub const LONGEST_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// An endpoint without a limit of its own (`delivery.concurrency`) may hold one slot in
/// this many of the host's (`--concurrency`), rounded up: half, so one slow endpoint
/// never holds every slot and the others always keep half of them, while a host with one
/// endpoint still keeps half its slots busy on it (a configuration raises it to all).
pub const ENDPOINT_SHARE: usize = 2;

/// The most attempts in flight to one endpoint a configuration may ask for: beyond this
/// the host's own sockets and the receiver's accept queue are the limit, not the setting.
pub const MAX_ENDPOINT_CONCURRENCY: u32 = 256;

/// The highest rate limit a configuration may set, attempts started per second: above
/// this one `serve` cannot start attempts that fast anyway (see BENCHMARKS.md).
pub const MAX_RATE_PER_SECOND: u32 = 10_000;

/// Consecutive failed attempts (no response, or a status the component retries) that
/// open an endpoint's breaker by default: more than one delivery's whole early schedule,
/// so a single bad request never pauses an endpoint, few enough that a dead endpoint is
/// paused within seconds of heavy traffic.
pub const BREAKER_FAILURES: u32 = 10;

/// The most consecutive failures a configuration may set before its breaker opens.
pub const MAX_BREAKER_FAILURES: u32 = 10_000;

/// How long an open breaker waits before one delivery probes the endpoint, by default; it
/// doubles after each failed probe up to [`LONGEST_PROBE_AFTER`]. Thirty seconds: a
/// deploy's restart is usually over by then.
pub const BREAKER_PROBE_AFTER: Duration = Duration::from_secs(30);

/// The shortest probe interval a configuration may set: probing a dead endpoint more than
/// once a second is hammering it.
pub const SHORTEST_PROBE_AFTER: Duration = Duration::from_secs(1);

/// The longest probe interval, and the cap of its doubling: an endpoint back after an
/// outage waits at most this long to be resumed.
pub const LONGEST_PROBE_AFTER: Duration = Duration::from_secs(3600);

/// The longest `Retry-After` honoured as given: an hour, the component's own cap
/// (`MAX_RETRY_AFTER_SECS` in `src/response.rs`), so the two never disagree (a test in
/// `tests/sandbox.rs` holds them equal); a server asking for more gets an hour.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// A rendered signature younger than this is sent as is on the first attempt: the
/// component signed the request when it rendered it, and signing the same bytes again
/// a moment later buys nothing (receivers accept five minutes of skew). Every retry, and a
/// first attempt of an older render, is re-signed through the component's `sign`.
pub const FRESH_SIGNATURE_AGE: Duration = Duration::from_secs(5);

/// Deliveries in flight at once by default: enough to keep a receiver busy over one
/// connection pool without flooding it.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// The default per-request timeout, connect to last body byte: long enough for a slow
/// webhook that does real work before answering, short enough that a hung endpoint does
/// not hold a delivery slot for minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most response body bytes kept: the host needs the status and headers to classify
/// and a snippet for the log; a webhook that answers with megabytes gets cut here.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Idle pooled connections are closed after this: below the usual 60 s server keep-alive,
/// so the client seldom reuses a connection the server is closing.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Response body bytes kept in a log line: enough for an error message from the
/// receiver, small enough that a log of thousands of attempts stays readable.
pub const LOG_BODY_BYTES: usize = 512;

/// Secrets shorter than this are not searched for: replacing every `a` would ruin the
/// log and a secret that short protects nothing anyway.
pub const MIN_SECRET_LEN: usize = 6;

/// Refresh a token this long before it expires: covers clock skew between us and the
/// token server and a request that is in flight when the token runs out. For tokens that
/// live less than twice this, half their lifetime is used instead, so a short-lived token
/// is still reused.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How long a platform token is valid. Each attempt carries one minted for it, so the token
/// need only outlive one attempt (its timeout, `DEFAULT_TIMEOUT`) and the receiver's work
/// on it (calling the platform back as the run-as user); and it is short enough that a
/// leaked payload is soon useless.
pub const PLATFORM_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How long a rotated-out platform key stays in the JWKS after it stopped signing: a token
/// it signed last lives [`PLATFORM_TOKEN_LIFETIME`], and receivers allow for clock skew (a
/// minute is usual: jsonwebtoken's default leeway is 60 s) and cache the JWKS, so five
/// minutes more. Longer would publish keys that verify nothing alive.
pub const PLATFORM_KEY_RETENTION: Duration =
    Duration::from_secs(PLATFORM_TOKEN_LIFETIME.as_secs() + 5 * 60);

// ---- The outbox ----

/// The most deliveries one listing returns: a page an operator can read and a response
/// that stays small; page on with `after`.
pub const MAX_LIST: usize = 1_000;

/// The most dead deliveries one bulk replay queues again: one transaction that stays
/// well under a second on this machine's SQLite, so the dispatcher is never held up long;
/// the answer says how many are left for the next call.
pub const MAX_BULK_REPLAY: usize = 10_000;

/// The longest the dispatcher sleeps without looking at the outbox: it is woken when work
/// is written or an attempt ends, so this only bounds how late a due time that arrived
/// some other way (a clock step) is noticed. One cheap query a second when idle.
pub const IDLE_POLL: Duration = Duration::from_secs(1);

/// How much longer a claim on a delivery in a shared (PostgreSQL) outbox lasts than the
/// request timeout: a worker records its attempt within the lease, so no other worker
/// takes the delivery over while it is still being attempted (the record's round trip,
/// a token fetch and a slow DNS answer fit in it); a worker that dies has its claims
/// taken over this long after the timeout.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The timed HTTP exchanges one attempt may make, each bounded by the request timeout: a
/// token fetch, the request, and after a 401 a new token and the request again. A claim
/// must outlast all four, or a slow attempt could be taken over while it is still going.
pub const EXCHANGES_PER_ATTEMPT: u32 = 4;

/// A shared outbox's claim for a request timeout of `timeout`: every exchange an attempt
/// may make ([`EXCHANGES_PER_ATTEMPT`]), plus [`LEASE_MARGIN`] for the record.
pub fn lease_for(timeout: Duration) -> Duration {
    timeout.saturating_mul(EXCHANGES_PER_ATTEMPT) + LEASE_MARGIN
}

#[cfg(test)]
mod lease_tests {
    use super::*;

    /// The lease covers an attempt's every exchange at the timeout, and a claim for an
    /// attempt of one exchange more would not be covered.
    #[test]
    fn a_lease_outlasts_every_exchange_of_an_attempt_and_not_one_more() {
        let t = Duration::from_secs(30);
        let lease = lease_for(t);
        assert!(lease >= t * EXCHANGES_PER_ATTEMPT + LEASE_MARGIN);
        assert!(lease < t * (EXCHANGES_PER_ATTEMPT + 1));
    }
}

/// Connections a shared outbox's pool keeps beyond one per concurrent attempt: the
/// dispatcher's own queries, the API's writes and the schedules' timer.
pub const POOL_SPARE_CONNECTIONS: usize = 4;

/// How long a stopping host waits for attempts in flight to end and be recorded: an
/// attempt left behind is sent again after the restart (a duplicate the receiver must
/// absorb), and most attempts end within a second. Shorter than the 10 s a container
/// runtime gives before it kills, so the host exits by itself.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

// ---- The catalog ----

/// The most definitions one `serve` holds: far above the strategies one platform tenant
/// runs, and a bound on the sessions (one component instance each) a process keeps.
pub const MAX_DEFINITIONS: usize = 256;

// ---- The scheduler ----

/// Members per `on-schedule` call, before rounding up to whole batches (see
/// [`crate::scheduler::page_size`]). 1,000 members of a few KiB each is a few MiB per call, far under the
/// sandbox's 32 MiB input cap, and keeps a large entity from being loaded in one piece.
pub const PAGE_MEMBERS: usize = 1_000;

/// The most fire times one preview lists. It is the component's own limit (`MAX_PREVIEW`
/// in `src/cron/mod.rs`): a preview is for a person to read, and the limit bounds the
/// time-zone questions one call may ask the host. The CLI checks it too, so that an
/// over-long `--count` is a usage error (exit 2) naming the range, like any other bad
/// argument, rather than a problem in the cron text (exit 1).
pub const MAX_COUNT: u32 = 100;

// ---- The API ----

/// The largest API request body: the sandbox takes 32 MiB per call, and changes in the
/// WIT encoding run to about twice their JSON, so 16 MiB of JSON always fits one call.
pub const MAX_API_BODY: usize = 16 * 1024 * 1024;

/// Deliveries a listing returns when `limit` is not given.
pub const DEFAULT_LIST: usize = 100;

/// The shortest API token `serve` accepts: 16 random characters carry 64 bits (hex) to
/// 105 bits (any visible ASCII), far past what guessing over the network reaches; a
/// shorter one is more likely a password someone chose, and is refused at start.
pub const MIN_API_TOKEN_LEN: usize = 16;

// ---- The reference servers ----

/// How far a signature's timestamp may be from the receiver's clock, as the Standard
/// Webhooks specification recommends: older is a replay, newer a forgery or a bad clock.
pub const TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The largest request body the embedded servers read: far above any batch the demo or
/// the tests send, and a bound on what a runaway client can make them hold.
pub const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

// ---- The CLI ----

/// How often `send` reports its progress on stderr while deliveries are under way: often
/// enough to show it is alive, seldom enough not to flood a terminal.
pub const SEND_PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// The limits one [`crate::sandbox::runtime::Runtime`] applies to every call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel per call.
    pub fuel: u64,
    /// Maximum linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline per call.
    pub deadline: Duration,
    /// Maximum input size per call, in bytes.
    pub max_input_bytes: usize,
    /// Maximum output size per call, in bytes.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: DEFAULT_FUEL,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            deadline: DEFAULT_DEADLINE,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}
