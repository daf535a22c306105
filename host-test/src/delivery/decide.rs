//! What comes after an attempt, decided without I/O: a pure function of what the attempt
//! met ([`Met`]), which attempt it was and its budget, the retry policy and the time. The
//! engine ([`super::deliver::Deliverer::attempt`]) makes the attempt and carries out the
//! [`Decision`]; this file holds every rule, and its table test holds them to account.

use std::time::Duration;

use std::sync::Arc;

use crate::contract::bindings::{Instant, Verdict};
use crate::formats::show;
pub use crate::limits::{DURABLE_DELAYS, DURABLE_MAX_AGE, RETRY_AFTER_CAP};
use crate::time::clock::add;

/// How long to wait after a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// After the n-th attempt, the n-th delay, exactly (an operator who writes a schedule
    /// means it); the attempts are one more than the delays.
    Delays(Arc<[Duration]>),
    /// Full jitter: a uniformly random wait in `[0, min(cap, base * 2^(n-1))]` after the
    /// n-th attempt, so receivers coming back are not met by every retry at once.
    Exponential {
        /// The first backoff's upper bound.
        base: Duration,
        /// The largest backoff upper bound.
        cap: Duration,
    },
}

/// How the engine retries: the waits, the attempt budget, the oldest a delivery may get
/// and the longest `Retry-After` it honours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The waits between attempts.
    pub backoff: Backoff,
    /// Attempts per delivery.
    pub max_attempts: u32,
    /// No attempt is planned later than this after the delivery was written: a retry
    /// that would come later ends the delivery as a dead letter instead.
    pub max_age: Option<Duration>,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
}

impl RetryPolicy {
    /// Exponential backoff with full jitter from `base` doubling to `cap`, `max_attempts`
    /// attempts, no maximum age.
    pub fn exponential(base: Duration, cap: Duration, max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff::Exponential {
                base,
                cap: cap.max(base),
            },
            max_attempts: max_attempts.max(1),
            max_age: None,
            retry_after_cap: RETRY_AFTER_CAP,
        }
    }

    /// These exact waits between attempts, one attempt more than waits.
    pub fn delays(delays: &[Duration]) -> RetryPolicy {
        RetryPolicy {
            max_attempts: delays.len() as u32 + 1,
            backoff: Backoff::Delays(delays.into()),
            max_age: None,
            retry_after_cap: RETRY_AFTER_CAP,
        }
    }

    /// The schedule `serve` uses unless told otherwise ([`DURABLE_DELAYS`], about 27.6
    /// hours from the first attempt to the last, and [`DURABLE_MAX_AGE`]): a receiver
    /// down for a deploy, a night or most of a day still gets every delivery.
    pub fn durable() -> RetryPolicy {
        RetryPolicy {
            max_age: Some(DURABLE_MAX_AGE),
            ..RetryPolicy::delays(&DURABLE_DELAYS)
        }
    }

    /// The backoff's upper bound after attempt `n` (1-based): the delay itself for a
    /// schedule of delays (the last one past its end), else `base`, doubling, at most
    /// `cap`.
    pub fn upper(&self, n: u32) -> Duration {
        match &self.backoff {
            Backoff::Delays(d) => {
                let i = (n.max(1) as usize - 1).min(d.len().saturating_sub(1));
                d.get(i).copied().unwrap_or_default()
            }
            Backoff::Exponential { base, cap } => {
                let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
                base.saturating_mul(factor).min(*cap)
            }
        }
    }

    /// The wait after attempt `n`: a schedule's delay as written, or an exponential
    /// bound through `jitter`.
    pub fn wait(&self, n: u32, jitter: &dyn Fn(Duration) -> Duration) -> Duration {
        match self.backoff {
            Backoff::Delays(_) => self.upper(n),
            Backoff::Exponential { .. } => jitter(self.upper(n)),
        }
    }

    /// The last attempt's time after the first when every wait is the longest it can
    /// be and no `Retry-After` stretches it: how long an outage the policy outlasts.
    pub fn horizon(&self) -> Duration {
        let all = (1..self.max_attempts)
            .map(|n| self.upper(n))
            .sum::<Duration>();
        self.max_age.map_or(all, |age| all.min(age))
    }
}

