//! A compiled configuration + strategy: validated once, rendered many times.
//!
//! `compile` parses every expression and cron text once, with the usage that decides what
//! each may read, so rendering never parses and every problem is found up front.

use crate::body::Layout;
use crate::cron::{self, Cron};
use crate::expr::{self, Expr, Usage};
use crate::field::{Compiled, CompiledField};
use crate::model::{
    AccessToken, Configuration, Field, FieldValue, Header, HttpRequest, Instant, OauthError,
    Problem, RenderContext, RenderError, Sample, Severity, Strategy, Value, Verdict, Zones,
};
use crate::validate;

/// The time zone of a schedule that names none.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// A schedule, parsed.
#[derive(Clone, Debug)]
pub struct CompiledSchedule {
    /// Its name.
    pub name: String,
    /// The parsed cron text.
    pub cron: Cron,
    /// The IANA zone its fields are read in.
    pub zone: String,
    /// Which members a run sends; none sends all.
    pub filter: Option<Expr>,
}

/// A configuration and a strategy, validated and compiled.
#[derive(Debug)]
pub struct Plan {
    config: Configuration,
    strategy: Strategy,
    warnings: Vec<Problem>,
    /// Configuration headers overridden by the strategy's, by case-insensitive name.
    pub(crate) headers: Vec<CompiledField>,
    pub(crate) query: Vec<CompiledField>,
    pub(crate) added: Option<Option<Expr>>,
    pub(crate) updated: Option<Option<Expr>>,
    pub(crate) deleted: Option<Option<Expr>>,
    pub(crate) schedules: Vec<CompiledSchedule>,
    pub(crate) secrets: Vec<crate::sign::Secret>,
    pub(crate) body_layout: Layout,
    pub(crate) record_layout: Layout,
    /// Every distinct attribute path the plan's expressions read: each call resolves
    /// these against its page once ([`crate::page::Bound`]).
    pub(crate) slots: Vec<Box<[Box<str>]>>,
}

/// Sets the path of problems that come back without one.
fn located(problems: Vec<Problem>, path: &str) -> impl Iterator<Item = Problem> + '_ {
    problems.into_iter().map(move |p| Problem {
        path: path.to_string(),
        ..p
    })
}

/// Compiles a list of fields; problems go to `out`.
fn compile_fields(
    fields: &[Field],
    path: &str,
    usage: Usage,
    out: &mut Vec<Problem>,
) -> Vec<CompiledField> {
    let mut compiled = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let at = format!("{path}[{i}].value");
        let value = match &f.value {
            FieldValue::Text(t) => Compiled::Text(t.clone()),
            FieldValue::Expression(e) if e.trim().is_empty() => continue, // reported by validate
            FieldValue::Expression(e) => match expr::compile(e, usage) {
                Ok(x) => Compiled::Expr(x),
                Err(problems) => {
                    out.extend(located(problems, &at));
                    continue;
                }
            },
        };
        compiled.push(CompiledField {
            key: f.key.clone(),
            value,
            path: at,
        });
    }
    compiled
}

/// Compiles an optional filter; `None` for an empty one.
fn compile_filter(
    filter: Option<&str>,
    path: &str,
    usage: Usage,
    out: &mut Vec<Problem>,
) -> Option<Expr> {
    let text = filter.filter(|f| !f.trim().is_empty())?;
    match expr::compile(text, usage) {
        Ok(x) => Some(x),
        Err(problems) => {
            out.extend(located(problems, path));
            None
        }
    }
}

