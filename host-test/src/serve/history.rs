//! The operator's routes: a delivery's attempts and its request (secrets redacted), the
//! bulk replay of dead deliveries, and the endpoints' breakers.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::api::{Service, error, reply};
use crate::delivery::log::{REDACTED, looks_secret, redact_url};
use crate::limits::MAX_BULK_REPLAY;
use crate::outbox::ReplayFilter;
use crate::outbox::dispatch::now_ms;
use crate::server::Reply;
use crate::time::instant;

/// The body of `POST /deliveries/replay`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct BulkReplay {
    strategy: Option<String>,
    endpoint: Option<String>,
    since: Option<String>,
}

impl Service {
    /// `GET /deliveries/{id}/attempts`: every attempt, oldest first.
    pub(super) fn attempts(&self, id: &str) -> Reply {
        match self.dispatcher.outbox().attempts_of(id) {
            Ok(Some(a)) => reply(
                200,
                json!({ "id": id, "attempts": a.iter().map(|a| a.to_json()).collect::<Vec<_>>() }),
            ),
            Ok(None) => error(404, &format!("no delivery has the id {id:?}"), Vec::new()),
            Err(e) => error(503, &e.to_string(), Vec::new()),
        }
    }

    /// `GET /deliveries/{id}/request`: the request as stored and sent, with every
    /// secret the host knows replaced, secret-looking header values and query values
    /// replaced, and the signature left out (it is made fresh at each attempt).
    pub(super) fn request(&self, id: &str) -> Reply {
        let stored = match self.dispatcher.outbox().request_of(id) {
            Ok(Some(r)) => r.0,
            Ok(None) => return error(404, &format!("no delivery has the id {id:?}"), Vec::new()),
            Err(e) => return error(503, &e.to_string(), Vec::new()),
        };
        let redactor = self.log.redactor();
        let headers: Vec<Json> = stored
            .headers
            .iter()
            .map(|h| {
                let name = h.name.to_ascii_lowercase();
                let hidden =
                    name == "authorization" || name == "webhook-signature" || looks_secret(&name);
                let value = if hidden {
                    REDACTED.to_string()
                } else {
                    redactor.apply(&h.value)
                };
                json!({ "name": h.name, "value": value })
            })
            .collect();
        let body = redactor.apply(&String::from_utf8_lossy(&stored.body));
        reply(
            200,
            json!({
                "id": id,
                "method": format!("{:?}", stored.method).to_ascii_uppercase(),
                "url": redactor.apply(&redact_url(&stored.url)),
                "headers": headers,
                "body": body,
                "member-codes": stored.member_codes,
            }),
        )
    }

    /// `POST /deliveries/replay`: every dead delivery of a strategy, an endpoint or
    /// both, finished since a time, queued again in one transaction.
    pub(super) fn replay_dead(&self, body: &[u8]) -> Reply {
        let asked: BulkReplay = match serde_json::from_slice::<Json>(body)
            .map_err(|e| e.to_string())
            .and_then(|v| crate::formats::from_json(v).map_err(|e| e.0))
        {
            Ok(a) => a,
            Err(e) => {
                return error(
                    400,
                    &format!(
                        "{e}; the body is {{\"strategy\": NAME, \"endpoint\": URL, \"since\": RFC 3339 time}}, strategy or endpoint required"
                    ),
                    Vec::new(),
                );
            }
        };
        if asked.strategy.is_none() && asked.endpoint.is_none() {
            return error(
                400,
                "name a \"strategy\", an \"endpoint\" or both: a replay of every dead delivery at once is refused as too easy to do by mistake",
                Vec::new(),
            );
        }
        let since_ms = match asked.since.as_deref().map(|t| instant::parse(t).ok_or(t)) {
            None => None,
            Some(Ok(at)) => Some(instant::to_ms(at)),
            Some(Err(t)) => {
                return error(
                    400,
                    &format!(
                        "since: {t:?} is not an RFC 3339 time; write one as \"2026-12-01T08:00:00Z\""
                    ),
                    Vec::new(),
                );
            }
        };
        let filter = ReplayFilter {
            strategy: asked.strategy,
            endpoint: asked
                .endpoint
                .map(|e| crate::delivery::deliver::endpoint_of(&e)),
            since_ms,
        };
        let now = now_ms(self.dispatcher.clock().as_ref());
        let done = match self.dispatcher.outbox().replay_dead(&filter, now) {
            Ok(d) => d,
            Err(e) => return error(503, &format!("nothing was replayed: {e}"), Vec::new()),
        };
        let mut enabled = Vec::new();
        for endpoint in &done.endpoints {
            let mut was = false;
            for engine in self.dispatcher.deliverers().all() {
                was |= engine.enable(endpoint);
            }
            if was {
                enabled.push(redact_url(endpoint));
            }
            if let Err(e) = self.dispatcher.outbox().enable_endpoint(endpoint) {
                eprintln!("host-test serve: {e}");
            }
        }
        self.dispatcher.wake();
        reply(
            202,
            json!({
                "replayed": done.count,
                "left": done.left,
                "most-per-call": MAX_BULK_REPLAY,
                "endpoints-re-enabled": enabled,
            }),
        )
    }

    /// `GET /endpoints`: each endpoint's breaker and attempts in flight.
    pub(super) fn endpoints(&self) -> Reply {
        let time = |ms: Option<i64>| ms.map(|t| instant::rfc3339(instant::from_ms(t)));
        let list: Vec<Json> = self
            .dispatcher
            .endpoints()
            .into_iter()
            .map(|e| {
                json!({
                    "endpoint": redact_url(&e.endpoint),
                    "breaker": e.breaker.position.word(),
                    "failures-in-a-row": e.breaker.failures,
                    "opened": time(e.breaker.opened_ms),
                    "next-probe": time(e.breaker.probe_ms.filter(|_| e.breaker.position != crate::delivery::breaker::Position::Closed)),
                    "in-flight": e.in_flight,
                })
            })
            .collect();
        reply(200, json!({ "endpoints": list }))
    }
}
