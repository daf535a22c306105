//! Durable deliveries: the outbox ([`Outbox`], in a SQLite file by default ([`sqlite`]) or
//! a PostgreSQL database that many hosts share ([`postgres`])) and the dispatcher that
//! attempts what is due ([`dispatch`]).

pub mod backend;
mod breakers;
pub mod dispatch;
mod history;
pub mod postgres;
pub mod sqlite;

pub use backend::{Location, Outbox, Sharing};
pub use history::{Attempt, ReplayFilter, Replayed, StoredRequest};
pub use postgres::FireClaim;
pub use sqlite::*;
