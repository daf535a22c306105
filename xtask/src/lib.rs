//! Release tasks for webhook-provider, run as `cargo xtask <task>` (the alias is in
//! `.cargo/config.toml`): [`dist`] builds the distributable artefact, [`corpus`] writes
//! and renders the portability corpus.
#![deny(missing_docs)]

pub mod corpus;
pub mod dist;
