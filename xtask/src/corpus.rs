//! The portability corpus: the examples and edge cases (`tests/data/corpus/cases.json`),
//! as calls both hosts make on the same component file.
//!
//! The cases are written in the CLI's file formats, which hold what JavaScript's JSON
//! cannot (exact decimals such as `250000.00`), so this module reads them through
//! host-test and writes each call's arguments as the values jco passes to the component
//! ([`write`], `cargo xtask corpus`): records with camelCase fields, variants as
//! `{"tag", "val"}`, none as null, 64-bit integers as decimal strings, bytes as base64.
//! `examples/jco/render.mjs` makes those calls under Node; [`render`] (`cargo xtask
//! render`) makes the same calls through the reference host under wasmtime. Both print one
//! line a call, `{"case", "call", "result"}`, with results in the same shape, and every
//! line must be equal: URLs, headers, bodies, delivery ids and signatures byte for byte.
//!
//! What the hosts answer themselves is left out: an unknown time zone's message is the
//! host's own text, so no case names one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use host_test::bindings as b;
use host_test::contract::records::{self, PageBuilder};
use host_test::{HostError, Limits, Runtime, Session, formats};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::dist::root;

/// The corpus, relative to the repository's root.
pub const CASES: &str = "tests/data/corpus/cases.json";

/// Where `cargo xtask corpus` writes by default: beside the JavaScript host that reads it.
pub fn default_file() -> PathBuf {
    root().join("examples/jco/corpus.json")
}

