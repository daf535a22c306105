//! One request to the customer's webhook: the HTTP client with its SSRF guard, OAuth
//! tokens, the platform token and its keys, signing through the component, redaction, and
//! the engine that decides after each attempt what comes next; each endpoint's limits and
//! breaker.

pub mod breaker;
pub mod decide;
pub mod deliver;
pub mod endpoints;
pub mod http;
pub mod key_file;
pub mod log;
pub mod oauth;
pub mod placeholders;
pub mod platform_key;
pub mod platform_token;
pub mod plugin;
pub mod secret;
pub mod ssrf;
