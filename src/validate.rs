//! Structural validation of a configuration and a strategy: every problem at once, each
//! with a path, so an administrator fixes the whole form in one pass.

use crate::limits::{
    MAX_BATCH_SIZE, MAX_FIELDS, MAX_MAX_BODY_BYTES, MAX_NAME_CHARS, MAX_SCHEDULES,
    MAX_SIGNING_SECRETS, MAX_URL_CHARS, MIN_MAX_BODY_BYTES,
};
use crate::model::{Configuration, Field, FieldValue, Problem, Strategy};
use crate::sign;

/// The JSON key under which each request carries its records; a Request Body key may not
/// take it.
pub const RECORDS_KEY: &str = "Records";

/// The body key under which the platform token travels when include-platform-token is on;
/// a Request Body key may not take it either.
pub const PLATFORM_TOKEN_KEY: &str = "PlatformToken";

/// Headers the component sets itself; a configured header may not replace them, because
/// the body, its signature and its credentials would no longer match.
pub const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "authorization",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// Every structural problem of a configuration and a strategy, errors and warnings.
pub fn check(config: &Configuration, strategy: &Strategy) -> Vec<Problem> {
    let mut out = Vec::new();
    check_configuration(config, &mut out);
    check_strategy(strategy, &mut out);
    out
}

fn check_configuration(c: &Configuration, out: &mut Vec<Problem>) {
    name("configuration.name", &c.name, "configuration name", out);
    if let Err(why) = check_url(&c.webhook_url) {
        out.push(Problem::error("configuration.webhook-url", why));
    }
    check_oauth(c, out);
    header_fields("configuration.headers", &c.headers, out);
    query_fields("configuration.query", &c.query, out);
    if c.signing_secrets.len() > MAX_SIGNING_SECRETS {
        out.push(Problem::error(
            "configuration.signing-secrets",
            format!(
                "{} signing secrets are configured; at most {MAX_SIGNING_SECRETS} may be active at once (remove retired ones)",
                c.signing_secrets.len()
            ),
        ));
    }
    for (i, secret) in c.signing_secrets.iter().enumerate() {
        if let Err(why) = sign::Secret::parse(secret) {
            // The message describes the form only: a secret is never echoed.
            out.push(Problem::error(
                format!("configuration.signing-secrets[{i}]"),
                why.to_string(),
            ));
        }
    }
    if let Some(max) = c.max_body_bytes
        && !(MIN_MAX_BODY_BYTES..=MAX_MAX_BODY_BYTES).contains(&max)
    {
        out.push(Problem::error(
            "configuration.max-body-bytes",
            format!(
                "the maximum body size is {max} bytes; it must be from {MIN_MAX_BODY_BYTES} to {MAX_MAX_BODY_BYTES} bytes (or left empty for the default)"
            ),
        ));
    }
}

fn check_oauth(c: &Configuration, out: &mut Vec<Problem>) {
    let o = &c.oauth;
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let parts = [
        ("token-url", "token URL", given(&o.token_url)),
        ("client-id", "client id", given(&o.client_id)),
        ("client-secret", "client secret", given(&o.client_secret)),
    ];
    let count = parts.iter().filter(|p| p.2).count();
    if count > 0 && count < parts.len() {
        for (key, label, present) in parts {
            if !present {
                out.push(Problem::error(
                    format!("configuration.oauth.{key}"),
                    format!(
                        "OAuth needs the token URL, the client id and the client secret together; the {label} is missing (fill it in, or clear all OAuth fields)"
                    ),
                ));
            }
        }
    }
    if count == 0 && given(&o.scope) {
        out.push(Problem::error(
            "configuration.oauth.scope",
            "a scope is set but OAuth is not configured; fill in the token URL, client id and client secret, or clear the scope",
        ));
    }
    if let Some(url) = o.token_url.as_deref().filter(|u| !u.trim().is_empty())
        && let Err(why) = check_url(url)
    {
        out.push(Problem::error("configuration.oauth.token-url", why));
    }
}

