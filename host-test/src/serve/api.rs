//! The API's answers (the routes are in `routes.rs`): each answer JSON, each refusal
//! located.

use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::catalog::{Bound, Catalog, Located, Refused};
use crate::contract::bindings::{self as b, HttpRequest, Member, RunMode};
use crate::delivery::deliver::{Outcome, Step, endpoint_of};
use crate::delivery::log::DeliveryLog;
use crate::delivery::platform_key::PlatformKeys;
use crate::formats::{self as j};
use crate::outbox::dispatch::{Dispatcher, now_ms};
use crate::outbox::{Enqueued, MAX_LIST, Origin, ReplayError, State};
use crate::sandbox::error::HostError;
use crate::sandbox::runtime::Instance;
use crate::server::{Reply, percent_decode_strict};

use super::health::Health;
use super::metrics::Metrics;

use super::DEFAULT_LIST;
use super::members::SharedMembers;

/// The running service.
pub struct Service {
    pub(super) catalog: Arc<Catalog>,
    pub(super) filters: Mutex<Instance>,
    pub(super) dispatcher: Arc<Dispatcher>,
    pub(super) members: SharedMembers,
    pub(super) log: Arc<DeliveryLog>,
    pub(super) health: Health,
    pub(super) metrics: Arc<Metrics>,
    pub(super) platform_keys: Arc<PlatformKeys>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("catalog", &self.catalog)
            .finish_non_exhaustive()
    }
}

/// An answer with a JSON body.
pub(super) fn reply(status: u16, body: Json) -> Reply {
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
pub(super) fn error(status: u16, message: &str, problems: Vec<Json>) -> Reply {
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
    let l = Located::of_format("", e);
    problem(&l.path, &l.message, l.line, l.column)
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
            error(
                status,
                &crate::contract::text::render_error_text(r),
                problems,
            )
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
            .map(|e| json!({ "id": e.id, "strategy": e.strategy, "records": e.records, "new": e.new }))
            .collect(),
    )
}