/// What one attempt met.
#[derive(Clone, Debug, PartialEq)]
pub enum Met {
    /// No access token could be had (`retryable`: the token endpoint may recover).
    NoToken {
        /// Whether trying again may help.
        retryable: bool,
        /// Why, secrets redacted.
        message: String,
    },
    /// The request could not be signed.
    SigningFailed(String),
    /// The request did not get a response.
    NotSent {
        /// Whether trying again may help (a timeout, a refused connection).
        retryable: bool,
        /// Whether it was a timeout or a connection failure: no response at all.
        no_response: bool,
        /// Why.
        message: String,
    },
    /// A `401` on a request with an OAuth token, the first for this attempt (a second,
    /// after a new token, is [`Met::Answered`] like any other status).
    Unauthorized,
    /// A response, with the component's verdict on it.
    Answered {
        /// Its status.
        status: u16,
        /// The component's verdict.
        verdict: Verdict,
    },
    /// The component could not classify the response.
    Unclassified(String),
}

/// What the engine does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Delivered: done.
    Delivered,
    /// Fetch a new token and make the attempt again (it does not count against the
    /// budget).
    RefreshToken,
    /// Attempt again at this instant; the reason is recorded as the last error.
    RetryAt(Instant, Option<String>),
    /// Give up: a dead letter, saying why; `with_response` when the last response is kept
    /// with it.
    DeadLetter {
        /// Why.
        why: String,
        /// Whether the response belongs in the record.
        with_response: bool,
    },
    /// The endpoint is gone: disable it, saying why.
    DisableEndpoint(u16),
}

