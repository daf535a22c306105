//! The seam of delivery to the component: what the engine asks of it ([`Plugin`]), so the
//! engine can be tested without the component (time is the other seam,
//! [`crate::time::clock::Clock`]).

use std::sync::Mutex;

use crate::contract::bindings::{
    AccessToken, Header, HttpRequest, Instant, OauthError, RecordChange, RenderContext, Verdict,
};
use crate::sandbox::error::HostError;
use crate::sandbox::runtime::Session;

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
