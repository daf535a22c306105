//! A configuration's `delivery` settings: how the host retries and protects the
//! configuration's endpoint. They are the host's, not the component's: the component
//! renders requests and never sees them.
//!
//! ```json
//! "delivery": {
//!   "retry": { "delays": ["5s", "5m", "30m", "2h", "5h", "10h", "10h"] },
//!   "max-age": "3d",
//!   "concurrency": 4,
//!   "rate-per-second": 50,
//!   "breaker": { "failures": 10, "probe-after": "30s" }
//! }
//! ```
//!
//! or `"retry": { "exponential": { "base": "2s", "cap": "10m", "attempts": 12 } }`.
//! Durations are written as people write them (`90s`, `2h 30m`, `3d`, a day being 24
//! hours) or in ISO 8601 (`PT2H`).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::FormatError;
use crate::limits::{
    LONGEST_MAX_AGE, LONGEST_PROBE_AFTER, LONGEST_WAIT, MAX_BREAKER_FAILURES,
    MAX_ENDPOINT_CONCURRENCY, MAX_RATE_PER_SECOND, MOST_ATTEMPTS, SHORTEST_PROBE_AFTER,
};

/// A duration in a definition file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait(pub Duration);

impl<'de> Deserialize<'de> for Wait {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Wait, D::Error> {
        let text = String::deserialize(d)?;
        // A span, so days may be written; a day here is 24 hours (a wait is elapsed
        // time, not a calendar step).
        let parsed = text
            .parse::<jiff::Span>()
            .and_then(|s| s.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a duration ({e}); write one as \"90s\", \"5m\", \"2h 30m\", \"3d\" or \"PT2H\""
                ))
            })?;
        Duration::try_from(parsed).map(Wait).map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is negative; a wait is zero or more"))
        })
    }
}

/// The `delivery` object of a configuration.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeliveryJson {
    /// The retry schedule (`serve`'s default when absent).
    pub retry: Option<RetryJson>,
    /// No retry is planned later than this after a delivery was written.
    pub max_age: Option<Wait>,
    /// Attempts in flight at once to the endpoint.
    pub concurrency: Option<u32>,
    /// Attempts started per second to the endpoint, at most.
    pub rate_per_second: Option<u32>,
    /// When to pause the endpoint.
    pub breaker: Option<BreakerJson>,
}

/// A retry schedule: explicit delays, or exponential backoff with jitter.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RetryJson {
    /// The waits after the first, second, ... attempt.
    pub delays: Option<Vec<Wait>>,
    /// Exponential backoff with full jitter.
    pub exponential: Option<ExponentialJson>,
}

/// Exponential backoff: a random wait up to `base`, doubling, at most `cap`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExponentialJson {
    /// The first wait's upper bound.
    pub base: Wait,
    /// The largest wait's upper bound.
    pub cap: Wait,
    /// Attempts, the first included.
    pub attempts: u32,
}

/// The circuit breaker of the endpoint.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BreakerJson {
    /// Consecutive failed attempts that open it.
    pub failures: Option<u32>,
    /// How long it stays open before one delivery probes the endpoint.
    pub probe_after: Option<Wait>,
}

