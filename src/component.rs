//! The WebAssembly boundary: generated bindings and conversions between them and the
//! native model. Nothing here decides anything; it only translates.
//!
//! Conversions from the bindings validate what the WIT types cannot express (decimal text,
//! calendar dates, instants) and turn violations into located problems, so a bad input
//! never panics inside the component.

use crate::model as m;
use crate::page as pm;
use crate::plan;

wit_bindgen::generate!({
    world: "webhook-provider",
    path: "wit",
});

use connect::webhook::config as c;
use connect::webhook::page as pg;
use connect::webhook::types as t;
use connect::webhook::zone;
use exports::connect::webhook::provider::{self as p, Guest, GuestPlan};

struct Component;

export!(Component);

/// The exported `plan` resource.
struct PlanResource {
    plan: plan::Plan,
}

/// Asks the host for offsets through the `zone` import.
struct HostZones;

impl m::Zones for HostZones {
    fn utc_offset(&self, name: &str, at: m::Instant) -> Result<i32, String> {
        zone::utc_offset(name, from_instant(at))
    }
}

impl Guest for Component {
    type Plan = PlanResource;

    fn compile(
        configuration: c::Configuration,
        strategy: c::Strategy,
    ) -> Result<p::Plan, Vec<t::Problem>> {
        let config = to_configuration(configuration);
        let strategy = to_strategy(strategy);
        match plan::Plan::compile(config, strategy, &HostZones) {
            Ok(plan) => Ok(p::Plan::new(PlanResource { plan })),
            Err(problems) => Err(problems.into_iter().map(from_problem).collect()),
        }
    }

    fn evaluate(
        expression: String,
        page: pg::Page,
        sample: pg::Sample,
        context: t::RenderContext,
    ) -> Result<t::Value, t::Problem> {
        let page = to_page(page).map_err(from_problem)?;
        page.check_row(sample.state, &|| "sample.state".into())
            .map_err(from_problem)?;
        if let Some(prior) = sample.prior {
            page.check_row(prior, &|| "sample.prior".into())
                .map_err(from_problem)?;
        }
        let ctx = to_context(context).map_err(from_problem)?;
        crate::expr::evaluate_rows(&expression, &page, sample.state, sample.prior, &ctx)
            .map(from_value)
            .map_err(from_problem)
    }

    fn cron_preview(
        cron: String,
        time_zone: Option<String>,
        after: t::Instant,
        count: u32,
    ) -> Result<p::FireTimes, Vec<t::Problem>> {
        let after = to_instant(after, &|| "after".into()).map_err(|p| vec![from_problem(p)])?;
        plan::cron_preview(&cron, time_zone.as_deref(), after, count, &HostZones)
            .map(|(fires, warnings)| p::FireTimes {
                fires: fires.into_iter().map(from_instant).collect(),
                warnings: warnings.into_iter().map(from_problem).collect(),
            })
            .map_err(|ps| ps.into_iter().map(from_problem).collect())
    }
}

type Rendered = Result<Vec<t::HttpRequest>, t::RenderError>;

fn rendered(r: Result<Vec<m::HttpRequest>, m::RenderError>) -> Rendered {
    r.map(|v| v.into_iter().map(from_request).collect())
        .map_err(from_render_error)
}

impl GuestPlan for PlanResource {
    fn on_changes(
        &self,
        page: pg::Page,
        changes: pg::Changes,
        context: t::RenderContext,
    ) -> Rendered {
        let ctx = to_context(context).map_err(invalid)?;
        let page = to_page(page).map_err(invalid)?;
        let changes = to_changes(changes).map_err(invalid)?;
        rendered(self.plan.render_changes(&page, &changes, &ctx))
    }

    fn on_demand(
        &self,
        mode: t::RunMode,
        members: pg::Page,
        context: t::RenderContext,
    ) -> Rendered {
        let ctx = to_context(context).map_err(invalid)?;
        let page = to_page(members).map_err(invalid)?;
        let mode = match mode {
            t::RunMode::Synchronous => m::RunMode::Synchronous,
            t::RunMode::Asynchronous => m::RunMode::Asynchronous,
        };
        rendered(self.plan.render_demand(mode, &page, &ctx))
    }

