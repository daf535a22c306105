//! The native mirror of the WIT contract's types.
//!
//! The component's logic works on these types so that it compiles and is tested natively;
//! `component.rs` converts between them and the generated bindings at the boundary.
//! Types that hold secrets implement `Debug` by hand and never print them.

use std::fmt;

pub use crate::value::{Date, Decimal, Instant, Value};

/// One attribute of a member; related-entity attributes have paths longer than one.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Attribute names from the member down through related entities.
    pub path: Vec<String>,
    /// The value.
    pub value: Value,
}

/// A member (a record) of an entity.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Member {
    /// The member's code.
    pub code: String,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
}

/// What happened to a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Changed.
    Updated,
    /// Deleted.
    Deleted,
}

/// One record change.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordChange {
    /// The platform's event id.
    pub event_id: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The entity.
    pub entity: String,
    /// The member's code.
    pub code: String,
    /// The state after the change.
    pub new_state: Option<Member>,
    /// The state before the change.
    pub prior_state: Option<Member>,
    /// Who made the change.
    pub changed_by: String,
    /// When.
    pub at: Instant,
}

/// The per-call context.
#[derive(Clone, PartialEq)]
pub struct RenderContext {
    /// The current time.
    pub now: Instant,
    /// The OAuth access token, if the host holds one.
    pub access_token: Option<String>,
    /// The platform token for the run-as user.
    pub platform_token: Option<String>,
    /// Seed for `NEWGUID` and on-demand/scheduled delivery ids.
    pub id_seed: u64,
}

impl fmt::Debug for RenderContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderContext")
            .field("now", &self.now)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| Redacted),
            )
            .field(
                "platform_token",
                &self.platform_token.as_ref().map(|_| Redacted),
            )
            .field("id_seed", &self.id_seed)
            .finish()
    }
}

/// Stands in for a secret in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An HTTP header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// The HTTP methods the component renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// A rendered HTTP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: HttpMethod,
    /// Absolute URL.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<Header>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Member codes carried, in body order.
    pub member_codes: Vec<String>,
    /// Stable delivery id.
    pub delivery_id: String,
}

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Prevents compiling.
    Error,
    /// Worth knowing; does not prevent compiling.
    Warning,
}

/// A 1-based location in a text, end exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First line.
    pub line: u32,
    /// First column.
    pub column: u32,
    /// Line after the end.
    pub end_line: u32,
    /// Column after the end.
    pub end_column: u32,
}

/// A problem found in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path into the input.
    pub path: String,
    /// What is wrong and what would be right.
    pub message: String,
    /// Location inside an expression or cron text.
    pub span: Option<Span>,
    /// Error or warning.
    pub severity: Severity,
}

