//! The OAuth token cache: one client-credentials token per (token URL, client id, scope),
//! fetched through the component (`token-request`, `accept-token`), refreshed before it
//! expires, and fetched once however many deliveries ask at the same time.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::contract::bindings::{Configuration, Instant};
use crate::delivery::http::{SendError, Transport};
use crate::delivery::plugin::Plugin;
use crate::delivery::secret::Secret;
use crate::time::clock::{Clock, add, since};

pub use crate::limits::REFRESH_MARGIN;

/// Which token: the cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The requested scope.
    pub scope: Option<String>,
}

impl TokenKey {
    /// The key of a configuration that uses OAuth; `None` when it does not.
    pub fn of(config: &Configuration) -> Option<TokenKey> {
        let o = &config.oauth;
        Some(TokenKey {
            token_url: o.token_url.clone().filter(|s| !s.is_empty())?,
            client_id: o.client_id.clone().filter(|s| !s.is_empty())?,
            scope: o.scope.clone().filter(|s| !s.is_empty()),
        })
    }
}

/// Why no token could be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// The token endpoint answered with an OAuth error (or a response the component could
    /// not read).
    Oauth {
        /// HTTP status.
        status: u16,
        /// The RFC 6749 error code or a description of the malformed response.
        error: String,
        /// The server's description.
        description: Option<String>,
    },
    /// The token request got no response.
    Send(SendError),
    /// The component failed.
    Host(String),
}

impl TokenError {
    /// Whether asking again later may help.
    pub fn retryable(&self) -> bool {
        match self {
            TokenError::Oauth { status, .. } => *status >= 500 || *status == 429,
            TokenError::Send(e) => e.retryable(),
            TokenError::Host(_) => false,
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Oauth {
                status,
                error,
                description,
            } => {
                write!(f, "the token endpoint refused: {error} (HTTP {status})")?;
                if let Some(d) = description {
                    write!(f, ": {d}")?;
                }
                Ok(())
            }
            TokenError::Send(e) => write!(f, "the token request failed: {e}"),
            TokenError::Host(e) => write!(f, "the token request could not be made: {e}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// A cached token.
#[derive(Clone, Debug)]
struct Cached {
    token: Secret,
    /// When to fetch a new one; `None`: the server gave no expiry, so the token is used
    /// until a webhook answers 401.
    refresh_at: Option<Instant>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// The cache, shared by every delivery of the process.
#[derive(Debug)]
pub struct TokenCache {
    slots: Mutex<HashMap<TokenKey, Slot>>,
    fetches: AtomicU64,
    margin: Duration,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(REFRESH_MARGIN)
    }
}

impl TokenCache {
    /// A cache refreshing `margin` before expiry.
    pub fn new(margin: Duration) -> TokenCache {
        TokenCache {
            slots: Mutex::new(HashMap::new()),
            fetches: AtomicU64::new(0),
            margin,
        }
    }

    /// How many tokens were fetched from token endpoints.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn slot(&self, key: &TokenKey) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(key.clone()).or_default().clone()
    }

    /// A valid token for `key`: the cached one while it is fresh and is not `stale` (the
    /// token a webhook just refused with 401), else a new one. Callers that ask at the
    /// same time wait for one fetch and share its result (single flight).
    pub async fn get(
        &self,
        key: &TokenKey,
        stale: Option<&Secret>,
        plugin: &dyn Plugin,
        transport: &dyn Transport,
        clock: &dyn Clock,
    ) -> Result<Secret, TokenError> {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref() {
            let fresh = c
                .refresh_at
                .is_none_or(|at| since(at, clock.now()) > Duration::ZERO);
            if fresh && Some(&c.token) != stale {
                return Ok(c.token.clone());
            }
        }
        let request = plugin
            .token_request()
            .map_err(|e| TokenError::Host(e.to_string()))?;
        let response = transport.send(&request).await.map_err(TokenError::Send)?;
        let now = clock.now();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let token = plugin
            .accept_token(response.status, &response.body, now)
            .map_err(|e| TokenError::Host(e.to_string()))?
            .map_err(|e| TokenError::Oauth {
                status: e.status,
                error: e.error,
                description: e.description,
            })?;
        let refresh_at = token.expires_at.map(|exp| {
            let life = since(exp, now);
            let margin = self.margin.min(life / 2);
            add(now, life - margin)
        });
        let secret = Secret::new(token.token);
        *cached = Some(Cached {
            token: secret.clone(),
            refresh_at,
        });
        Ok(secret)
    }
}
