//! Durable deliveries: the outbox file ([`store`]) and the dispatcher that attempts what
//! is due ([`dispatch`]).

mod breakers;
pub mod dispatch;
mod history;
pub mod store;

pub use history::{Attempt, ReplayFilter, Replayed, StoredRequest};

pub use store::*;
