//! Rendering rules, one test each: triggers, filters, loop prevention, order, batching,
//! body shape and types, headers, query string, tokens, size splits, on-demand limits,
//! signing and delivery ids.

use super::*;
use crate::limits::MAX_RECORDS_PER_CALL;
use crate::model::{
    Attribute, Configuration, Field, FieldValue, Instant, OauthSettings, RunOptions, Schedule,
    Strategy, Trigger, UtcOnly,
};
use crate::value::{Date, Decimal};

const NOW: Instant = Instant {
    seconds: 1_718_447_400, // 2024-06-15T10:30:00Z
    nanoseconds: 0,
};

fn text(key: &str, v: &str) -> Field {
    Field {
        key: key.into(),
        value: FieldValue::Text(v.into()),
    }
}

fn expr(key: &str, e: &str) -> Field {
    Field {
        key: key.into(),
        value: FieldValue::Expression(e.into()),
    }
}

fn on(filter: Option<&str>) -> Trigger {
    Trigger {
        enabled: true,
        filter: filter.map(str::to_string),
    }
}

fn config() -> Configuration {
    Configuration {
        name: "c".into(),
        webhook_url: "https://hooks.example.com/in".into(),
        ..Default::default()
    }
}

fn strategy() -> Strategy {
    Strategy {
        name: "Customers".into(),
        entity: "Customer".into(),
        records: vec![expr("Code", "[Code]"), expr("Name", "[Name]")],
        run_options: RunOptions {
            run_as_user: "svc".into(),
            batch_size: 2,
            added: on(None),
            updated: on(None),
            deleted: on(None),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn plan(c: Configuration, s: Strategy) -> Plan {
    Plan::compile(c, s, &UtcOnly).unwrap_or_else(|p| panic!("{p:#?}"))
}

fn ctx() -> RenderContext {
    RenderContext {
        now: NOW,
        access_token: None,
        platform_token: None,
        id_seed: 7,
    }
}

fn attr(name: &str, v: Value) -> Attribute {
    Attribute {
        path: name.split('.').map(str::to_string).collect(),
        value: v,
    }
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn d(s: &str) -> Value {
    Value::Decimal(Decimal::parse(s).unwrap())
}

fn member(code: &str, name: &str) -> Member {
    Member {
        code: code.into(),
        attributes: vec![attr("Code", t(code)), attr("Name", t(name))],
    }
}

fn change(id: &str, kind: ChangeKind, m: Member, prior: Option<Member>) -> RecordChange {
    let (new_state, prior_state) = match kind {
        ChangeKind::Added => (Some(m), None),
        ChangeKind::Updated => (Some(m), prior),
        ChangeKind::Deleted => (None, Some(m)),
    };
    RecordChange {
        event_id: id.into(),
        kind,
        entity: "Customer".into(),
        code: new_state
            .as_ref()
            .or(prior_state.as_ref())
            .map(|m| m.code.clone())
            .unwrap(),
        new_state,
        prior_state,
        changed_by: "alice".into(),
        at: NOW,
    }
}

fn body(r: &HttpRequest) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

fn codes(rs: &[HttpRequest]) -> Vec<Vec<&str>> {
    rs.iter()
        .map(|r| r.member_codes.iter().map(String::as_str).collect())
        .collect()
}

#[test]
fn changes_keep_input_order_and_batch_by_batch_size() {
    let p = plan(config(), strategy());
    let changes: Vec<_> = ["A", "B", "C", "D", "E"]
        .iter()
        .enumerate()
        .map(|(i, c)| change(&format!("e{i}"), ChangeKind::Added, member(c, "n"), None))
        .collect();
    let rs = p.on_changes(&changes, &ctx()).unwrap();
    assert_eq!(codes(&rs), vec![vec!["A", "B"], vec!["C", "D"], vec!["E"]]);
    assert_eq!(body(&rs[2]), r#"{"Records":[{"Code":"E","Name":"n"}]}"#);
}

#[test]
fn changes_by_the_run_as_user_never_trigger() {
    let p = plan(config(), strategy());
    let mut mine = change("e1", ChangeKind::Added, member("A", "n"), None);
    mine.changed_by = "SVC".into();
    let theirs = change("e2", ChangeKind::Added, member("B", "n"), None);
    let rs = p.on_changes(&[mine, theirs], &ctx()).unwrap();
    assert_eq!(codes(&rs), vec![vec!["B"]]);
}

#[test]
fn disabled_triggers_and_other_entities_are_dropped() {
    let mut s = strategy();
    s.run_options.updated.enabled = false;
    let p = plan(config(), s);
    let mut other = change("e3", ChangeKind::Added, member("X", "n"), None);
    other.entity = "Product".into();
    let rs = p
        .on_changes(
            &[
                change(
                    "e1",
                    ChangeKind::Updated,
                    member("A", "n"),
                    Some(member("A", "o")),
                ),
                change("e2", ChangeKind::Deleted, member("B", "n"), None),
                other,
            ],
            &ctx(),
        )
        .unwrap();
    assert_eq!(codes(&rs), vec![vec!["B"]]);
}

#[test]
fn each_filter_sees_the_right_state() {
    let mut s = strategy();
    s.run_options.added = on(Some(r#"[Name] = "keep""#));
    s.run_options.updated = on(Some(r#"CHANGED([Name]) AND PRIOR([Name]) = "old""#));
    s.run_options.deleted = on(Some(r#"[Name] = "gone""#));
    let p = plan(config(), s);
    let rs = p
        .on_changes(
            &[
                change("1", ChangeKind::Added, member("A1", "keep"), None),
                change("2", ChangeKind::Added, member("A2", "drop"), None),
                change(
                    "3",
                    ChangeKind::Updated,
                    member("U1", "new"),
                    Some(member("U1", "old")),
                ),
                change(
                    "4",
                    ChangeKind::Updated,
                    member("U2", "same"),
                    Some(member("U2", "same")),
                ),
                // A deleted change is filtered on its last state (the prior state).
                change("5", ChangeKind::Deleted, member("D1", "gone"), None),
                change("6", ChangeKind::Deleted, member("D2", "here"), None),
            ],
            &ctx(),
        )
        .unwrap();
    assert_eq!(codes(&rs), vec![vec!["A1", "U1"], vec!["D1"]]);
}

#[test]
fn a_filter_failure_is_a_located_error_naming_the_member() {
    let mut s = strategy();
    s.run_options.added = on(Some("[N] / 0 > 1"));
    let p = plan(config(), s);
    let mut m = member("A", "n");
    m.attributes.push(attr("N", d("5")));
    match p.on_changes(&[change("1", ChangeKind::Added, m, None)], &ctx()) {
        Err(RenderError::Evaluation(problem)) => {
            assert_eq!(problem.path, "strategy.run-options.added.filter");
            assert!(problem.message.contains("\"A\""), "{}", problem.message);
            assert!(problem.span.is_some());
        }
        other => panic!("expected an evaluation error, got {other:?}"),
    }
}

#[test]
fn a_change_without_its_state_is_invalid_input() {
    let p = plan(config(), strategy());
    let mut c = change("1", ChangeKind::Updated, member("A", "n"), None);
    c.prior_state = None;
    match p.on_changes(&[c], &ctx()) {
        Err(RenderError::InvalidInput(problem)) => {
            assert_eq!(problem.path, "changes[0].prior-state")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn body_keeps_types_order_and_nests_dotted_keys() {
    let mut s = strategy();
    s.body = vec![
        text("Source", "MDM \"main\""),
        expr("Sent", "NOW"),
        expr("Day", "TODAY"),
    ];
    s.records = vec![
        expr("Code", "[Code]"),
        expr("Price", "[MSRP] - [Cost]"),
        expr("Address.City", "[City]"),
        expr("Active", "[Status] = \"Active\""),
        expr("Address.Zip", "[Zip]"),
        expr("Start", "[Start]"),
        text("Fixed", "line\nbreak"),
    ];
    let p = plan(config(), s);
    let m = Member {
        code: "BK-1".into(),
        attributes: vec![
            attr("Code", t("BK-1")),
            attr("MSRP", d("2294.99")),
            attr("Cost", d("1251.98")),
            attr("City", t("Zürich")),
            attr("Status", t("Active")),
            attr("Start", Value::Date(Date::parse("2024-06-01").unwrap())),
        ],
    };
    let rs = p
        .on_changes(&[change("1", ChangeKind::Added, m, None)], &ctx())
        .unwrap();
    assert_eq!(
        body(&rs[0]),
        concat!(
            r#"{"Source":"MDM \"main\"","Sent":"2024-06-15T10:30:00Z","Day":"2024-06-15","Records":["#,
            r#"{"Code":"BK-1","Price":1043.01,"Address":{"City":"Zürich","Zip":null},"Active":true,"Start":"2024-06-01","Fixed":"line\nbreak"}]}"#
        )
    );
    let parsed: serde_json::Value = serde_json::from_slice(&rs[0].body).unwrap();
    assert_eq!(parsed["Records"][0]["Address"]["City"], "Zürich");
}

#[test]
fn headers_are_overridden_per_strategy_and_may_be_expressions() {
    let mut c = config();
    c.headers = vec![
        text("X-Tenant", "acme"),
        text("X-Env", "prod"),
        expr("X-Day", "TEXT(TODAY)"),
        expr("X-Nothing", "NULL"),
    ];
    let mut s = strategy();
    s.headers = vec![text("x-env", "test")];
    let p = plan(c, s);
    let rs = p
        .on_changes(
            &[change("1", ChangeKind::Added, member("A", "n"), None)],
            &ctx(),
        )
        .unwrap();
    let r = &rs[0];
    assert_eq!(header(r, "Content-Type"), Some("application/json"));
    assert_eq!(header(r, "X-Tenant"), Some("acme"));
    assert_eq!(header(r, "X-Env"), Some("test"));
    assert_eq!(
        r.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("x-env"))
            .count(),
        1
    );
    assert_eq!(header(r, "X-Day"), Some("2024-06-15"));
    assert_eq!(header(r, "X-Nothing"), None, "a NULL header is left out");
}

#[test]
fn header_and_query_expressions_may_not_read_records() {
    let mut c = config();
    c.headers = vec![expr("X-Code", "[Code]")];
    c.query = vec![expr("code", "[Code]")];
    let problems = Plan::compile(c, strategy(), &UtcOnly).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "configuration.headers[0].value",
            "configuration.query[0].value"
        ]
    );
    assert!(problems.iter().all(|p| p.span.is_some()));
}

#[test]
fn query_string_is_encoded_and_merged_with_the_url_query() {
    let mut c = config();
    c.webhook_url = "https://hooks.example.com/in?src=mdm".into();
    c.query = vec![
        text("tenant id", "a&b=c"),
        expr("day", "TODAY"),
        text("ü", "€"),
    ];
    let p = plan(c.clone(), strategy());
    let rs = p
        .on_changes(
            &[change("1", ChangeKind::Added, member("A", "n"), None)],
            &ctx(),
        )
        .unwrap();
    assert_eq!(
        rs[0].url,
        "https://hooks.example.com/in?src=mdm&tenant%20id=a%26b%3Dc&day=2024-06-15&%C3%BC=%E2%82%AC"
    );
    c.webhook_url = "https://hooks.example.com/in".into();
    c.query = vec![text("a", "1")];
    let rs = plan(c, strategy())
        .on_changes(
            &[change("1", ChangeKind::Added, member("A", "n"), None)],
            &ctx(),
        )
        .unwrap();
    assert_eq!(rs[0].url, "https://hooks.example.com/in?a=1");
}

#[test]
fn platform_token_goes_in_the_body_or_the_render_fails() {
    let mut c = config();
    c.include_platform_token = true;
    let mut s = strategy();
    s.body = vec![text("Entity", "Customer")];
    let p = plan(c, s);
    let changes = [change("1", ChangeKind::Added, member("A", "n"), None)];
    assert_eq!(
        p.on_changes(&changes, &ctx()),
        Err(RenderError::MissingPlatformToken)
    );
    let with = RenderContext {
        platform_token: Some("jwt.abc".into()),
        ..ctx()
    };
    let rs = p.on_changes(&changes, &with).unwrap();
    assert_eq!(
        body(&rs[0]),
        r#"{"Entity":"Customer","PlatformToken":"jwt.abc","Records":[{"Code":"A","Name":"n"}]}"#
    );
}

#[test]
fn oauth_requests_carry_the_bearer_token_or_fail() {
    let mut c = config();
    c.oauth = OauthSettings {
        token_url: Some("https://login.example.com/token".into()),
        client_id: Some("id".into()),
        client_secret: Some("secret".into()),
        ..Default::default()
    };
    let p = plan(c, strategy());
    let changes = [change("1", ChangeKind::Added, member("A", "n"), None)];
    assert_eq!(
        p.on_changes(&changes, &ctx()),
        Err(RenderError::MissingAccessToken)
    );
    let with = RenderContext {
        access_token: Some("tok".into()),
        ..ctx()
    };
    let rs = p.on_changes(&changes, &with).unwrap();
    assert_eq!(header(&rs[0], "Authorization"), Some("Bearer tok"));
    // Nothing to send needs no token.
    assert_eq!(p.on_changes(&[], &ctx()), Ok(vec![]));
}

#[test]
fn batches_split_by_body_size_and_a_lone_giant_is_an_error() {
    let mut c = config();
    c.max_body_bytes = Some(1024);
    let mut s = strategy();
    s.run_options.batch_size = 100;
    let p = plan(c, s);
    let name = "x".repeat(300);
    let changes: Vec<_> = (0..7)
        .map(|i| {
            change(
                &format!("e{i}"),
                ChangeKind::Added,
                member(&format!("M{i}"), &name),
                None,
            )
        })
        .collect();
    let rs = p.on_changes(&changes, &ctx()).unwrap();
    assert!(rs.len() > 1);
    assert!(
        rs.iter().all(|r| r.body.len() <= 1024),
        "a body exceeds the maximum"
    );
    let all: Vec<String> = rs.iter().flat_map(|r| r.member_codes.clone()).collect();
    assert_eq!(
        all,
        (0..7).map(|i| format!("M{i}")).collect::<Vec<_>>(),
        "nothing lost, order kept"
    );
    for r in &rs {
        let parsed: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            parsed["Records"].as_array().unwrap().len(),
            r.member_codes.len()
        );
    }

    let giant = change(
        "big",
        ChangeKind::Added,
        member("GIANT", &"y".repeat(2000)),
        None,
    );
    match p.on_changes(&[changes[0].clone(), giant], &ctx()) {
        Err(RenderError::RecordTooLarge { code, size, limit }) => {
            assert_eq!(code, "GIANT");
            assert!(size > 2000);
            assert_eq!(limit, 1024);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_default_body_limit_applies_when_none_is_set() {
    let p = plan(config(), strategy());
    let m = member(
        "BIG",
        &"z".repeat(crate::limits::DEFAULT_MAX_BODY_BYTES as usize),
    );
    assert!(matches!(
        p.on_changes(&[change("1", ChangeKind::Added, m, None)], &ctx()),
        Err(RenderError::RecordTooLarge { .. })
    ));
    let m = member(
        "OK",
        &"z".repeat(crate::limits::DEFAULT_MAX_BODY_BYTES as usize - 100),
    );
    assert!(
        p.on_changes(&[change("1", ChangeKind::Added, m, None)], &ctx())
            .is_ok()
    );
}

#[test]
fn on_demand_sync_is_refused_unless_enabled_and_within_the_limit() {
    let mut s = strategy();
    let members: Vec<Member> = (0..3).map(|i| member(&format!("M{i}"), "n")).collect();
    let p = plan(config(), s.clone());
    assert_eq!(
        p.on_demand(RunMode::Synchronous, &members, &ctx()),
        Err(RenderError::SyncDisabled)
    );
    assert_eq!(
        p.on_demand(RunMode::Asynchronous, &members, &ctx()),
        Err(RenderError::AsyncDisabled)
    );
    s.run_options.sync_enabled = true;
    s.run_options.sync_record_limit = 3;
    s.run_options.async_enabled = true;
    let p = plan(config(), s);
    let rs = p.on_demand(RunMode::Synchronous, &members, &ctx()).unwrap();
    assert_eq!(codes(&rs), vec![vec!["M0", "M1"], vec!["M2"]]);
    let four: Vec<Member> = (0..4).map(|i| member(&format!("M{i}"), "n")).collect();
    assert_eq!(
        p.on_demand(RunMode::Synchronous, &four, &ctx()),
        Err(RenderError::SyncLimitExceeded(OverLimit {
            what: "members".into(),
            limit: 3,
            actual: 4
        }))
    );
    let rs = p.on_demand(RunMode::Asynchronous, &four, &ctx()).unwrap();
    assert_eq!(codes(&rs), vec![vec!["M0", "M1"], vec!["M2", "M3"]]);
}

#[test]
fn records_per_call_limit_obeyed_and_violated() {
    let mut s = strategy();
    s.run_options.async_enabled = true;
    s.run_options.batch_size = 10_000;
    s.records = vec![text("K", "v")];
    let p = plan(config(), s);
    let members: Vec<Member> = (0..MAX_RECORDS_PER_CALL)
        .map(|i| Member {
            code: i.to_string(),
            attributes: vec![],
        })
        .collect();
    let rs = p
        .on_demand(RunMode::Asynchronous, &members, &ctx())
        .unwrap();
    assert_eq!(
        rs.iter().map(|r| r.member_codes.len()).sum::<usize>(),
        MAX_RECORDS_PER_CALL
    );
    let mut more = members;
    more.push(Member::default());
    assert!(matches!(
        p.on_demand(RunMode::Asynchronous, &more, &ctx()),
        Err(RenderError::LimitExceeded(OverLimit { limit, actual, .. }))
            if limit == MAX_RECORDS_PER_CALL as u64 && actual == MAX_RECORDS_PER_CALL as u64 + 1
    ));
}

#[test]
fn on_schedule_applies_the_schedules_filter() {
    let mut s = strategy();
    s.schedules = vec![Schedule {
        name: "Nightly".into(),
        cron: "0 2 * * *".into(),
        filter: Some(r#"[Name] <> "skip""#.into()),
        time_zone: None,
    }];
    let p = plan(config(), s);
    let members = [
        member("A", "keep"),
        member("B", "skip"),
        member("C", "keep"),
    ];
    let rs = p.on_schedule("Nightly", &members, &ctx()).unwrap();
    assert_eq!(codes(&rs), vec![vec!["A", "C"]]);
    assert_eq!(
        p.on_schedule("Weekly", &members, &ctx()),
        Err(RenderError::UnknownSchedule("Weekly".into()))
    );
}

#[test]
fn requests_are_signed_and_re_signed_with_a_stable_id() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut c = config();
    c.signing_secrets = vec![secret.into()];
    let p = plan(c, strategy());
    let changes = [change("e1", ChangeKind::Added, member("A", "n"), None)];
    let r = p.on_changes(&changes, &ctx()).unwrap().remove(0);
    let key = crate::sign::Secret::parse(secret).unwrap();
    assert_eq!(header(&r, "webhook-id"), Some(r.delivery_id.as_str()));
    assert_eq!(header(&r, "webhook-timestamp"), Some("1718447400"));
    assert_eq!(
        header(&r, "webhook-signature"),
        Some(key.signature(&r.delivery_id, NOW.seconds, &r.body).as_str())
    );
    // The same changes render the same delivery id: retries and re-renders are idempotent.
    let again = p.on_changes(&changes, &ctx()).unwrap().remove(0);
    assert_eq!(again.delivery_id, r.delivery_id);
    // A retry is re-signed: fresh timestamp and signature, same id and body.
    let later = Instant {
        seconds: NOW.seconds + 60,
        nanoseconds: 0,
    };
    // The host holds the request; the component answers only the headers it replaces.
    let fresh = p.sign(&r.delivery_id, &r.body, later);
    assert_eq!(
        fresh.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    );
    let mut resigned = r.clone();
    resigned
        .headers
        .retain(|h| !fresh.iter().any(|f| f.name.eq_ignore_ascii_case(&h.name)));
    resigned.headers.extend(fresh);
    assert_eq!(
        header(&resigned, "webhook-id"),
        Some(r.delivery_id.as_str())
    );
    assert_eq!(header(&resigned, "webhook-timestamp"), Some("1718447460"));
    assert_eq!(
        header(&resigned, "webhook-signature"),
        Some(
            key.signature(&r.delivery_id, later.seconds, &r.body)
                .as_str()
        )
    );
    assert_eq!(
        resigned
            .headers
            .iter()
            .filter(|h| h.name == "webhook-signature")
            .count(),
        1
    );
}

#[test]
fn unsigned_requests_carry_the_id_and_a_timestamp_so_receivers_can_deduplicate() {
    let p = plan(config(), strategy());
    assert!(p.configuration().signing_secrets.is_empty());
    let changes = [change("e1", ChangeKind::Added, member("A", "n"), None)];
    let r = p.on_changes(&changes, &ctx()).unwrap().remove(0);
    assert_eq!(header(&r, "webhook-id"), Some(r.delivery_id.as_str()));
    assert_eq!(header(&r, "webhook-timestamp"), Some("1718447400"));
    assert_eq!(header(&r, "webhook-signature"), None);
    let names: Vec<&str> = r.headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Content-Type",
            "User-Agent",
            "webhook-id",
            "webhook-timestamp"
        ]
    );
    // A retry gets the same id and a fresh timestamp, and still no signature.
    let later = Instant {
        seconds: NOW.seconds + 60,
        nanoseconds: 0,
    };
    let fresh = p.sign(&r.delivery_id, &r.body, later);
    assert_eq!(
        fresh
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect::<Vec<_>>(),
        [
            ("webhook-id", r.delivery_id.as_str()),
            ("webhook-timestamp", "1718447460")
        ]
    );
}

#[test]
fn delivery_ids_differ_between_batches_and_runs() {
    let mut s = strategy();
    s.run_options.async_enabled = true;
    let p = plan(config(), s);
    let changes: Vec<_> = (0..4)
        .map(|i| {
            change(
                &format!("e{i}"),
                ChangeKind::Added,
                member(&format!("M{i}"), "n"),
                None,
            )
        })
        .collect();
    let rs = p.on_changes(&changes, &ctx()).unwrap();
    assert_ne!(rs[0].delivery_id, rs[1].delivery_id);
    let members = [member("M0", "n")];
    let a = p
        .on_demand(RunMode::Asynchronous, &members, &ctx())
        .unwrap();
    let b = p
        .on_demand(
            RunMode::Asynchronous,
            &members,
            &RenderContext {
                id_seed: 8,
                ..ctx()
            },
        )
        .unwrap();
    assert_ne!(
        a[0].delivery_id, b[0].delivery_id,
        "two runs are two deliveries"
    );
    assert!(a[0].delivery_id.starts_with("msg_") && a[0].delivery_id.len() == 36);
}

#[test]
fn reserved_headers_cannot_be_configured() {
    let mut c = config();
    c.headers = vec![
        text("Content-Type", "text/plain"),
        text("Webhook-Signature", "x"),
    ];
    let problems = Plan::compile(c, strategy(), &UtcOnly).unwrap_err();
    assert_eq!(
        problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
        [
            "configuration.headers[0].key",
            "configuration.headers[1].key"
        ]
    );
}

#[test]
fn strings_are_escaped_exactly_at_every_position_of_a_word() {
    // Every character that needs escaping, at each of the eight positions of a word and
    // past the last whole word, beside multi-byte characters.
    let specials: Vec<char> = (0u8..0x20)
        .map(char::from)
        .chain(['"', '\\', '\u{7f}', 'é', '€', '😀'])
        .collect();
    for c in &specials {
        for at in 0..19 {
            let s: String = "abcdefghijklmnopqrs"
                .chars()
                .enumerate()
                .map(|(i, x)| if i == at { *c } else { x })
                .collect();
            let mut out = Vec::new();
            write_str(&mut out, &s);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
            // Only what JSON requires is escaped: the rest is copied as it is.
            let escaped = out.iter().filter(|&&b| b == b'\\').count();
            let needed = match *c {
                '\\' => 2,
                '"' => 1,
                c if c < ' ' => 1,
                _ => 0,
            };
            assert_eq!(
                escaped,
                needed,
                "{s:?} -> {}",
                String::from_utf8_lossy(&out)
            );
        }
    }
}

#[test]
fn the_run_as_user_compares_trimmed_and_in_any_case_as_the_platform_does() {
    let mut s = strategy();
    s.run_options.run_as_user = " svc-crm-sync ".into();
    let p = plan(config(), s);
    for by in ["svc-crm-sync", " SVC-CRM-SYNC ", "Svc-Crm-Sync\t"] {
        let mut c = change("e1", ChangeKind::Added, member("A", "n"), None);
        c.changed_by = by.into();
        assert_eq!(
            p.on_changes(&[c], &ctx()),
            Ok(vec![]),
            "{by:?} is the run-as user"
        );
    }
    let mut c = change("e1", ChangeKind::Added, member("A", "n"), None);
    c.changed_by = "svc-crm-sync2".into();
    assert_eq!(p.on_changes(&[c], &ctx()).unwrap().len(), 1);
}
