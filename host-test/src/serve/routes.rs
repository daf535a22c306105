//! The API's routes on axum's router: each method and path to its answer in [`Service`],
//! and the JSON `404` and `405` answers (with `Allow`) the API has always given; and the
//! bearer-token check in front of every route but the public ones
//! ([`auth::PUBLIC_ROUTES`]), made on the request's head ([`admit`]).
//!
//! `crate::server` still serves the connections, with its limits (connections, bytes
//! buffered, header and body timeouts, the `413` past [`MAX_API_BODY`]), and reads each
//! admitted request whole; [`handler`] hands it to the router. Path segments are decoded here, as
//! exactly as before ([`percent_decode_strict`]: a `%` that begins no escape is a `400`,
//! where axum's own decoding would keep it), and leading and trailing slashes are
//! ignored, as they always were.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use http_body_util::BodyExt;
use tower_service::Service as _;

use crate::limits::MAX_API_BODY;
use crate::server::{Admit, Handler, Reply, percent_decode_strict};

use super::api::{Service, error};
use super::auth::{self, ApiTokens};

type Shared = Arc<Service>;

/// Every route, as the 404 answer lists them.
const ROUTES: &str = "POST /changes, POST /strategies/{name}/batch, POST /strategies/{name}/immediate, GET /strategies, GET|PUT|DELETE /strategies/{name}, GET /configurations, GET|PUT|DELETE /configurations/{name}, GET /deliveries, GET /deliveries/{id}, GET /deliveries/{id}/attempts, GET /deliveries/{id}/request, POST /deliveries/{id}/replay, POST /deliveries/replay, GET /endpoints, GET /.well-known/jwks.json, GET /health, GET /metrics";

/// The API's router over `service`.
pub(super) fn router(service: Shared) -> Router {
    let one_definition = || {
        only(
            &["GET", "PUT", "DELETE"],
            get(definition).put(definition).delete(definition),
        )
    };
    Router::new()
        .route("/changes", only(&["POST"], post(changes)))
        .route("/strategies/{name}/batch", only(&["POST"], post(batch)))
        .route(
            "/strategies/{name}/immediate",
            only(&["POST"], post(immediate)),
        )
        .route("/strategies", only(&["GET"], get(strategies)))
        .route("/strategies/{name}", one_definition())
        .route("/configurations", only(&["GET"], get(configurations)))
        .route("/configurations/{name}", one_definition())
        .route("/deliveries", only(&["GET"], get(deliveries)))
        .route("/deliveries/{id}", only(&["GET"], get(delivery)))
        // A literal segment goes before `{id}`: `GET /deliveries/replay` still asks for
        // the delivery of that id, as the hand-written router did.
        .route(
            "/deliveries/replay",
            only(&["GET", "POST"], get(delivery).post(replay_dead)),
        )
        .route("/deliveries/{id}/replay", only(&["POST"], post(replay)))
        .route("/deliveries/{id}/attempts", only(&["GET"], get(attempts)))
        .route("/deliveries/{id}/request", only(&["GET"], get(request_of)))
        .route("/endpoints", only(&["GET"], get(endpoints)))
        .route("/.well-known/jwks.json", only(&["GET"], get(jwks)))
        .route("/health", only(&["GET"], get(health)))
        .route("/metrics", only(&["GET"], get(metrics)))
        .fallback(no_route)
        // The server has read the body within this limit already; axum's own default
        // (2 MB) would refuse what the API takes.
        .layer(DefaultBodyLimit::max(MAX_API_BODY))
        .with_state(service)
}

