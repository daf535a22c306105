//! What an operator reads back and recovers: every attempt of a delivery, the request as
//! stored, and the bulk replay of dead deliveries.

use rusqlite::{OptionalExtension, params};
use serde_json::{Value as Json, json};

use super::store::{
    Outbox, OutboxError, ReplayError, codes_from, headers_from, method_from, replay_one,
};
use crate::contract::bindings::HttpRequest;
use crate::delivery::deliver::endpoint_of;
pub use crate::limits::MAX_BULK_REPLAY;

/// One attempt of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Its number among the delivery's attempts (a replay starts again at 1).
    pub number: u32,
    /// When it started, Unix ms.
    pub started_ms: i64,
    /// How long the request took, when one was sent.
    pub latency_ms: Option<u64>,
    /// The response status, if there was a response.
    pub status: Option<u16>,
    /// What came of it: `retry`, `delivered`, `dead-letter`, `endpoint-disabled`.
    pub outcome: String,
    /// Why it failed, secrets redacted.
    pub error: Option<String>,
    /// The first bytes of the response body, secrets redacted.
    pub response: Option<String>,
}

impl Attempt {
    /// As JSON for the API.
    pub fn to_json(&self) -> Json {
        json!({
            "attempt": self.number,
            "started": crate::time::instant::rfc3339(crate::time::instant::from_ms(self.started_ms)),
            "latency-ms": self.latency_ms,
            "status": self.status,
            "outcome": self.outcome,
            "error": self.error,
            "response": self.response,
        })
    }
}

/// A delivery's request as the outbox holds it: placeholders where the secrets go.
pub struct StoredRequest(pub HttpRequest);

/// Which dead deliveries a bulk replay takes: of a strategy, to an endpoint, or both,
/// finished at or after a time.
#[derive(Clone, Debug, Default)]
pub struct ReplayFilter {
    /// The strategy that rendered them.
    pub strategy: Option<String>,
    /// Their endpoint (scheme, host, port and path).
    pub endpoint: Option<String>,
    /// Finished at or after this, Unix ms.
    pub since_ms: Option<i64>,
}

/// What a bulk replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Deliveries queued again.
    pub count: usize,
    /// Matching dead deliveries left for another call (over [`MAX_BULK_REPLAY`]).
    pub left: usize,
    /// The endpoints they go to (to re-enable those disabled).
    pub endpoints: Vec<String>,
}

impl Outbox {
    /// Every attempt of delivery `id`, in order; `None` when no delivery has the id.
    pub fn attempts_of(&self, id: &str) -> Result<Option<Vec<Attempt>>, OutboxError> {
        self.with("cannot read the attempts", |c| {
            let known: Option<i64> = c
                .query_row("SELECT 1 FROM deliveries WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Ok(None);
            }
            let mut st = c.prepare_cached(
                "SELECT number, started_ms, latency_ms, status, outcome, error, response
                 FROM attempts WHERE delivery = ?1 ORDER BY started_ms, rowid",
            )?;
            let rows = st.query_map([id], |r| {
                Ok(Attempt {
                    number: r.get(0)?,
                    started_ms: r.get(1)?,
                    latency_ms: r.get(2)?,
                    status: r.get(3)?,
                    outcome: r.get(4)?,
                    error: r.get(5)?,
                    response: r.get(6)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map(Some)
        })
    }

    /// The request of delivery `id` as stored.
    pub fn request_of(&self, id: &str) -> Result<Option<StoredRequest>, OutboxError> {
        self.with("cannot read a delivery", |c| {
            c.query_row(
                "SELECT method, url, headers, body, member_codes FROM deliveries WHERE id = ?1",
                [id],
                |r| {
                    Ok(StoredRequest(HttpRequest {
                        delivery_id: id.to_string(),
                        method: method_from(&r.get::<_, String>(0)?),
                        url: r.get(1)?,
                        headers: headers_from(&r.get::<_, String>(2)?),
                        body: r.get(3)?,
                        member_codes: codes_from(&r.get::<_, String>(4)?),
                    }))
                },
            )
            .optional()
        })
    }

    /// Queue again, as new, every dead delivery `filter` takes (at most
    /// [`MAX_BULK_REPLAY`], oldest first), in one transaction: all or none.
    pub fn replay_dead(&self, filter: &ReplayFilter, now_ms: i64) -> Result<Replayed, OutboxError> {
        self.with("cannot replay deliveries", |c| {
            let tx = c.transaction()?;
            let ids: Vec<(String, String)> = {
                let mut st = tx.prepare_cached(
                    "SELECT id, url FROM deliveries
                     WHERE state = 'dead' AND (?1 IS NULL OR strategy = ?1)
                       AND (?2 IS NULL OR finished_ms >= ?2)
                     ORDER BY seq",
                )?;
                let rows = st.query_map(params![filter.strategy, filter.since_ms], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
                    .into_iter()
                    .filter(|(_, url)| {
                        filter
                            .endpoint
                            .as_deref()
                            .is_none_or(|e| endpoint_of(url) == e)
                    })
                    .collect()
            };
            let mut out = Replayed {
                left: ids.len().saturating_sub(MAX_BULK_REPLAY),
                ..Replayed::default()
            };
            for (id, _) in ids.iter().take(MAX_BULK_REPLAY) {
                match replay_one(&tx, id, now_ms)? {
                    Ok(url) => {
                        out.count += 1;
                        let e = endpoint_of(&url);
                        if !out.endpoints.contains(&e) {
                            out.endpoints.push(e);
                        }
                    }
                    // Selected as dead in this transaction: it is there and not pending.
                    Err(ReplayError::NotFound | ReplayError::Pending | ReplayError::Store(_)) => {}
                }
            }
            tx.commit()?;
            Ok(out)
        })
    }
}