fn check_strategy(s: &Strategy, out: &mut Vec<Problem>) {
    name("strategy.name", &s.name, "strategy name", out);
    name("strategy.entity", &s.entity, "entity", out);
    header_fields("strategy.headers", &s.headers, out);
    body_fields("strategy.body", &s.body, true, out);
    body_fields("strategy.records", &s.records, false, out);

    let r = &s.run_options;
    name(
        "strategy.run-options.run-as-user",
        &r.run_as_user,
        "run-as user",
        out,
    );
    if r.batch_size == 0 || r.batch_size > MAX_BATCH_SIZE {
        out.push(Problem::error(
            "strategy.run-options.batch-size",
            format!(
                "the request batch size is {}; it must be from 1 to {MAX_BATCH_SIZE} records per request",
                r.batch_size
            ),
        ));
    }
    if r.sync_enabled && r.sync_record_limit == 0 {
        out.push(Problem::error(
            "strategy.run-options.sync-record-limit",
            "synchronous execution is enabled, so the synchronous record limit must be at least 1",
        ));
    }
    for (key, trigger) in [
        ("added", &r.added),
        ("updated", &r.updated),
        ("deleted", &r.deleted),
    ] {
        if !trigger.enabled
            && trigger
                .filter
                .as_deref()
                .is_some_and(|f| !f.trim().is_empty())
        {
            out.push(Problem::warning(
                format!("strategy.run-options.{key}.filter"),
                format!("the records-{key} trigger is off, so its filter is never used"),
            ));
        }
    }
    let runs = r.added.enabled
        || r.updated.enabled
        || r.deleted.enabled
        || r.sync_enabled
        || r.async_enabled
        || !s.schedules.is_empty();
    if !runs {
        out.push(Problem::error(
            "strategy.run-options",
            "the strategy can never run: enable a trigger (records added, updated or deleted), on-demand execution, or add a schedule",
        ));
    }

    if s.schedules.len() > MAX_SCHEDULES {
        out.push(Problem::error(
            "strategy.schedules",
            format!(
                "{} schedules are defined; a strategy may have at most {MAX_SCHEDULES}",
                s.schedules.len()
            ),
        ));
    }
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, sch) in s.schedules.iter().enumerate() {
        let path = format!("strategy.schedules[{i}]");
        name(&format!("{path}.name"), &sch.name, "schedule name", out);
        let folded: String = sch
            .name
            .trim()
            .chars()
            .map(crate::value::fold_case)
            .collect();
        if let Some((_, first)) = seen.iter().find(|(n, _)| !n.is_empty() && *n == folded) {
            out.push(Problem::error(
                format!("{path}.name"),
                format!(
                    "the schedule name {:?} is already used (at strategy.schedules[{first}].name); schedule names must be unique",
                    sch.name,
                ),
            ));
        } else {
            seen.push((folded, i));
        }
        if sch
            .time_zone
            .as_deref()
            .is_some_and(|z| z.trim().is_empty())
        {
            out.push(Problem::error(
                format!("{path}.time-zone"),
                "the time zone is empty; give an IANA name such as Europe/Paris, or leave time-zone out for UTC",
            ));
        }
        if sch.cron.trim().is_empty() {
            let blank = u32::try_from(sch.cron.chars().count()).unwrap_or(u32::MAX);
            out.push(
                Problem::error(
                    format!("{path}.cron"),
                    "the cron expression is empty; write 5 fields (minute hour day month weekday), 6 with seconds first, or a macro such as @daily",
                )
                .at(crate::model::Span {
                    line: 1,
                    column: 1,
                    end_line: 1,
                    end_column: blank.saturating_add(1),
                }),
            );
        }
    }
}

/// A required, bounded name.
fn name(path: &str, value: &str, label: &str, out: &mut Vec<Problem>) {
    if value.trim().is_empty() {
        out.push(Problem::error(
            path,
            format!("the {label} is empty; give it a name"),
        ));
    } else if value.chars().count() > MAX_NAME_CHARS {
        out.push(Problem::error(
            path,
            format!(
                "the {label} has {} characters; at most {MAX_NAME_CHARS} are allowed",
                value.chars().count()
            ),
        ));
    }
}

