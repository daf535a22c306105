//! Embedded servers for the demo and the tests, on 127.0.0.1 only: a webhook receiver that
//! verifies Standard Webhooks signatures with its own implementation (not the
//! component's), and an OAuth 2.0 client-credentials token endpoint.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::net::TcpListener;

pub use crate::server::Reply;
use crate::server::{Handler, Server, ServerLimits, serve_on};

pub use crate::limits::TIMESTAMP_TOLERANCE;

pub use crate::limits::MAX_REQUEST_BODY;

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

async fn serve(handler: Handler) -> std::io::Result<Server> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    serve_on(listener, ServerLimits::with_body(MAX_REQUEST_BODY), handler)
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
    crate::server::unescape_with(s, true)
}

/// Percent-decoding with `+` as a space, forgiving: a stray `%` stays, bad UTF-8 is
/// replaced (the embedded servers read what a client meant).
fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&unescape(s).0).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::percent_decode_strict;

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