impl Plan {
    /// Validate and compile; every error at once, or the plan with its warnings.
    /// `zones` checks that each schedule's time zone is known.
    pub fn compile(
        config: Configuration,
        strategy: Strategy,
        zones: &dyn Zones,
    ) -> Result<Plan, Vec<Problem>> {
        let mut problems = validate::check(&config, &strategy);

        let config_headers = compile_fields(
            &config.headers,
            "configuration.headers",
            Usage::Request,
            &mut problems,
        );
        let strategy_headers = compile_fields(
            &strategy.headers,
            "strategy.headers",
            Usage::Request,
            &mut problems,
        );
        let mut headers: Vec<CompiledField> = config_headers
            .into_iter()
            .filter(|c| {
                !strategy_headers
                    .iter()
                    .any(|s| s.key.eq_ignore_ascii_case(&c.key))
            })
            .collect();
        headers.extend(strategy_headers);
        let query = compile_fields(
            &config.query,
            "configuration.query",
            Usage::Request,
            &mut problems,
        );
        let body = compile_fields(
            &strategy.body,
            "strategy.body",
            Usage::Request,
            &mut problems,
        );
        let records = compile_fields(
            &strategy.records,
            "strategy.records",
            Usage::Record,
            &mut problems,
        );

        let r = &strategy.run_options;
        // A disabled trigger's filter is compiled all the same: a mistake in it is an
        // error now, not when someone enables the trigger.
        let mut trigger = |t: &crate::model::Trigger, key: &str, usage: Usage| {
            let filter = compile_filter(
                t.filter.as_deref(),
                &format!("strategy.run-options.{key}.filter"),
                usage,
                &mut problems,
            );
            t.enabled.then_some(filter)
        };
        let added = trigger(&r.added, "added", Usage::Added);
        let updated = trigger(&r.updated, "updated", Usage::Updated);
        let deleted = trigger(&r.deleted, "deleted", Usage::Deleted);

        let mut schedules = Vec::with_capacity(strategy.schedules.len());
        for (i, s) in strategy.schedules.iter().enumerate() {
            let path = format!("strategy.schedules[{i}]");
            let filter = compile_filter(
                s.filter.as_deref(),
                &format!("{path}.filter"),
                Usage::Schedule,
                &mut problems,
            );
            let zone = s
                .time_zone
                .as_deref()
                .filter(|z| !z.trim().is_empty())
                .unwrap_or(DEFAULT_TIME_ZONE)
                .to_string();
            let zone_ok = match zones.utc_offset(
                &zone,
                Instant {
                    seconds: 0,
                    nanoseconds: 0,
                },
            ) {
                Ok(_) => true,
                Err(m) => {
                    problems.push(Problem::error(format!("{path}.time-zone"), m));
                    false
                }
            };
            if s.cron.trim().is_empty() {
                continue; // reported by validate
            }
            match cron::parse(&s.cron) {
                Ok((c, warnings)) => {
                    problems.extend(located(warnings, &format!("{path}.cron")));
                    if zone_ok {
                        schedules.push(CompiledSchedule {
                            name: s.name.clone(),
                            cron: c,
                            zone,
                            filter,
                        });
                    }
                }
                Err(errors) => problems.extend(located(errors, &format!("{path}.cron"))),
            }
        }

        let secrets = config
            .signing_secrets
            .iter()
            .filter_map(|s| crate::sign::Secret::parse(s).ok())
            .collect();

        if problems.iter().any(|p| p.severity == Severity::Error) {
            return Err(problems);
        }
        let mut slots = Vec::new();
        let fields = headers.iter().chain(&query).chain(&body).chain(&records);
        for f in fields {
            if let Compiled::Expr(e) = &f.value {
                e.bind(&mut slots);
            }
        }
        let filters = [&added, &updated, &deleted]
            .into_iter()
            .filter_map(|t| t.as_ref()?.as_ref())
            .chain(schedules.iter().filter_map(|s| s.filter.as_ref()));
        for f in filters {
            f.bind(&mut slots);
        }
        Ok(Plan {
            slots,
            body_layout: Layout::new(&body),
            record_layout: Layout::new(&records),
            config,
            strategy,
            warnings: problems,
            headers,
            query,
            added,
            updated,
            deleted,
            schedules,
            secrets,
        })
    }