impl Problem {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
            span: None,
            severity: Severity::Error,
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(path, message)
        }
    }

    /// The same problem located at `span`.
    pub fn at(mut self, span: Span) -> Problem {
        self.span = Some(span);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}", self.path)?;
        if let Some(s) = self.span {
            write!(f, " (line {}, column {})", s.line, s.column)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A count over a limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverLimit {
    /// What was counted.
    pub what: String,
    /// The limit.
    pub limit: u64,
    /// The count.
    pub actual: u64,
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderError {
    /// Not implemented by this version.
    Unsupported(String),
    /// A malformed argument.
    InvalidInput(Problem),
    /// An expression failed at run time.
    Evaluation(Problem),
    /// Synchronous runs are off.
    SyncDisabled,
    /// Asynchronous runs are off.
    AsyncDisabled,
    /// Too many members for a synchronous run.
    SyncLimitExceeded(OverLimit),
    /// A record alone exceeds the body size limit.
    RecordTooLarge {
        /// Member code.
        code: String,
        /// Size of a request with only this record.
        size: u64,
        /// Limit.
        limit: u64,
    },
    /// Some other limit.
    LimitExceeded(OverLimit),
    /// OAuth configured but no token in the context.
    MissingAccessToken,
    /// Platform token included but none in the context.
    MissingPlatformToken,
    /// No OAuth configured.
    OauthNotConfigured,
    /// No schedule of this name.
    UnknownSchedule(String),
    /// The host could not answer a time-zone question.
    TimeZone(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Unsupported(what) => {
                write!(f, "{what} is not supported by this version of the component")
            }
            RenderError::InvalidInput(p) => write!(f, "invalid input: {p}"),
            RenderError::Evaluation(p) => write!(f, "expression failed: {p}"),
            RenderError::SyncDisabled => f.write_str(
                "synchronous on-demand execution is not enabled for this strategy; enable it in the run options or run asynchronously",
            ),
            RenderError::AsyncDisabled => f.write_str(
                "asynchronous on-demand execution is not enabled for this strategy; enable it in the run options",
            ),
            RenderError::SyncLimitExceeded(o) => write!(
                f,
                "a synchronous run may carry at most {} {}, this one has {}; run asynchronously or raise the synchronous record limit",
                o.limit, o.what, o.actual
            ),
            RenderError::RecordTooLarge { code, size, limit } => write!(
                f,
                "member {code:?} alone makes a {size}-byte body, over the {limit}-byte maximum body size; raise the maximum or map fewer fields"
            ),
            RenderError::LimitExceeded(o) => {
                write!(f, "too many {}: {} (the limit is {})", o.what, o.actual, o.limit)
            }
            RenderError::MissingAccessToken => f.write_str(
                "the configuration uses OAuth but the call carries no access token; fetch one with the token request first",
            ),
            RenderError::MissingPlatformToken => f.write_str(
                "the configuration includes the platform token but the call carries none; mint one for the run-as user",
            ),
            RenderError::OauthNotConfigured => {
                f.write_str("OAuth is not configured for this service configuration")
            }
            RenderError::UnknownSchedule(name) => write!(f, "the strategy has no schedule named {name:?}"),
            RenderError::TimeZone(m) => write!(f, "time zone: {m}"),
        }
    }
}

/// A successful token response.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token.
    pub token: String,
    /// Its type.
    pub token_type: String,
    /// Expiry.
    pub expires_at: Option<Instant>,
    /// Granted scope.
    pub scope: Option<String>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &Redacted)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// A failed token request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OauthError {
    /// HTTP status.
    pub status: u16,
    /// RFC 6749 error code or a description of the malformed response.
    pub error: String,
    /// `error_description`.
    pub description: Option<String>,
}

/// What to do with a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered.
    Success,
    /// Try again, after this many seconds when known.
    Retry(Option<u32>),
    /// Dead-letter.
    GiveUp,
    /// Stop delivering to the endpoint.
    DisableEndpoint,
}

/// How an on-demand run executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// The caller waits.
    Synchronous,
    /// Queued.
    Asynchronous,
}

/// Text or an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// Fixed text.
    Text(String),
    /// An expression.
    Expression(String),
}

/// A key and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Key.
    pub key: String,
    /// Value.
    pub value: FieldValue,
}

/// OAuth client authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// HTTP Basic.
    #[default]
    Basic,
    /// In the body.
    Body,
}

/// OAuth client-credentials settings.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct OauthSettings {
    /// Token endpoint.
    pub token_url: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<String>,
    /// Scope.
    pub scope: Option<String>,
    /// Client authentication.
    pub client_auth: ClientAuth,
}

impl fmt::Debug for OauthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OauthSettings")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| Redacted),
            )
            .field("scope", &self.scope)
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

/// A service configuration.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Configuration {
    /// Display name.
    pub name: String,
    /// Webhook URL.
    pub webhook_url: String,
    /// Put the platform token in the payload.
    pub include_platform_token: bool,
    /// OAuth.
    pub oauth: OauthSettings,
    /// Headers.
    pub headers: Vec<Field>,
    /// Query string.
    pub query: Vec<Field>,
    /// Signing secrets.
    pub signing_secrets: Vec<String>,
    /// Maximum body size.
    pub max_body_bytes: Option<u32>,
}

