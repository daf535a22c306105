//! Per-endpoint protection: at most `concurrency` attempts in flight to one endpoint, at
//! most `rate_per_second` started per second (a token bucket holding one second's worth),
//! and its [`Breaker`]. The dispatcher asks [`Endpoints::allows`] before it hands out a
//! delivery, tells [`Endpoints::start`] and [`Endpoints::end`] about each attempt, and
//! stores a breaker whenever its position changes.
//!
//! So one slow endpoint holds at most its own slots, and one that is down is paused and
//! probed instead of taking every attempt: the other endpoints keep their throughput.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::delivery::breaker::{Admit, Breaker, BreakerSettings, Health, Position};
pub use crate::limits::ENDPOINT_SHARE;

/// The limits of one endpoint, from its configuration's `delivery` settings (by default:
/// half the host's slots, no rate limit, the default breaker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointLimits {
    /// Attempts in flight at once (`None`: half of the host's slots, rounded up, so one
    /// slow endpoint never holds every slot; see [`EndpointLimits::slots`]).
    pub concurrency: Option<usize>,
    /// Attempts started per second, at most.
    pub rate_per_second: Option<u32>,
    /// When the breaker opens.
    pub breaker: BreakerSettings,
}

impl EndpointLimits {
    /// The attempts in flight this endpoint may have when the host has `total` slots.
    pub fn slots(&self, total: usize) -> usize {
        self.concurrency
            .unwrap_or_else(|| total.div_ceil(ENDPOINT_SHARE))
            .max(1)
    }
}

#[derive(Default)]
struct Endpoint {
    in_flight: usize,
    /// The limits its last attempt started under (`None` before any).
    limits: Option<EndpointLimits>,
    /// Tokens left and when they were counted (rate-limited endpoints only).
    bucket: Option<(f64, i64)>,
    breaker: Breaker,
    /// The delivery probing it, while half-open.
    probe: Option<String>,
}

impl Endpoint {
    fn tokens(&self, rate: u32, now_ms: i64) -> f64 {
        let rate = f64::from(rate);
        match self.bucket {
            None => rate,
            Some((left, at)) => (left + rate * (now_ms - at).max(0) as f64 / 1000.0).min(rate),
        }
    }
}

/// An endpoint as the API and the metrics show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointView {
    /// Scheme, host, port and path.
    pub endpoint: String,
    /// Its breaker.
    pub breaker: Breaker,
    /// Attempts in flight to it now.
    pub in_flight: usize,
}

/// Every endpoint the dispatcher has sent to, or whose breaker the outbox kept.
pub struct Endpoints {
    map: Mutex<HashMap<String, Endpoint>>,
    /// The host's slots in all, which an endpoint without its own limit shares.
    total: usize,
}

impl Endpoints {
    /// No endpoint known yet, `total` slots in all.
    pub fn new(total: usize) -> Endpoints {
        Endpoints::restored(Vec::new(), total, 0)
    }

