//! The host's HTTP client: sends a rendered [`HttpRequest`] exactly as the component wrote
//! it and reads the response.
//!
//! HTTP/1.1 over hyper with a connection pool, rustls (ring) with the webpki roots, a
//! per-request timeout, no redirect following (a 3xx is a response like any other, for the
//! component to classify), HTTPS only unless plain HTTP is allowed, and the SSRF
//! `Guard` (`crate::delivery::ssrf`) on every connection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::contract::bindings::{Header, HttpMethod, HttpRequest};
use crate::delivery::ssrf::{Guard, GuardedResolver, Refused, find_refusal};

pub use crate::limits::DEFAULT_TIMEOUT;

pub use crate::limits::MAX_RESPONSE_BODY;

pub use crate::limits::POOL_IDLE_TIMEOUT;

/// How the client behaves.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Allow `http://` URLs (loopback tests); otherwise only `https://`.
    pub allow_http: bool,
    /// Hosts the SSRF guard lets through although they resolve to forbidden addresses.
    pub allow_hosts: Vec<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: DEFAULT_TIMEOUT,
            allow_http: false,
            allow_hosts: Vec::new(),
        }
    }
}

/// A response, as far as the host keeps it.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, in order (values that are not UTF-8 are kept lossily).
    pub headers: Vec<Header>,
    /// The body, at most [`MAX_RESPONSE_BODY`] bytes.
    pub body: Vec<u8>,
    /// Whether the body was longer and was cut.
    pub truncated: bool,
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The URL is `http://` and plain HTTP is not allowed.
    InsecureScheme(String),
    /// The URL or a header cannot be sent (the text says which).
    InvalidRequest(String),
    /// The SSRF guard refused the destination.
    Refused(Refused),
    /// No response within the timeout.
    Timeout(Duration),
    /// The connection failed or broke (DNS, TCP, TLS, protocol).
    Connect(String),
}

impl SendError {
    /// Whether trying again later may help: refusals and malformed requests never do.
    pub fn retryable(&self) -> bool {
        matches!(self, SendError::Timeout(_) | SendError::Connect(_))
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::InsecureScheme(host) => write!(
                f,
                "refused: http:// to {host} is not encrypted; use https:// (or --allow-http for loopback tests)"
            ),
            SendError::InvalidRequest(m) => write!(f, "the request cannot be sent: {m}"),
            SendError::Refused(r) => write!(f, "{r}"),
            SendError::Timeout(d) => write!(f, "no response within {} ms", d.as_millis()),
            SendError::Connect(m) => write!(f, "connection failed: {m}"),
        }
    }
}

impl std::error::Error for SendError {}

pub use crate::time::clock::BoxFuture;

/// Something that sends requests: the real [`HttpClient`], or a test double.
pub trait Transport: Send + Sync {
    /// Send one request and read its response.
    fn send<'a>(&'a self, request: &'a HttpRequest) -> BoxFuture<'a, Result<Response, SendError>>;
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>;

/// The HTTP client.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
    options: Arc<ClientOptions>,
    guard: Arc<Guard>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with these options. Must be called inside a Tokio runtime.
    pub fn new(options: ClientOptions) -> HttpClient {
        let guard = Arc::new(Guard::new(options.allow_hosts.iter().cloned()));
        let mut http = HttpConnector::new_with_resolver(GuardedResolver::new(guard.clone()));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(options.timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .expect("ring supports the default TLS versions")
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(https);
        HttpClient {
            client,
            options: Arc::new(options),
            guard,
        }
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    fn build(&self, r: &HttpRequest) -> Result<hyper::Request<Full<Bytes>>, SendError> {
        let uri: hyper::Uri = r
            .url
            .parse()
            .map_err(|e| SendError::InvalidRequest(format!("the URL is not valid: {e}")))?;
        let host = uri
            .host()
            .ok_or_else(|| SendError::InvalidRequest("the URL has no host".into()))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if self.options.allow_http => {}
            Some("http") => return Err(SendError::InsecureScheme(host.to_string())),
            _ => {
                return Err(SendError::InvalidRequest(
                    "the URL must be http:// or https://".into(),
                ));
            }
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(SendError::InvalidRequest(
                "credentials in the URL are not sent; use OAuth or a header".into(),
            ));
        }
        self.guard.check_literal(host).map_err(SendError::Refused)?;
        let mut b = hyper::Request::builder()
            .method(match r.method {
                HttpMethod::Get => hyper::Method::GET,
                HttpMethod::Post => hyper::Method::POST,
            })
            .uri(uri);
        for h in &r.headers {
            b = b.header(h.name.as_str(), h.value.as_str());
        }
        // Never name a header in the error: its value may be a secret.
        b.body(Full::new(Bytes::copy_from_slice(&r.body)))
            .map_err(|_| SendError::InvalidRequest("a header name or value is not valid".into()))
    }

    async fn exchange(&self, req: hyper::Request<Full<Bytes>>) -> Result<Response, SendError> {
        let resp = self.client.request(req).await.map_err(|e| {
            if let Some(r) = find_refusal(&e) {
                return SendError::Refused(r.clone());
            }
            SendError::Connect(error_chain(&e))
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| Header {
                name: n.as_str().to_string(),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .collect();
        let mut body_stream = resp.into_body();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(frame) = body_stream.frame().await {
            let frame = frame.map_err(|e| SendError::Connect(error_chain(&e)))?;
            if let Ok(data) = frame.into_data() {
                let room = MAX_RESPONSE_BODY - body.len();
                if data.len() > room {
                    body.extend_from_slice(&data[..room]);
                    truncated = true;
                    // Stop reading: the connection is dropped rather than drained.
                    break;
                }
                body.extend_from_slice(&data);
            }
        }
        Ok(Response {
            status,
            headers,
            body,
            truncated,
        })
    }
}

impl Transport for HttpClient {
    fn send<'a>(&'a self, request: &'a HttpRequest) -> BoxFuture<'a, Result<Response, SendError>> {
        Box::pin(async move {
            let req = self.build(request)?;
            let timeout = self.options.timeout;
            match tokio::time::timeout(timeout, self.exchange(req)).await {
                Ok(r) => r,
                Err(_) => Err(SendError::Timeout(timeout)),
            }
        })
    }
}

/// An error and its sources on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    let mut depth = 0;
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    out
}
