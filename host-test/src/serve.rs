//! `host-test serve`: the platform's run-time surface on loopback, over the durable
//! outbox.
//!
//! | Route | What |
//! | --- | --- |
//! | `POST /changes` | A JSON array of record changes (the changes-file format): rendered, written to the outbox, answered `202` with the delivery ids. |
//! | `POST /strategies/{name}/batch` | Asynchronous on-demand run over the member store: `{"filter": "<expression>"}` or `{"codes": [...]}`; `202` with the delivery ids. |
//! | `POST /strategies/{name}/immediate` | Synchronous on-demand run, same body: each request is attempted once at once; `200` with each outcome. |
//! | `GET /deliveries?status=pending\|delivered\|dead&limit=N&after=SEQ` | The outbox, in queue order, with counts. |
//! | `GET /deliveries/{id}` | One delivery. |
//! | `POST /deliveries/{id}/replay` | Queue a finished delivery again; it is re-signed with the current secrets. |
//!
//! Every answer is JSON. A bad request gets a `4xx` with `error` (what is wrong) and
//! `problems` (each with a `path`, and a `line` and `column` where there is one); the
//! store failing gets a `503` and nothing is accepted. The member store starts from
//! `--members` and follows `POST /changes` (added and updated members are stored, deleted
//! ones removed); it lives in memory, as a stand-in for the platform's own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::HostError;
use crate::bindings::{self as b, Configuration, HttpRequest, Member, RunMode, Strategy};
use crate::deliver::{Deliverer, Outcome, Step, endpoint_of};
use crate::dispatch::{Dispatcher, now_ms};
use crate::json::{self as j};
use crate::outbox::{Enqueued, MAX_LIST, Outbox, ReplayError, State};
use crate::plugin::SessionPlugin;
use crate::receiver::{Handler, Reply, Server, ServerLimits, percent_decode_strict, serve_on};
use crate::runtime::{Instance, Runtime};
use crate::scheduler::{Event, MemberStore, Scheduler, Sink, SystemClock};

/// The largest API request body: the sandbox takes 32 MiB per call, and changes in the
/// WIT encoding run to about twice their JSON, so 16 MiB of JSON always fits one call.
pub const MAX_API_BODY: usize = 16 * 1024 * 1024;

/// Where `serve` listens by default: loopback, because the API has no authentication.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Deliveries a listing returns when `limit` is not given.
pub const DEFAULT_LIST: usize = 100;

/// How `serve` runs.
pub struct ServeOptions {
    /// The address to listen on (loopback only).
    pub listen: SocketAddr,
    /// The outbox file.
    pub outbox: PathBuf,
    /// The member store's starting content.
    pub members: Vec<Member>,
    /// Attempts at once.
    pub concurrency: usize,
}

/// The entity's members, by code: a stand-in for the platform's member store.
#[derive(Clone, Default)]
pub struct SharedMembers(Arc<Mutex<BTreeMap<String, Member>>>);