    /// The compiled schedule named `name`.
    pub(crate) fn schedule(&self, name: &str) -> Result<&CompiledSchedule, RenderError> {
        self.schedules
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| RenderError::UnknownSchedule(name.to_string()))
    }

    /// The configuration this plan was compiled from.
    pub fn configuration(&self) -> &Configuration {
        &self.config
    }

    /// The strategy this plan was compiled from.
    pub fn strategy(&self) -> &Strategy {
        &self.strategy
    }

    /// Warnings found while compiling.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The next fire time strictly after `after`.
    pub fn next_fire(
        &self,
        schedule: &str,
        after: Instant,
        zones: &dyn Zones,
    ) -> Result<Option<Instant>, RenderError> {
        let s = self.schedule(schedule)?;
        s.cron
            .next_after(after, &s.zone, zones)
            .map_err(RenderError::TimeZone)
    }

    /// The next `count` fire times strictly after `after`.
    pub fn preview(
        &self,
        schedule: &str,
        after: Instant,
        count: u32,
        zones: &dyn Zones,
    ) -> Result<Vec<Instant>, RenderError> {
        let s = self.schedule(schedule)?;
        if count > cron::MAX_PREVIEW {
            return Err(RenderError::LimitExceeded(crate::model::OverLimit {
                what: "fire times in one preview".into(),
                limit: cron::MAX_PREVIEW as u64,
                actual: count as u64,
            }));
        }
        s.cron
            .preview(after, count, &s.zone, zones)
            .map_err(RenderError::TimeZone)
    }

    /// The OAuth token request.
    pub fn token_request(&self) -> Result<HttpRequest, RenderError> {
        crate::oauth::token_request(&self.config.oauth)
    }

    /// Parse a token response.
    pub fn accept_token(
        &self,
        status: u16,
        body: &[u8],
        now: Instant,
    ) -> Result<AccessToken, OauthError> {
        crate::oauth::accept_token(status, body, now)
    }

    /// What to do with a response.
    pub fn classify(&self, status: u16, headers: &[Header], now: Instant) -> Verdict {
        crate::response::classify(status, headers, now)
    }

    /// The Standard Webhooks headers for a new attempt of a request: its delivery id and a
    /// fresh timestamp, and with signing secrets a signature over the same id and body.
    pub fn sign(&self, delivery_id: &str, body: &[u8], now: Instant) -> Vec<Header> {
        self.signature_headers(delivery_id, body, now.seconds)
    }
}

/// Evaluate an expression on a sample record.
pub fn evaluate(expression: &str, sample: &Sample, ctx: &RenderContext) -> Result<Value, Problem> {
    crate::expr::evaluate(expression, sample, ctx)
}