impl DeliveryJson {
    /// Every value within its limit, or the first that is not, with its key path.
    pub fn check(&self) -> Result<(), FormatError> {
        let fail = |path: &str, msg: String| Err(FormatError(format!("delivery.{path}: {msg}")));
        let wait_ok = |path: &str, w: &Wait, most: Duration| {
            if w.0 > most {
                fail(
                    path,
                    format!(
                        "{} is longer than the longest allowed, {}",
                        show(w.0),
                        show(most)
                    ),
                )
            } else {
                Ok(())
            }
        };
        if let Some(r) = &self.retry {
            match (&r.delays, &r.exponential) {
                (Some(_), Some(_)) | (None, None) => {
                    return fail(
                        "retry",
                        "give either \"delays\" (a list of waits) or \"exponential\" (base, cap, attempts), not both or neither".into(),
                    );
                }
                (Some(d), None) => {
                    if d.is_empty() {
                        return fail("retry.delays", "is empty; give at least one wait, or leave out \"retry\" for the default".into());
                    }
                    if d.len() as u32 >= MOST_ATTEMPTS {
                        return fail(
                            "retry.delays",
                            format!(
                                "{} waits make {} attempts; at most {MOST_ATTEMPTS} attempts are allowed",
                                d.len(),
                                d.len() + 1
                            ),
                        );
                    }
                    for (i, w) in d.iter().enumerate() {
                        wait_ok(&format!("retry.delays[{i}]"), w, LONGEST_WAIT)?;
                    }
                }
                (None, Some(e)) => {
                    wait_ok("retry.exponential.base", &e.base, LONGEST_WAIT)?;
                    wait_ok("retry.exponential.cap", &e.cap, LONGEST_WAIT)?;
                    if e.base.0.is_zero() {
                        return fail(
                            "retry.exponential.base",
                            "is zero; give a positive wait".into(),
                        );
                    }
                    if e.cap.0 < e.base.0 {
                        return fail(
                            "retry.exponential.cap",
                            "is shorter than the base; the cap is the largest wait".into(),
                        );
                    }
                    if !(1..=MOST_ATTEMPTS).contains(&e.attempts) {
                        return fail(
                            "retry.exponential.attempts",
                            format!("{} is out of range; give 1 to {MOST_ATTEMPTS}", e.attempts),
                        );
                    }
                }
            }
        }
        if let Some(a) = &self.max_age {
            wait_ok("max-age", a, LONGEST_MAX_AGE)?;
        }
        let in_range = |path: &str, v: Option<u32>, most: u32| match v {
            Some(n) if !(1..=most).contains(&n) => {
                fail(path, format!("{n} is out of range; give 1 to {most}"))
            }
            _ => Ok(()),
        };
        in_range("concurrency", self.concurrency, MAX_ENDPOINT_CONCURRENCY)?;
        in_range("rate-per-second", self.rate_per_second, MAX_RATE_PER_SECOND)?;
        if let Some(b) = &self.breaker {
            in_range("breaker.failures", b.failures, MAX_BREAKER_FAILURES)?;
            if let Some(p) = &b.probe_after {
                wait_ok("breaker.probe-after", p, LONGEST_PROBE_AFTER)?;
                if p.0 < SHORTEST_PROBE_AFTER {
                    return fail(
                        "breaker.probe-after",
                        format!(
                            "{} is shorter than the shortest allowed, {}",
                            show(p.0),
                            show(SHORTEST_PROBE_AFTER)
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

/// A duration as people write it (`2h 30m`).
pub fn show(d: Duration) -> String {
    jiff::SignedDuration::try_from(d)
        .map(|s| format!("{s:#}"))
        .unwrap_or_else(|_| format!("{d:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<DeliveryJson, String> {
        let d: DeliveryJson = super::super::from_json(v).map_err(|e| e.0)?;
        d.check().map_err(|e| e.0)?;
        Ok(d)
    }

    #[test]
    fn durations_read_as_people_write_them() {
        let d =
            parse(json!({"retry": {"delays": ["5s", "2h 30m", "PT1M"]}, "max-age": "3d"})).unwrap();
        let delays: Vec<u64> = d
            .retry
            .unwrap()
            .delays
            .unwrap()
            .iter()
            .map(|w| w.0.as_secs())
            .collect();
        assert_eq!(delays, [5, 9000, 60]);
        assert_eq!(d.max_age, Some(Wait(Duration::from_secs(3 * 86_400))));
        let e = parse(json!({"max-age": "soon"})).unwrap_err();
        assert!(
            e.contains("max-age") && e.contains("\"soon\" is not a duration"),
            "{e}"
        );
        let e = parse(json!({"max-age": "-5s"})).unwrap_err();
        assert!(e.contains("negative"), "{e}");
        let e = parse(json!({"retries": {}})).unwrap_err();
        assert!(e.contains("unknown field `retries`"), "{e}");
    }

    #[test]
    fn a_schedule_is_delays_or_exponential() {
        for both_or_neither in [
            json!({"retry": {}}),
            json!({"retry": {"delays": ["1s"], "exponential": {"base": "1s", "cap": "2s", "attempts": 3}}}),
        ] {
            let e = parse(both_or_neither).unwrap_err();
            assert!(e.starts_with("delivery.retry: give either"), "{e}");
        }
        let e = parse(json!({"retry": {"delays": []}})).unwrap_err();
        assert!(e.starts_with("delivery.retry.delays: is empty"), "{e}");
        let e =
            parse(json!({"retry": {"exponential": {"base": "1m", "cap": "1s", "attempts": 3}}}))
                .unwrap_err();
        assert!(
            e.starts_with("delivery.retry.exponential.cap: is shorter"),
            "{e}"
        );
        let e =
            parse(json!({"retry": {"exponential": {"base": "0s", "cap": "1s", "attempts": 3}}}))
                .unwrap_err();
        assert!(
            e.starts_with("delivery.retry.exponential.base: is zero"),
            "{e}"
        );
    }

    /// Each limit, obeyed at its edge and violated one step past it.
    #[test]
    fn every_limit_is_obeyed_at_its_edge_and_refused_past_it() {
        let secs = |d: Duration| format!("{}s", d.as_secs());
        let waits = |n: u32| vec!["1s"; n as usize];
        let cases: Vec<(&str, serde_json::Value, serde_json::Value)> = vec![
            (
                "retry.delays",
                json!({"retry": {"delays": waits(MOST_ATTEMPTS - 1)}}),
                json!({"retry": {"delays": waits(MOST_ATTEMPTS)}}),
            ),
            (
                "retry.delays[0]",
                json!({"retry": {"delays": [secs(LONGEST_WAIT)]}}),
                json!({"retry": {"delays": [format!("{}s", LONGEST_WAIT.as_secs() + 1)]}}),
            ),
            (
                "retry.exponential.attempts",
                json!({"retry": {"exponential": {"base": "1s", "cap": "1s", "attempts": MOST_ATTEMPTS}}}),
                json!({"retry": {"exponential": {"base": "1s", "cap": "1s", "attempts": MOST_ATTEMPTS + 1}}}),
            ),
            (
                "retry.exponential.cap",
                json!({"retry": {"exponential": {"base": "1s", "cap": secs(LONGEST_WAIT), "attempts": 2}}}),
                json!({"retry": {"exponential": {"base": "1s", "cap": format!("{}s", LONGEST_WAIT.as_secs() + 1), "attempts": 2}}}),
            ),
            (
                "max-age",
                json!({"max-age": secs(LONGEST_MAX_AGE)}),
                json!({"max-age": format!("{}s", LONGEST_MAX_AGE.as_secs() + 1)}),
            ),
            (
                "concurrency",
                json!({"concurrency": MAX_ENDPOINT_CONCURRENCY}),
                json!({"concurrency": MAX_ENDPOINT_CONCURRENCY + 1}),
            ),
            (
                "concurrency",
                json!({"concurrency": 1}),
                json!({"concurrency": 0}),
            ),
            (
                "rate-per-second",
                json!({"rate-per-second": MAX_RATE_PER_SECOND}),
                json!({"rate-per-second": MAX_RATE_PER_SECOND + 1}),
            ),
            (
                "breaker.failures",
                json!({"breaker": {"failures": MAX_BREAKER_FAILURES}}),
                json!({"breaker": {"failures": MAX_BREAKER_FAILURES + 1}}),
            ),
            (
                "breaker.probe-after",
                json!({"breaker": {"probe-after": secs(LONGEST_PROBE_AFTER)}}),
                json!({"breaker": {"probe-after": format!("{}s", LONGEST_PROBE_AFTER.as_secs() + 1)}}),
            ),
            (
                "breaker.probe-after",
                json!({"breaker": {"probe-after": secs(SHORTEST_PROBE_AFTER)}}),
                json!({"breaker": {"probe-after": "0s"}}),
            ),
        ];
        for (path, ok, bad) in cases {
            assert!(
                parse(ok.clone()).is_ok(),
                "{ok} should be accepted: {:?}",
                parse(ok.clone())
            );
            let e = parse(bad.clone()).unwrap_err();
            assert!(e.starts_with(&format!("delivery.{path}: ")), "{bad}: {e}");
        }
    }
}
