//! The reference servers, for the demo and the tests: a webhook receiver that verifies
//! Standard Webhooks signatures with its own code, an OAuth token endpoint, and the demo
//! that plays the examples through them. A host embedding the library needs none of it.

pub mod demo;
pub mod receiver;