/// Validate a cron text and preview its next fire times, with the warnings compiling it
/// in a strategy would give.
///
/// Problems in the text are at path `cron` (with their spans), an unknown zone at
/// `time-zone`, a count over [`crate::cron::MAX_PREVIEW`] at `count`. The zone defaults
/// to UTC.
pub fn cron_preview(
    cron: &str,
    time_zone: Option<&str>,
    after: Instant,
    count: u32,
    zones: &dyn Zones,
) -> Result<(Vec<Instant>, Vec<Problem>), Vec<Problem>> {
    let (schedule, warnings) = crate::cron::parse(cron).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| Problem {
                path: "cron".into(),
                ..p
            })
            .collect::<Vec<_>>()
    })?;
    let zone = time_zone.unwrap_or("UTC");
    zones
        .utc_offset(zone, after)
        .map_err(|m| vec![Problem::error("time-zone", m)])?;
    if count > crate::cron::MAX_PREVIEW {
        return Err(vec![Problem::error(
            "count",
            format!(
                "a preview lists at most {} fire times; {count} were asked for",
                crate::cron::MAX_PREVIEW
            ),
        )]);
    }
    let fires = schedule
        .preview(after, count, zone, zones)
        .map_err(|m| vec![Problem::error("time-zone", m)])?;
    let warnings = warnings
        .into_iter()
        .map(|p| Problem {
            path: "cron".into(),
            ..p
        })
        .collect();
    Ok((fires, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunOptions, Schedule, Trigger, UtcOnly};

    fn pair() -> (Configuration, Strategy) {
        let config = Configuration {
            name: "c".into(),
            webhook_url: "https://example.com/hook".into(),
            ..Default::default()
        };
        let strategy = Strategy {
            name: "s".into(),
            entity: "E".into(),
            run_options: RunOptions {
                run_as_user: "u".into(),
                batch_size: 1,
                added: Trigger {
                    enabled: true,
                    filter: Some("[A] >".into()),
                },
                ..Default::default()
            },
            schedules: vec![
                Schedule {
                    name: "bad cron".into(),
                    cron: "0 25 * * *".into(),
                    ..Default::default()
                },
                Schedule {
                    name: "bad zone".into(),
                    cron: "@daily".into(),
                    time_zone: Some("Mars/Olympus".into()),
                    ..Default::default()
                },
                Schedule {
                    name: "both days".into(),
                    cron: "0 0 13 * FRI".into(),
                    filter: Some("CHANGED([A])".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        (config, strategy)
    }

    #[test]
    fn compile_reports_expression_cron_and_zone_problems_together_with_locations() {
        let (c, s) = pair();
        let problems = Plan::compile(c, s, &UtcOnly).unwrap_err();
        let seen: Vec<(&str, Severity, bool)> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.severity, p.span.is_some()))
            .collect();
        assert_eq!(
            seen,
            [
                ("strategy.run-options.added.filter", Severity::Error, true),
                ("strategy.schedules[0].cron", Severity::Error, true),
                ("strategy.schedules[1].time-zone", Severity::Error, false),
                ("strategy.schedules[2].filter", Severity::Error, true),
                ("strategy.schedules[2].cron", Severity::Warning, true),
            ]
        );
    }

    #[test]
    fn a_disabled_triggers_filter_is_still_checked() {
        let (c, mut s) = pair();
        s.schedules.clear();
        s.run_options.added.filter = None;
        s.run_options.deleted = Trigger {
            enabled: false,
            filter: Some("[Status] = ".into()),
        };
        let problems = Plan::compile(c.clone(), s.clone(), &UtcOnly).unwrap_err();
        let p = problems
            .iter()
            .find(|p| {
                p.path == "strategy.run-options.deleted.filter" && p.severity == Severity::Error
            })
            .unwrap_or_else(|| panic!("{problems:#?}"));
        assert!(p.span.is_some());
        // A valid filter on a disabled trigger compiles, with the warning that it is unused.
        s.run_options.deleted.filter = Some("[Status] = 'Gone'".into());
        let plan = Plan::compile(c, s, &UtcOnly).unwrap();
        assert!(
            plan.warnings()
                .iter()
                .any(|w| w.path == "strategy.run-options.deleted.filter"),
            "{:?}",
            plan.warnings()
        );
    }

    #[test]
    fn a_schedule_restricting_both_day_fields_compiles_with_a_warning() {
        let (c, mut s) = pair();
        s.run_options.added.filter = None;
        s.schedules = vec![Schedule {
            name: "Friday 13th".into(),
            cron: "0 0 13 * FRI".into(),
            ..Default::default()
        }];
        let plan = Plan::compile(c, s, &UtcOnly).unwrap();
        assert_eq!(plan.warnings().len(), 1);
        assert_eq!(plan.warnings()[0].path, "strategy.schedules[0].cron");
        // 2026-11-29 → the next Friday the 13th is 2027-08-13.
        let after = Instant::parse_rfc3339("2026-11-29T00:00:00Z").unwrap();
        let next = plan
            .next_fire("Friday 13th", after, &UtcOnly)
            .unwrap()
            .unwrap();
        assert_eq!(next.to_rfc3339(), "2027-08-13T00:00:00Z");
        assert_eq!(
            plan.next_fire("nope", after, &UtcOnly),
            Err(RenderError::UnknownSchedule("nope".into()))
        );
    }

    #[test]
    fn preview_count_limit_obeyed_and_violated() {
        let (c, mut s) = pair();
        s.run_options.added.filter = None;
        s.schedules = vec![Schedule {
            name: "hourly".into(),
            cron: "@hourly".into(),
            ..Default::default()
        }];
        let plan = Plan::compile(c, s, &UtcOnly).unwrap();
        let after = Instant::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let max = cron::MAX_PREVIEW;
        assert_eq!(
            plan.preview("hourly", after, max, &UtcOnly).unwrap().len(),
            max as usize
        );
        assert!(matches!(
            plan.preview("hourly", after, max + 1, &UtcOnly),
            Err(RenderError::LimitExceeded(_))
        ));
    }
}
