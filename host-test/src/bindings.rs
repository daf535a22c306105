//! Host bindings generated from the WIT contract in `wit/`.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "webhook-provider",
});

pub use connect::webhook::config::{
    ClientAuth, Configuration, Field, FieldValue, OauthSettings, RunOptions, Sample, Schedule,
    Strategy, Trigger,
};
pub use connect::webhook::types::{
    AccessToken, Attribute, ChangeKind, Date, Header, HttpMethod, HttpRequest, Instant, Member,
    OauthError, OverLimit, Problem, RecordChange, RecordTooLarge, RenderContext, RenderError,
    RunMode, Severity, Span, Value, Verdict,
};
pub use exports::connect::webhook::provider::Guest as Provider;
