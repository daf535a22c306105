//! `host-test serve`: the platform's run-time surface over the durable outbox, for every
//! configuration and strategy in its catalog ([`crate::catalog`]). On loopback, or beyond
//! it with API tokens ([`auth`]).
//!
//! | Route | What |
//! | --- | --- |
//! | `POST /changes` | A JSON array of record changes (the changes-file format): each change goes to every strategy bound to its entity; rendered, written to the outbox in one transaction, answered `202` with the delivery ids. |
//! | `POST /strategies/{name}/batch` | Asynchronous on-demand run over the member store: `{"filter": "<expression>"}` or `{"codes": [...]}`; `202` with the delivery ids. |
//! | `POST /strategies/{name}/immediate` | Synchronous on-demand run, same body: each request is attempted once at once; `200` with each outcome. |
//! | `GET /strategies`, `GET /configurations` | The definitions in force, with their versions. |
//! | `GET /strategies/{name}`, `GET /configurations/{name}` | One definition, secrets redacted. |
//! | `PUT /strategies/{name}`, `PUT /configurations/{name}` | Define or redefine (the file format as the body): compiled first, `422` with every located problem and nothing replaced; `201` (new) or `200` with the version. |
//! | `DELETE /strategies/{name}` | Stop rendering it; its pending deliveries finish. `DELETE /configurations/{name}` when no strategy uses it (`409` otherwise). |
//! | `GET /deliveries?status=pending\|delivered\|dead&limit=N&after=SEQ` | The outbox, in queue order, with counts. |
//! | `GET /deliveries/{id}` | One delivery, with the strategy and version that rendered it. |
//! | `POST /deliveries/{id}/replay` | Queue a finished delivery again; it is re-signed with the current secrets. |
//! | `GET /deliveries/{id}/attempts` | Every attempt: start, latency, status, outcome, error, the first bytes of the response. |
//! | `GET /deliveries/{id}/request` | The request as stored, secrets redacted. |
//! | `POST /deliveries/replay` | Every dead delivery of a `strategy`, an `endpoint` or both, finished `since` a time, queued again in one call; `202` with the count. |
//! | `GET /endpoints` | Each endpoint's breaker (closed, open, half-open) and attempts in flight. |
//! | `GET /.well-known/jwks.json` | The public keys that verify platform tokens (RFC 7517), the signing key first. |
//! | `GET /health` | Readiness ([`health`]): `200` when the outbox takes a write and the component instantiates, `503` naming the check that failed. Public. |
//! | `GET /metrics` | Prometheus metrics ([`metrics`]): deliveries by outcome, retries, attempt latency, outbox depth, render errors, breaker states. |
//!
//! The routes are axum's (`routes.rs`); the connections are `crate::server`'s, with its
//! limits. With API tokens every route but the public ones ([`auth::PUBLIC_ROUTES`])
//! answers `401` without a valid `Authorization: Bearer <token>`.
//!
//! Every answer is JSON. A bad request gets a `4xx` with `error` (what is wrong) and
//! `problems` (each with a `path`, and a `line` and `column` where there is one); the
//! store failing gets a `503` and nothing is accepted. The member store starts from
//! `--members` and follows `POST /changes` (added and updated members are stored, deleted
//! ones removed); it lives in memory, as a stand-in for the platform's own.

mod api;
pub mod auth;
pub mod health;
mod history;
mod members;
pub mod metrics;
mod routes;
mod timer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::catalog::seal::SealKey;
use crate::catalog::{Catalog, Definition, EngineFactory, Located};
use crate::contract::bindings::Member;
use crate::delivery::log::DeliveryLog;
use crate::delivery::platform_key::PlatformKeys;
use crate::outbox::dispatch::Dispatcher;
use crate::outbox::{Location, Outbox, Sharing};
use crate::sandbox::runtime::Runtime;
use crate::server::{Server, ServerLimits, serve_admitting};
use crate::time::clock::Clock;

pub use api::Service;
pub use auth::ApiTokens;
pub use health::Check;
pub use members::SharedMembers;

pub use crate::limits::MAX_API_BODY;

/// Where `serve` listens by default: loopback. Beyond it only with API tokens.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub use crate::limits::DEFAULT_LIST;

/// How `serve` runs.
pub struct ServeOptions {
    /// The address to listen on: loopback, or any with `api_tokens`.
    pub listen: SocketAddr,
    /// The bearer tokens the API asks for on every route but the public ones; none: the
    /// API is open, and listens on loopback only.
    pub api_tokens: ApiTokens,
    /// Readiness checks `/health` runs after its own (the outbox, the component): what an
    /// embedding host's readiness also depends on.
    pub checks: Vec<Arc<dyn Check>>,
    /// The outbox: a SQLite file, or a PostgreSQL database other hosts may share.
    pub outbox: Location,
    /// How long a claim in a shared outbox lasts: longer than an attempt can take.
    pub lease: Duration,
    /// The key that seals the definitions' secrets in the outbox.
    pub secrets_key: PathBuf,
    /// The definitions given at start (files), over those the outbox holds.
    pub definitions: Vec<Definition>,
    /// The problems of the definition files that could not be read, reported with the
    /// rest.
    pub unread: Vec<Located>,
    /// The member store's starting content, by entity.
    pub members: Vec<(String, Vec<Member>)>,
    /// Attempts at once, across all strategies.
    pub concurrency: usize,
    /// Makes each strategy's delivery engine.
    pub engine: EngineFactory,
    /// The clock of the dispatcher and the API.
    pub clock: Arc<dyn Clock>,
    /// The delivery log (its redactor redacts what the outbox records).
    pub log: Arc<DeliveryLog>,
    /// The keys that sign platform tokens (the engines' too), published as the JWKS.
    pub platform_keys: Arc<PlatformKeys>,
}

