//! The reference wasmtime host for the webhook-provider component, as a library another
//! Rust host can embed without the CLI, the demo or the reference servers.
//!
//! The rooms, from the ground up (each uses only those below it):
//!
//! | room | what |
//! | --- | --- |
//! | [`limits`] | every limit, named, with why |
//! | [`contract`] | the WIT types as the host speaks them, and members as pages |
//! | [`time`] | instants over the contract's range, the zone answers, the one clock |
//! | [`sandbox`] | the component in wasmtime: loading, the allowlist, fuel, memory, the typed [`HostError`] |
//! | [`formats`] | the JSON file formats: configurations, strategies, changes, records, and the JSON of answers |
//! | [`delivery`] | one request to the customer: HTTP with the SSRF guard, OAuth, the platform token, signing, redaction, the decision after each attempt |
//! | [`outbox`] | durable deliveries, and the dispatcher that attempts them |
//! | [`catalog`] | the configurations and strategies in force, versioned, their secrets sealed |
//! | [`scheduler`] | one timer for every schedule, and the previews |
//! | [`server`] | the HTTP/1.1 server under the API and the reference servers, with its limits |
//! | [`serve`] | the run-time API over all of it |
//! | `reference` | the reference receiver, token endpoint and demo: for the demo and the tests (the default feature `reference`; an embedding host leaves it out) |
//!
//! It loads the component once per process ([`Runtime`]), checks its contract version and
//! its imports against an allowlist (the contract's own interfaces; no WASI), and runs
//! every call in a sandbox that grants nothing but time-zone answers. Members cross the
//! boundary as one page per call ([`contract::records`]).
#![deny(missing_docs)]

pub mod catalog;
pub mod contract;
pub mod delivery;
pub mod formats;
pub mod limits;
pub mod outbox;
#[cfg(feature = "reference")]
pub mod reference;
pub mod sandbox;
pub mod scheduler;
pub mod serve;
pub mod server;
pub mod time;

/// The integration tests' scratch directories, shared with the unit tests.
#[cfg(test)]
#[path = "../tests/scratch/mod.rs"]
mod scratch;

pub use contract::bindings;
pub use limits::Limits;
pub use sandbox::error::HostError;
pub use sandbox::runtime::COMPONENT_WASM;
pub use sandbox::runtime::{Instance, Runtime, Session};
pub use wasmtime;
