//! The delivery engine: render through the component, send, classify, retry.
//!
//! Every decision about a response is the component's (`classify`); the engine only
//! carries it out:
//!
//! - **success**: done.
//! - **retry**: wait and try again, as the engine's [`RetryPolicy`] says: by default
//!   (`send`) up to [`MAX_ATTEMPTS`] attempts with exponential backoff and full jitter, a
//!   uniformly random wait between zero and `min(RETRY_CAP, RETRY_BASE * 2^(n-1))` after
//!   the n-th attempt, that is at most 2, 4, 8, 16, 32, 64 and 120 seconds (about 4
//!   minutes in all); `serve` uses [`RetryPolicy::durable`] (about 27.6 hours) or the
//!   configuration's schedule. The wait is the server's `Retry-After` when it gave one
//!   (capped at [`RETRY_AFTER_CAP`]), and no retry is planned past the policy's maximum
//!   age. A connection failure or a timeout is retried the same way.
//! - **give up**: dead-lettered at once, with the response kept.
//! - **disable endpoint** (410): dead-lettered, and later deliveries to the same endpoint
//!   (scheme, host, port and path) are not attempted; their report says why.
//!
//! Every retry is re-signed through the component (`sign`) with the current time: the
//! delivery id and body stay the same, the timestamp and signature are fresh. A first
//! attempt keeps the signature the component made when it rendered the request if that is
//! at most [`FRESH_SIGNATURE_AGE`] old, and is re-signed too otherwise. With OAuth,
//! the engine puts the cached token into the `Authorization` header the component rendered
//! (a token can expire between attempts), and on a 401 it fetches a new token once and
//! tries again at once; that extra attempt does not count against [`MAX_ATTEMPTS`]. With
//! the platform token, each attempt mints one and puts it where the render left its
//! placeholder ([`crate::delivery::platform_token`]), and is re-signed for the new body.
//! After the last attempt the delivery is dead-lettered with its last response.
//!
//! One attempt is one call of [`Deliverer::attempt`], which says what comes next
//! ([`Step`]). [`Deliverer::deliver`] loops it in memory with sleeps (`send`, `demo`);
//! the durable [`crate::outbox::dispatch::Dispatcher`] records each step in the outbox instead,
//! so a retry waits on disk and a restart resumes it ([`Deliverer::begin`] takes the
//! attempt count and budget back).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::contract::bindings::{
    Configuration, FieldValue, Header, HttpRequest, RecordChange, RenderContext,
};
use crate::delivery::breaker::{BreakerSettings, Health};
use crate::delivery::decide::{Decision, Met, decide};
use crate::delivery::endpoints::EndpointLimits;
use crate::delivery::http::{Response, SendError, Transport};
use crate::delivery::log::{DeliveryLog, percent_encode, redact_url};
use crate::delivery::oauth::{TokenCache, TokenError, TokenKey};
use crate::delivery::placeholders::{QUERY_PLACEHOLDER, TOKEN_PLACEHOLDER};
use crate::delivery::platform_token::{self, PlatformKeys};
use crate::delivery::plugin::Plugin;
use crate::delivery::secret::Secret;
use crate::formats::DeliveryJson;
use crate::sandbox::error::HostError;
use crate::time::clock::{Clock, since};

pub use crate::limits::RETRY_BASE;

pub use crate::limits::RETRY_CAP;

pub use crate::limits::MAX_ATTEMPTS;

pub use crate::limits::RETRY_AFTER_CAP;

pub use crate::limits::FRESH_SIGNATURE_AGE;

pub use crate::limits::DEFAULT_CONCURRENCY;

pub use super::decide::RetryPolicy;

/// The brief policy of an engine whose caller waits (`send`, the demo): exponential
/// backoff from [`RETRY_BASE`] to [`RETRY_CAP`], [`MAX_ATTEMPTS`] attempts, about four
/// minutes in all. `serve` uses [`RetryPolicy::durable`] instead.
impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::exponential(RETRY_BASE, RETRY_CAP, MAX_ATTEMPTS)
    }
}

/// Picks a wait in `[0, upper]`.
pub type Jitter = Arc<dyn Fn(Duration) -> Duration + Send + Sync>;

/// Full jitter: uniform in `[0, upper]`, from a per-process random seed.
pub fn full_jitter() -> Jitter {
    let seed = RandomState::new().hash_one(0u64);
    let state = AtomicU64::new(seed);
    Arc::new(move |upper: Duration| {
        // splitmix64: small, fast, and plenty for spreading retries apart.
        let mut z = state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let nanos = upper.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(if nanos == 0 { 0 } else { z % (nanos + 1) })
    })
}