    /// The endpoints with the breakers a store kept, at `now_ms`, `total` slots in all.
    pub fn restored(saved: Vec<(String, Breaker)>, total: usize, now_ms: i64) -> Endpoints {
        let map = saved
            .into_iter()
            .map(|(e, b)| {
                let endpoint = Endpoint {
                    breaker: b.restored(now_ms),
                    ..Endpoint::default()
                };
                (e, endpoint)
            })
            .collect();
        Endpoints {
            map: Mutex::new(map),
            total: total.max(1),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Endpoint>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether one more delivery to `endpoint` may start at `now_ms`, beside `chosen`
    /// already chosen in this round and not yet started. `Err` says when to look again
    /// (`None`: when an attempt ends).
    pub fn allows(
        &self,
        endpoint: &str,
        limits: &EndpointLimits,
        chosen: usize,
        now_ms: i64,
    ) -> Result<(), Option<i64>> {
        let slots = limits.slots(self.total);
        let map = self.map();
        let Some(e) = map.get(endpoint) else {
            return if chosen < slots
                && limits
                    .rate_per_second
                    .is_none_or(|r| (chosen as f64) < f64::from(r))
            {
                Ok(())
            } else {
                Err(None)
            };
        };
        match e.breaker.admit(now_ms) {
            Admit::Go => {}
            // The probe goes alone.
            Admit::Probe if chosen == 0 && e.in_flight == 0 => {}
            Admit::Probe => return Err(None),
            Admit::Wait(t) => return Err(t),
        }
        if e.in_flight + chosen >= slots {
            return Err(None);
        }
        if let Some(rate) = limits.rate_per_second {
            let left = e.tokens(rate, now_ms) - chosen as f64;
            if left < 1.0 {
                let ms = ((1.0 - left) * 1000.0 / f64::from(rate)).ceil() as i64;
                return Err(Some(now_ms + ms.max(1)));
            }
        }
        Ok(())
    }

    /// An attempt of delivery `id` to `endpoint` starts: a slot taken, a token spent, and
    /// an open breaker half-open with this delivery as its probe.
    pub fn start(&self, endpoint: &str, id: &str, limits: &EndpointLimits, now_ms: i64) {
        let mut map = self.map();
        let e = map.entry(endpoint.to_string()).or_default();
        e.in_flight += 1;
        e.limits = Some(*limits);
        if let Some(rate) = limits.rate_per_second {
            e.bucket = Some((e.tokens(rate, now_ms) - 1.0, now_ms));
        }
        if e.breaker.position == Position::Open {
            e.breaker.probe_started();
            e.probe = Some(id.to_string());
        }
    }

    /// The attempt of `id` ended, showing `health`. Returns the breaker when its position
    /// changed, to be stored.
    pub fn end(
        &self,
        endpoint: &str,
        id: &str,
        health: Option<Health>,
        limits: &EndpointLimits,
        now_ms: i64,
    ) -> Option<Breaker> {
        let mut map = self.map();
        let e = map.entry(endpoint.to_string()).or_default();
        e.in_flight = e.in_flight.saturating_sub(1);
        let probe = e.probe.as_deref() == Some(id);
        if probe {
            e.probe = None;
        }
        e.breaker
            .record(health, probe, &limits.breaker, now_ms)
            .then(|| e.breaker.clone())
    }

    /// The endpoints that can take no delivery at `now_ms` whatever is due: paused, full,
    /// or out of tokens. The outbox leaves their backlog out of its due query.
    pub fn blocked(&self, now_ms: i64) -> Vec<String> {
        self.map()
            .iter()
            .filter(|(_, e)| {
                let paused = match e.breaker.admit(now_ms) {
                    Admit::Go => false,
                    Admit::Probe => e.in_flight > 0,
                    Admit::Wait(_) => true,
                };
                let full = e.limits.is_some_and(|l| {
                    e.in_flight >= l.slots(self.total)
                        || l.rate_per_second.is_some_and(|r| e.tokens(r, now_ms) < 1.0)
                });
                paused || full
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The earliest time a paused or rate-limited endpoint may take a delivery again.
    pub fn next_change(&self, now_ms: i64) -> Option<i64> {
        self.map()
            .values()
            .filter_map(|e| match e.breaker.admit(now_ms) {
                Admit::Wait(t) => t,
                _ => None,
            })
            .min()
    }

    /// Every endpoint known, by name.
    pub fn views(&self) -> Vec<EndpointView> {
        let mut out: Vec<EndpointView> = self
            .map()
            .iter()
            .map(|(name, e)| EndpointView {
                endpoint: name.clone(),
                breaker: e.breaker.clone(),
                in_flight: e.in_flight,
            })
            .collect();
        out.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const E: &str = "https://hooks.example/in";

    fn limits(concurrency: usize, rate: Option<u32>) -> EndpointLimits {
        EndpointLimits {
            concurrency: Some(concurrency),
            rate_per_second: rate,
            breaker: BreakerSettings {
                failures: 2,
                probe_after: Duration::from_secs(1),
            },
        }
    }

    #[test]
    fn the_concurrency_limit_is_obeyed_and_frees_a_slot_when_an_attempt_ends() {
        let (eps, l) = (Endpoints::new(8), limits(2, None));
        assert_eq!(eps.allows(E, &l, 0, 0), Ok(()));
        assert_eq!(eps.allows(E, &l, 1, 0), Ok(()));
        assert_eq!(eps.allows(E, &l, 2, 0), Err(None));
        eps.start(E, "a", &l, 0);
        eps.start(E, "b", &l, 0);
        assert_eq!(eps.allows(E, &l, 0, 0), Err(None));
        assert_eq!(eps.allows("https://other.example/", &l, 0, 0), Ok(()));
        assert_eq!(eps.blocked(0), [E]);
        eps.end(E, "a", Some(Health::Up), &l, 1);
        assert_eq!(eps.allows(E, &l, 0, 1), Ok(()));
        assert!(eps.blocked(1).is_empty());
        assert_eq!(eps.views()[0].in_flight, 1);
    }

    #[test]
    fn an_endpoint_without_its_own_limit_takes_half_the_slots() {
        let l = EndpointLimits::default();
        assert_eq!(
            (l.slots(16), l.slots(8), l.slots(3), l.slots(1)),
            (8, 4, 2, 1)
        );
        let eps = Endpoints::new(8);
        for i in 0..4 {
            assert_eq!(eps.allows(E, &l, 0, 0), Ok(()));
            eps.start(E, &i.to_string(), &l, 0);
        }
        assert_eq!(eps.allows(E, &l, 0, 0), Err(None));
    }

    #[test]
    fn the_rate_limit_is_obeyed_and_refills_over_a_second() {
        let (eps, l) = (Endpoints::new(8), limits(100, Some(4)));
        for i in 0..4 {
            assert_eq!(eps.allows(E, &l, 0, 0), Ok(()), "start {i}");
            eps.start(E, &i.to_string(), &l, 0);
        }
        // A fifth within the same instant waits a quarter second for its token.
        assert_eq!(eps.allows(E, &l, 0, 0), Err(Some(250)));
        assert_eq!(eps.allows(E, &l, 0, 250), Ok(()));
        // Never more than a second's worth saved up.
        assert_eq!(eps.allows(E, &l, 4, 60_000), Err(Some(60_250)));
        assert_eq!(eps.allows(E, &l, 3, 60_000), Ok(()));
    }

    #[test]
    fn an_open_breaker_lets_one_probe_go_and_the_rest_wait() {
        let (eps, l) = (Endpoints::new(8), limits(8, None));
        for id in ["a", "b"] {
            eps.start(E, id, &l, 0);
        }
        assert!(eps.end(E, "a", Some(Health::Down), &l, 0).is_none());
        let opened = eps.end(E, "b", Some(Health::Down), &l, 0).unwrap();
        assert_eq!(opened.position, Position::Open);
        assert_eq!(eps.allows(E, &l, 0, 500), Err(Some(1000)));
        assert_eq!(eps.blocked(500), [E]);
        assert_eq!(eps.next_change(500), Some(1000));
        assert!(eps.blocked(1000).is_empty(), "the probe may go");
        assert_eq!(eps.allows(E, &l, 0, 1000), Ok(()));
        assert_eq!(eps.allows(E, &l, 1, 1000), Err(None), "one probe alone");
        eps.start(E, "probe", &l, 1000);
        assert_eq!(eps.views()[0].breaker.position, Position::HalfOpen);
        assert_eq!(eps.allows(E, &l, 0, 1000), Err(None));
        let closed = eps.end(E, "probe", Some(Health::Up), &l, 1100).unwrap();
        assert_eq!(closed.position, Position::Closed);
        assert_eq!(eps.allows(E, &l, 0, 1100), Ok(()));
    }
}
