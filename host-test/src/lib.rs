//! The reference wasmtime host for the webhook-provider component.
//!
//! It loads the component once per process ([`Runtime`]), checks its contract version and
//! its imports against an allowlist (the contract's own interfaces; no WASI), and runs
//! every call in a sandbox that grants nothing but time-zone answers: a fuel budget, an
//! epoch deadline as a wall-clock backstop, a memory cap and input/output size caps.
//! Every failure becomes one typed [`HostError`]. Members cross the boundary as one page
//! per call ([`records`]).
#![deny(missing_docs)]

pub mod bindings;
pub mod catalog;
pub mod deliver;
pub mod demo;
pub mod dispatch;
pub mod error;
pub mod http;
pub mod instant;
pub mod json;
pub mod limits;
pub mod log;
pub mod oauth;
pub mod outbox;
pub mod platform_token;
pub mod plugin;
pub mod receiver;
pub mod records;
pub mod runtime;
pub mod schedule;
pub mod scheduler;
pub mod seal;
pub mod secret;
pub mod serve;
pub mod size;
pub mod ssrf;
pub mod zones;

/// The integration tests' scratch directories, shared with the unit tests.
#[cfg(test)]
#[path = "../tests/scratch/mod.rs"]
mod scratch;

pub use error::HostError;
pub use limits::Limits;
pub use runtime::{Instance, Runtime, Session};
pub use wasmtime;

/// The path of the component built by this crate's `build.rs`.
pub const COMPONENT_WASM: &str = env!("WEBHOOK_PROVIDER_WASM");