/// How a delivery ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted it.
    Delivered,
    /// Not delivered and not to be tried again by this host: why.
    DeadLettered(String),
    /// The endpoint answered 410: this delivery and later ones to it are stopped.
    EndpointDisabled(String),
    /// Not attempted, because the endpoint was disabled earlier: why.
    Skipped(String),
}

impl Outcome {
    /// A short word for the outcome.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::DeadLettered(_) => "dead-letter",
            Outcome::EndpointDisabled(_) => "endpoint-disabled",
            Outcome::Skipped(_) => "skipped",
        }
    }
}

/// What happened to one request.
#[derive(Clone, Debug)]
pub struct DeliveryReport {
    /// The delivery id.
    pub delivery_id: String,
    /// The URL, redacted for logs.
    pub url: String,
    /// How many records the request carries.
    pub records: usize,
    /// Attempts made.
    pub attempts: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The last response, if any (body cut to `http::MAX_RESPONSE_BODY`).
    pub last_response: Option<Response>,
}

impl DeliveryReport {
    /// The report of a request that ended as `outcome` without an attempt.
    pub fn not_attempted(request: &HttpRequest, outcome: Outcome) -> DeliveryReport {
        DeliveryReport {
            delivery_id: request.delivery_id.clone(),
            url: redact_url(&request.url),
            records: request.member_codes.len(),
            attempts: 0,
            outcome,
            last_response: None,
        }
    }
}

/// A delivery that will not be retried by this host, kept for an operator.
#[derive(Clone)]
pub struct DeadLetter {
    /// The report, with the last response.
    pub report: DeliveryReport,
    /// The request as the component rendered it (its headers may hold a token: never
    /// print them).
    pub request: HttpRequest,
}

impl fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("report", &self.report)
            .field("body_bytes", &self.request.body.len())
            .finish_non_exhaustive()
    }
}

/// What comes after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The delivery is over; its report says how.
    Finished,
    /// Try again after this wait.
    Retry(Duration),
}

/// One delivery between attempts: the request as last sent, its report so far, its
/// attempt budget.
pub struct Delivery {
    /// The request (with the latest token in its `Authorization`, never printed).
    pub request: HttpRequest,
    /// The report so far: attempts made, last response, outcome when finished.
    pub report: DeliveryReport,
    /// Attempts allowed: the policy's, one more after a 401 made a token refresh.
    pub budget: u32,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// When the delivery was written (the maximum age counts from here).
    pub written: crate::contract::bindings::Instant,
    /// What the last attempt showed of the endpoint, for its breaker (`None`: nothing,
    /// or no attempt was made).
    pub health: Option<Health>,
    /// When the last attempt started, and how long its request took.
    pub last_attempt: Option<(crate::contract::bindings::Instant, Option<Duration>)>,
    policy_budget: u32,
    endpoint: String,
    token: Option<Secret>,
    uses_oauth: bool,
}

impl Delivery {
    /// Whether the one token refresh a 401 earns has been spent.
    fn refreshed(&self) -> bool {
        self.budget > self.policy_budget
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("report", &self.report)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Why rendering could not start.
#[derive(Debug)]
pub enum DeliverError {
    /// No OAuth token could be had.
    Token(TokenError),
    /// The component failed to render.
    Render(HostError),
}

impl fmt::Display for DeliverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliverError::Token(e) => write!(f, "{e}"),
            DeliverError::Render(e) => write!(f, "rendering failed: {e}"),
        }
    }
}

impl std::error::Error for DeliverError {}

/// A callback for each finished delivery (a progress display).
pub type OnReport = Arc<dyn Fn(&DeliveryReport) + Send + Sync>;

/// The delivery engine for one compiled configuration and strategy.
pub struct Deliverer {
    plugin: Arc<dyn Plugin>,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    tokens: Arc<TokenCache>,
    oauth: Option<TokenKey>,
    /// The run-as user, when the configuration includes the platform token.
    platform_user: Option<String>,
    /// The keys that sign platform tokens.
    platform_keys: Option<Arc<PlatformKeys>>,
    policy: RetryPolicy,
    limits: EndpointLimits,
    jitter: Jitter,
    concurrency: usize,
    log: Arc<DeliveryLog>,
    disabled: Mutex<HashMap<String, String>>,
    dead: Mutex<Vec<DeadLetter>>,
    on_report: Option<OnReport>,
    id_seed: AtomicU64,
    keep_dead_letters: bool,
    /// Query parameters whose names look secret and whose values are fixed text in the
    /// configuration: kept out of the outbox and put back at each attempt.
    query_secrets: Vec<(String, String)>,
}