    fn on_schedule(
        &self,
        schedule: String,
        members: pg::Page,
        context: t::RenderContext,
    ) -> Rendered {
        let ctx = to_context(context).map_err(invalid)?;
        let page = to_page(members).map_err(invalid)?;
        rendered(self.plan.render_schedule(&schedule, &page, &ctx))
    }

    fn next_fire(
        &self,
        schedule: String,
        after: t::Instant,
    ) -> Result<Option<t::Instant>, t::RenderError> {
        let after = to_instant(after, &|| "after".into()).map_err(invalid)?;
        self.plan
            .next_fire(&schedule, after, &HostZones)
            .map(|o| o.map(from_instant))
            .map_err(from_render_error)
    }

    fn preview(
        &self,
        schedule: String,
        after: t::Instant,
        count: u32,
    ) -> Result<Vec<t::Instant>, t::RenderError> {
        let after = to_instant(after, &|| "after".into()).map_err(invalid)?;
        self.plan
            .preview(&schedule, after, count, &HostZones)
            .map(|v| v.into_iter().map(from_instant).collect())
            .map_err(from_render_error)
    }

    fn token_request(&self) -> Result<t::HttpRequest, t::RenderError> {
        self.plan
            .token_request()
            .map(from_request)
            .map_err(from_render_error)
    }

    fn accept_token(
        &self,
        status: u16,
        body: Vec<u8>,
        now: t::Instant,
    ) -> Result<t::AccessToken, t::OauthError> {
        let now = to_instant(now, &|| "now".into()).map_err(|p| t::OauthError {
            status,
            error: "invalid_request".into(),
            description: Some(p.to_string()),
        })?;
        self.plan
            .accept_token(status, &body, now)
            .map(|a| t::AccessToken {
                token: a.token,
                token_type: a.token_type,
                expires_at: a.expires_at.map(from_instant),
                scope: a.scope,
            })
            .map_err(|e| t::OauthError {
                status: e.status,
                error: e.error,
                description: e.description,
            })
    }

    fn classify(&self, status: u16, headers: Vec<t::Header>, now: t::Instant) -> t::Verdict {
        let headers: Vec<m::Header> = headers.into_iter().map(to_header).collect();
        // An out-of-range `now` only matters for an HTTP-date Retry-After; clamp it to the
        // epoch rather than refuse to classify.
        let now = to_instant(now, &|| "now".into()).unwrap_or(m::Instant {
            seconds: 0,
            nanoseconds: 0,
        });
        match self.plan.classify(status, &headers, now) {
            m::Verdict::Success => t::Verdict::Success,
            m::Verdict::Retry(after) => t::Verdict::Retry(after),
            m::Verdict::GiveUp => t::Verdict::GiveUp,
            m::Verdict::DisableEndpoint => t::Verdict::DisableEndpoint,
        }
    }

    fn sign(
        &self,
        delivery_id: String,
        body: Vec<u8>,
        now: t::Instant,
    ) -> Result<Vec<t::Header>, t::RenderError> {
        let now = to_instant(now, &|| "now".into()).map_err(invalid)?;
        Ok(self
            .plan
            .sign(&delivery_id, &body, now)
            .into_iter()
            .map(from_header)
            .collect())
    }

    fn warnings(&self) -> Vec<t::Problem> {
        self.plan
            .warnings()
            .iter()
            .cloned()
            .map(from_problem)
            .collect()
    }
}

fn invalid(p: m::Problem) -> t::RenderError {
    t::RenderError::InvalidInput(from_problem(p))
}

// ---- conversions from the bindings ----

/// Paths in problems are built only when there is a problem: conversions run for every
/// attribute of every record, and formatting a path each time would dominate a render.
type PathFn<'a> = &'a dyn Fn() -> String;

fn to_instant(i: t::Instant, path: PathFn) -> Result<m::Instant, m::Problem> {
    m::Instant::new(i.seconds, i.nanoseconds).ok_or_else(|| {
        m::Problem::error(
            path(),
            format!(
                "the instant {}s {}ns is outside years 1 to 9999 or has nanoseconds over 999,999,999",
                i.seconds, i.nanoseconds
            ),
        )
    })
}

