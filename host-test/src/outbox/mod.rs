//! Durable deliveries: the outbox file ([`store`]) and the dispatcher that attempts what
//! is due ([`dispatch`]).

pub mod dispatch;
pub mod sqlite;

pub use sqlite::*;