impl fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer")
            .field("oauth", &self.oauth)
            .field("policy", &self.policy)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// An engine rendering through `plugin`, sending through `transport`, keeping time
    /// with `clock`; no OAuth, no platform token, the default policy, logs dropped.
    pub fn new(
        plugin: Arc<dyn Plugin>,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
    ) -> Deliverer {
        Deliverer {
            plugin,
            transport,
            clock,
            tokens: Arc::new(TokenCache::default()),
            oauth: None,
            platform_user: None,
            platform_keys: None,
            policy: RetryPolicy::default(),
            limits: EndpointLimits::default(),
            jitter: full_jitter(),
            concurrency: DEFAULT_CONCURRENCY,
            log: Arc::new(DeliveryLog::discard()),
            disabled: Mutex::new(HashMap::new()),
            dead: Mutex::new(Vec::new()),
            on_report: None,
            id_seed: AtomicU64::new(RandomState::new().hash_one(1u64)),
            keep_dead_letters: true,
            query_secrets: Vec::new(),
        }
    }

    /// Take OAuth, the platform token and the secrets to redact from a configuration;
    /// `run_as_user` is the strategy's, the platform token's subject. `tokens` is the
    /// process's token cache.
    pub fn configure(
        mut self,
        config: &Configuration,
        run_as_user: &str,
        tokens: Arc<TokenCache>,
    ) -> Deliverer {
        self.tokens = tokens;
        self.oauth = TokenKey::of(config);
        self.query_secrets = config
            .query
            .iter()
            .filter(|f| crate::delivery::log::looks_secret(&f.key))
            .filter_map(|f| match &f.value {
                FieldValue::Text(v) => Some((f.key.clone(), v.clone())),
                FieldValue::Expression(_) => None,
            })
            .collect();
        for (_, v) in &self.query_secrets {
            self.log.redactor().add(v);
        }
        if let Some(s) = &config.oauth.client_secret {
            self.log.redactor().add(s);
            // The HTTP Basic credential the token request carries (RFC 6749 section
            // 2.3.1: id and secret form-encoded, joined by a colon, base64): a token
            // endpoint may echo it back in its error.
            if let Some(id) = &config.oauth.client_id {
                use base64::Engine as _;
                let pair = format!(
                    "{}:{}",
                    crate::delivery::log::form_encode(id),
                    crate::delivery::log::form_encode(s)
                );
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                self.log.redactor().add(&basic);
            }
        }
        for s in &config.signing_secrets {
            self.log.redactor().add(s);
            if let Some(b64) = s.strip_prefix("whsec_") {
                self.log.redactor().add(b64);
            }
        }
        if config.include_platform_token {
            self.platform_user = Some(run_as_user.to_string());
        }
        self
    }

    /// Sign platform tokens with these keys (`serve` and `send`: the key file's; the demo
    /// and tests: a key in memory). Without them, a configuration that includes the
    /// platform token renders, but no attempt of it is sent.
    pub fn platform_keys(mut self, keys: Arc<PlatformKeys>) -> Deliverer {
        self.platform_keys = Some(keys);
        self
    }

    /// Use OAuth with this key and cache.
    pub fn oauth(mut self, key: TokenKey, tokens: Arc<TokenCache>) -> Deliverer {
        self.oauth = Some(key);
        self.tokens = tokens;
        self
    }

    /// Use this retry schedule.
    pub fn policy(mut self, policy: RetryPolicy) -> Deliverer {
        self.policy = policy;
        self
    }

    /// Take a configuration's `delivery` settings: its retry schedule and maximum age
    /// over the engine's (what it leaves out stays as it was), and its endpoint's limits.
    pub fn settings(mut self, s: &DeliveryJson) -> Deliverer {
        if let Some(r) = &s.retry {
            let keep = (self.policy.max_age, self.policy.retry_after_cap);
            self.policy = match (&r.delays, &r.exponential) {
                (Some(d), _) => RetryPolicy::delays(&d.iter().map(|w| w.0).collect::<Vec<_>>()),
                (None, Some(e)) => RetryPolicy::exponential(e.base.0, e.cap.0, e.attempts),
                (None, None) => self.policy.clone(),
            };
            (self.policy.max_age, self.policy.retry_after_cap) = keep;
        }
        if let Some(a) = s.max_age {
            self.policy.max_age = Some(a.0);
        }
        let d = EndpointLimits::default();
        let b = s.breaker.clone().unwrap_or_default();
        self.limits = EndpointLimits {
            concurrency: s.concurrency.map(|n| n as usize).or(d.concurrency),
            rate_per_second: s.rate_per_second,
            breaker: BreakerSettings {
                failures: b.failures.unwrap_or(d.breaker.failures),
                probe_after: b.probe_after.map_or(d.breaker.probe_after, |w| w.0),
            },
        };
        self
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The limits of the endpoint this engine sends to.
    pub fn endpoint_limits(&self) -> &EndpointLimits {
        &self.limits
    }

    /// Use this jitter (tests pass a fixed one).
    pub fn jitter(mut self, jitter: Jitter) -> Deliverer {
        self.jitter = jitter;
        self
    }

    /// Deliver this many requests at once (at least one).
    pub fn concurrency(mut self, n: usize) -> Deliverer {
        self.concurrency = n.max(1);
        self
    }

    /// Write the delivery log here. Secrets already registered are carried over.
    pub fn log(mut self, log: Arc<DeliveryLog>) -> Deliverer {
        let old = std::mem::replace(&mut self.log, log);
        old.redactor().copy_into(self.log.redactor());
        self
    }

    /// Do not keep dead letters in memory: the caller stores them (the outbox), and a
    /// long-running host must not grow with every failure.
    pub fn without_dead_letter_list(mut self) -> Deliverer {
        self.keep_dead_letters = false;
        self
    }

    /// Call `f` for each finished delivery.
    pub fn on_report(mut self, f: OnReport) -> Deliverer {
        self.on_report = Some(f);
        self
    }

    /// The delivery log.
    pub fn delivery_log(&self) -> &Arc<DeliveryLog> {
        &self.log
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The context for a render whose requests go to the outbox: the time, a fresh id
    /// seed, with OAuth [`TOKEN_PLACEHOLDER`] as the access token and with the platform
    /// token its placeholder ([`platform_token::placeholder`]): [`Deliverer::attempt`] puts
    /// the current access token and a freshly minted platform token into each attempt, so
    /// the outbox never stores either, a token server that is down does not stop intake,
    /// and no attempt carries an expired platform token.
    pub fn outbox_context(&self) -> RenderContext {
        let now = self.clock.now();
        let (access_token, platform_token) = self.outbox_tokens(now);
        RenderContext {
            now,
            access_token,
            platform_token,
            id_seed: self.id_seed.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The tokens of [`Deliverer::outbox_context`] at `now`.
    pub fn outbox_tokens(
        &self,
        now: crate::contract::bindings::Instant,
    ) -> (Option<String>, Option<String>) {
        let access = self.oauth.as_ref().map(|_| TOKEN_PLACEHOLDER.to_string());
        (access, self.platform_placeholder(now))
    }

    /// The platform token's placeholder, as long as a token minted at `now` for the run-as
    /// user, when the configuration includes the token.
    fn platform_placeholder(&self, now: crate::contract::bindings::Instant) -> Option<String> {
        let user = self.platform_user.as_ref()?;
        let len = self
            .platform_keys
            .as_ref()
            .and_then(|k| platform_token::mint(k, user, now).ok())
            .map_or(0, |t| t.len());
        Some(platform_token::placeholder(len))
    }

    /// `request` with a platform token minted at `now` in place of its placeholder, and
    /// the token; `None` when it holds no placeholder.
    fn with_platform_token(
        &self,
        request: &HttpRequest,
        now: crate::contract::bindings::Instant,
    ) -> Result<Option<(HttpRequest, Secret)>, String> {
        let Some(user) = &self.platform_user else {
            return Ok(None);
        };
        if !platform_token::holds_placeholder(&request.body) {
            return Ok(None);
        }
        let keys = self.platform_keys.as_ref().ok_or(
            "the configuration includes the platform token, but this host has no platform key to sign it with",
        )?;
        let token = platform_token::mint(keys, user, now)?;
        let Some(body) = platform_token::fill(&request.body, &token) else {
            return Ok(None);
        };
        let filled = HttpRequest {
            body,
            ..request.clone()
        };
        Ok(Some((filled, Secret::new(token))))
    }

    /// The token cache.
    pub fn token_cache(&self) -> &Arc<TokenCache> {
        &self.tokens
    }

    /// Deliveries dead-lettered so far.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Endpoints disabled so far, with why.
    pub fn disabled_endpoints(&self) -> HashMap<String, String> {
        self.disabled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn token(&self, stale: Option<&Secret>) -> Result<Option<Secret>, TokenError> {
        let Some(key) = &self.oauth else {
            return Ok(None);
        };
        let t = self
            .tokens
            .get(
                key,
                stale,
                self.plugin.as_ref(),
                self.transport.as_ref(),
                self.clock.as_ref(),
            )
            .await
            .map_err(|e| self.redacted(e))?;
        self.log.redactor().add(t.expose());
        Ok(Some(t))
    }

    /// The token error with every known secret replaced: a token endpoint may echo the
    /// credentials it got (the client secret, the Basic credential) into its
    /// `error_description`, and this error reaches the operator's terminal, the API and
    /// the outbox, not only the log.
    fn redacted(&self, e: TokenError) -> TokenError {
        let r = self.log.redactor();
        match e {
            TokenError::Oauth {
                status,
                error,
                description,
            } => TokenError::Oauth {
                status,
                error: r.apply(&error),
                description: description.map(|d| r.apply(&d)),
            },
            TokenError::Host(m) => TokenError::Host(r.apply(&m)),
            // A transport failure names the token URL (already without its query) and
            // the I/O error, never a response body.
            send @ TokenError::Send(_) => send,
        }
    }

    /// The context for a render now: the time, the OAuth token (fetched or cached), the
    /// platform token's placeholder (each attempt mints the token), a fresh id seed.
    pub async fn context(&self) -> Result<RenderContext, DeliverError> {
        let access_token = self.token(None).await.map_err(DeliverError::Token)?;
        let now = self.clock.now();
        let platform_token = self.platform_placeholder(now);
        Ok(RenderContext {
            now,
            access_token: access_token.map(|t| t.expose().to_string()),
            platform_token,
            id_seed: self.id_seed.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Render record changes through the component and deliver every request.
    pub async fn on_changes(
        self: &Arc<Self>,
        changes: &[RecordChange],
    ) -> Result<Vec<DeliveryReport>, DeliverError> {
        let context = self.context().await?;
        let requests = self
            .plugin
            .on_changes(changes, &context)
            .map_err(DeliverError::Render)?;
        Ok(self.deliver_all(requests).await)
    }

    /// Deliver requests, up to the concurrency at once; reports in request order.
    ///
    /// `concurrency` long-lived tasks take requests from one queue: no task per request
    /// and no round trip through the caller between deliveries.
    pub async fn deliver_all(self: &Arc<Self>, requests: Vec<HttpRequest>) -> Vec<DeliveryReport> {
        let n = requests.len();
        let queue = Arc::new(Mutex::new(requests.into_iter().enumerate()));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..self.concurrency.min(n) {
            let me = self.clone();
            let queue = queue.clone();
            set.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((i, request)) = next else {
                        break;
                    };
                    done.push((i, me.deliver(request).await));
                }
                done
            });
        }
        let mut out: Vec<Option<DeliveryReport>> = vec![None; n];
        while let Some(done) = set.join_next().await {
            for (i, r) in done.into_iter().flatten() {
                out[i] = Some(r);
            }
        }
        out.into_iter().flatten().collect()
    }

    /// Finish a delivery: keep it as a dead letter if it is one (unless the owner keeps
    /// its own), tell the report callback.
    pub fn finish(&self, report: DeliveryReport, request: &HttpRequest) -> DeliveryReport {
        if self.keep_dead_letters
            && matches!(
                report.outcome,
                Outcome::DeadLettered(_) | Outcome::EndpointDisabled(_)
            )
        {
            self.dead
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(DeadLetter {
                    report: report.clone(),
                    request: request.clone(),
                });
        }
        if let Some(f) = &self.on_report {
            f(&report);
        }
        report
    }

    /// Deliver one request: attempts, retries, dead letter.
    pub async fn deliver(&self, request: HttpRequest) -> DeliveryReport {
        let mut d = self.begin(request, 0, None);
        loop {
            match self.attempt(&mut d).await {
                Step::Finished => return self.finish(d.report, &d.request),
                Step::Retry(wait) => self.clock.sleep(wait).await,
            }
        }
    }

    /// Start (or, with the counts a store kept, resume) the delivery of `request`:
    /// `attempts` already made, and the attempt budget then (`None`: the policy's). It
    /// was written now; a store that kept the time sets [`Delivery::written`].
    pub fn begin(&self, request: HttpRequest, attempts: u32, budget: Option<u32>) -> Delivery {
        let uses_oauth = self.oauth.is_some() && header_index(&request, "authorization").is_some();
        let max = self.policy.max_attempts.max(1);
        Delivery {
            report: DeliveryReport {
                delivery_id: request.delivery_id.clone(),
                url: redact_url(&request.url),
                records: request.member_codes.len(),
                attempts,
                outcome: Outcome::Delivered,
                last_response: None,
            },
            endpoint: endpoint_of(&request.url),
            // Moved, not copied: a batch request can be large. A dead letter keeps it as
            // last sent (its headers may hold a token, which `DeadLetter` never prints).
            request,
            budget: budget.unwrap_or(max).clamp(1, max + 1),
            policy_budget: max,
            last_error: None,
            written: self.clock.now(),
            health: None,
            last_attempt: None,
            token: None,
            uses_oauth,
        }
    }

    /// Make one attempt (two when a 401 made the engine fetch a new token) and say what
    /// is next: [`Step::Finished`] with the outcome in `d.report`, or [`Step::Retry`].
    /// [`Deliverer::deliver`] loops this with sleeps; the outbox persists between steps.
    pub async fn attempt(&self, d: &mut Delivery) -> Step {
        let disabled = self
            .disabled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&d.endpoint)
            .cloned();
        if let Some(why) = disabled {
            let why = format!("not attempted: the endpoint is disabled ({why})");
            self.log_line(
                &d.report,
                d.report.attempts,
                None,
                None,
                "skipped",
                None,
                Some(&why),
            );
            d.report.outcome = Outcome::Skipped(why);
            return Step::Finished;
        }
        loop {
            if d.report.attempts >= d.budget {
                let why = format!("attempts exhausted after {}", d.report.attempts);
                d.report.outcome = Outcome::DeadLettered(why);
                return Step::Finished;
            }
            d.report.attempts += 1;
            let started = self.clock.now();
            let (met, latency) = self.try_once(d).await;
            d.health = health_of(&met);
            d.last_attempt = Some((started, latency));
            let now = self.clock.now();
            let decision = decide(
                &met,
                d.report.attempts,
                d.budget,
                &self.policy,
                now,
                since(now, d.written),
                &*self.jitter,
            );
            if let Some(step) = self.carry_out(d, &met, decision, latency).await {
                return step;
            }
        }
    }

    /// One attempt: the token, the signature, the request, the verdict; what it met.
    async fn try_once(&self, d: &mut Delivery) -> (Met, Option<Duration>) {
        restore_query_secrets(&mut d.request.url, &self.query_secrets);
        // The token may have expired since the render or the last attempt.
        if d.uses_oauth {
            match self.token(None).await {
                Ok(Some(t)) => {
                    set_bearer(&mut d.request, &t);
                    d.token = Some(t);
                }
                Ok(None) => {}
                Err(e) => {
                    let met = Met::NoToken {
                        retryable: e.retryable(),
                        message: e.to_string(),
                    };
                    return (met, None);
                }
            }
        }
        let now = self.clock.now();
        // A platform token minted for this attempt: the body changes, so it is re-signed.
        let platform = match self.with_platform_token(&d.request, now) {
            Ok(p) => p,
            Err(e) => return (Met::SigningFailed(e), None),
        };
        let (request, minted) = match &platform {
            Some((filled, token)) => (filled, Some(token)),
            None => (&d.request, None),
        };
        let fresh =
            d.report.attempts == 1 && minted.is_none() && signature_is_fresh(request, now.seconds);
        let resigned;
        let signed = if fresh {
            request
        } else {
            match self.plugin.sign(request, now) {
                Ok(s) => {
                    resigned = s;
                    &resigned
                }
                Err(e) => return (Met::SigningFailed(e.to_string()), None),
            }
        };
        let started = std::time::Instant::now();
        let result = self.transport.send(signed).await;
        let latency = Some(started.elapsed());
        let mut response = match result {
            Ok(r) => r,
            Err(e) => {
                let met = Met::NotSent {
                    retryable: e.retryable(),
                    no_response: matches!(e, SendError::Timeout(_) | SendError::Connect(_)),
                    message: e.to_string(),
                };
                return (met, latency);
            }
        };
        if let Some(token) = minted {
            // A receiver may echo the token; it is not in the redactor, which would grow by one
            // token an attempt.
            response.body = redact_bytes(&response.body, token.expose());
        }
        let status = response.status;
        d.report.last_response = Some(response);
        if status == 401 && d.uses_oauth && !d.refreshed() {
            return (Met::Unauthorized, latency);
        }
        let response = d.report.last_response.as_ref();
        let met = match self.plugin.classify(
            status,
            response.map_or(&[][..], |r| &r.headers),
            self.clock.now(),
        ) {
            Ok(verdict) => Met::Answered { status, verdict },
            Err(e) => Met::Unclassified(e.to_string()),
        };
        (met, latency)
    }

    /// Do what was decided: log it, record the outcome, and say the step (`None`: attempt
    /// again at once, with a new token).
    async fn carry_out(
        &self,
        d: &mut Delivery,
        met: &Met,
        decision: Decision,
        latency: Option<Duration>,
    ) -> Option<Step> {
        let attempt = d.report.attempts;
        match decision {
            Decision::Delivered => {
                let response = d.report.last_response.as_ref();
                self.log_line(
                    &d.report,
                    attempt,
                    response,
                    latency,
                    "delivered",
                    None,
                    None,
                );
                d.report.outcome = Outcome::Delivered;
                Some(Step::Finished)
            }
            Decision::RefreshToken => {
                d.budget += 1;
                let stale = d.token.clone();
                self.log_line(
                    &d.report,
                    attempt,
                    d.report.last_response.as_ref(),
                    latency,
                    "token-refresh",
                    Some(Duration::ZERO),
                    Some("401: fetching a new token and trying again"),
                );
                match self.token(stale.as_ref()).await {
                    Ok(_) => None,
                    Err(e) => {
                        let msg = format!("401, and no new token: {e}");
                        Some(self.dead_letter(d, false, None, msg))
                    }
                }
            }
            Decision::RetryAt(at, why) => {
                let wait = since(at, self.clock.now());
                // A response is its own reason; a failure without one says why.
                let answered = matches!(met, Met::Answered { .. });
                let response = d.report.last_response.as_ref().filter(|_| answered);
                let note = if answered { None } else { why.as_deref() };
                self.log_line(
                    &d.report,
                    attempt,
                    response,
                    latency,
                    "retry",
                    Some(wait),
                    note,
                );
                d.last_error = why;
                Some(Step::Retry(wait))
            }
            Decision::DeadLetter { why, with_response } => {
                Some(self.dead_letter(d, with_response, latency, why))
            }
            Decision::DisableEndpoint(status) => {
                let why = format!(
                    "HTTP {status} Gone from {} for delivery {}",
                    redact_url(&d.endpoint),
                    d.request.delivery_id
                );
                self.disable(&d.endpoint, &why);
                self.log_line(
                    &d.report,
                    attempt,
                    d.report.last_response.as_ref(),
                    latency,
                    "endpoint-disabled",
                    None,
                    Some(&why),
                );
                d.report.outcome = Outcome::EndpointDisabled(why);
                Some(Step::Finished)
            }
        }
    }

    /// Stop delivering to `endpoint` (see [`endpoint_of`]), saying why.
    pub fn disable(&self, endpoint: &str, why: &str) {
        self.disabled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(endpoint.to_string(), why.to_string());
    }

    /// Deliver to `endpoint` again; whether it was disabled.
    pub fn enable(&self, endpoint: &str) -> bool {
        self.disabled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(endpoint)
            .is_some()
    }

    /// Log the last attempt as a dead letter (with its response when `with_response`)
    /// and set the outcome to `why`.
    fn dead_letter(
        &self,
        d: &mut Delivery,
        with_response: bool,
        latency: Option<Duration>,
        why: String,
    ) -> Step {
        let response = d.report.last_response.as_ref().filter(|_| with_response);
        self.log_line(
            &d.report,
            d.report.attempts,
            response,
            latency,
            "dead-letter",
            None,
            Some(&why),
        );
        d.report.outcome = Outcome::DeadLettered(why);
        Step::Finished
    }

    #[allow(clippy::too_many_arguments)]
    fn log_line(
        &self,
        report: &DeliveryReport,
        attempt: u32,
        response: Option<&Response>,
        latency: Option<Duration>,
        outcome: &str,
        retry_in: Option<Duration>,
        error: Option<&str>,
    ) {
        let mut e = json!({
            "ts": crate::time::instant::rfc3339(self.clock.now()),
            "delivery-id": report.delivery_id,
            "attempt": attempt,
            "url": report.url,
            "records": report.records,
            "status": response.map(|r| r.status),
            "latency-ms": latency.map(|l| (l.as_secs_f64() * 1000.0 * 10.0).round() / 10.0),
            "outcome": outcome,
        });
        if let Some(w) = retry_in {
            e["retry-in-ms"] = json!(w.as_millis() as u64);
        }
        if let Some(m) = error {
            e["error"] = json!(m);
        }
        if let Some(r) = response
            && !r.body.is_empty()
        {
            e["response-body"] = json!(self.log.redactor().snippet(&r.body));
        }
        self.log.write(&e);
    }
}

/// The endpoint a URL names, for disabling: scheme, authority and path, without the
/// query (which may carry per-request values) or fragment.
pub fn endpoint_of(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].to_string()
}

/// Whether the request's Standard Webhooks headers (its signature, when it is signed)
/// were made at most [`FRESH_SIGNATURE_AGE`] before `now`.
fn signature_is_fresh(r: &HttpRequest, now: i64) -> bool {
    let Some(i) = header_index(r, "webhook-timestamp") else {
        return false;
    };
    r.headers[i]
        .value
        .parse::<i64>()
        .is_ok_and(|ts| (0..=FRESH_SIGNATURE_AGE.as_secs() as i64).contains(&(now - ts)))
}

fn header_index(r: &HttpRequest, name: &str) -> Option<usize> {
    r.headers
        .iter()
        .position(|h| h.name.eq_ignore_ascii_case(name))
}

impl Deliverer {
    /// `request` as the outbox keeps it: the values of the configuration's secret-looking
    /// query parameters replaced by [`QUERY_PLACEHOLDER`] (each attempt puts them back,
    /// from the configuration, as it puts the current access token in).
    pub fn stored_form(&self, request: &HttpRequest) -> HttpRequest {
        let mut r = request.clone();
        r.url = strip_query_secrets(&r.url, &self.query_secrets);
        r
    }
}

/// `url` with the values of the `secrets`' keys replaced by [`QUERY_PLACEHOLDER`].
fn strip_query_secrets(url: &str, secrets: &[(String, String)]) -> String {
    map_query(url, |key, value| {
        let secret = secrets.iter().any(|(k, _)| percent_encode(k) == key);
        if secret { QUERY_PLACEHOLDER } else { value }.to_string()
    })
}

/// Put the secret query values back where the outbox has [`QUERY_PLACEHOLDER`].
fn restore_query_secrets(url: &mut String, secrets: &[(String, String)]) {
    if secrets.is_empty() || !url.contains(QUERY_PLACEHOLDER) {
        return;
    }
    *url = map_query(url, |key, value| {
        let secret = secrets.iter().find(|(k, _)| percent_encode(k) == key);
        match secret {
            Some((_, v)) if value == QUERY_PLACEHOLDER => percent_encode(v),
            _ => value.to_string(),
        }
    });
}

/// `url` with each `key=value` of its query string passed through `f` (keys and values
/// as they are written, percent-encoded).
fn map_query(url: &str, f: impl Fn(&str, &str) -> String) -> String {
    let Some((base, rest)) = url.split_once('?') else {
        return url.to_string();
    };
    let (query, fragment) = match rest.split_once('#') {
        Some((q, frag)) => (q, Some(frag)),
        None => (rest, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => format!("{k}={}", f(k, v)),
            None => pair.to_string(),
        })
        .collect();
    let mut out = format!("{base}?{}", pairs.join("&"));
    if let Some(frag) = fragment {
        out.push('#');
        out.push_str(frag);
    }
    out
}

/// `body` with every occurrence of `token` replaced by the log's redaction mark.
fn redact_bytes(body: &[u8], token: &str) -> Vec<u8> {
    let needle = token.as_bytes();
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(needle) {
            out.extend_from_slice(crate::delivery::log::REDACTED.as_bytes());
            i += needle.len();
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

/// Put the token into the `Authorization: Bearer` header the component rendered.
fn set_bearer(r: &mut HttpRequest, token: &Secret) {
    let value = format!("Bearer {}", token.expose());
    match header_index(r, "authorization") {
        Some(i) => r.headers[i].value = value,
        None => r.headers.push(Header {
            name: "Authorization".into(),
            value,
        }),
    }
}

/// What an attempt showed of the endpoint: up when it answered with anything the
/// component does not retry, down without a response or with a status it retries.
fn health_of(met: &Met) -> Option<Health> {
    use crate::contract::bindings::Verdict;
    match met {
        Met::NotSent {
            retryable: true, ..
        } => Some(Health::Down),
        Met::Answered {
            verdict: Verdict::Retry(_),
            ..
        } => Some(Health::Down),
        Met::Answered { .. } | Met::Unauthorized | Met::Unclassified(_) => Some(Health::Up),
        // Refused here (the SSRF guard), or never sent: nothing about the endpoint.
        Met::NotSent { .. } | Met::NoToken { .. } | Met::SigningFailed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_query_values_stay_out_of_the_stored_form_and_come_back_at_each_attempt() {
        let secrets = vec![
            ("api_key".to_string(), "k/ey 123456".to_string()),
            ("token".to_string(), "t0k3n-abcdef".to_string()),
        ];
        let url = "https://hooks.example/in?src=mdm&api_key=k%2Fey%20123456&token=t0k3n-abcdef#x";
        let stored = strip_query_secrets(url, &secrets);
        assert!(
            !stored.contains("123456") && !stored.contains("t0k3n"),
            "{stored}"
        );
        assert!(stored.contains("src=mdm"), "{stored}");
        let mut back = stored.clone();
        restore_query_secrets(&mut back, &secrets);
        assert_eq!(back, url);
        // Without the secrets (another configuration), the placeholder stays: nothing is
        // sent that the configuration does not give.
        let mut other = stored.clone();
        restore_query_secrets(&mut other, &[]);
        assert_eq!(other, stored);
    }

    #[test]
    fn schedule_is_exponential_and_capped() {
        let p = RetryPolicy::default();
        let uppers: Vec<u64> = (1..MAX_ATTEMPTS).map(|n| p.upper(n).as_secs()).collect();
        assert_eq!(uppers, [2, 4, 8, 16, 32, 64, 120]);
        assert_eq!(p.upper(60), RETRY_CAP);
        assert_eq!(p.upper(u32::MAX), RETRY_CAP);
    }

    #[test]
    fn full_jitter_stays_within_bounds() {
        let j = full_jitter();
        let upper = Duration::from_millis(250);
        let picks: Vec<Duration> = (0..1000).map(|_| j(upper)).collect();
        assert!(picks.iter().all(|d| *d <= upper));
        assert!(picks.iter().any(|d| *d < upper / 4));
        assert!(picks.iter().any(|d| *d > upper * 3 / 4));
        assert_eq!(j(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn endpoints_ignore_the_query() {
        assert_eq!(
            endpoint_of("https://h.example/a?x=1#f"),
            "https://h.example/a"
        );
    }
}
