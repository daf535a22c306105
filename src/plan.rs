//! A compiled configuration + strategy: validated once, rendered many times.

use crate::model::{
    AccessToken, Configuration, Header, HttpRequest, Instant, Member, OauthError, Problem,
    RecordChange, RenderContext, RenderError, RunMode, Sample, Severity, Strategy, Value, Verdict,
    Zones,
};
use crate::validate;

/// A configuration and a strategy, validated and compiled.
#[derive(Debug)]
pub struct Plan {
    config: Configuration,
    strategy: Strategy,
    warnings: Vec<Problem>,
}

impl Plan {
    /// Validate and compile; every error at once, or the plan with its warnings.
    pub fn compile(config: Configuration, strategy: Strategy) -> Result<Plan, Vec<Problem>> {
        let problems = validate::check(&config, &strategy);
        if problems.iter().any(|p| p.severity == Severity::Error) {
            return Err(problems);
        }
        Ok(Plan {
            config,
            strategy,
            warnings: problems,
        })
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

    /// Record changes to requests.
    pub fn on_changes(
        &self,
        _changes: &[RecordChange],
        _ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        Err(RenderError::Unsupported("on-changes".into()))
    }

    /// An on-demand run.
    pub fn on_demand(
        &self,
        _mode: RunMode,
        _members: &[Member],
        _ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        Err(RenderError::Unsupported("on-demand".into()))
    }

    /// A scheduled run over one page of members.
    pub fn on_schedule(
        &self,
        _schedule: &str,
        _members: &[Member],
        _ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        Err(RenderError::Unsupported("on-schedule".into()))
    }

    /// The next fire time strictly after `after`.
    pub fn next_fire(
        &self,
        _schedule: &str,
        _after: Instant,
        _zones: &dyn Zones,
    ) -> Result<Option<Instant>, RenderError> {
        Err(RenderError::Unsupported("next-fire".into()))
    }

    /// The next `count` fire times strictly after `after`.
    pub fn preview(
        &self,
        _schedule: &str,
        _after: Instant,
        _count: u32,
        _zones: &dyn Zones,
    ) -> Result<Vec<Instant>, RenderError> {
        Err(RenderError::Unsupported("preview".into()))
    }

    /// The OAuth token request.
    pub fn token_request(&self) -> Result<HttpRequest, RenderError> {
        Err(RenderError::Unsupported("token-request".into()))
    }

    /// Parse a token response.
    pub fn accept_token(
        &self,
        status: u16,
        _body: &[u8],
        _now: Instant,
    ) -> Result<AccessToken, OauthError> {
        Err(OauthError {
            status,
            error: "unsupported".into(),
            description: Some(
                "accept-token is not supported by this version of the component".into(),
            ),
        })
    }

    /// What to do with a response.
    pub fn classify(&self, _status: u16, _headers: &[Header], _now: Instant) -> Verdict {
        Verdict::GiveUp
    }

    /// Re-sign a request for a new attempt.
    pub fn sign(&self, _request: HttpRequest, _now: Instant) -> Result<HttpRequest, RenderError> {
        Err(RenderError::Unsupported("sign".into()))
    }
}

/// Evaluate an expression on a sample record.
pub fn evaluate(expression: &str, sample: &Sample, ctx: &RenderContext) -> Result<Value, Problem> {
    crate::expr::evaluate(expression, sample, ctx)
}

/// Validate a cron text and preview its next fire times.
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
) -> Result<Vec<Instant>, Vec<Problem>> {
    let (schedule, _warnings) = crate::cron::parse(cron).map_err(|problems| {
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
    schedule
        .preview(after, count, zone, zones)
        .map_err(|m| vec![Problem::error("time-zone", m)])
}