impl fmt::Debug for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Configuration")
            .field("name", &self.name)
            .field("webhook_url", &self.webhook_url)
            .field("include_platform_token", &self.include_platform_token)
            .field("oauth", &self.oauth)
            .field("headers", &self.headers)
            .field("query", &self.query)
            .field(
                "signing_secrets",
                &format_args!("[{} redacted]", self.signing_secrets.len()),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// A record-change trigger.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Trigger {
    /// On or off.
    pub enabled: bool,
    /// Filter expression.
    pub filter: Option<String>,
}

/// A named cron schedule.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Name.
    pub name: String,
    /// Cron text.
    pub cron: String,
    /// Filter expression.
    pub filter: Option<String>,
    /// IANA zone.
    pub time_zone: Option<String>,
}

/// Run options.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RunOptions {
    /// Run-as user.
    pub run_as_user: String,
    /// Records per request.
    pub batch_size: u32,
    /// Synchronous on-demand allowed.
    pub sync_enabled: bool,
    /// Synchronous record limit.
    pub sync_record_limit: u32,
    /// Asynchronous on-demand allowed.
    pub async_enabled: bool,
    /// Added trigger.
    pub added: Trigger,
    /// Updated trigger.
    pub updated: Trigger,
    /// Deleted trigger.
    pub deleted: Trigger,
}

/// An integration strategy.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Strategy {
    /// Name.
    pub name: String,
    /// Entity.
    pub entity: String,
    /// Header overrides.
    pub headers: Vec<Field>,
    /// Request Body fields.
    pub body: Vec<Field>,
    /// Records fields.
    pub records: Vec<Field>,
    /// Run options.
    pub run_options: RunOptions,
    /// Schedules.
    pub schedules: Vec<Schedule>,
}

/// A sample for previewing an expression.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sample {
    /// The record.
    pub record: Vec<Attribute>,
    /// Its prior state.
    pub prior: Option<Vec<Attribute>>,
}

/// Answers time-zone questions. The component asks the host (the WIT `zone` import), so
/// that its rules are as current as the host's database; native tests pass their own.
pub trait Zones {
    /// The offset from UTC, in seconds east, of the IANA zone `name` at the UTC instant
    /// `at`; an error message when the zone is unknown.
    fn utc_offset(&self, name: &str, at: Instant) -> Result<i32, String>;
}

/// Knows only `UTC` (and `Etc/UTC`): for callers with no zone database.
#[derive(Clone, Copy, Debug, Default)]
pub struct UtcOnly;

impl Zones for UtcOnly {
    fn utc_offset(&self, name: &str, _at: Instant) -> Result<i32, String> {
        match name {
            "UTC" | "Etc/UTC" => Ok(0),
            _ => Err(format!(
                "unknown time zone {name:?} (only UTC is known here)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let config = Configuration {
            oauth: OauthSettings {
                client_secret: Some("s3cr3t-client".into()),
                ..Default::default()
            },
            signing_secrets: vec!["whsec_c2VjcmV0LWtleQ==".into()],
            ..Default::default()
        };
        let ctx = RenderContext {
            now: Instant::new(0, 0).unwrap(),
            access_token: Some("tok-abc".into()),
            platform_token: Some("plat-xyz".into()),
            id_seed: 1,
        };
        let token = AccessToken {
            token: "bearer-123".into(),
            token_type: "Bearer".into(),
            expires_at: None,
            scope: None,
        };
        let shown = format!("{config:?} {ctx:?} {token:?}");
        for secret in [
            "s3cr3t-client",
            "c2VjcmV0",
            "tok-abc",
            "plat-xyz",
            "bearer-123",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        }
        assert!(shown.contains("<redacted>"));
    }
}
