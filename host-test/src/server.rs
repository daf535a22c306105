//! The HTTP/1.1 server under the run-time API and the reference servers: each request
//! read whole (within its limits) and handed to a handler, whose [`Reply`] is the answer.
//! Hostile or broken clients cannot take its memory, its descriptors or a core: header
//! and body timeouts, a cap on connections and on bytes buffered across all of them, and
//! back-off when `accept` fails, each a named limit in [`crate::limits`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

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

/// A running server; stops when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers one request: method, target, headers (lowercase names), body.
pub type Handler = Arc<
    dyn Fn(
            String,
            String,
            Vec<(String, String)>,
            Vec<u8>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>
        + Send
        + Sync,
>;

/// Looks at a request's head (method, target, headers) before its body is read: a
/// [`Reply`] answers the request at once, its body neither waited for nor buffered; none
/// lets it through to the handler. For a refusal that must cost the server nothing, such
/// as a request without credentials.
pub type Admit = Arc<dyn Fn(&str, &str, &[(String, String)]) -> Option<Reply> + Send + Sync>;

/// What one HTTP server allows its clients, so that hostile or broken ones cannot take
/// its memory, its descriptors or a core: each a named limit in [`crate::limits`].
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// The largest request body; a larger one is answered 413.
    pub max_body: usize,
    /// Time to send the request head, from the first byte; then the connection closes.
    pub header_timeout: Duration,
    /// Time to send the whole body, once the head is read; then a 408.
    pub body_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Body bytes held across all connections at once; a body waits for room.
    pub max_buffered: usize,
}

impl ServerLimits {
    /// The limits of [`crate::limits`], with this largest body.
    pub fn with_body(max_body: usize) -> ServerLimits {
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
pub fn serve_on(
    listener: TcpListener,
    limits: ServerLimits,
    handler: Handler,
) -> std::io::Result<Server> {
    serve_admitting(listener, limits, None, handler)
}

/// [`serve_on`], with `admit` looking at each request's head before its body is read.
pub fn serve_admitting(
    listener: TcpListener,
    limits: ServerLimits,
    admit: Option<Admit>,
    handler: Handler,
) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
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
            let admit = admit.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let handler = handler.clone();
                    let buffered = buffered.clone();
                    let admit = admit.clone();
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
                        let refused = admit.as_ref().and_then(|a| a(&method, &target, &headers));
                        let reply = match refused {
                            Some(r) => r,
                            None => {
                                let body = read_body(req, limits, &buffered).await;
                                match body {
                                    Ok(b) => handler(method, target, headers, b).await,
                                    Err(r) => r,
                                }
                            }
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

/// The whole body of `req`, read within `limits` once there is room for it among all
/// connections' bodies; else the `413` (too large) or `408` (too slow) answer.
async fn read_body(
    req: hyper::Request<Incoming>,
    limits: ServerLimits,
    buffered: &tokio::sync::Semaphore,
) -> Result<Vec<u8>, Reply> {
    let max_body = limits.max_body;
    // Room for the body among all connections' bodies, for as many bytes as it says it
    // has (the most, when it does not say).
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
    match read.await {
        Ok(Ok(b)) => Ok(b.to_bytes().to_vec()),
        Err(_) => Err(Reply::status(
            408,
            &serde_json::json!({
                "error": format!("the request body did not arrive within {} s", limits.body_timeout.as_secs()),
                "problems": [],
            })
            .to_string(),
        )
        .header("content-type", "application/json")
        .header("connection", "close")),
        Ok(Err(_)) => Err(Reply::status(
            413,
            &serde_json::json!({
                "error": format!("the request body is over the {max_body}-byte limit; send smaller batches"),
                "problems": [],
            })
            .to_string(),
        )
        .header("content-type", "application/json")),
    }
}

/// Percent-decoding; `+` is a space in form bodies (`plus_is_space`) and itself in URLs.
pub(crate) fn unescape_with(s: &str, plus_is_space: bool) -> (Vec<u8>, bool) {
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

/// Percent-decoding of a URL's path segment or query value (RFC 3986: `+` is itself),
/// exact: none when a `%` begins no escape or the result is not UTF-8 (the API refuses
/// what it cannot read exactly).
pub fn percent_decode_strict(s: &str) -> Option<String> {
    let (bytes, valid) = unescape_with(s, false);
    valid.then(|| String::from_utf8(bytes).ok()).flatten()
}