/// `cases.json`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Cases {
    /// Configuration and strategy pairs, each compiled once, with the calls on its plan.
    plans: Vec<PlanCase>,
    /// Cron previews, the zone import's heaviest user.
    cron_preview: Vec<CronCase>,
    /// Cron conformance files (`tests/data/conformance/cron-cases.json`): each case is
    /// previewed for as many fires as it lists.
    cron_conformance: Vec<String>,
    /// Expressions on a sample record.
    evaluate: Vec<EvaluateCase>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PlanCase {
    name: String,
    /// Files, relative to the repository's root, in the CLI's formats.
    config: String,
    strategy: String,
    #[serde(default)]
    changes: Option<String>,
    #[serde(default)]
    members: Option<String>,
    #[serde(default)]
    context: Option<ContextJson>,
    #[serde(default)]
    calls: Vec<PlanCall>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ContextJson {
    now: String,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    platform_token: Option<String>,
    #[serde(default)]
    id_seed: u64,
}

#[derive(Deserialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    deny_unknown_fields
)]
enum PlanCall {
    OnChanges,
    OnDemand(ModeJson),
    OnSchedule(String),
    NextFire {
        schedule: String,
        after: String,
    },
    Preview {
        schedule: String,
        after: String,
        count: u32,
    },
    TokenRequest,
    Sign {
        delivery_id: String,
        body: String,
        at: String,
    },
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum ModeJson {
    Synchronous,
    Asynchronous,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CronCase {
    name: String,
    cron: String,
    #[serde(default)]
    time_zone: Option<String>,
    after: String,
    count: u32,
}

/// One case of a conformance file; only what a preview needs is read.
#[derive(Deserialize)]
struct ConformanceCase {
    id: String,
    expr: String,
    tz: Option<String>,
    from: String,
    next: Vec<Json>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct EvaluateCase {
    name: String,
    expression: String,
    record: Json,
    #[serde(default)]
    prior: Option<Json>,
    context: ContextJson,
}

/// One call on the component, with its arguments as the WIT types.
pub struct Call {
    /// The case it belongs to: plan calls run on the plan of the case's `compile`.
    pub case: String,
    input: Input,
}

enum Input {
    Compile(b::Configuration, b::Strategy),
    OnChanges(b::Page, b::Changes, b::RenderContext),
    OnDemand(b::RunMode, b::Page, b::RenderContext),
    OnSchedule(String, b::Page, b::RenderContext),
    NextFire(String, b::Instant),
    Preview(String, b::Instant, u32),
    TokenRequest,
    Sign(String, Vec<u8>, b::Instant),
    CronPreview(String, Option<String>, b::Instant, u32),
    /// The sample as host-test takes it, and the page and rows it writes from it.
    Evaluate(String, b::Sample, b::Page, b::PageSample, b::RenderContext),
}

impl Call {
    /// The call's name: the WIT function's.
    pub fn name(&self) -> &'static str {
        match self.input {
            Input::Compile(..) => "compile",
            Input::OnChanges(..) => "on-changes",
            Input::OnDemand(..) => "on-demand",
            Input::OnSchedule(..) => "on-schedule",
            Input::NextFire(..) => "next-fire",
            Input::Preview(..) => "preview",
            Input::TokenRequest => "token-request",
            Input::Sign(..) => "sign",
            Input::CronPreview(..) => "cron-preview",
            Input::Evaluate(..) => "evaluate",
        }
    }

    /// The arguments, as jco's values.
    fn args(&self) -> Json {
        match &self.input {
            Input::Compile(c, s) => json!([configuration(c), strategy(s)]),
            Input::OnChanges(p, c, x) => json!([page(p), changes(c), context(x)]),
            Input::OnDemand(m, p, x) => json!([run_mode(*m), page(p), context(x)]),
            Input::OnSchedule(s, p, x) => json!([s, page(p), context(x)]),
            Input::NextFire(s, a) => json!([s, instant(*a)]),
            Input::Preview(s, a, n) => json!([s, instant(*a), n]),
            Input::TokenRequest => json!([]),
            Input::Sign(id, body, now) => json!([id, STANDARD.encode(body), instant(*now)]),
            Input::CronPreview(c, z, a, n) => json!([c, z, instant(*a), n]),
            Input::Evaluate(e, _, p, s, x) => json!([
                e,
                page(p),
                {"state": s.state, "prior": s.prior},
                context(x)
            ]),
        }
    }
}

/// Read `cases.json`.
pub fn load() -> Result<Cases, String> {
    let path = root().join(CASES);
    formats::read(&path).map_err(|e| e.to_string())
}

/// Every call of the corpus, in order: each plan case's compile and then its calls, the
/// cron previews, the conformance previews, the expressions.
pub fn calls(cases: &Cases) -> Result<Vec<Call>, String> {
    let file = |f: &str| root().join(f);
    let mut out = Vec::new();
    for case in &cases.plans {
        let config = formats::read_configuration(&file(&case.config)).map_err(|e| e.to_string())?;
        let strategy = formats::read_strategy(&file(&case.strategy)).map_err(|e| e.to_string())?;
        let changes = match &case.changes {
            Some(f) => formats::read_changes(&file(f)).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        let members = match &case.members {
            Some(f) => formats::read_members(&file(f)).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        let push = |out: &mut Vec<Call>, input| {
            out.push(Call {
                case: case.name.clone(),
                input,
            })
        };
        push(&mut out, Input::Compile(config, strategy));
        for call in &case.calls {
            let context = || {
                case.context
                    .as_ref()
                    .ok_or_else(|| {
                        format!("{CASES}: case {:?} renders but has no context", case.name)
                    })
                    .and_then(|c| render_context(c, &case.name))
            };
            let input = match call {
                PlanCall::OnChanges => {
                    let (page, over) = records::page_of_changes(&changes);
                    Input::OnChanges(page, over, context()?)
                }
                PlanCall::OnDemand(mode) => Input::OnDemand(
                    match mode {
                        ModeJson::Synchronous => b::RunMode::Synchronous,
                        ModeJson::Asynchronous => b::RunMode::Asynchronous,
                    },
                    records::page_of_members(&members),
                    context()?,
                ),
                PlanCall::OnSchedule(s) => {
                    Input::OnSchedule(s.clone(), records::page_of_members(&members), context()?)
                }
                PlanCall::NextFire { schedule, after } => {
                    Input::NextFire(schedule.clone(), at(after, &case.name)?)
                }
                PlanCall::Preview {
                    schedule,
                    after,
                    count,
                } => Input::Preview(schedule.clone(), at(after, &case.name)?, *count),
                PlanCall::TokenRequest => Input::TokenRequest,
                PlanCall::Sign {
                    delivery_id,
                    body,
                    at: when,
                } => Input::Sign(
                    delivery_id.clone(),
                    body.as_bytes().to_vec(),
                    at(when, &case.name)?,
                ),
            };
            push(&mut out, input);
        }
    }
    for c in &cases.cron_preview {
        out.push(Call {
            case: c.name.clone(),
            input: Input::CronPreview(
                c.cron.clone(),
                c.time_zone.clone(),
                at(&c.after, &c.name)?,
                c.count,
            ),
        });
    }
    for f in &cases.cron_conformance {
        let list: Vec<ConformanceCase> = formats::read(&file(f)).map_err(|e| e.to_string())?;
        for c in list {
            let count = u32::try_from(c.next.len()).unwrap_or(u32::MAX);
            out.push(Call {
                case: c.id.clone(),
                input: Input::CronPreview(c.expr, c.tz, at(&c.from, &c.id)?, count),
            });
        }
    }
    for c in &cases.evaluate {
        let path = |what: &str| format!("{CASES}: evaluate {:?}.{what}", c.name);
        let state = formats::attributes(&c.record, &path("record")).map_err(|e| e.to_string())?;
        let prior = c
            .prior
            .as_ref()
            .map(|p| formats::attributes(p, &path("prior")))
            .transpose()
            .map_err(|e| e.to_string())?;
        // The page host-test's `Runtime::evaluate` writes: the state, then the prior state.
        let mut builder = PageBuilder::default();
        let rows = b::PageSample {
            state: builder.member("", &state),
            prior: prior.as_ref().map(|p| builder.member("", p)),
        };
        out.push(Call {
            case: c.name.clone(),
            input: Input::Evaluate(
                c.expression.clone(),
                b::Sample { state, prior },
                builder.finish(),
                rows,
                render_context(&c.context, &c.name)?,
            ),
        });
    }
    Ok(out)
}

fn at(text: &str, case: &str) -> Result<b::Instant, String> {
    host_test::time::instant::parse(text).ok_or_else(|| {
        format!(
            "{CASES}: case {case:?}: {text:?} is not an RFC 3339 time such as 2024-06-15T10:30:00Z"
        )
    })
}

fn render_context(c: &ContextJson, case: &str) -> Result<b::RenderContext, String> {
    Ok(b::RenderContext {
        now: at(&c.now, case)?,
        access_token: c.access_token.clone(),
        platform_token: c.platform_token.clone(),
        id_seed: c.id_seed,
    })
}

/// Write the calls for examples/jco/render.mjs: `{"version", "calls": [{"case", "call",
/// "args"}]}`.
pub fn write(calls: &[Call], out: &Path) -> Result<(), String> {
    let doc = json!({
        "version": crate::dist::VERSION,
        "calls": calls
            .iter()
            .map(|c| json!({"case": c.case, "call": c.name(), "args": c.args()}))
            .collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(out, text + "\n").map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// Make every call through the reference host on `component`: one line a call, as
/// examples/jco/render.mjs prints it.
pub fn render(component: &Path, calls: &[Call]) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(component)
        .map_err(|e| format!("cannot read the component {}: {e}", component.display()))?;
    let runtime = Runtime::from_bytes(&bytes, Limits::default()).map_err(|e| e.to_string())?;
    let mut plans: HashMap<&str, Session> = HashMap::new();
    let mut lines = Vec::with_capacity(calls.len());
    for call in calls {
        let failed = |e: HostError| format!("{} of case {:?}: {e}", call.name(), call.case);
        let result = match &call.input {
            Input::Compile(c, s) => match runtime.session(c, s) {
                Ok(mut session) => {
                    let warnings = session.warnings().map_err(failed)?;
                    plans.insert(&call.case, session);
                    json!({ "ok": problems(&warnings) })
                }
                Err(e) => answer(Err(e)).map_err(failed)?,
            },
            Input::CronPreview(c, z, a, n) => {
                answer(runtime.cron_preview(c, z.as_deref(), *a, *n).map(
                    |f| json!({"fires": instants(&f.fires), "warnings": problems(&f.warnings)}),
                ))
                .map_err(failed)?
            }
            Input::Evaluate(e, sample, _, _, x) => {
                answer(runtime.evaluate(e, sample, x).map(|v| value(&v))).map_err(failed)?
            }
            input => {
                let plan = plans
                    .get_mut(call.case.as_str())
                    .ok_or_else(|| format!("case {:?} has no compiled plan", call.case))?;
                answer(on_plan(plan, input)).map_err(failed)?
            }
        };
        lines.push(json!({"case": call.case, "call": call.name(), "result": result}).to_string());
    }
    Ok(lines)
}

/// A call on a compiled plan, its answer as jco's value.
fn on_plan(plan: &mut Session, input: &Input) -> Result<Json, HostError> {
    Ok(match input {
        Input::OnChanges(p, c, x) => requests(&plan.on_changes_page(p, c, x)?),
        Input::OnDemand(m, p, x) => requests(&plan.on_demand_page(*m, p, x)?),
        Input::OnSchedule(s, p, x) => requests(&plan.on_schedule_page(s, p, x)?),
        Input::NextFire(s, a) => json!(plan.next_fire(s, *a)?.map(instant)),
        Input::Preview(s, a, n) => instants(&plan.preview(s, *a, *n)?),
        Input::TokenRequest => request(&plan.token_request()?),
        Input::Sign(id, body, now) => headers(&plan.signature_headers(id, body, *now)?),
        Input::Compile(..) | Input::CronPreview(..) | Input::Evaluate(..) => {
            unreachable!("not a call on a plan")
        }
    })
}

/// A call's answer as `{"ok": ...}` or `{"err": ...}`; a failure of the host (a trap, a
/// limit) is no answer and stops the run.
fn answer(r: Result<Json, HostError>) -> Result<Json, HostError> {
    match r {
        Ok(v) => Ok(json!({ "ok": v })),
        Err(HostError::Render(e)) => Ok(json!({ "err": render_error(&e) })),
        Err(HostError::Invalid(p)) => Ok(json!({ "err": problems(&p) })),
        Err(HostError::Problem(p)) => Ok(json!({ "err": problem(&p) })),
        Err(e) => Err(e),
    }
}

// ---- jco's values, as JSON ----

fn instant(i: b::Instant) -> Json {
    json!({"seconds": i.seconds.to_string(), "nanoseconds": i.nanoseconds})
}

fn instants(is: &[b::Instant]) -> Json {
    is.iter().copied().map(instant).collect()
}

fn field(f: &b::Field) -> Json {
    let (tag, val) = match &f.value {
        b::FieldValue::Text(t) => ("text", t),
        b::FieldValue::Expression(e) => ("expression", e),
    };
    json!({"key": f.key, "value": {"tag": tag, "val": val}})
}

fn fields(fs: &[b::Field]) -> Json {
    fs.iter().map(field).collect()
}

fn configuration(c: &b::Configuration) -> Json {
    let o = &c.oauth;
    json!({
        "name": c.name,
        "webhookUrl": c.webhook_url,
        "includePlatformToken": c.include_platform_token,
        "oauth": {
            "tokenUrl": o.token_url,
            "clientId": o.client_id,
            "clientSecret": o.client_secret,
            "scope": o.scope,
            "clientAuth": match o.client_auth {
                b::ClientAuth::Basic => "basic",
                b::ClientAuth::Body => "body",
            },
        },
        "headers": fields(&c.headers),
        "query": fields(&c.query),
        "signingSecrets": c.signing_secrets,
        "maxBodyBytes": c.max_body_bytes,
    })
}

fn trigger(t: &b::Trigger) -> Json {
    json!({"enabled": t.enabled, "filter": t.filter})
}

fn strategy(s: &b::Strategy) -> Json {
    let r = &s.run_options;
    json!({
        "name": s.name,
        "entity": s.entity,
        "headers": fields(&s.headers),
        "body": fields(&s.body),
        "records": fields(&s.records),
        "runOptions": {
            "runAsUser": r.run_as_user, "batchSize": r.batch_size,
            "syncEnabled": r.sync_enabled, "syncRecordLimit": r.sync_record_limit,
            "asyncEnabled": r.async_enabled,
            "added": trigger(&r.added), "updated": trigger(&r.updated), "deleted": trigger(&r.deleted),
        },
        "schedules": s.schedules.iter().map(|x| json!({
            "name": x.name,
            "cron": x.cron,
            "filter": x.filter,
            "timeZone": x.time_zone,
        })).collect::<Vec<_>>(),
    })
}

/// 64-bit integers as decimal strings: JavaScript's numbers hold 53 bits.
fn wide<T: ToString>(v: &[T]) -> Json {
    v.iter().map(|x| Json::String(x.to_string())).collect()
}

fn page(p: &b::Page) -> Json {
    json!({
        "text": p.text, "names": p.names, "pathNames": p.path_names, "paths": p.paths,
        "cellPaths": p.cell_paths, "cellKinds": p.cell_kinds, "cellValues": wide(&p.cell_values),
        "instants": instants(&p.instants), "rows": p.rows,
    })
}

fn changes(c: &b::Changes) -> Json {
    json!({
        "eventIds": c.event_ids, "entities": c.entities, "codes": c.codes,
        "changedBy": c.changed_by, "kinds": c.kinds,
        "newStates": c.new_states, "priorStates": c.prior_states,
        "atSeconds": wide(&c.at_seconds), "atNanoseconds": c.at_nanoseconds,
    })
}

fn context(c: &b::RenderContext) -> Json {
    json!({
        "now": instant(c.now),
        "accessToken": c.access_token,
        "platformToken": c.platform_token,
        "idSeed": c.id_seed.to_string(),
    })
}

fn run_mode(m: b::RunMode) -> Json {
    json!(match m {
        b::RunMode::Synchronous => "synchronous",
        b::RunMode::Asynchronous => "asynchronous",
    })
}

fn headers(hs: &[b::Header]) -> Json {
    hs.iter()
        .map(|h| json!({"name": h.name, "value": h.value}))
        .collect()
}

fn request(r: &b::HttpRequest) -> Json {
    json!({
        "method": match r.method {
            b::HttpMethod::Get => "get",
            b::HttpMethod::Post => "post",
        },
        "url": r.url,
        "headers": headers(&r.headers),
        "body": STANDARD.encode(&r.body),
        "memberCodes": r.member_codes,
        "deliveryId": r.delivery_id,
    })
}

fn requests(rs: &[b::HttpRequest]) -> Json {
    rs.iter().map(request).collect()
}

fn problem(p: &b::Problem) -> Json {
    json!({
        "path": p.path,
        "message": p.message,
        "span": p.span.map(|s| json!({
            "line": s.line,
            "column": s.column,
            "endLine": s.end_line,
            "endColumn": s.end_column,
        })),
        "severity": match p.severity {
            b::Severity::Error => "error",
            b::Severity::Warning => "warning",
        },
    })
}

fn problems(ps: &[b::Problem]) -> Json {
    ps.iter().map(problem).collect()
}

fn over_limit(o: &b::OverLimit) -> Json {
    json!({"what": o.what, "limit": o.limit.to_string(), "actual": o.actual.to_string()})
}

fn render_error(e: &b::RenderError) -> Json {
    use b::RenderError as E;
    let (tag, val) = match e {
        E::Unsupported(s) => ("unsupported", Some(json!(s))),
        E::InvalidInput(p) => ("invalid-input", Some(problem(p))),
        E::Evaluation(p) => ("evaluation", Some(problem(p))),
        E::SyncDisabled => ("sync-disabled", None),
        E::AsyncDisabled => ("async-disabled", None),
        E::SyncLimitExceeded(o) => ("sync-limit-exceeded", Some(over_limit(o))),
        E::RecordTooLarge(r) => (
            "record-too-large",
            Some(json!({"code": r.code, "size": r.size.to_string(), "limit": r.limit.to_string()})),
        ),
        E::LimitExceeded(o) => ("limit-exceeded", Some(over_limit(o))),
        E::MissingAccessToken => ("missing-access-token", None),
        E::MissingPlatformToken => ("missing-platform-token", None),
        E::OauthNotConfigured => ("oauth-not-configured", None),
        E::UnknownSchedule(s) => ("unknown-schedule", Some(json!(s))),
        E::TimeZone(s) => ("time-zone", Some(json!(s))),
    };
    // jco writes a case without a payload as `{"tag"}` alone.
    match val {
        Some(v) => json!({"tag": tag, "val": v}),
        None => json!({ "tag": tag }),
    }
}

fn value(v: &b::Value) -> Json {
    match v {
        b::Value::Null => json!({"tag": "null"}),
        b::Value::Text(t) => json!({"tag": "text", "val": t}),
        b::Value::Decimal(d) => json!({"tag": "decimal", "val": d}),
        b::Value::Boolean(x) => json!({"tag": "boolean", "val": x}),
        b::Value::Date(d) => {
            json!({"tag": "date", "val": {"year": d.year, "month": d.month, "day": d.day}})
        }
        b::Value::Datetime(i) => json!({"tag": "datetime", "val": instant(*i)}),
    }
}
