//! The sandbox's limits, as named constants with the reason for each value.

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
