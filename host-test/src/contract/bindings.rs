//! Host bindings generated from the WIT contract in `wit/`, and the owned record forms
//! (`records`) a host builds each call's page from.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "webhook-provider",
    // Compared in the host's decisions and their tests (an instant, a verdict).
    additional_derives: [PartialEq],
});

pub use connect::webhook::config::{
    ClientAuth, Configuration, Field, FieldValue, OauthSettings, RunOptions, Schedule, Strategy,
    Trigger,
};
pub use connect::webhook::page::{
    CellKind, ChangeKind, Changes, Page, Sample as PageSample, TextRef,
};
pub use connect::webhook::types::{
    AccessToken, Date, Header, HttpMethod, HttpRequest, Instant, OauthError, OverLimit, Problem,
    RecordTooLarge, RenderContext, RenderError, RunMode, Severity, Span, Value, Verdict,
};
pub use exports::connect::webhook::provider::{FireTimes, Guest as Provider};

pub use crate::contract::records::{Attribute, Member, RecordChange, Sample};

/// The contract version this host speaks: it loads components of 0.2.x, and refuses
/// another version by the name of its export, before linking.
pub const CONTRACT_VERSION: &str = "0.2.0";