/// `route`, answering any other method (`HEAD` too, which axum would otherwise give
/// to `GET`) with the API's `405`, naming `allowed`.
fn only(allowed: &'static [&'static str], route: MethodRouter<Shared>) -> MethodRouter<Shared> {
    let refuse = move |method: Method, uri: Uri| async move {
        let words = match allowed {
            [one] => one.to_string(),
            [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
            [] => String::new(),
        };
        error(
            405,
            &format!("{} takes {words}, not {method}", uri.path()),
            Vec::new(),
        )
        .header("allow", &allowed.join(", "))
    };
    route.head(refuse).fallback(refuse)
}

/// Segment `i` of the path, as sent (percent-encoded).
fn segment(uri: &Uri, i: usize) -> &str {
    uri.path()
        .trim_matches('/')
        .split('/')
        .nth(i)
        .unwrap_or_default()
}

/// Segment `i` decoded, or the answer for one that is not valid percent-encoded UTF-8.
fn decoded(uri: &Uri, i: usize, what: &str) -> Result<String, Reply> {
    percent_decode_strict(segment(uri, i)).ok_or_else(|| {
        error(
            400,
            &format!("the {what} in the path is not valid percent-encoded UTF-8"),
            Vec::new(),
        )
    })
}

/// The answer `f` gives for the delivery id in the path, or the `400` for one that is not
/// valid percent-encoded UTF-8.
fn with_id(uri: &Uri, f: impl FnOnce(&str) -> Reply) -> Reply {
    match decoded(uri, 1, "delivery id") {
        Ok(id) => f(&id),
        Err(r) => r,
    }
}

async fn changes(State(s): State<Shared>, body: Bytes) -> Reply {
    s.changes(&body)
}

async fn batch(State(s): State<Shared>, uri: Uri, body: Bytes) -> Reply {
    match decoded(&uri, 1, "strategy name") {
        Ok(name) => s.on_demand(&name, false, &body).await,
        Err(r) => r,
    }
}

async fn immediate(State(s): State<Shared>, uri: Uri, body: Bytes) -> Reply {
    match decoded(&uri, 1, "strategy name") {
        Ok(name) => s.on_demand(&name, true, &body).await,
        Err(r) => r,
    }
}

async fn strategies(State(s): State<Shared>) -> Reply {
    s.strategies()
}

async fn configurations(State(s): State<Shared>) -> Reply {
    s.configurations()
}

async fn definition(State(s): State<Shared>, method: Method, uri: Uri, body: Bytes) -> Reply {
    match decoded(&uri, 1, "name") {
        Ok(name) => s.definition(method.as_str(), segment(&uri, 0), &name, &body),
        Err(r) => r,
    }
}

async fn deliveries(State(s): State<Shared>, uri: Uri) -> Reply {
    s.list(uri.query().unwrap_or_default())
}

async fn delivery(State(s): State<Shared>, uri: Uri) -> Reply {
    with_id(&uri, |id| s.delivery(id))
}

async fn replay(State(s): State<Shared>, uri: Uri) -> Reply {
    with_id(&uri, |id| s.replay(id))
}

async fn replay_dead(State(s): State<Shared>, body: Bytes) -> Reply {
    s.replay_dead(&body)
}

async fn attempts(State(s): State<Shared>, uri: Uri) -> Reply {
    with_id(&uri, |id| s.attempts(id))
}

async fn request_of(State(s): State<Shared>, uri: Uri) -> Reply {
    with_id(&uri, |id| s.request(id))
}

async fn endpoints(State(s): State<Shared>) -> Reply {
    s.endpoints()
}

async fn jwks(State(s): State<Shared>) -> Reply {
    s.jwks()
}

async fn health(State(s): State<Shared>) -> Reply {
    s.health()
}

async fn metrics(State(s): State<Shared>) -> Reply {
    s.metrics()
}

async fn no_route(method: Method, uri: Uri) -> Reply {
    error(
        404,
        &format!("no route {method} {}; the routes are {ROUTES}", uri.path()),
        Vec::new(),
    )
}

/// The server's look at each request's head, with `tokens`: every route but the public
/// ones needs one of them, and a request without is answered `401` (with
/// `WWW-Authenticate: Bearer`, never repeating what was presented) before its body is
/// read, so that a client without a token cannot hold the server's body buffers. None
/// without tokens: the API is open.
pub(super) fn admit(tokens: ApiTokens) -> Option<Admit> {
    if tokens.is_empty() {
        return None;
    }
    Some(Arc::new(
        move |_method: &str, target: &str, headers: &[(String, String)]| {
            let (path, _) = normalized(target);
            if auth::is_public(&path) {
                return None;
            }
            let presented = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .and_then(|(_, v)| auth::bearer(v));
            let (message, challenge) = match presented {
                Some(t) if tokens.accepts(t.as_bytes()) => return None,
                Some(_) => (
                    "the bearer token is not one of this host's API tokens",
                    "Bearer realm=\"host-test serve\", error=\"invalid_token\"",
                ),
                None => (
                    "the API needs a token: send Authorization: Bearer <token>, with a token from --api-tokens or WEBHOOK_API_TOKEN",
                    "Bearer realm=\"host-test serve\"",
                ),
            };
            Some(error(401, message, Vec::new()).header("www-authenticate", challenge))
        },
    ))
}

/// A request target's path without leading or trailing slashes (but the one), and its
/// query.
fn normalized(target: &str) -> (String, Option<&str>) {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    (format!("/{}", path.trim_matches('/')), query)
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = Response::builder().status(self.status);
        for (name, value) in &self.headers {
            response = response.header(name, value);
        }
        response
            .body(Body::from(self.body))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// The server's handler for `router`: each request, read whole, through the router.
pub(super) fn handler(router: Router) -> Handler {
    Arc::new(move |method, target, headers, body| {
        let mut router = router.clone();
        Box::pin(async move {
            let Some(request) = request(&method, &target, &headers, body) else {
                return error(
                    400,
                    "the request line or a header cannot be read as HTTP",
                    Vec::new(),
                );
            };
            let Ok(()) = std::future::poll_fn(|cx| {
                tower_service::Service::<Request>::poll_ready(&mut router, cx)
            })
            .await;
            let response: Result<Response, Infallible> = router.call(request).await;
            let Ok(response) = response;
            reply(response).await
        })
    })
}

/// The request the router takes, its path without leading or trailing slashes.
fn request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Option<Request> {
    let (path, query) = normalized(target);
    let uri = match query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).ok()?)
        .uri(uri);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.body(Body::from(body)).ok()
}

/// The server's reply for the router's response.
async fn reply(response: Response) -> Reply {
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => {
            return error(
                500,
                &format!("the answer could not be written: {e}"),
                Vec::new(),
            );
        }
    };
    Reply {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        delay: std::time::Duration::ZERO,
    }
}