/// Decide after attempt `attempt` (1-based) of `budget`, at `now`, of a delivery written
/// `age` ago. `jitter` picks the wait within an exponential backoff's upper bound (the
/// engine's is random; a test's may be exact).
pub fn decide(
    met: &Met,
    attempt: u32,
    budget: u32,
    policy: &RetryPolicy,
    now: Instant,
    age: Duration,
    jitter: &dyn Fn(Duration) -> Duration,
) -> Decision {
    let more = attempt < budget;
    let dead = |why: String, with_response: bool| Decision::DeadLetter { why, with_response };
    // A retry past the maximum age is not planned: the delivery ends here, saying so.
    let retry = |wait: Duration, why: Option<String>, with_response: bool| match policy.max_age {
        Some(max) if age.saturating_add(wait) > max => dead(
            format!(
                "{}; not retried: the next attempt would come {} after the delivery was written, past the maximum age of {}",
                why.as_deref().unwrap_or("failed"),
                show(age.saturating_add(wait)),
                show(max)
            ),
            with_response,
        ),
        _ => Decision::RetryAt(add(now, wait), why),
    };
    let backoff = |why: Option<String>| retry(policy.wait(attempt, jitter), why, false);
    match met {
        Met::NoToken { retryable, message } => {
            let msg = format!("no access token: {message}");
            if *retryable && more {
                backoff(Some(msg))
            } else {
                dead(msg, false)
            }
        }
        Met::SigningFailed(e) => dead(format!("signing failed: {e}"), false),
        Met::NotSent {
            retryable,
            no_response,
            message,
        } => {
            if *retryable && more {
                backoff(Some(message.clone()))
            } else if *no_response {
                dead(
                    format!("no response after {attempt} attempt(s): {message}"),
                    false,
                )
            } else {
                dead(message.clone(), false)
            }
        }
        Met::Unauthorized => Decision::RefreshToken,
        Met::Unclassified(e) => dead(
            format!("the component could not classify the response: {e}"),
            true,
        ),
        Met::Answered { status, verdict } => match verdict {
            Verdict::Success => Decision::Delivered,
            Verdict::Retry(after) if more => {
                let wait = match after {
                    Some(s) => Duration::from_secs((*s).into()).min(policy.retry_after_cap),
                    None => policy.wait(attempt, jitter),
                };
                retry(wait, Some(format!("HTTP {status}")), true)
            }
            Verdict::Retry(_) => dead(
                format!("HTTP {status} after {attempt} attempt(s); attempts exhausted"),
                true,
            ),
            Verdict::GiveUp => dead(
                format!("HTTP {status}: the component says not to retry"),
                true,
            ),
            Verdict::DisableEndpoint => Decision::DisableEndpoint(*status),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Instant = Instant {
        seconds: 1_000,
        nanoseconds: 0,
    };

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retry_after_cap: Duration::from_secs(300),
            ..RetryPolicy::exponential(Duration::from_secs(2), Duration::from_secs(120), 8)
        }
    }

    fn at(seconds: i64) -> Instant {
        Instant {
            seconds: NOW.seconds + seconds,
            nanoseconds: 0,
        }
    }

    fn answered(status: u16, verdict: Verdict) -> Met {
        Met::Answered { status, verdict }
    }

    fn dead(why: &str, with_response: bool) -> Decision {
        Decision::DeadLetter {
            why: why.into(),
            with_response,
        }
    }

    /// Every rule, as (what the attempt met, attempt, budget) -> decision, with the
    /// backoff at its upper bound (the identity jitter).
    #[test]
    fn every_rule_in_one_table() {
        let retry = |s: i64, why: &str| Decision::RetryAt(at(s), Some(why.into()));
        let sent_timeout = Met::NotSent {
            retryable: true,
            no_response: true,
            message: "timed out".into(),
        };
        let table: Vec<(Met, u32, u32, Decision)> = vec![
            (answered(200, Verdict::Success), 1, 8, Decision::Delivered),
            (answered(204, Verdict::Success), 8, 8, Decision::Delivered),
            // Backoff doubles from the base and stops at the cap.
            (
                answered(503, Verdict::Retry(None)),
                1,
                8,
                retry(2, "HTTP 503"),
            ),
            (
                answered(503, Verdict::Retry(None)),
                3,
                8,
                retry(8, "HTTP 503"),
            ),
            (
                answered(503, Verdict::Retry(None)),
                7,
                8,
                retry(120, "HTTP 503"),
            ),
            // Retry-After is honoured, up to its cap.
            (
                answered(429, Verdict::Retry(Some(30))),
                1,
                8,
                retry(30, "HTTP 429"),
            ),
            (
                answered(429, Verdict::Retry(Some(86_400))),
                1,
                8,
                retry(300, "HTTP 429"),
            ),
            // The budget ends retries.
            (
                answered(503, Verdict::Retry(None)),
                8,
                8,
                dead("HTTP 503 after 8 attempt(s); attempts exhausted", true),
            ),
            (
                answered(400, Verdict::GiveUp),
                1,
                8,
                dead("HTTP 400: the component says not to retry", true),
            ),
            (
                answered(410, Verdict::DisableEndpoint),
                1,
                8,
                Decision::DisableEndpoint(410),
            ),
            (Met::Unauthorized, 1, 8, Decision::RefreshToken),
            (Met::Unauthorized, 8, 8, Decision::RefreshToken),
            (sent_timeout.clone(), 2, 8, retry(4, "timed out")),
            (
                sent_timeout,
                8,
                8,
                dead("no response after 8 attempt(s): timed out", false),
            ),
            (
                Met::NotSent {
                    retryable: false,
                    no_response: false,
                    message: "refused by the SSRF guard".into(),
                },
                1,
                8,
                dead("refused by the SSRF guard", false),
            ),
            (
                Met::NoToken {
                    retryable: true,
                    message: "HTTP 503".into(),
                },
                1,
                8,
                retry(2, "no access token: HTTP 503"),
            ),
            (
                Met::NoToken {
                    retryable: false,
                    message: "invalid_client".into(),
                },
                1,
                8,
                dead("no access token: invalid_client", false),
            ),
            (
                Met::SigningFailed("trap".into()),
                1,
                8,
                dead("signing failed: trap", false),
            ),
            (
                Met::Unclassified("trap".into()),
                1,
                8,
                dead("the component could not classify the response: trap", true),
            ),
        ];
        for (met, attempt, budget, want) in table {
            let got = decide(
                &met,
                attempt,
                budget,
                &policy(),
                NOW,
                Duration::ZERO,
                &|d| d,
            );
            assert_eq!(got, want, "{met:?} at attempt {attempt} of {budget}");
        }
    }

    #[test]
    fn the_jitter_picks_the_wait_within_the_bound() {
        let half = |d: Duration| d / 2;
        assert_eq!(
            decide(
                &answered(503, Verdict::Retry(None)),
                2,
                8,
                &policy(),
                NOW,
                Duration::ZERO,
                &half
            ),
            Decision::RetryAt(at(2), Some("HTTP 503".into()))
        );
        // A server's Retry-After is not jittered.
        assert_eq!(
            decide(
                &answered(503, Verdict::Retry(Some(7))),
                2,
                8,
                &policy(),
                NOW,
                Duration::ZERO,
                &half
            ),
            Decision::RetryAt(at(7), Some("HTTP 503".into()))
        );
    }
}

