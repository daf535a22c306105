//! An endpoint's circuit breaker, as a pure state machine: after
//! [`BreakerSettings::failures`] consecutive failed attempts the endpoint is paused
//! (open); after the probe wait one delivery at a time probes it (half-open); a success
//! resumes it (closed), a failure pauses it again for twice as long, up to
//! [`LONGEST_PROBE_AFTER`]. A paused endpoint's deliveries wait in the outbox without
//! spending attempts: nothing is dropped while it is paused.
//!
//! A failure is an attempt that got no response or a status the component retries (5xx,
//! 429); any other answer, a 4xx included, shows the endpoint is up. An attempt that
//! never reached the endpoint (no access token) says nothing about it.

use std::time::Duration;

pub use crate::limits::{BREAKER_FAILURES, BREAKER_PROBE_AFTER, LONGEST_PROBE_AFTER};

/// When a breaker opens and how long it waits to probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failed attempts that open it.
    pub failures: u32,
    /// The first wait before a probe.
    pub probe_after: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failures: BREAKER_FAILURES,
            probe_after: BREAKER_PROBE_AFTER,
        }
    }
}

/// Where a breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Deliveries go.
    Closed,
    /// Paused until the probe time.
    Open,
    /// One probe delivery is in flight; the rest wait for its answer.
    HalfOpen,
}

impl Position {
    /// Its word in the API, the metrics and the outbox.
    pub fn word(self) -> &'static str {
        match self {
            Position::Closed => "closed",
            Position::Open => "open",
            Position::HalfOpen => "half-open",
        }
    }

    /// The position a word names.
    pub fn parse(word: &str) -> Option<Position> {
        [Position::Closed, Position::Open, Position::HalfOpen]
            .into_iter()
            .find(|p| p.word() == word)
    }
}

/// What an attempt showed of the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// It answered, with anything but a status worth retrying.
    Up,
    /// No response, or a status the component retries.
    Down,
}

/// One endpoint's breaker: what the outbox keeps of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breaker {
    /// Where it is.
    pub position: Position,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// When it last opened, Unix ms.
    pub opened_ms: Option<i64>,
    /// When the next probe may go, Unix ms (open only).
    pub probe_ms: Option<i64>,
    /// The wait before the next probe after a failed one.
    pub probe_wait: Duration,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            position: Position::Closed,
            failures: 0,
            opened_ms: None,
            probe_ms: None,
            probe_wait: Duration::ZERO,
        }
    }
}

/// May a delivery go now?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Yes.
    Go,
    /// Yes, as the probe: the breaker is half-open once it starts.
    Probe,
    /// No; look again at this time, Unix ms (`None`: when the probe in flight ends).
    Wait(Option<i64>),
}

impl Breaker {
    /// A breaker as stored, after a restart: a probe that was in flight is gone with the
    /// process, so a half-open breaker is open again with its probe due now.
    pub fn restored(mut self, now_ms: i64) -> Breaker {
        if self.position == Position::HalfOpen {
            self.position = Position::Open;
            self.probe_ms = Some(now_ms);
        }
        self
    }

    /// Whether a delivery may go at `now_ms`.
    pub fn admit(&self, now_ms: i64) -> Admit {
        match self.position {
            Position::Closed => Admit::Go,
            Position::HalfOpen => Admit::Wait(None),
            Position::Open => match self.probe_ms {
                Some(t) if t > now_ms => Admit::Wait(Some(t)),
                _ => Admit::Probe,
            },
        }
    }

    /// A probe starts: half-open until it ends.
    pub fn probe_started(&mut self) {
        if self.position == Position::Open {
            self.position = Position::HalfOpen;
        }
    }