/// Checks that `text` is an absolute http(s) URL with a host; says what is wrong otherwise.
pub fn check_url(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("the URL is empty; it must be an absolute http or https URL such as https://example.com/hook".into());
    }
    if text.chars().count() > MAX_URL_CHARS {
        return Err(format!(
            "the URL has {} characters; at most {MAX_URL_CHARS} are allowed",
            text.chars().count()
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
    {
        return Err(format!(
            "the URL contains {c:?}, which is not allowed in a URL; percent-encode it"
        ));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!(
            "{text:?} is not an absolute URL; it must start with https:// or http://"
        ));
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(format!(
            "the URL scheme is {scheme:?}; only https and http are allowed"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(
            "the URL carries user credentials before the host; put credentials in OAuth or a header instead"
                .into(),
        );
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err("the URL's IPv6 host has no closing ']'".into()),
        },
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(format!(
            "the URL {text:?} has no host; write it as https://host/path"
        ));
    }
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err_and(|_| true)
            || port.parse::<u16>() == Ok(0))
    {
        return Err(format!(
            "the URL's port {port:?} is not a number from 1 to 65535"
        ));
    }
    if text.contains('#') {
        return Err(
            "the URL has a fragment ('#...'), which is never sent to a server; remove it".into(),
        );
    }
    Ok(())
}

/// Header names are RFC 9110 tokens, unique ignoring case; text values hold no line breaks.
fn header_fields(path: &str, fields: &[Field], out: &mut Vec<Problem>) {
    fields_common(path, fields, "header", true, out);
    for (i, f) in fields.iter().enumerate() {
        if let Some(c) = f.key.chars().find(|c| !is_tchar(*c)) {
            out.push(Problem::error(
                format!("{path}[{i}].key"),
                format!(
                    "the header name {:?} contains {c:?}; header names may use only letters, digits and !#$%&'*+-.^_`|~",
                    f.key
                ),
            ));
        }
        if RESERVED_HEADERS
            .iter()
            .any(|r| f.key.eq_ignore_ascii_case(r))
        {
            out.push(Problem::error(
                format!("{path}[{i}].key"),
                format!(
                    "the header {:?} is set by the webhook provider itself (content type, signature or credentials) and cannot be configured; remove it",
                    f.key
                ),
            ));
        }
        if let FieldValue::Text(t) = &f.value
            && t.chars().any(|c| c == '\r' || c == '\n' || c == '\0')
        {
            out.push(Problem::error(
                format!("{path}[{i}].value"),
                "a header value may not contain line breaks or NUL characters",
            ));
        }
    }
}

fn query_fields(path: &str, fields: &[Field], out: &mut Vec<Problem>) {
    fields_common(path, fields, "query parameter", false, out);
}

/// Body and Records keys: unique, and a dotted key may not both be a value and hold
/// children (`Customer` and `Customer.Name`).
fn body_fields(path: &str, fields: &[Field], is_body: bool, out: &mut Vec<Problem>) {
    fields_common(path, fields, "key", false, out);
    for (i, f) in fields.iter().enumerate() {
        let key_path = format!("{path}[{i}].key");
        if f.key.split('.').any(|seg| seg.is_empty()) && !f.key.is_empty() {
            out.push(Problem::error(
                &key_path,
                format!(
                    "the key {:?} has an empty part between dots; write parts such as Customer.Name",
                    f.key
                ),
            ));
        }
        if is_body
            && let Some(first) = f.key.split('.').next()
            && (first == RECORDS_KEY || first == PLATFORM_TOKEN_KEY)
        {
            out.push(Problem::error(
                &key_path,
                format!(
                    "the Request Body key {:?} collides with a key the provider writes itself ({RECORDS_KEY} or {PLATFORM_TOKEN_KEY}); use another name",
                    f.key,
                ),
            ));
        }
        for (j, g) in fields.iter().enumerate().take(i) {
            let (short, long) = if f.key.len() < g.key.len() {
                (&f.key, &g.key)
            } else {
                (&g.key, &f.key)
            };
            if long.len() > short.len()
                && long.starts_with(short.as_str())
                && long.as_bytes()[short.len()] == b'.'
            {
                out.push(Problem::error(
                    &key_path,
                    format!(
                        "the key {:?} and the key {:?} (at {path}[{j}].key) clash: {short:?} cannot be both a value and an object; rename one",
                        f.key,
                        g.key,
                    ),
                ));
            }
        }
    }
}

/// Non-empty, bounded, unique keys (ignoring case where `fold` is set), at most
/// [`MAX_FIELDS`] of them.
fn fields_common(path: &str, fields: &[Field], what: &str, fold: bool, out: &mut Vec<Problem>) {
    if fields.len() > MAX_FIELDS {
        out.push(Problem::error(
            path,
            format!(
                "{} entries are defined; at most {MAX_FIELDS} are allowed",
                fields.len()
            ),
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        let key_path = format!("{path}[{i}].key");
        if f.key.trim().is_empty() {
            out.push(Problem::error(
                &key_path,
                format!("the {what} name is empty; give it a name"),
            ));
            continue;
        }
        if f.key.chars().count() > MAX_NAME_CHARS {
            out.push(Problem::error(
                &key_path,
                format!("the {what} name is longer than {MAX_NAME_CHARS} characters"),
            ));
        }
        let same = |a: &str, b: &str| {
            if fold {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        if let Some(j) = fields[..i].iter().position(|g| same(&g.key, &f.key)) {
            out.push(Problem::error(
                &key_path,
                format!(
                    "the {what} {:?} is defined twice (first at {path}[{j}].key); each name may appear once",
                    f.key,
                ),
            ));
        }
        if let FieldValue::Expression(e) = &f.value
            && e.trim().is_empty()
        {
            out.push(Problem::error(
                format!("{path}[{i}].value"),
                "the expression is empty; write an expression or switch the value to text",
            ));
        }
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OauthSettings, RunOptions, Schedule, Trigger};

    fn text(key: &str, v: &str) -> Field {
        Field {
            key: key.into(),
            value: FieldValue::Text(v.into()),
        }
    }

    pub(crate) fn valid() -> (Configuration, Strategy) {
        let config = Configuration {
            name: "Customer hook".into(),
            webhook_url: "https://hooks.example.com/mdm?src=profisee".into(),
            headers: vec![text("X-Source", "mdm")],
            ..Default::default()
        };
        let strategy = Strategy {
            name: "Customers".into(),
            entity: "Customer".into(),
            records: vec![text("Code", "x")],
            run_options: RunOptions {
                run_as_user: "svc-webhook".into(),
                batch_size: 100,
                added: Trigger {
                    enabled: true,
                    filter: None,
                },
                ..Default::default()
            },
            ..Default::default()
        };
        (config, strategy)
    }

    fn paths(c: &Configuration, s: &Strategy) -> Vec<String> {
        check(c, s).into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn a_message_names_its_twin_by_the_twins_path() {
        let (mut c, mut s) = valid();
        c.query = (0..6)
            .map(|i| {
                text(
                    if i == 5 {
                        "q4"
                    } else {
                        ["q0", "q1", "q2", "q3", "q4"][i]
                    },
                    "v",
                )
            })
            .collect();
        s.records = vec![text("A", "x"), text("B", "x"), text("A.B", "x")];
        let problems = check(&c, &s);
        let dup = problems
            .iter()
            .find(|p| p.path == "configuration.query[5].key")
            .unwrap_or_else(|| panic!("{problems:#?}"));
        assert!(
            dup.message.contains("first at configuration.query[4].key"),
            "{}",
            dup.message
        );
        let clash = problems
            .iter()
            .find(|p| p.path == "strategy.records[2].key")
            .unwrap_or_else(|| panic!("{problems:#?}"));
        assert!(
            clash.message.contains("(at strategy.records[0].key)"),
            "{}",
            clash.message
        );
    }

    #[test]
    fn an_empty_time_zone_is_refused_and_a_missing_one_is_utc() {
        let (c, mut s) = valid();
        s.schedules = vec![
            Schedule {
                name: "a".into(),
                cron: "@daily".into(),
                time_zone: Some("  ".into()),
                ..Default::default()
            },
            Schedule {
                name: "b".into(),
                cron: "@daily".into(),
                time_zone: None,
                ..Default::default()
            },
            Schedule {
                name: "A".into(),
                cron: "@daily".into(),
                ..Default::default()
            },
        ];
        s.schedules.push(Schedule {
            name: "empty".into(),
            cron: " ".into(),
            ..Default::default()
        });
        let problems = check(&c, &s);
        let empty = problems
            .iter()
            .find(|p| p.path == "strategy.schedules[3].cron")
            .unwrap_or_else(|| panic!("{problems:#?}"));
        assert!(empty.span.is_some(), "every cron problem has a span");
        let tz = problems
            .iter()
            .find(|p| p.path == "strategy.schedules[0].time-zone")
            .unwrap_or_else(|| panic!("{problems:#?}"));
        assert!(tz.message.contains("IANA name"), "{}", tz.message);
        assert!(
            !problems
                .iter()
                .any(|p| p.path.starts_with("strategy.schedules[1]"))
        );
        let dup = problems
            .iter()
            .find(|p| p.path == "strategy.schedules[2].name")
            .unwrap_or_else(|| panic!("{problems:#?}"));
        assert!(
            dup.message.contains("(at strategy.schedules[0].name)"),
            "{}",
            dup.message
        );
    }

    #[test]
    fn a_valid_pair_has_no_problems() {
        let (c, s) = valid();
        assert_eq!(check(&c, &s), vec![]);
    }

    #[test]
    fn urls_must_be_absolute_http_with_a_host() {
        for ok in [
            "https://example.com",
            "http://127.0.0.1:8080/hook?x=1",
            "https://[::1]:443/a",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "example.com/hook",
            "ftp://example.com",
            "https:///path",
            "https://user:pw@example.com",
            "https://example.com:99999/",
            "https://example.com/a b",
            "https://example.com/#frag",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let (mut c, mut s) = valid();
        c.name = " ".into();
        c.webhook_url = "ftp://x".into();
        c.headers.push(text("x-source", "dup"));
        c.query = vec![text("a", "1"), text("a", "2")];
        s.run_options.batch_size = 0;
        s.records.push(text("Code", "again"));
        s.schedules = vec![
            Schedule {
                name: "Nightly".into(),
                cron: "0 2 * * *".into(),
                ..Default::default()
            },
            Schedule {
                name: "nightly".into(),
                cron: "".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            paths(&c, &s),
            vec![
                "configuration.name",
                "configuration.webhook-url",
                "configuration.headers[1].key",
                "configuration.query[1].key",
                "strategy.records[1].key",
                "strategy.run-options.batch-size",
                "strategy.schedules[1].name",
                "strategy.schedules[1].cron",
            ]
        );
    }

    #[test]
    fn a_strategy_must_have_a_way_to_run() {
        let (c, mut s) = valid();
        s.run_options.added.enabled = false;
        assert_eq!(paths(&c, &s), vec!["strategy.run-options"]);
        s.run_options.async_enabled = true;
        assert_eq!(paths(&c, &s), Vec::<String>::new());
    }

    #[test]
    fn sync_needs_a_record_limit() {
        let (c, mut s) = valid();
        s.run_options.sync_enabled = true;
        assert_eq!(
            paths(&c, &s),
            vec!["strategy.run-options.sync-record-limit"]
        );
        s.run_options.sync_record_limit = 1;
        assert!(paths(&c, &s).is_empty());
    }

    #[test]
    fn oauth_is_all_or_nothing_and_never_echoes_the_secret() {
        let (mut c, s) = valid();
        c.oauth = OauthSettings {
            client_secret: Some("hunter2-very-secret".into()),
            ..Default::default()
        };
        let problems = check(&c, &s);
        assert_eq!(
            problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            vec![
                "configuration.oauth.token-url",
                "configuration.oauth.client-id"
            ]
        );
        assert!(
            problems
                .iter()
                .all(|p| !p.message.contains("hunter2-very-secret"))
        );
        c.oauth.token_url = Some("https://login.example.com/token".into());
        c.oauth.client_id = Some("client".into());
        assert!(check(&c, &s).is_empty());
    }

    #[test]
    fn dotted_keys_may_not_clash_and_records_is_reserved() {
        let (c, mut s) = valid();
        s.body = vec![
            text("Customer", "a"),
            text("Customer.Name", "b"),
            text("Records", "c"),
            text("a..b", "d"),
        ];
        assert_eq!(
            paths(&c, &s),
            vec![
                "strategy.body[1].key",
                "strategy.body[2].key",
                "strategy.body[3].key"
            ]
        );
    }

    #[test]
    fn header_names_are_tokens_and_values_have_no_line_breaks() {
        let (mut c, s) = valid();
        c.headers = vec![text("Bad Name", "v"), text("X-Ok", "a\r\nInjected: 1")];
        assert_eq!(
            paths(&c, &s),
            vec![
                "configuration.headers[0].key",
                "configuration.headers[1].value"
            ]
        );
    }

    #[test]
    fn batch_size_limit_obeyed_and_violated() {
        let (c, mut s) = valid();
        s.run_options.batch_size = MAX_BATCH_SIZE;
        assert!(check(&c, &s).is_empty());
        s.run_options.batch_size = MAX_BATCH_SIZE + 1;
        assert_eq!(paths(&c, &s), vec!["strategy.run-options.batch-size"]);
    }

    #[test]
    fn max_body_bytes_limit_obeyed_and_violated() {
        let (mut c, s) = valid();
        for ok in [MIN_MAX_BODY_BYTES, MAX_MAX_BODY_BYTES] {
            c.max_body_bytes = Some(ok);
            assert!(check(&c, &s).is_empty());
        }
        for bad in [MIN_MAX_BODY_BYTES - 1, MAX_MAX_BODY_BYTES + 1] {
            c.max_body_bytes = Some(bad);
            assert_eq!(paths(&c, &s), vec!["configuration.max-body-bytes"]);
        }
    }

    #[test]
    fn field_count_limit_obeyed_and_violated() {
        let (c, mut s) = valid();
        s.records = (0..MAX_FIELDS)
            .map(|i| text(&format!("F{i}"), "v"))
            .collect();
        assert!(check(&c, &s).is_empty());
        s.records.push(text("one-more", "v"));
        assert_eq!(paths(&c, &s), vec!["strategy.records"]);
    }

    #[test]
    fn schedule_count_limit_obeyed_and_violated() {
        let (c, mut s) = valid();
        let sched = |i: usize| Schedule {
            name: format!("s{i}"),
            cron: "@daily".into(),
            ..Default::default()
        };
        s.schedules = (0..MAX_SCHEDULES).map(sched).collect();
        assert!(check(&c, &s).is_empty());
        s.schedules.push(sched(MAX_SCHEDULES));
        assert_eq!(paths(&c, &s), vec!["strategy.schedules"]);
    }

    #[test]
    fn name_length_limit_obeyed_and_violated() {
        let (c, mut s) = valid();
        s.name = "n".repeat(MAX_NAME_CHARS);
        assert!(check(&c, &s).is_empty());
        s.name.push('n');
        assert_eq!(paths(&c, &s), vec!["strategy.name"]);
    }

    #[test]
    fn signing_secret_count_and_form() {
        let (mut c, s) = valid();
        c.signing_secrets =
            vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(); MAX_SIGNING_SECRETS];
        assert!(check(&c, &s).is_empty());
        c.signing_secrets
            .push("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        assert_eq!(paths(&c, &s), vec!["configuration.signing-secrets"]);
        c.signing_secrets = vec!["not-a-secret-at-all".into()];
        let problems = check(&c, &s);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "configuration.signing-secrets[0]");
        assert!(!problems[0].message.contains("not-a-secret-at-all"));
    }
}
