//! The contract's problems and render errors in words, as every part of the host prints
//! them: the CLI, the API's answers and the sandbox's errors.

use crate::contract::bindings as b;

/// One problem on one line: `error: path (line L, column C): message`.
pub fn problem_line(p: &b::Problem) -> String {
    let level = match p.severity {
        b::Severity::Error => "error",
        b::Severity::Warning => "warning",
    };
    match &p.span {
        Some(s) => format!(
            "{level}: {} (line {}, column {}): {}",
            p.path, s.line, s.column, p.message
        ),
        None => format!("{level}: {}: {}", p.path, p.message),
    }
}

/// A render error in words.
pub fn render_error_text(e: &b::RenderError) -> String {
    use b::RenderError as E;
    match e {
        E::Unsupported(what) => format!("{what} is not supported by this version of the component"),
        E::InvalidInput(p) => format!("invalid input: {}", problem_line(p)),
        E::Evaluation(p) => format!("expression failed: {}", problem_line(p)),
        E::SyncDisabled => {
            "synchronous on-demand execution is not enabled for this strategy".into()
        }
        E::AsyncDisabled => {
            "asynchronous on-demand execution is not enabled for this strategy".into()
        }
        E::SyncLimitExceeded(o) => format!(
            "a synchronous run may carry at most {} {}, this one has {}",
            o.limit, o.what, o.actual
        ),
        E::RecordTooLarge(r) => format!(
            "member {:?} alone makes a {}-byte body, over the {}-byte maximum",
            r.code, r.size, r.limit
        ),
        E::LimitExceeded(o) => format!(
            "too many {}: {} (the limit is {})",
            o.what, o.actual, o.limit
        ),
        E::MissingAccessToken => {
            "the configuration uses OAuth but no access token was given".into()
        }
        E::MissingPlatformToken => {
            "the configuration includes the platform token but none was given".into()
        }
        E::OauthNotConfigured => "OAuth is not configured".into(),
        E::UnknownSchedule(s) => format!("the strategy has no schedule named {s:?}"),
        E::TimeZone(m) => format!("time zone: {m}"),
    }
}
