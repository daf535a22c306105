//! Release tasks for webhook-provider, run as `cargo xtask <task>` (the alias is in
//! `.cargo/config.toml`): [`dist`] builds the distributable artefact and checks one.
#![deny(missing_docs)]

pub mod dist;