impl SharedMembers {
    /// A store holding `members` (a later member with the same code wins).
    pub fn new(members: Vec<Member>) -> SharedMembers {
        SharedMembers(Arc::new(Mutex::new(
            members.into_iter().map(|m| (m.code.clone(), m)).collect(),
        )))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Member>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follow changes of `entity`: store added and updated members, remove deleted ones.
    pub fn apply(&self, entity: &str, changes: &[b::RecordChange]) {
        let mut m = self.lock();
        for c in changes.iter().filter(|c| c.entity == entity) {
            match (&c.kind, &c.new_state) {
                (b::ChangeKind::Deleted, _) => {
                    m.remove(&c.code);
                }
                (_, Some(new)) => {
                    m.insert(c.code.clone(), new.clone());
                }
                (_, None) => {}
            }
        }
    }
}

impl MemberStore for SharedMembers {
    fn page(&mut self, _entity: &str, start: usize, size: usize) -> Result<Vec<Member>, String> {
        Ok(self
            .lock()
            .values()
            .skip(start)
            .take(size)
            .cloned()
            .collect())
    }
}

/// The running service.
pub struct Service {
    strategy: Strategy,
    plugin: Arc<SessionPlugin>,
    filters: Mutex<Instance>,
    dispatcher: Arc<Dispatcher>,
    members: SharedMembers,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("strategy", &self.strategy.name)
            .finish_non_exhaustive()
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

/// Start serving: open the outbox (resuming what it holds), start the dispatcher, the
/// schedules and the API. `deliverer` must render through a session of `config` and
/// `strategy`.
pub async fn start(
    runtime: Arc<Runtime>,
    config: Configuration,
    strategy: Strategy,
    plugin: Arc<SessionPlugin>,
    deliverer: Deliverer,
    options: ServeOptions,
) -> Result<Running, String> {
    if !options.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: the API has no authentication, so it listens on loopback only (127.0.0.1 or [::1])",
            options.listen
        ));
    }
    let outbox = Arc::new(Outbox::open(&options.outbox).map_err(|e| e.to_string())?);
    let deliverer = Arc::new(deliverer.without_dead_letter_list());
    let dispatcher = Dispatcher::new(outbox.clone(), deliverer.clone(), options.concurrency)
        .map_err(|e| e.to_string())?;
    let members = SharedMembers::new(options.members);
    let filters = runtime.instantiate().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", options.listen))?;
    if !strategy.schedules.is_empty() {
        start_schedules(&runtime, &config, &strategy, &members, &dispatcher)?;
    }
    let service = Arc::new(Service {
        strategy,
        plugin,
        filters: Mutex::new(filters),
        dispatcher: dispatcher.clone(),
        members,
    });
    let s = service.clone();
    let handler: Handler = Arc::new(move |method, target, _headers, body| {
        let s = s.clone();
        Box::pin(async move { s.handle(&method, &target, &body).await })
    });
    let server = serve_on(listener, ServerLimits::with_body(MAX_API_BODY), handler)
        .map_err(|e| format!("--listen {}: {e}", options.listen))?;
    let dispatcher_task = tokio::spawn(dispatcher.run());
    Ok(Running {
        addr: server.addr,
        service,
        _server: server,
        dispatcher_task,
    })
}

