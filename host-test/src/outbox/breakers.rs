//! The endpoints' breakers in the outbox: written when a breaker changes position, read
//! at start, so a paused endpoint stays paused across a restart.

use std::time::Duration;

use rusqlite::params;

use super::store::{Outbox, OutboxError};
use crate::delivery::breaker::{Breaker, Position};

impl Outbox {
    /// Keep `endpoint`'s breaker as it is now.
    pub fn save_breaker(
        &self,
        endpoint: &str,
        b: &Breaker,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.with("cannot record a breaker", |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO breakers
                   (endpoint, position, failures, opened_ms, probe_ms, probe_wait_ms, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                endpoint,
                b.position.word(),
                b.failures,
                b.opened_ms,
                b.probe_ms,
                b.probe_wait.as_millis() as i64,
                now_ms
            ])?;
            Ok(())
        })
    }

    /// Every breaker kept, closed ones included, by endpoint.
    pub fn breakers(&self) -> Result<Vec<(String, Breaker)>, OutboxError> {
        self.with("cannot read the breakers", |c| {
            let mut st = c.prepare(
                "SELECT endpoint, position, failures, opened_ms, probe_ms, probe_wait_ms
                 FROM breakers ORDER BY endpoint",
            )?;
            let rows = st.query_map([], |r| {
                let position: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    Breaker {
                        position: Position::parse(&position).unwrap_or(Position::Closed),
                        failures: r.get(2)?,
                        opened_ms: r.get(3)?,
                        probe_ms: r.get(4)?,
                        probe_wait: Duration::from_millis(r.get::<_, i64>(5)?.max(0) as u64),
                    },
                ))
            })?;
            rows.collect()
        })
    }
}
