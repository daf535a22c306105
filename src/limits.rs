//! Hard limits, each a named constant with the reason for its value.
//!
//! Each is enforced with a typed error or a located problem and tested both ways (obeyed
//! and violated) next to the code that enforces it.

/// The default maximum body size, in bytes, when a configuration sets none: 1 MiB is the
/// smallest request-body limit among common webhook receivers and API gateways (for
/// example nginx's `client_max_body_size` default), so bodies at or under it are accepted
/// nearly everywhere.
pub const DEFAULT_MAX_BODY_BYTES: u32 = 1024 * 1024;

/// The smallest maximum body size a configuration may set: one request must hold at least
/// its envelope and one typical record.
pub const MIN_MAX_BODY_BYTES: u32 = 1024;

/// The largest maximum body size a configuration may set: 16 MiB keeps a whole batch
/// comfortably inside the component's memory cap, with room for the input records.
pub const MAX_MAX_BODY_BYTES: u32 = 16 * 1024 * 1024;

/// The largest request batch size: beyond 10,000 records a request is better split, and
/// the body size limit would bite first for any realistic mapping.
pub const MAX_BATCH_SIZE: u32 = 10_000;

/// The most fields in one list (headers, query string, body, Records): the product's
/// editors show a few dozen; 256 leaves room and bounds compile work.
pub const MAX_FIELDS: usize = 256;

/// The most schedules one strategy may have.
pub const MAX_SCHEDULES: usize = 64;

/// The longest name (configuration, strategy, entity, schedule, key): 256 characters,
/// as the platform's own name columns.
pub const MAX_NAME_CHARS: usize = 256;

/// The longest URL: 2,048 characters, the practical limit browsers and proxies share.
pub const MAX_URL_CHARS: usize = 2048;

/// The most signing secrets at once: two is a rotation, a few more allow staged
/// rollouts; every secret adds one HMAC per request.
pub const MAX_SIGNING_SECRETS: usize = 8;

/// The most records (changes or members) one call may carry: 100,000 is a large page of
/// an entity and bounds one call's memory; a host pages bigger runs.
pub const MAX_RECORDS_PER_CALL: usize = 100_000;

/// The most names in one attribute path of a page: the member's attribute after at most
/// fifteen related-entity hops. The platform's editors build two or three; 16 bounds the
/// work of resolving an expression's references against a page.
pub const MAX_PATH_NAMES: usize = 16;