    /// Count an attempt's answer at `now_ms` (`None`: it showed nothing, as a token
    /// failure; `probe`: it was the probe). Returns whether the position changed.
    pub fn record(
        &mut self,
        health: Option<Health>,
        probe: bool,
        settings: &BreakerSettings,
        now_ms: i64,
    ) -> bool {
        let before = self.position;
        match health {
            Some(Health::Up) => {
                *self = Breaker::default();
            }
            Some(Health::Down) => {
                self.failures = self.failures.saturating_add(1);
                match self.position {
                    Position::Closed if self.failures >= settings.failures.max(1) => {
                        self.open(settings.probe_after, now_ms);
                    }
                    Position::HalfOpen if probe => {
                        let wait = self.probe_wait.saturating_mul(2).min(LONGEST_PROBE_AFTER);
                        self.open(wait.max(settings.probe_after), now_ms);
                    }
                    _ => {}
                }
            }
            None => {
                // The probe could not be made: probe again after the same wait.
                if probe && self.position == Position::HalfOpen {
                    let wait = self.probe_wait;
                    self.open(wait, now_ms);
                }
            }
        }
        self.position != before
    }

    fn open(&mut self, wait: Duration, now_ms: i64) {
        self.position = Position::Open;
        self.opened_ms = Some(now_ms);
        self.probe_wait = wait;
        self.probe_ms = Some(now_ms.saturating_add(wait.as_millis() as i64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            failures: 3,
            probe_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn it_opens_after_the_failures_in_a_row_and_not_before() {
        let mut b = Breaker::default();
        for t in 0..2 {
            assert!(!b.record(Some(Health::Down), false, &settings(), t));
            assert_eq!(b.admit(t), Admit::Go);
        }
        // A success in between starts the count again.
        b.record(Some(Health::Up), false, &settings(), 2);
        assert_eq!(b.failures, 0);
        for t in 3..5 {
            assert!(!b.record(Some(Health::Down), false, &settings(), t));
        }
        assert!(b.record(Some(Health::Down), false, &settings(), 5));
        assert_eq!(b.position, Position::Open);
        assert_eq!(b.admit(5), Admit::Wait(Some(10_005)));
        assert_eq!(b.admit(10_004), Admit::Wait(Some(10_005)));
        assert_eq!(b.admit(10_005), Admit::Probe);
    }

    #[test]
    fn one_probe_at_a_time_and_its_answer_decides() {
        let mut b = Breaker::default();
        for t in 0..3 {
            b.record(Some(Health::Down), false, &settings(), t);
        }
        b.probe_started();
        assert_eq!(b.position, Position::HalfOpen);
        assert_eq!(b.admit(20_000), Admit::Wait(None));
        // A failed probe: open again for twice as long.
        assert!(b.record(Some(Health::Down), true, &settings(), 20_000));
        assert_eq!(b.probe_ms, Some(40_000));
        b.probe_started();
        assert!(b.record(Some(Health::Down), true, &settings(), 40_000));
        assert_eq!(b.probe_ms, Some(80_000));
        // The doubling stops at the longest wait.
        for _ in 0..20 {
            b.probe_started();
            b.record(Some(Health::Down), true, &settings(), 0);
        }
        assert_eq!(b.probe_wait, LONGEST_PROBE_AFTER);
        // A probe that could not be made waits the same again.
        b.probe_started();
        b.record(None, true, &settings(), 0);
        assert_eq!(b.position, Position::Open);
        assert_eq!(b.probe_wait, LONGEST_PROBE_AFTER);
        // A successful probe resumes the endpoint.
        b.probe_started();
        assert!(b.record(Some(Health::Up), true, &settings(), 1));
        assert_eq!(b, Breaker::default());
        assert_eq!(b.admit(1), Admit::Go);
    }

    #[test]
    fn a_half_open_breaker_restored_after_a_restart_probes_at_once() {
        let mut b = Breaker::default();
        for t in 0..3 {
            b.record(Some(Health::Down), false, &settings(), t);
        }
        b.probe_started();
        let b = b.restored(99);
        assert_eq!(b.position, Position::Open);
        assert_eq!(b.admit(99), Admit::Probe);
        for p in [Position::Closed, Position::Open, Position::HalfOpen] {
            assert_eq!(Position::parse(p.word()), Some(p));
        }
    }
}