/// Run the strategy's schedules on the machine's clock in a thread of their own, writing
/// each fire's requests to the outbox and each fire instant to it (so a restart catches
/// up once, and a fire re-run after a crash renders the same delivery ids).
fn start_schedules(
    runtime: &Arc<Runtime>,
    config: &Configuration,
    strategy: &Strategy,
    members: &SharedMembers,
    dispatcher: &Arc<Dispatcher>,
) -> Result<(), String> {
    // The scheduler and its session live on the thread; it says whether they loaded.
    let (ready, loaded) = std::sync::mpsc::channel::<Result<(), String>>();
    let (runtime, config, strategy) = (runtime.clone(), config.clone(), strategy.clone());
    let (members, d) = (members.clone(), dispatcher.clone());
    std::thread::Builder::new()
        .name("schedules".into())
        .spawn(move || {
            let outbox = d.outbox().clone();
            let setup = || -> Result<Scheduler, String> {
                let session = runtime
                    .session(&config, &strategy)
                    .map_err(|e| e.to_string())?;
                let mut scheduler = Scheduler::new();
                scheduler.add(
                    &strategy,
                    Box::new(session),
                    Box::new(members),
                    jiff::Timestamp::now(),
                )?;
                for s in &strategy.schedules {
                    let last = outbox
                        .last_fired(&strategy.name, &s.name)
                        .map_err(|e| e.to_string())?;
                    if let Some(t) = last.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    {
                        scheduler.resume(&strategy.name, &s.name, t);
                    }
                }
                let tokens = d.clone();
                scheduler.with_tokens(Box::new(move |at| {
                    tokens.deliverer().outbox_tokens(crate::instant::from_timestamp(at))
                }));
                Ok(scheduler)
            };
            let mut scheduler = match setup() {
                Ok(s) => {
                    let _ = ready.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let mut sink = OutboxSink(d.clone());
            let mut clock = SystemClock;
            scheduler.run(&mut clock, &mut sink, None, &mut |event| {
                let (fire, line) = match &event {
                    Event::Fired {
                        fire,
                        pages,
                        requests,
                    } => (
                        Some(fire),
                        format!(
                            "schedule {:?} fired at {}: {pages} page(s), {requests} request(s) written to the outbox",
                            fire.schedule, fire.at
                        ),
                    ),
                    Event::FireFailed { fire, error } => (Some(fire), format!("{error}")),
                    Event::ScheduleFailed(e) => (None, format!("{e}")),
                };
                println!("{line}");
                if let Some(f) = fire
                    && let Err(e) =
                        outbox.schedule_fired(&f.strategy, &f.schedule, f.at.as_millisecond())
                {
                    eprintln!("host-test serve: {e}");
                }
            });
        })
        .map_err(|e| format!("cannot start the schedules: {e}"))?;
    loaded
        .recv()
        .map_err(|_| "the schedules' thread ended before it started".to_string())?
}

struct OutboxSink(Arc<Dispatcher>);

impl Sink for OutboxSink {
    fn deliver(
        &mut self,
        _strategy: &str,
        schedule: &str,
        _fire: jiff::Timestamp,
        requests: Vec<HttpRequest>,
    ) {
        if let Err(e) = self.0.enqueue(&format!("schedule:{schedule}"), &requests) {
            eprintln!("host-test serve: {e}");
        }
    }
}

/// An answer with a JSON body.
fn reply(status: u16, body: Json) -> Reply {
    Reply::status(status, &body.to_string()).header("content-type", "application/json")
}

/// A problem for the API: where, what, and the line and column when known.
fn problem(path: &str, message: &str, line: Option<u32>, column: Option<u32>) -> Json {
    let mut p = json!({ "path": path, "message": message });
    if let (Some(l), Some(c)) = (line, column) {
        p["line"] = json!(l);
        p["column"] = json!(c);
    }
    p
}

/// A `4xx`/`5xx` answer: what is wrong and the located problems.
fn error(status: u16, message: &str, problems: Vec<Json>) -> Reply {
    reply(status, json!({ "error": message, "problems": problems }))
}

fn component_problem(p: &b::Problem) -> Json {
    problem(
        &p.path,
        &p.message,
        p.span.as_ref().map(|s| s.line),
        p.span.as_ref().map(|s| s.column),
    )
}

/// A JSON format error as a problem: its key path, line and column.
fn format_problem(e: &j::FormatError) -> Json {
    let text = &e.0;
    let (path, message) = match text.strip_prefix("at ").and_then(|t| t.split_once(": ")) {
        Some((path, rest)) => (path, rest),
        None => ("", text.as_str()),
    };
    let located = |key: &str| {
        message
            .rsplit_once(key)
            .and_then(|(_, n)| n.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u32>().ok())
    };
    problem(path, message, located(" line "), located(" column "))
}

/// The answer for a path segment that is not valid percent-encoded UTF-8.
fn bad_segment(what: &str) -> Reply {
    error(
        400,
        &format!("the {what} in the path is not valid percent-encoded UTF-8"),
        Vec::new(),
    )
}

/// The answer for a component or sandbox failure while serving a request.
fn host_error(e: &HostError) -> Reply {
    match e {
        HostError::Render(r) => {
            let status = match r {
                b::RenderError::SyncDisabled | b::RenderError::AsyncDisabled => 409,
                b::RenderError::SyncLimitExceeded(_)
                | b::RenderError::RecordTooLarge(_)
                | b::RenderError::LimitExceeded(_) => 413,
                _ => 422,
            };
            let problems = match r {
                b::RenderError::InvalidInput(p) | b::RenderError::Evaluation(p) => {
                    vec![component_problem(p)]
                }
                _ => Vec::new(),
            };
            error(status, &j::render_error_text(r), problems)
        }
        HostError::Problem(p) => error(422, &p.message, vec![component_problem(p)]),
        HostError::Invalid(ps) => error(
            422,
            "the input is invalid",
            ps.iter().map(component_problem).collect(),
        ),
        HostError::InputTooLarge { .. } | HostError::OutputTooLarge { .. } => {
            error(413, &e.to_string(), Vec::new())
        }
        _ => error(503, &e.to_string(), Vec::new()),
    }
}

/// The body of an on-demand run: exactly one of a filter or a list of codes.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Selection {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    codes: Option<Vec<String>>,
}

fn enqueued_json(e: &[Enqueued]) -> Json {
    Json::Array(
        e.iter()
            .map(|e| json!({ "id": e.id, "records": e.records, "new": e.new }))
            .collect(),
    )
}

impl Service {
    /// The dispatcher.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// The member store.
    pub fn members(&self) -> &SharedMembers {
        &self.members
    }

    /// Answer one API request.
    pub async fn handle(&self, method: &str, target: &str, body: &[u8]) -> Reply {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["changes"]) => self.changes(body),
            ("POST", ["strategies", name, run @ ("batch" | "immediate")]) => {
                let Some(name) = percent_decode_strict(name) else {
                    return bad_segment("strategy name");
                };
                self.on_demand(&name, *run == "immediate", body).await
            }
            ("GET", ["deliveries"]) => self.list(query),
            ("GET", ["deliveries", id]) => {
                let Some(id) = percent_decode_strict(id) else {
                    return bad_segment("delivery id");
                };
                match self.dispatcher.outbox().get(&id) {
                    Ok(Some(d)) => reply(200, d.to_json()),
                    Ok(None) => error(404, &format!("no delivery has the id {id:?}"), Vec::new()),
                    Err(e) => error(503, &e.to_string(), Vec::new()),
                }
            }
            ("POST", ["deliveries", id, "replay"]) => match percent_decode_strict(id) {
                Some(id) => self.replay(&id),
                None => bad_segment("delivery id"),
            },
            (_, ["changes"])
            | (_, ["strategies", _, "batch" | "immediate"])
            | (_, ["deliveries", _, "replay"]) => {
                error(405, &format!("{path} takes POST, not {method}"), Vec::new())
                    .header("allow", "POST")
            }
            (_, ["deliveries"] | ["deliveries", _]) => {
                error(405, &format!("{path} takes GET, not {method}"), Vec::new())
                    .header("allow", "GET")
            }
            _ => error(
                404,
                &format!(
                    "no route {method} {path}; the routes are POST /changes, POST /strategies/{{name}}/batch, POST /strategies/{{name}}/immediate, GET /deliveries, GET /deliveries/{{id}}, POST /deliveries/{{id}}/replay"
                ),
                Vec::new(),
            ),
        }
    }

    fn body_text<'a>(&self, body: &'a [u8]) -> Result<&'a str, Reply> {
        std::str::from_utf8(body).map_err(|e| {
            error(
                400,
                "the body is not UTF-8 text",
                vec![problem(
                    "",
                    &format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                    None,
                    None,
                )],
            )
        })
    }

    fn changes(&self, body: &[u8]) -> Reply {
        let text = match self.body_text(body) {
            Ok(t) => t,
            Err(r) => return r,
        };
        let list: Vec<j::ChangeJson> = match j::parse(text) {
            Ok(l) => l,
            Err(e) => {
                return error(
                    400,
                    "the body is not a JSON array of record changes",
                    vec![format_problem(&e)],
                );
            }
        };
        let mut changes = Vec::with_capacity(list.len());
        let mut problems = Vec::new();
        for (i, c) in list.into_iter().enumerate() {
            match c.into_wit(&format!("[{i}]")) {
                Ok(c) => changes.push(c),
                Err(e) => problems.push(format_problem(&e)),
            }
        }
        if !problems.is_empty() {
            return error(
                400,
                "some record changes are invalid; none was accepted",
                problems,
            );
        }
        let context = self.dispatcher.deliverer().outbox_context();
        let requests = match self
            .plugin
            .with_session(|s| s.on_changes(&changes, &context))
        {
            Ok(r) => r,
            Err(e) => return host_error(&e),
        };
        let enqueued = match self.dispatcher.enqueue("changes", &requests) {
            Ok(e) => e,
            Err(e) => return error(503, &format!("nothing was accepted: {e}"), Vec::new()),
        };
        // The member store follows the changes once they are safely accepted.
        self.members.apply(&self.strategy.entity, &changes);
        reply(
            202,
            json!({ "changes": changes.len(), "deliveries": enqueued_json(&enqueued) }),
        )
    }

    /// The members a selection names, or the answer refusing it.
    fn select(&self, body: &[u8]) -> Result<Vec<Member>, Reply> {
        let text = self.body_text(body)?;
        let sel: Selection = j::parse(text).map_err(|e| {
            error(
                400,
                "the body must be {\"filter\": \"<expression>\"} or {\"codes\": [\"<code>\", ...]}",
                vec![format_problem(&e)],
            )
        })?;
        match (sel.filter, sel.codes) {
            (Some(filter), None) => self.filtered(&filter),
            (None, Some(codes)) => {
                let store = self.members.lock();
                let mut out = Vec::with_capacity(codes.len());
                let mut problems = Vec::new();
                for (i, code) in codes.iter().enumerate() {
                    match store.get(code) {
                        Some(m) => out.push(m.clone()),
                        None => problems.push(problem(
                            &format!("codes[{i}]"),
                            &format!("no member with code {code:?} in the member store"),
                            None,
                            None,
                        )),
                    }
                }
                if problems.is_empty() {
                    Ok(out)
                } else {
                    Err(error(404, "some codes name no member", problems))
                }
            }
            _ => Err(error(
                400,
                "give exactly one of \"filter\" (an expression) or \"codes\" (a list of member codes)",
                vec![problem("", "both or neither were given", None, None)],
            )),
        }
    }

    /// The members for which `filter` is TRUE.
    fn filtered(&self, filter: &str) -> Result<Vec<Member>, Reply> {
        let mut instance = self.filters.lock().unwrap_or_else(|p| p.into_inner());
        let context = b::RenderContext {
            now: self.dispatcher.deliverer().clock().now(),
            access_token: None,
            platform_token: None,
            id_seed: 0,
        };
        let locate = |p: &b::Problem| {
            let mut p = p.clone();
            p.path = "filter".into();
            component_problem(&p)
        };
        let mut eval = |state: Vec<b::Attribute>| {
            instance.evaluate(filter, &b::Sample { state, prior: None }, &context)
        };
        // Compile errors first, on an empty record, so they are reported even when the
        // store is empty.
        match eval(Vec::new()) {
            Err(HostError::Problem(p)) => {
                return Err(error(
                    400,
                    "the filter is not a valid expression",
                    vec![locate(&p)],
                ));
            }
            Err(e) => return Err(host_error(&e)),
            Ok(_) => {}
        }
        let members: Vec<Member> = self.members.lock().values().cloned().collect();
        let mut out = Vec::new();
        for m in members {
            match eval(m.attributes.clone()) {
                Ok(b::Value::Boolean(true)) => out.push(m),
                Ok(b::Value::Boolean(false) | b::Value::Null) => {}
                Ok(other) => {
                    return Err(error(
                        422,
                        &format!(
                            "the filter gave {} for member {:?}; a filter must give TRUE or FALSE",
                            j::value_json(&other),
                            m.code
                        ),
                        vec![problem("filter", "not a condition", None, None)],
                    ));
                }
                Err(HostError::Problem(p)) => {
                    return Err(error(
                        422,
                        &format!("the filter failed on member {:?}: {}", m.code, p.message),
                        vec![locate(&p)],
                    ));
                }
                Err(e) => return Err(host_error(&e)),
            }
        }
        Ok(out)
    }

    async fn on_demand(&self, name: &str, immediate: bool, body: &[u8]) -> Reply {
        if name != self.strategy.name {
            return error(
                404,
                &format!(
                    "no strategy named {name:?}; this host serves {:?}",
                    self.strategy.name
                ),
                Vec::new(),
            );
        }
        let members = match self.select(body) {
            Ok(m) => m,
            Err(r) => return r,
        };
        let mode = if immediate {
            RunMode::Synchronous
        } else {
            RunMode::Asynchronous
        };
        let context = self.dispatcher.deliverer().outbox_context();
        let requests = match self
            .plugin
            .with_session(|s| s.on_demand(mode, &members, &context))
        {
            Ok(r) => r,
            Err(e) => return host_error(&e),
        };
        if !immediate {
            return match self.dispatcher.enqueue("batch", &requests) {
                Ok(e) => reply(
                    202,
                    json!({ "members": members.len(), "deliveries": enqueued_json(&e) }),
                ),
                Err(e) => error(503, &format!("nothing was accepted: {e}"), Vec::new()),
            };
        }
        let done = match self.dispatcher.attempt_now("immediate", &requests).await {
            Ok(d) => d,
            Err(e) => return error(503, &format!("nothing was accepted: {e}"), Vec::new()),
        };
        let outcomes: Vec<Json> = done
            .iter()
            .map(|(e, done)| {
                let mut o = json!({ "id": e.id, "records": e.records });
                match done {
                    None => o["outcome"] = json!("already-queued"),
                    Some((report, step)) => {
                        o["attempts"] = json!(report.attempts);
                        let response = report.last_response.as_ref();
                        o["status"] = json!(response.map(|r| r.status));
                        if let Some(r) = response.filter(|r| !r.body.is_empty()) {
                            o["response"] = json!(
                                self.dispatcher
                                    .deliverer()
                                    .delivery_log()
                                    .redactor()
                                    .snippet(&r.body)
                            );
                        }
                        match (step, &report.outcome) {
                            (Step::Retry(wait), _) => {
                                o["outcome"] = json!("retrying");
                                o["retry-in-ms"] = json!(wait.as_millis() as u64);
                            }
                            (Step::Finished, outcome) => {
                                o["outcome"] = json!(outcome.word());
                                if let Outcome::DeadLettered(w)
                                | Outcome::EndpointDisabled(w)
                                | Outcome::Skipped(w) = outcome
                                {
                                    o["error"] = json!(w);
                                }
                            }
                        }
                    }
                }
                o
            })
            .collect();
        reply(
            200,
            json!({ "members": members.len(), "deliveries": outcomes }),
        )
    }

    fn list(&self, query: &str) -> Reply {
        let mut state = None;
        let mut limit = DEFAULT_LIST;
        let mut after = 0i64;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode_strict(v).unwrap_or_default();
            let bad = |what: &str| {
                error(
                    400,
                    &format!("query parameter {k}={v:?}: {what}"),
                    vec![problem(k, what, None, None)],
                )
            };
            match k {
                "status" => match State::parse(&v) {
                    Some(s) => state = Some(s),
                    None => return bad("status must be pending, delivered or dead"),
                },
                "limit" => match v.parse::<usize>() {
                    Ok(n) if (1..=MAX_LIST).contains(&n) => limit = n,
                    _ => {
                        return bad(&format!(
                            "limit must be a whole number from 1 to {MAX_LIST}"
                        ));
                    }
                },
                "after" => match v.parse::<i64>() {
                    Ok(n) if n >= 0 => after = n,
                    _ => {
                        return bad(
                            "after must be a queue position (a whole number) from an earlier page's next-after",
                        );
                    }
                },
                _ => return bad("unknown parameter; the parameters are status, limit and after"),
            }
        }
        let outbox = self.dispatcher.outbox();
        let (list, counts) = match (outbox.list(state, after, limit), outbox.counts()) {
            (Ok(l), Ok(c)) => (l, c),
            (Err(e), _) | (_, Err(e)) => return error(503, &e.to_string(), Vec::new()),
        };
        let next_after = (list.len() == limit)
            .then(|| list.last().map(|d| d.seq))
            .flatten();
        reply(
            200,
            json!({
                "counts": { "pending": counts.pending, "delivered": counts.delivered, "dead": counts.dead },
                "deliveries": list.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
                "next-after": next_after,
            }),
        )
    }

    fn replay(&self, id: &str) -> Reply {
        let outbox = self.dispatcher.outbox();
        let now = now_ms(self.dispatcher.deliverer().clock().as_ref());
        match outbox.replay(id, now) {
            Ok(url) => {
                let endpoint = endpoint_of(&url);
                let enabled = self.dispatcher.deliverer().enable(&endpoint);
                if let Err(e) = outbox.enable_endpoint(&endpoint) {
                    eprintln!("host-test serve: {e}");
                }
                self.dispatcher.wake();
                reply(
                    202,
                    json!({ "id": id, "status": "pending", "endpoint-re-enabled": enabled }),
                )
            }
            Err(ReplayError::NotFound) => {
                error(404, &format!("no delivery has the id {id:?}"), Vec::new())
            }
            Err(ReplayError::Pending) => error(
                409,
                &format!(
                    "delivery {id:?} is still pending; only delivered or dead deliveries can be replayed"
                ),
                Vec::new(),
            ),
            Err(ReplayError::Store(e)) => error(503, &e, Vec::new()),
        }
    }
}
