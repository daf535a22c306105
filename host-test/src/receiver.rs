//! Embedded servers for the demo and the tests, on 127.0.0.1 only: a webhook receiver that
//! verifies Standard Webhooks signatures with its own implementation (not the
//! component's), and an OAuth 2.0 client-credentials token endpoint.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How far a signature's timestamp may be from the receiver's clock, as the Standard
/// Webhooks specification recommends: older is a replay, newer a forgery or a bad clock.
pub const TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The largest request body the embedded servers read: far above any batch the demo or
/// the tests send, and a bound on what a runaway client can make them hold.
pub const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

/// What a server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Wait this long before answering (timeouts, overlap in concurrency tests).
    pub delay: Duration,
}

impl Reply {
    /// A reply with a status and a text body.
    pub fn status(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answer after `d`.
    pub fn after(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

/// One request the receiver got.
#[derive(Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, in order (lowercase names).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The signature check: `Ok` when a `v1` signature matched a secret.
    pub verified: Result<(), String>,
    /// The bearer-token check, when the receiver checks tokens.
    pub authorized: Option<bool>,
    /// How many times this delivery id was seen, this one included.
    pub seen: usize,
}

impl fmt::Debug for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Received")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("delivery_id", &self.header("webhook-id"))
            .field("body_bytes", &self.body.len())
            .field("verified", &self.verified)
            .field("authorized", &self.authorized)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl Received {
    /// A header's value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Decides the reply to each request: `(request, nth time its delivery id is seen)`.
pub type Responder = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// Check a Standard Webhooks signature: HMAC-SHA256 over `id.timestamp.body` with the
/// base64-decoded `whsec_` secret, any `v1,<base64>` entry of `webhook-signature`
/// matching any secret. `now` (Unix seconds) with the tolerance, when given.
pub fn verify_signature(
    secrets: &[String],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: Option<i64>,
) -> Result<(), String> {
    let id = id.ok_or("no webhook-id header")?;
    let ts = timestamp.ok_or("no webhook-timestamp header")?;
    let sigs = signature.ok_or("no webhook-signature header")?;
    let t: i64 = ts
        .parse()
        .map_err(|_| "webhook-timestamp is not a number")?;
    if let Some(now) = now
        && (now - t).unsigned_abs() > TIMESTAMP_TOLERANCE.as_secs()
    {
        return Err(format!("the timestamp is {}s from now", now - t));
    }
    for secret in secrets {
        let key = secret
            .strip_prefix("whsec_")
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or("a receiver secret is not whsec_<base64>")?;
        for sig in sigs.split(' ') {
            let Some(b64) = sig.strip_prefix("v1,") else {
                continue;
            };
            let Ok(expected) = STANDARD.decode(b64) else {
                continue;
            };
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(ts.as_bytes());
            mac.update(b".");
            mac.update(body);
            if mac.verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
    }
    Err("no signature matches".into())
}

/// A running server; stops when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) type Handler = Arc<
    dyn Fn(
            String,
            String,
            Vec<(String, String)>,
            Vec<u8>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>
        + Send
        + Sync,
>;

async fn serve(handler: Handler) -> std::io::Result<Server> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    serve_on(listener, ServerLimits::with_body(MAX_REQUEST_BODY), handler)
}

/// What one HTTP server allows its clients, so that hostile or broken ones cannot take
/// its memory, its descriptors or a core: each a named limit in [`crate::limits`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ServerLimits {
    /// The largest request body; a larger one is answered 413.
    pub(crate) max_body: usize,
    /// Time to send the request head, from the first byte; then the connection closes.
    pub(crate) header_timeout: Duration,
    /// Time to send the whole body, once the head is read; then a 408.
    pub(crate) body_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub(crate) max_connections: usize,
    /// Body bytes held across all connections at once; a body waits for room.
    pub(crate) max_buffered: usize,
}

impl ServerLimits {
    /// The limits of [`crate::limits`], with this largest body.
    pub(crate) fn with_body(max_body: usize) -> ServerLimits {
        use crate::limits as l;
        ServerLimits {
            max_body,
            header_timeout: l::HTTP_HEADER_TIMEOUT,
            body_timeout: l::HTTP_BODY_TIMEOUT,
            max_connections: l::HTTP_MAX_CONNECTIONS,
            max_buffered: l::HTTP_MAX_BUFFERED_BYTES.max(max_body),
        }
    }
}

/// Serve HTTP/1.1 on `listener`: each request's method, target, headers and body (at
/// most `limits.max_body` bytes, else a 413) go to `handler`, whose [`Reply`] is the
/// answer. A failed `accept` (too many open files, say) backs off instead of spinning.
pub(crate) fn serve_on(
    listener: TcpListener,
    limits: ServerLimits,
    handler: Handler,
) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let max_body = limits.max_body;
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let buffered = Arc::new(tokio::sync::Semaphore::new(limits.max_buffered));
    let task = tokio::spawn(async move {
        let mut backoff = crate::limits::ACCEPT_BACKOFF_MIN;
        loop {
            let Ok(permit) = connections.clone().acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    backoff = crate::limits::ACCEPT_BACKOFF_MIN;
                    stream
                }
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(crate::limits::ACCEPT_BACKOFF_MAX);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let buffered = buffered.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let handler = handler.clone();
                    let buffered = buffered.clone();
                    async move {
                        let method = req.method().to_string();
                        let target = req
                            .uri()
                            .path_and_query()
                            .map_or("/".to_string(), |p| p.to_string());
                        let headers: Vec<(String, String)> = req
                            .headers()
                            .iter()
                            .map(|(n, v)| {
                                (
                                    n.as_str().to_string(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                )
                            })
                            .collect();
                        // Room for the body among all connections' bodies, for as many
                        // bytes as it says it has (the most, when it does not say).
                        let declared = req
                            .headers()
                            .get(hyper::header::CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                            .unwrap_or(max_body)
                            .min(max_body);
                        let room = u32::try_from(declared).unwrap_or(u32::MAX);
                        let _room = buffered.acquire_many(room).await;
                        let limited = http_body_util::Limited::new(req.into_body(), max_body);
                        let read = tokio::time::timeout(limits.body_timeout, limited.collect());
                        let reply = match read.await {
                            Ok(Ok(b)) => handler(method, target, headers, b.to_bytes().to_vec()).await,
                            Err(_) => Reply::status(
                                408,
                                &serde_json::json!({
                                    "error": format!("the request body did not arrive within {} s", limits.body_timeout.as_secs()),
                                    "problems": [],
                                })
                                .to_string(),
                            )
                            .header("content-type", "application/json")
                            .header("connection", "close"),
                            Ok(Err(_)) => Reply::status(
                                413,
                                &serde_json::json!({
                                    "error": format!("the request body is over the {max_body}-byte limit; send smaller batches"),
                                    "problems": [],
                                })
                                .to_string(),
                            )
                            .header("content-type", "application/json"),
                        };
                        if !reply.delay.is_zero() {
                            tokio::time::sleep(reply.delay).await;
                        }
                        let mut resp = hyper::Response::builder().status(reply.status);
                        for (n, v) in &reply.headers {
                            resp = resp.header(n, v);
                        }
                        Ok::<_, Infallible>(
                            resp.body(Full::new(Bytes::from(reply.body)))
                                .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Server { addr, task })
}

struct ReceiverState {
    secrets: Vec<String>,
    tolerance: bool,
    tokens: Option<Arc<TokenState>>,
    responder: Responder,
    received: Mutex<Vec<Received>>,
    seen: Mutex<HashMap<String, usize>>,
}

/// The webhook receiver.
pub struct Receiver {
    server: Server,
    state: Arc<ReceiverState>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.server.addr)
            .finish_non_exhaustive()
    }
}

/// How to build a [`Receiver`].
pub struct ReceiverBuilder {
    secrets: Vec<String>,
    tolerance: bool,
    tokens: Option<Arc<TokenState>>,
    responder: Responder,
}

impl ReceiverBuilder {
    /// Verify signatures with these `whsec_` secrets.
    pub fn secrets(mut self, secrets: Vec<String>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Check timestamps against the machine's clock (off for tests with a fake clock).
    pub fn check_timestamps(mut self, on: bool) -> Self {
        self.tolerance = on;
        self
    }

    /// Answer 401 unless the request carries a bearer token this endpoint issued and that
    /// is still valid.
    pub fn require_tokens_from(mut self, tokens: &TokenServer) -> Self {
        self.tokens = Some(tokens.state.clone());
        self
    }

    /// Decide replies with `f` (default: 200 for everything).
    pub fn respond(mut self, f: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        self.responder = Arc::new(f);
        self
    }

    /// Start on 127.0.0.1 with an ephemeral port.
    pub async fn start(self) -> std::io::Result<Receiver> {
        let state = Arc::new(ReceiverState {
            secrets: self.secrets,
            tolerance: self.tolerance,
            tokens: self.tokens,
            responder: self.responder,
            received: Mutex::new(Vec::new()),
            seen: Mutex::new(HashMap::new()),
        });
        let s = state.clone();
        let handler: Handler = Arc::new(move |method, target, headers, body| {
            let s = s.clone();
            Box::pin(async move { s.handle(method, target, headers, body) })
        });
        Ok(Receiver {
            server: serve(handler).await?,
            state,
        })
    }
}

impl ReceiverState {
    fn handle(
        &self,
        method: String,
        target: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Reply {
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let now = self.tolerance.then(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
        let verified = verify_signature(
            &self.secrets,
            get("webhook-id"),
            get("webhook-timestamp"),
            get("webhook-signature"),
            &body,
            now,
        );
        let authorized = self.tokens.as_ref().map(|t| {
            get("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|tok| t.is_valid(tok))
        });
        let id = get("webhook-id").unwrap_or_default().to_string();
        let seen = {
            let mut m = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(id).or_insert(0);
            *n += 1;
            *n
        };
        let received = Received {
            method,
            target,
            headers,
            body,
            verified,
            authorized,
            seen,
        };
        let reply = if authorized == Some(false) {
            Reply::status(401, r#"{"error":"invalid_token"}"#)
                .header("www-authenticate", "Bearer error=\"invalid_token\"")
        } else {
            (self.responder)(&received)
        };
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(received);
        reply
    }
}

impl Receiver {
    /// A builder: no secrets, timestamps checked, no token check, 200 for everything.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder {
            secrets: Vec::new(),
            tolerance: true,
            tokens: None,
            responder: Arc::new(|_| Reply::status(200, "ok")),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The token endpoint's state.
pub struct TokenState {
    client_id: String,
    client_secret: String,
    lifetime_secs: AtomicU64,
    delay: Mutex<Duration>,
    issued: Mutex<HashMap<String, std::time::Instant>>,
    fetches: AtomicUsize,
    counter: AtomicU64,
}

impl TokenState {
    fn is_valid(&self, token: &str) -> bool {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .is_some_and(|exp| std::time::Instant::now() < *exp)
    }

    fn handle(&self, method: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
        let json = |status: u16, v: serde_json::Value| {
            Reply::status(status, &v.to_string()).header("content-type", "application/json")
        };
        if method != "POST" {
            return json(405, serde_json::json!({"error": "invalid_request"}));
        }
        let form: HashMap<String, String> = form_decode(body);
        let basic = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(i, p)| (percent_decode(i), percent_decode(p)))
            });
        let (id, secret) = match basic {
            Some(pair) => pair,
            None => (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned().unwrap_or_default(),
            ),
        };
        if id != self.client_id || secret != self.client_secret {
            return json(401, serde_json::json!({"error": "invalid_client"}));
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return json(400, serde_json::json!({"error": "unsupported_grant_type"}));
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut random = [0u8; 16];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let token = format!("tok-{n:04}-{hex}");
        let life = self.lifetime_secs.load(Ordering::Relaxed);
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                token.clone(),
                std::time::Instant::now() + Duration::from_secs(life),
            );
        let mut v = serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": life,
        });
        if let Some(scope) = form.get("scope") {
            v["scope"] = serde_json::json!(scope);
        }
        json(200, v).after(*self.delay.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The OAuth token endpoint (client-credentials grant, HTTP Basic or body client auth).
pub struct TokenServer {
    server: Server,
    state: Arc<TokenState>,
}

impl fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenServer")
            .field("addr", &self.server.addr)
            .finish_non_exhaustive()
    }
}

impl TokenServer {
    /// Start on 127.0.0.1 with an ephemeral port, accepting this client; tokens live
    /// `lifetime`.
    pub async fn start(
        client_id: &str,
        client_secret: &str,
        lifetime: Duration,
    ) -> std::io::Result<TokenServer> {
        let state = Arc::new(TokenState {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            lifetime_secs: AtomicU64::new(lifetime.as_secs()),
            delay: Mutex::new(Duration::ZERO),
            issued: Mutex::new(HashMap::new()),
            fetches: AtomicUsize::new(0),
            counter: AtomicU64::new(1),
        });
        let s = state.clone();
        let handler: Handler = Arc::new(move |method, _target, headers, body| {
            let s = s.clone();
            Box::pin(async move { s.handle(&method, &headers, &body) })
        });
        Ok(TokenServer {
            server: serve(handler).await?,
            state,
        })
    }

    /// `http://127.0.0.1:PORT/oauth2/token`.
    pub fn url(&self) -> String {
        format!("http://{}/oauth2/token", self.server.addr)
    }

    /// Tokens issued.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::Relaxed)
    }

    /// Answer token requests after `d` (to make concurrent requests overlap).
    pub fn set_delay(&self, d: Duration) {
        *self.state.delay.lock().unwrap_or_else(|p| p.into_inner()) = d;
    }

    /// Forget every issued token: the receiver answers 401 to them from now on.
    pub fn revoke_all(&self) {
        self.state
            .issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// `application/x-www-form-urlencoded` to a map.
fn form_decode(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Percent-decode `s` with `+` as a space; also whether every `%` began a valid escape
/// (those that did not are kept as they are).
fn unescape(s: &str) -> (Vec<u8>, bool) {
    unescape_with(s, true)
}

/// Percent-decoding; `+` is a space in form bodies (`plus_is_space`) and itself in URLs.
fn unescape_with(s: &str, plus_is_space: bool) -> (Vec<u8>, bool) {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut valid = true;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => {
                        valid = false;
                        out.push(b'%');
                    }
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    (out, valid)
}

/// Percent-decoding with `+` as a space, forgiving: a stray `%` stays, bad UTF-8 is
/// replaced (the embedded servers read what a client meant).
fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&unescape(s).0).into_owned()
}

/// Percent-decoding of a URL's path segment or query value (RFC 3986: `+` is itself),
/// exact: none when a `%` begins no escape or the result is not UTF-8 (the API refuses
/// what it cannot read exactly).
pub(crate) fn percent_decode_strict(s: &str) -> Option<String> {
    let (bytes, valid) = unescape_with(s, false);
    valid.then(|| String::from_utf8(bytes).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%3A"), "a b c:");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        // In a URL, `+` is a plus; in a form body, a space.
        assert_eq!(
            percent_decode_strict("a%20b+c%3A").as_deref(),
            Some("a b+c:")
        );
        assert_eq!(percent_decode_strict("C%2B%2B+x").as_deref(), Some("C+++x"));
        assert_eq!(percent_decode_strict("100%"), None);
        assert_eq!(percent_decode_strict("%zz"), None);
        assert_eq!(percent_decode_strict("%ff"), None);
        let f = form_decode(b"grant_type=client_credentials&scope=customers.write+x");
        assert_eq!(f["scope"], "customers.write x");
    }

    #[test]
    fn signature_check_matches_the_specification_example() {
        // The Standard Webhooks specification's worked example.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
        let body = br#"{"test": 2432232314}"#;
        let ok = verify_signature(
            std::slice::from_ref(&secret),
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            Some("1614265330"),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            body,
            None,
        );
        assert_eq!(ok, Ok(()));
        let bad = verify_signature(
            &[secret],
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            Some("1614265330"),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            b"tampered",
            Some(1614265330 + TIMESTAMP_TOLERANCE.as_secs() as i64 + 1),
        );
        assert!(bad.unwrap_err().contains("from now"));
    }

    fn ok_handler() -> Handler {
        Arc::new(|_, _, _, body| {
            Box::pin(async move { Reply::status(200, &format!("{} bytes", body.len())) })
        })
    }

    fn short(max_connections: usize) -> ServerLimits {
        ServerLimits {
            max_body: 1024,
            header_timeout: Duration::from_millis(300),
            body_timeout: Duration::from_millis(300),
            max_connections,
            max_buffered: 4096,
        }
    }

    async fn start(limits: ServerLimits) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        serve_on(listener, limits, ok_handler()).unwrap()
    }

    /// Send `request` on a fresh connection and read until the server closes it (or
    /// `wait` passes): what came back.
    async fn exchange(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_sends_nothing_is_closed_after_the_header_timeout() {
        use tokio::io::AsyncReadExt;
        let server = start(short(4)).await;
        let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let t = std::time::Instant::now();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
            .await
            .expect("the server closed the idle connection")
            .unwrap_or(0);
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
        let _ = n;
        // A client that sends its request in time is served (the limit obeyed).
        let answer = exchange(
            server.addr,
            b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trickled_body_is_answered_408_and_a_prompt_one_is_read() {
        let server = start(short(4)).await;
        let slow = exchange(
            server.addr,
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly part",
            Duration::from_secs(5),
        )
        .await;
        assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
        let prompt = exchange(
            server.addr,
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello",
            Duration::from_secs(5),
        )
        .await;
        assert!(prompt.contains("5 bytes"), "{prompt}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_past_the_cap_wait_until_one_closes() {
        let server = start(short(1)).await;
        // The one connection the server serves is held open by a client that is slow to
        // send its head; a second client waits in the backlog meanwhile.
        let holder = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let t = std::time::Instant::now();
        let second = exchange(
            server.addr,
            b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert!(second.starts_with("HTTP/1.1 200"), "{second}");
        // It was answered only once the holder's connection was closed by its timeout.
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
        drop(holder);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bodies_wait_for_room_among_all_connections_bodies() {
        use tokio::io::AsyncWriteExt;
        let server = start(ServerLimits {
            max_buffered: 1024,
            ..short(4)
        })
        .await;
        // One client declares the largest body and trickles it: it holds all the room.
        let mut hog = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        hog.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1024\r\n\r\nx")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = std::time::Instant::now();
        let other = exchange(
            server.addr,
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello",
            Duration::from_secs(5),
        )
        .await;
        assert!(other.contains("5 bytes"), "{other}");
        // Read only once the hog's body timed out and gave its room back.
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        drop(hog);
    }
}
