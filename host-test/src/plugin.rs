//! The seams of delivery: what the engine asks of the component ([`Plugin`]) and of time
//! ([`Clock`]), so the engine can be tested without the component and without sleeping.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bindings::{
    AccessToken, Header, HttpRequest, Instant, OauthError, RecordChange, RenderContext, Verdict,
};
use crate::error::HostError;
use crate::http::BoxFuture;
use crate::runtime::Session;

/// The component's decisions the delivery engine needs. [`SessionPlugin`] forwards them to
/// a compiled [`Session`]; tests may answer them directly.
pub trait Plugin: Send + Sync {
    /// Record changes to requests.
    fn on_changes(
        &self,
        changes: &[RecordChange],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError>;
    /// The OAuth token request.
    fn token_request(&self) -> Result<HttpRequest, HostError>;
    /// Parse a token response.
    fn accept_token(
        &self,
        status: u16,
        body: &[u8],
        now: Instant,
    ) -> Result<Result<AccessToken, OauthError>, HostError>;
    /// What to do with a response.
    fn classify(&self, status: u16, headers: &[Header], now: Instant)
    -> Result<Verdict, HostError>;
    /// Re-sign a request for an attempt at `now`.
    fn sign(&self, request: &HttpRequest, now: Instant) -> Result<HttpRequest, HostError>;
}

/// A [`Session`] shared by concurrent deliveries. Each call is microseconds of guest time,
/// so one lock serialises them without becoming the bottleneck of network-bound work.
pub struct SessionPlugin {
    session: Mutex<Session>,
}

impl SessionPlugin {
    /// Share a session.
    pub fn new(session: Session) -> SessionPlugin {
        SessionPlugin {
            session: Mutex::new(session),
        }
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<R, HostError>,
    ) -> Result<R, HostError> {
        let mut s = self.session.lock().map_err(|_| HostError::Poisoned)?;
        f(&mut s)
    }

    /// Run `f` on the session (for calls the trait does not cover, such as `on_demand`).
    pub fn with_session<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mut s = self.session.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }
}

impl Plugin for SessionPlugin {
    fn on_changes(
        &self,
        changes: &[RecordChange],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        self.with(|s| s.on_changes(changes, context))
    }
    fn token_request(&self) -> Result<HttpRequest, HostError> {
        self.with(|s| s.token_request())
    }
    fn accept_token(
        &self,
        status: u16,
        body: &[u8],
        now: Instant,
    ) -> Result<Result<AccessToken, OauthError>, HostError> {
        self.with(|s| s.accept_token(status, body, now))
    }
    fn classify(
        &self,
        status: u16,
        headers: &[Header],
        now: Instant,
    ) -> Result<Verdict, HostError> {
        self.with(|s| s.classify(status, headers, now))
    }
    fn sign(&self, request: &HttpRequest, now: Instant) -> Result<HttpRequest, HostError> {
        self.with(|s| s.sign(request, now))
    }
}

/// Time, for the engine: the wall clock it hands the component, and sleeping between
/// attempts. Tests substitute a clock whose sleeps return at once.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Instant;
    /// Wait this long.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The machine's clock and Tokio's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Instant {
            seconds: d.as_secs() as i64,
            nanoseconds: d.subsec_nanos(),
        }
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// An instant plus a duration.
pub fn add(i: Instant, d: Duration) -> Instant {
    let nanos = i.nanoseconds as u64 + d.subsec_nanos() as u64;
    Instant {
        seconds: i.seconds + d.as_secs() as i64 + (nanos / 1_000_000_000) as i64,
        nanoseconds: (nanos % 1_000_000_000) as u32,
    }
}

/// `a - b`, zero when `a` is not after `b`.
pub fn since(a: Instant, b: Instant) -> Duration {
    let an = a.seconds as i128 * 1_000_000_000 + a.nanoseconds as i128;
    let bn = b.seconds as i128 * 1_000_000_000 + b.nanoseconds as i128;
    Duration::from_nanos(u64::try_from((an - bn).max(0)).unwrap_or(u64::MAX))
}