#[cfg(test)]
mod schedules {
    use super::*;

    const NOW: Instant = Instant {
        seconds: 1_000,
        nanoseconds: 0,
    };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_schedule_of_delays_waits_each_exactly_and_ends_after_the_last() {
        let p = RetryPolicy::delays(&[secs(5), secs(300), secs(1800)]);
        assert_eq!(p.max_attempts, 4);
        let jitter_ignored = |_: Duration| Duration::ZERO;
        let waits: Vec<u64> = (1..=4)
            .map(|n| p.wait(n, &jitter_ignored).as_secs())
            .collect();
        assert_eq!(waits, [5, 300, 1800, 1800]);
        let met = Met::Answered {
            status: 503,
            verdict: Verdict::Retry(None),
        };
        let at = |s: i64| Instant {
            seconds: NOW.seconds + s,
            nanoseconds: 0,
        };
        for (attempt, wait) in [(1, 5), (2, 300), (3, 1800)] {
            assert_eq!(
                decide(&met, attempt, 4, &p, NOW, Duration::ZERO, &jitter_ignored),
                Decision::RetryAt(at(wait), Some("HTTP 503".into()))
            );
        }
        assert!(matches!(
            decide(&met, 4, 4, &p, NOW, Duration::ZERO, &jitter_ignored),
            Decision::DeadLetter { .. }
        ));
    }

    #[test]
    fn the_durable_default_outlasts_a_day_long_outage() {
        let p = RetryPolicy::durable();
        assert_eq!(p.max_attempts, DURABLE_DELAYS.len() as u32 + 1);
        // 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 10 h.
        assert_eq!(
            p.horizon(),
            secs(5 + 300 + 1800 + 7200 + 18_000 + 36_000 + 36_000)
        );
        assert!(p.horizon() > secs(24 * 3600));
        // The brief policy of `send` gives up within minutes.
        assert!(RetryPolicy::default().horizon() < secs(5 * 60));
    }

    #[test]
    fn a_retry_past_the_maximum_age_is_a_dead_letter_and_one_within_it_is_not() {
        let p = RetryPolicy {
            max_age: Some(secs(3600)),
            ..RetryPolicy::delays(&[secs(600), secs(600)])
        };
        let met = Met::NotSent {
            retryable: true,
            no_response: true,
            message: "connection refused".into(),
        };
        let zero = |_: Duration| Duration::ZERO;
        // Written 50 minutes ago: the retry 10 minutes on is exactly at the age; allowed.
        assert!(matches!(
            decide(&met, 1, 3, &p, NOW, secs(3000), &zero),
            Decision::RetryAt(..)
        ));
        // A second later it would pass it.
        match decide(&met, 1, 3, &p, NOW, secs(3001), &zero) {
            Decision::DeadLetter { why, .. } => {
                assert!(why.starts_with("connection refused; not retried"), "{why}");
                assert!(why.contains("maximum age of 1h"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // A Retry-After is held to the age too.
        let asked = Met::Answered {
            status: 429,
            verdict: Verdict::Retry(Some(1200)),
        };
        assert!(matches!(
            decide(&asked, 1, 3, &p, NOW, secs(3000), &zero),
            Decision::DeadLetter {
                with_response: true,
                ..
            }
        ));
    }
}
