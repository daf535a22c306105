//! Host bindings generated from the WIT contract in `wit/`, and the owned record forms
//! (`records`) a host builds each call's page from.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "webhook-provider",
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

pub use crate::records::{Attribute, Member, RecordChange, Sample};