/// The answer refusing a change to the catalog.
fn refused(r: Refused) -> Reply {
    match r {
        Refused::Invalid(ps) => error(
            422,
            "the definition has problems; nothing was changed",
            ps.iter().map(Located::to_json).collect(),
        ),
        Refused::NotFound(m) => error(404, &m, Vec::new()),
        Refused::Conflict(m) => error(409, &m, Vec::new()),
        Refused::Unavailable(m) => error(503, &m, Vec::new()),
    }
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

    /// The definitions in force.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
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

    /// `GET /deliveries/{id}`.
    pub(super) fn delivery(&self, id: &str) -> Reply {
        match self.dispatcher.outbox().get(id) {
            Ok(Some(d)) => reply(200, d.to_json()),
            Ok(None) => error(404, &format!("no delivery has the id {id:?}"), Vec::new()),
            Err(e) => error(503, &e.to_string(), Vec::new()),
        }
    }

    /// `GET /strategies`.
    pub(super) fn strategies(&self) -> Reply {
        reply(
            200,
            json!({ "strategies": self.catalog.strategies().iter().map(|b| Catalog::strategy_json(b)).collect::<Vec<_>>() }),
        )
    }

    /// `GET /configurations`.
    pub(super) fn configurations(&self) -> Reply {
        reply(
            200,
            json!({ "configurations": self.catalog.configurations().iter().map(|(n, c)| self.catalog.configuration_json(n, c)).collect::<Vec<_>>() }),
        )
    }

    /// `GET /.well-known/jwks.json`: the public keys that verify platform tokens.
    pub(super) fn jwks(&self) -> Reply {
        let now = self.dispatcher.clock().now().seconds;
        reply(200, self.platform_keys.jwks(now))
    }

    /// `GET /health`: every readiness check.
    pub(super) fn health(&self) -> Reply {
        self.health.answer()
    }

    /// `GET /metrics`.
    pub(super) fn metrics(&self) -> Reply {
        match self.metrics.scrape(self.dispatcher.outbox()) {
            Ok(text) => {
                Reply::status(200, &text).header("content-type", super::metrics::CONTENT_TYPE)
            }
            Err(e) => error(503, &format!("the metrics cannot be read: {e}"), Vec::new()),
        }
    }

    /// `POST /changes`.
    pub(super) fn changes(&self, body: &[u8]) -> Reply {
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
        // Every strategy bound to an entity of the changes renders them (each takes its
        // own entity's changes); all of it is written in one transaction, or none.
        let mut entities: Vec<&str> = changes.iter().map(|c| c.entity.as_str()).collect();
        entities.sort_unstable();
        entities.dedup();
        let bound: Vec<Arc<Bound>> = entities
            .iter()
            .flat_map(|e| self.catalog.for_entity(e))
            .collect();
        let mut rendered: Vec<(Arc<Bound>, Vec<HttpRequest>)> = Vec::with_capacity(bound.len());
        for b in bound {
            let context = b.deliverer.outbox_context();
            match b.plugin.with_session(|s| s.on_changes(&changes, &context)) {
                Ok(r) => rendered.push((b, r)),
                Err(e) => {
                    self.metrics.render_error("changes");
                    return for_strategy(&b.name, host_error(&e));
                }
            }
        }
        let batches: Vec<(Origin<'_>, &[HttpRequest])> = rendered
            .iter()
            .map(|(b, r)| {
                (
                    Origin {
                        source: "changes",
                        strategy: &b.name,
                        version: b.version,
                    },
                    r.as_slice(),
                )
            })
            .collect();
        let enqueued = match self.dispatcher.enqueue_all(&batches) {
            Ok(e) => e,
            Err(e) => return error(503, &format!("nothing was accepted: {e}"), Vec::new()),
        };
        // The member store follows the changes once they are safely accepted.
        self.members.apply(&changes);
        let strategies: Vec<&str> = rendered.iter().map(|(b, _)| b.name.as_str()).collect();
        reply(
            202,
            json!({ "changes": changes.len(), "strategies": strategies, "deliveries": enqueued_json(&enqueued) }),
        )
    }

    /// The members of `entity` a selection names, or the answer refusing it.
    fn select(&self, entity: &str, body: &[u8]) -> Result<Vec<Member>, Reply> {
        let text = self.body_text(body)?;
        let sel: Selection = j::parse(text).map_err(|e| {
            error(
                400,
                "the body must be {\"filter\": \"<expression>\"} or {\"codes\": [\"<code>\", ...]}",
                vec![format_problem(&e)],
            )
        })?;
        match (sel.filter, sel.codes) {
            (Some(filter), None) => self.filtered(entity, &filter),
            (None, Some(codes)) => {
                let mut out = Vec::with_capacity(codes.len());
                let mut problems = Vec::new();
                for (i, code) in codes.iter().enumerate() {
                    match self.members.get(entity, code) {
                        Some(m) => out.push(m),
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

    /// The members of `entity` for which `filter` is TRUE.
    fn filtered(&self, entity: &str, filter: &str) -> Result<Vec<Member>, Reply> {
        let mut instance = self.filters.lock().unwrap_or_else(|p| p.into_inner());
        let context = b::RenderContext {
            now: self.dispatcher.clock().now(),
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
        let members: Vec<Member> = self.members.all(entity);
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

    /// `POST /strategies/{name}/batch` and `.../immediate`.
    pub(super) async fn on_demand(&self, name: &str, immediate: bool, body: &[u8]) -> Reply {
        let Some(bound) = self.catalog.strategy(name) else {
            let known: Vec<String> = self
                .catalog
                .strategies()
                .iter()
                .map(|b| format!("{:?}", b.name))
                .collect();
            return error(
                404,
                &format!(
                    "no strategy named {name:?}; this host serves {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
                Vec::new(),
            );
        };
        let members = match self.select(&bound.strategy.entity, body) {
            Ok(m) => m,
            Err(r) => return r,
        };
        let mode = if immediate {
            RunMode::Synchronous
        } else {
            RunMode::Asynchronous
        };
        let context = bound.deliverer.outbox_context();
        let requests = match bound
            .plugin
            .with_session(|s| s.on_demand(mode, &members, &context))
        {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .render_error(if immediate { "immediate" } else { "batch" });
                return host_error(&e);
            }
        };
        let origin = |source| Origin {
            source,
            strategy: &bound.name,
            version: bound.version,
        };
        if !immediate {
            return match self.dispatcher.enqueue(&origin("batch"), &requests) {
                Ok(e) => reply(
                    202,
                    json!({ "members": members.len(), "deliveries": enqueued_json(&e) }),
                ),
                Err(e) => error(503, &format!("nothing was accepted: {e}"), Vec::new()),
            };
        }
        let done = match self
            .dispatcher
            .attempt_now(&origin("immediate"), &requests)
            .await
        {
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
                            o["response"] = json!(self.log.redactor().snippet(&r.body));
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

    /// `GET /deliveries`.
    pub(super) fn list(&self, query: &str) -> Reply {
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

    /// `POST /deliveries/{id}/replay`.
    pub(super) fn replay(&self, id: &str) -> Reply {
        let outbox = self.dispatcher.outbox();
        let now = now_ms(self.dispatcher.clock().as_ref());
        match outbox.replay(id, now) {
            Ok(url) => {
                let endpoint = endpoint_of(&url);
                let mut enabled = false;
                for engine in self.dispatcher.deliverers().all() {
                    enabled |= engine.enable(&endpoint);
                }
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

    /// `GET`, `PUT` or `DELETE` of one strategy or configuration.
    pub(super) fn definition(&self, method: &str, kind: &str, name: &str, body: &[u8]) -> Reply {
        let now = now_ms(self.dispatcher.clock().as_ref());
        let strategy = kind == "strategies";
        let source = format!("{method} /{kind}/{name}");
        match method {
            "GET" if strategy => match self.catalog.strategy(name) {
                Some(b) => reply(200, Catalog::strategy_json(&b)),
                None => error(404, &format!("no strategy is named {name:?}"), Vec::new()),
            },
            "GET" => match self.catalog.configuration(name) {
                Some(c) => reply(200, self.catalog.configuration_json(name, &c)),
                None => error(
                    404,
                    &format!("no configuration is named {name:?}"),
                    Vec::new(),
                ),
            },
            "PUT" => {
                let text = match self.body_text(body) {
                    Ok(t) => t,
                    Err(r) => return r,
                };
                let json: Json = match j::parse(text) {
                    Ok(v) => v,
                    Err(e) => {
                        return error(
                            400,
                            "the body is not one JSON document",
                            vec![Located::of_format(&source, &e).to_json()],
                        );
                    }
                };
                if strategy {
                    let existed = self.catalog.strategy(name).is_some();
                    match self.catalog.put_strategy(name, &source, json, now) {
                        Ok(b) => reply(
                            if existed { 200 } else { 201 },
                            json!({ "name": b.name, "version": b.version, "configuration": b.configuration }),
                        ),
                        Err(r) => refused(r),
                    }
                } else {
                    let existed = self.catalog.configuration(name).is_some();
                    match self.catalog.put_configuration(name, &source, json, now) {
                        Ok(version) => reply(
                            if existed { 200 } else { 201 },
                            json!({ "name": name, "version": version }),
                        ),
                        Err(r) => refused(r),
                    }
                }
            }
            _ if strategy => match self.catalog.delete_strategy(name, now) {
                Ok(pending) => reply(
                    200,
                    json!({ "name": name, "deleted": true, "pending-deliveries": pending }),
                ),
                Err(r) => refused(r),
            },
            _ => match self.catalog.delete_configuration(name, now) {
                Ok(()) => reply(200, json!({ "name": name, "deleted": true })),
                Err(r) => refused(r),
            },
        }
    }
}

/// An answer about one strategy's render: its error, naming the strategy.
fn for_strategy(name: &str, answer: Reply) -> Reply {
    answer.header("x-strategy", name)
}
