//! webhook-provider: a sans-I/O webhook service provider for an MDM platform's integration
//! engine, built as a WebAssembly component.
//!
//! The host hands the component configuration, strategies, record changes and a context
//! (time, tokens, id seed); the component validates, filters, batches and renders every
//! HTTP request byte for byte, and performs no I/O. The modules are named after the domain:
//! [`model`] mirrors the WIT contract, [`validate`] checks configurations, [`plan`] is the
//! compiled configuration + strategy, [`page`] carries a call's members.
#![deny(missing_docs)]

pub mod body;
pub mod cron;
pub mod expr;
pub mod field;
pub mod limits;
pub mod model;
pub mod oauth;
pub mod page;
pub mod plan;
pub mod render;
pub mod response;
pub mod sign;
pub mod url;
pub mod validate;
pub mod value;

#[cfg(target_arch = "wasm32")]
mod component;

pub use plan::Plan;