/// Why `serve` did not start.
#[derive(Debug)]
pub enum StartError {
    /// The definitions have problems: every one, located.
    Definitions(Vec<Located>),
    /// Anything else, in words.
    Other(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Definitions(ps) => {
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            StartError::Other(e) => f.write_str(e),
        }
    }
}

impl From<String> for StartError {
    fn from(e: String) -> StartError {
        StartError::Other(e)
    }
}

/// A running `serve`: the API server and the dispatcher; stops when dropped.
pub struct Running {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The service.
    pub service: Arc<Service>,
    _server: Server,
    dispatcher_task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.dispatcher_task.abort();
    }
}

/// Start serving: open the outbox (resuming what it holds), bring the catalog in force
/// (the stored definitions, then the given ones over them), start the dispatcher, the
/// schedules and the API.
pub async fn start(runtime: Arc<Runtime>, options: ServeOptions) -> Result<Running, StartError> {
    if !options.listen.ip().is_loopback() && options.api_tokens.is_empty() {
        return Err(format!(
            "--listen {}: without an API token the API listens on loopback only (127.0.0.1 or [::1]); to listen beyond it, give tokens with --api-tokens FILE or {}",
            options.listen,
            auth::TOKEN_ENV
        )
        .into());
    }
    let sharing = Sharing {
        connections: options.concurrency + crate::limits::POOL_SPARE_CONNECTIONS,
        lease: options.lease,
    };
    let outbox = Arc::new(Outbox::open_at(&options.outbox, sharing).map_err(|e| e.to_string())?);
    let key = SealKey::load_or_create(&options.secrets_key)?;
    let catalog = Arc::new(Catalog::new(
        runtime.clone(),
        outbox.clone(),
        key,
        options.engine,
    ));
    let now = crate::outbox::dispatch::now_ms(options.clock.as_ref());
    catalog
        .start(options.definitions, options.unread, now)
        .map_err(StartError::Definitions)?;
    if outbox.is_shared() {
        follow_catalog(Arc::downgrade(&catalog))?;
    }
    let dispatcher = Dispatcher::new(
        outbox.clone(),
        catalog.clone(),
        options.clock.clone(),
        options.log.clone(),
        options.concurrency,
    )
    .map_err(|e| e.to_string())?;
    let members = SharedMembers::new(options.members);
    let filters = runtime.instantiate().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", options.listen))?;
    let breakers = metrics::EndpointStates {
        dispatcher: Arc::downgrade(&dispatcher),
        catalog: catalog.clone(),
    };
    let metrics = Arc::new(metrics::Metrics::new(
        Box::new(breakers),
        options.log.clone(),
    ));
    dispatcher.observe(metrics.clone());
    timer::start(
        runtime.clone(),
        catalog.clone(),
        members.clone(),
        dispatcher.clone(),
        metrics.clone(),
    )?;
    let mut checks: Vec<Arc<dyn Check>> = vec![
        Arc::new(health::OutboxWritable {
            outbox: outbox.clone(),
            clock: options.clock.clone(),
        }),
        Arc::new(health::ComponentInstantiable {
            runtime: runtime.clone(),
        }),
    ];
    checks.extend(options.checks);
    let service = Arc::new(Service {
        catalog,
        filters: Mutex::new(filters),
        dispatcher: dispatcher.clone(),
        members,
        log: options.log,
        health: health::Health::new(checks),
        metrics,
        platform_keys: options.platform_keys,
    });
    let server = serve_admitting(
        listener,
        ServerLimits::with_body(MAX_API_BODY),
        routes::admit(options.api_tokens),
        routes::handler(routes::router(service.clone())),
    )
    .map_err(|e| format!("--listen {}: {e}", options.listen))?;
    let dispatcher_task = tokio::spawn(dispatcher.run());
    Ok(Running {
        addr: server.addr,
        service,
        _server: server,
        dispatcher_task,
    })
}

/// In an outbox other hosts share, follow the definitions they store, once per
/// [`crate::limits::IDLE_POLL`], on a thread of its own (a new version compiles), until
/// the catalog is gone.
fn follow_catalog(catalog: std::sync::Weak<Catalog>) -> Result<(), String> {
    use crate::outbox::dispatch::Deliverers;
    std::thread::Builder::new()
        .name("catalog-follower".into())
        .spawn(move || {
            loop {
                std::thread::sleep(crate::limits::IDLE_POLL);
                match catalog.upgrade() {
                    Some(c) => c.refresh(),
                    None => return,
                }
            }
        })
        .map(drop)
        .map_err(|e| format!("cannot start following the definitions: {e}"))
}
