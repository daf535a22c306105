//! What comes after an attempt, decided without I/O: a pure function of what the attempt
//! met ([`Met`]), which attempt it was and its budget, the retry policy and the time. The
//! engine ([`super::deliver::Deliverer::attempt`]) makes the attempt and carries out the
//! [`Decision`]; this file holds every rule, and its table test holds them to account.

use std::time::Duration;

use crate::contract::bindings::{Instant, Verdict};
use crate::time::clock::add;

/// How the engine retries: the backoff's bounds, the attempt budget and the longest
/// `Retry-After` it honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff's upper bound.
    pub base: Duration,
    /// The largest backoff upper bound.
    pub cap: Duration,
    /// Attempts per delivery.
    pub max_attempts: u32,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
}

impl RetryPolicy {
    /// The backoff's upper bound after attempt `n` (1-based): `base`, doubling, at most
    /// `cap`.
    pub fn upper(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
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

/// Decide after attempt `attempt` (1-based) of `budget`, at `now`. `jitter` picks the
/// wait within a backoff's upper bound (the engine's is random; a test's may be exact).
pub fn decide(
    met: &Met,
    attempt: u32,
    budget: u32,
    policy: &RetryPolicy,
    now: Instant,
    jitter: &dyn Fn(Duration) -> Duration,
) -> Decision {
    let more = attempt < budget;
    let backoff =
        |why: Option<String>| Decision::RetryAt(add(now, jitter(policy.upper(attempt))), why);
    let dead = |why: String, with_response: bool| Decision::DeadLetter { why, with_response };
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
                    None => jitter(policy.upper(attempt)),
                };
                Decision::RetryAt(add(now, wait), Some(format!("HTTP {status}")))
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
            base: Duration::from_secs(2),
            cap: Duration::from_secs(120),
            max_attempts: 8,
            retry_after_cap: Duration::from_secs(300),
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
            let got = decide(&met, attempt, budget, &policy(), NOW, &|d| d);
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
                &half
            ),
            Decision::RetryAt(at(7), Some("HTTP 503".into()))
        );
    }
}