/// The page, moved: its text and its columns are the buffers the host's lowering wrote,
/// taken over as they are (no copy, no conversion per cell), then checked once.
fn to_page(p: pg::Page) -> Result<pm::Checked, m::Problem> {
    let instants = p
        .instants
        .into_iter()
        .enumerate()
        .map(|(i, x)| to_instant(x, &|| format!("page.instants[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    pm::Page {
        text: p.text,
        names: p.names,
        path_names: p.path_names,
        paths: p.paths,
        cell_paths: p.cell_paths,
        cell_kinds: p.cell_kinds,
        cell_values: p.cell_values,
        instants,
        rows: p.rows,
    }
    .check("page")
}

/// The changes' columns as one record per change; the columns must agree in length.
fn to_changes(c: pg::Changes) -> Result<Vec<pm::Change>, m::Problem> {
    let n = c.kinds.len();
    for (name, len, per) in [
        ("event-ids", c.event_ids.len(), 2),
        ("entities", c.entities.len(), 2),
        ("codes", c.codes.len(), 2),
        ("changed-by", c.changed_by.len(), 2),
        ("new-states", c.new_states.len(), 1),
        ("prior-states", c.prior_states.len(), 1),
        ("at-seconds", c.at_seconds.len(), 1),
        ("at-nanoseconds", c.at_nanoseconds.len(), 1),
    ] {
        if len != n * per {
            return Err(m::Problem::error(
                format!("changes.{name}"),
                format!(
                    "the column has {len} numbers for {n} changes (by `kinds`); it needs {}",
                    n * per
                ),
            ));
        }
    }
    let run = |v: &[u32], i: usize| pm::TextRef {
        offset: v[2 * i],
        len: v[2 * i + 1],
    };
    let row = |r: u32| (r != NO_ROW).then_some(r);
    (0..n)
        .map(|i| {
            Ok(pm::Change {
                event_id: run(&c.event_ids, i),
                kind: match c.kinds[i] {
                    0 => m::ChangeKind::Added,
                    1 => m::ChangeKind::Updated,
                    2 => m::ChangeKind::Deleted,
                    other => {
                        return Err(m::Problem::error(
                            format!("changes.kinds[{i}]"),
                            format!(
                                "{other} is not a change kind; the kinds are 0 (added), 1 (updated) and 2 (deleted)"
                            ),
                        ));
                    }
                },
                entity: run(&c.entities, i),
                code: run(&c.codes, i),
                new_state: row(c.new_states[i]),
                prior_state: row(c.prior_states[i]),
                changed_by: run(&c.changed_by, i),
                at: to_instant(
                    t::Instant {
                        seconds: c.at_seconds[i],
                        nanoseconds: c.at_nanoseconds[i],
                    },
                    &|| format!("changes[{i}].at"),
                )?,
            })
        })
        .collect()
}

/// The row number that stands for no row in `new-states` and `prior-states`.
const NO_ROW: u32 = u32::MAX;

fn to_context(ctx: t::RenderContext) -> Result<m::RenderContext, m::Problem> {
    Ok(m::RenderContext {
        now: to_instant(ctx.now, &|| "context.now".into())?,
        access_token: ctx.access_token,
        platform_token: ctx.platform_token,
        id_seed: ctx.id_seed,
    })
}

fn to_header(h: t::Header) -> m::Header {
    m::Header {
        name: h.name,
        value: h.value,
    }
}

fn from_header(h: m::Header) -> t::Header {
    t::Header {
        name: h.name,
        value: h.value,
    }
}

fn to_fields(fields: Vec<c::Field>) -> Vec<m::Field> {
    fields
        .into_iter()
        .map(|f| m::Field {
            key: f.key,
            value: match f.value {
                c::FieldValue::Text(s) => m::FieldValue::Text(s),
                c::FieldValue::Expression(s) => m::FieldValue::Expression(s),
            },
        })
        .collect()
}

fn to_configuration(cfg: c::Configuration) -> m::Configuration {
    m::Configuration {
        name: cfg.name,
        webhook_url: cfg.webhook_url,
        include_platform_token: cfg.include_platform_token,
        oauth: m::OauthSettings {
            token_url: cfg.oauth.token_url,
            client_id: cfg.oauth.client_id,
            client_secret: cfg.oauth.client_secret,
            scope: cfg.oauth.scope,
            client_auth: match cfg.oauth.client_auth {
                c::ClientAuth::Basic => m::ClientAuth::Basic,
                c::ClientAuth::Body => m::ClientAuth::Body,
            },
        },
        headers: to_fields(cfg.headers),
        query: to_fields(cfg.query),
        signing_secrets: cfg.signing_secrets,
        max_body_bytes: cfg.max_body_bytes,
    }
}

fn to_trigger(tr: c::Trigger) -> m::Trigger {
    m::Trigger {
        enabled: tr.enabled,
        filter: tr.filter,
    }
}

fn to_strategy(s: c::Strategy) -> m::Strategy {
    let r = s.run_options;
    m::Strategy {
        name: s.name,
        entity: s.entity,
        headers: to_fields(s.headers),
        body: to_fields(s.body),
        records: to_fields(s.records),
        run_options: m::RunOptions {
            run_as_user: r.run_as_user,
            batch_size: r.batch_size,
            sync_enabled: r.sync_enabled,
            sync_record_limit: r.sync_record_limit,
            async_enabled: r.async_enabled,
            added: to_trigger(r.added),
            updated: to_trigger(r.updated),
            deleted: to_trigger(r.deleted),
        },
        schedules: s
            .schedules
            .into_iter()
            .map(|sch| m::Schedule {
                name: sch.name,
                cron: sch.cron,
                filter: sch.filter,
                time_zone: sch.time_zone,
            })
            .collect(),
    }
}

// ---- conversions to the bindings ----

fn from_instant(i: m::Instant) -> t::Instant {
    t::Instant {
        seconds: i.seconds,
        nanoseconds: i.nanoseconds,
    }
}

fn from_value(v: m::Value) -> t::Value {
    match v {
        m::Value::Null => t::Value::Null,
        m::Value::Text(s) => t::Value::Text(s),
        m::Value::Decimal(d) => t::Value::Decimal(d.to_string()),
        m::Value::Boolean(b) => t::Value::Boolean(b),
        m::Value::Date(d) => t::Value::Date(t::Date {
            year: d.year(),
            month: d.month(),
            day: d.day(),
        }),
        m::Value::DateTime(i) => t::Value::Datetime(from_instant(i)),
    }
}

fn from_problem(p: m::Problem) -> t::Problem {
    t::Problem {
        path: p.path,
        message: p.message,
        span: p.span.map(|s| t::Span {
            line: s.line,
            column: s.column,
            end_line: s.end_line,
            end_column: s.end_column,
        }),
        severity: match p.severity {
            m::Severity::Error => t::Severity::Error,
            m::Severity::Warning => t::Severity::Warning,
        },
    }
}

fn from_request(r: m::HttpRequest) -> t::HttpRequest {
    t::HttpRequest {
        method: match r.method {
            m::HttpMethod::Get => t::HttpMethod::Get,
            m::HttpMethod::Post => t::HttpMethod::Post,
        },
        url: r.url,
        headers: r.headers.into_iter().map(from_header).collect(),
        body: r.body,
        member_codes: r.member_codes,
        delivery_id: r.delivery_id,
    }
}

fn over(o: m::OverLimit) -> t::OverLimit {
    t::OverLimit {
        what: o.what,
        limit: o.limit,
        actual: o.actual,
    }
}

fn from_render_error(e: m::RenderError) -> t::RenderError {
    match e {
        m::RenderError::Unsupported(s) => t::RenderError::Unsupported(s),
        m::RenderError::InvalidInput(p) => t::RenderError::InvalidInput(from_problem(p)),
        m::RenderError::Evaluation(p) => t::RenderError::Evaluation(from_problem(p)),
        m::RenderError::SyncDisabled => t::RenderError::SyncDisabled,
        m::RenderError::AsyncDisabled => t::RenderError::AsyncDisabled,
        m::RenderError::SyncLimitExceeded(o) => t::RenderError::SyncLimitExceeded(over(o)),
        m::RenderError::RecordTooLarge { code, size, limit } => {
            t::RenderError::RecordTooLarge(t::RecordTooLarge { code, size, limit })
        }
        m::RenderError::LimitExceeded(o) => t::RenderError::LimitExceeded(over(o)),
        m::RenderError::MissingAccessToken => t::RenderError::MissingAccessToken,
        m::RenderError::MissingPlatformToken => t::RenderError::MissingPlatformToken,
        m::RenderError::OauthNotConfigured => t::RenderError::OauthNotConfigured,
        m::RenderError::UnknownSchedule(s) => t::RenderError::UnknownSchedule(s),
        m::RenderError::TimeZone(s) => t::RenderError::TimeZone(s),
    }
}
