use std::cell::Cell;

use chrono::{Offset, TimeZone};
use proptest::prelude::*;

use super::*;
use crate::model::{Severity, Span, UtcOnly};

/// The IANA database through chrono-tz, standing in for the host.
struct Tzdb;

impl Zones for Tzdb {
    fn utc_offset(&self, name: &str, at: Instant) -> Result<i32, String> {
        let tz: chrono_tz::Tz = name
            .parse()
            .map_err(|_| format!("unknown time zone {name:?}"))?;
        let utc = chrono::DateTime::from_timestamp(at.seconds, 0).ok_or("out of range")?;
        Ok(tz
            .offset_from_utc_datetime(&utc.naive_utc())
            .fix()
            .local_minus_utc())
    }
}

/// Counts the host's offset questions.
struct Counting<'a>(&'a dyn Zones, Cell<u32>);

impl Zones for Counting<'_> {
    fn utc_offset(&self, name: &str, at: Instant) -> Result<i32, String> {
        self.1.set(self.1.get() + 1);
        self.0.utc_offset(name, at)
    }
}

/// Answers any zone with a fixed offset, however absurd.
struct Fixed(i32);

impl Zones for Fixed {
    fn utc_offset(&self, _: &str, _: Instant) -> Result<i32, String> {
        Ok(self.0)
    }
}

fn cron(text: &str) -> Cron {
    match parse(text) {
        Ok((c, _)) => c,
        Err(p) => panic!("{text:?} should parse: {p:?}"),
    }
}

fn errors(text: &str) -> Vec<Problem> {
    match parse(text) {
        Ok(_) => panic!("{text:?} should be rejected"),
        Err(p) => p,
    }
}

fn at(text: &str, zone: &str) -> Instant {
    parse_local_or_rfc3339(text, zone, &Tzdb).unwrap()
}

/// The next `n` fire times after `from` (read in `zone`), formatted in `zone`.
fn fires(expr: &str, zone: &str, from: &str, n: u32) -> Vec<String> {
    cron(expr)
        .preview(at(from, zone), n, zone, &Tzdb)
        .unwrap()
        .into_iter()
        .map(|i| format_in_zone(i, zone, &Tzdb).unwrap())
        .collect()
}

fn span(column: u32, end_column: u32) -> Option<Span> {
    Some(Span {
        line: 1,
        column,
        end_line: 1,
        end_column,
    })
}

#[test]
fn conformance_cases_all_pass() {
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/data/conformance/cron-cases.json")).unwrap();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 12, "the conformance file lost cases");
    let mut failed = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let zone = case["tz"].as_str().unwrap();
        let want: Vec<&str> = case["next"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(!want.is_empty(), "{id} has no expected fire times");
        let got = fires(
            case["expr"].as_str().unwrap(),
            zone,
            case["from"].as_str().unwrap(),
            want.len() as u32,
        );
        if got != want {
            failed.push(format!("{id}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn new_york_spring_forward_fires_once_after_the_gap() {
    let ny = "America/New_York";
    assert_eq!(
        fires("*/30 * * * *", ny, "2016-03-13T01:00:00-05:00", 4),
        [
            "2016-03-13T01:30:00-05:00",
            "2016-03-13T03:00:00-04:00",
            "2016-03-13T03:30:00-04:00",
            "2016-03-13T04:00:00-04:00",
        ]
    );
    assert_eq!(
        fires("30 2 * * *", ny, "2016-03-12T12:00:00", 2),
        ["2016-03-13T03:00:00-04:00", "2016-03-14T02:30:00-04:00"]
    );
    // Seconds inside the gap too.
    assert_eq!(
        fires("15 59 2 * * *", ny, "2016-03-13T00:00:00", 1),
        ["2016-03-13T03:00:00-04:00"]
    );
}

#[test]
fn new_york_fall_back_fixed_jobs_fire_once_interval_jobs_twice() {
    let ny = "America/New_York";
    assert_eq!(
        fires("30 1 * * *", ny, "2016-11-06T00:00:00-04:00", 2),
        ["2016-11-06T01:30:00-04:00", "2016-11-07T01:30:00-05:00"]
    );
    // A list of fixed times is still fixed (Cronos' rule).
    assert_eq!(
        fires("0,30 1 * * *", ny, "2016-11-06T00:00:00-04:00", 3),
        [
            "2016-11-06T01:00:00-04:00",
            "2016-11-06T01:30:00-04:00",
            "2016-11-07T01:00:00-05:00",
        ]
    );
    assert_eq!(
        fires("*/30 * * * *", ny, "2016-11-06T00:45:00-04:00", 5),
        [
            "2016-11-06T01:00:00-04:00",
            "2016-11-06T01:30:00-04:00",
            "2016-11-06T01:00:00-05:00",
            "2016-11-06T01:30:00-05:00",
            "2016-11-06T02:00:00-05:00",
        ]
    );
    assert_eq!(
        fires("*/30 1 * * *", ny, "2016-11-06T00:00:00-04:00", 5),
        [
            "2016-11-06T01:00:00-04:00",
            "2016-11-06T01:30:00-04:00",
            "2016-11-06T01:00:00-05:00",
            "2016-11-06T01:30:00-05:00",
            "2016-11-07T01:00:00-05:00",
        ]
    );
    // Starting inside the first pass: the rest of the first pass, then the next day.
    assert_eq!(
        fires("45 1 * * *", ny, "2016-11-06T01:15:00-04:00", 2),
        ["2016-11-06T01:45:00-04:00", "2016-11-07T01:45:00-05:00"]
    );
    // Starting inside the second pass: a fixed job already fired in the first.
    assert_eq!(
        fires("45 1 * * *", ny, "2016-11-06T01:15:00-05:00", 1),
        ["2016-11-07T01:45:00-05:00"]
    );
    assert_eq!(
        fires("45 1 * * *", ny, "2016-11-06T01:50:00-04:00", 1),
        ["2016-11-07T01:45:00-05:00"]
    );
    // An hourly job is an interval job.
    assert_eq!(
        fires("0 * * * *", ny, "2016-11-06T00:30:00-04:00", 3),
        [
            "2016-11-06T01:00:00-04:00",
            "2016-11-06T01:00:00-05:00",
            "2016-11-06T02:00:00-05:00",
        ]
    );
}

#[test]
fn london_spring_and_fall() {
    let london = "Europe/London";
    assert_eq!(
        fires("30 1 * * *", london, "2026-03-28T12:00:00Z", 2),
        ["2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"]
    );
    assert_eq!(
        fires("30 1 * * *", london, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"]
    );
    assert_eq!(
        fires("*/20 1 * * *", london, "2026-10-25T00:00:00+01:00", 7),
        [
            "2026-10-25T01:00:00+01:00",
            "2026-10-25T01:20:00+01:00",
            "2026-10-25T01:40:00+01:00",
            "2026-10-25T01:00:00+00:00",
            "2026-10-25T01:20:00+00:00",
            "2026-10-25T01:40:00+00:00",
            "2026-10-26T01:00:00+00:00",
        ]
    );
}

#[test]
fn last_day_and_days_before_it() {
    assert_eq!(
        fires("0 0 L * *", "UTC", "2024-01-15T00:00:00Z", 4),
        [
            "2024-01-31T00:00:00+00:00",
            "2024-02-29T00:00:00+00:00",
            "2024-03-31T00:00:00+00:00",
            "2024-04-30T00:00:00+00:00",
        ]
    );
    assert_eq!(
        fires("0 0 L-2 * *", "UTC", "2024-01-15T00:00:00Z", 3),
        [
            "2024-01-29T00:00:00+00:00",
            "2024-02-27T00:00:00+00:00",
            "2024-03-29T00:00:00+00:00",
        ]
    );
    assert!(errors("0 0 L-31 * *")[0].message.contains("n 0-30"));
}

#[test]
fn nearest_weekday() {
    assert_eq!(
        fires("0 0 15W * *", "UTC", "2024-05-20T00:00:00Z", 4),
        [
            "2024-06-14T00:00:00+00:00",
            "2024-07-15T00:00:00+00:00",
            "2024-08-15T00:00:00+00:00",
            "2024-09-16T00:00:00+00:00",
        ]
    );
    // Never leaves the month: Saturday the 1st moves to Monday the 3rd.
    assert_eq!(
        fires("0 0 1W * *", "UTC", "2024-05-20T00:00:00Z", 4),
        [
            "2024-06-03T00:00:00+00:00",
            "2024-07-01T00:00:00+00:00",
            "2024-08-01T00:00:00+00:00",
            "2024-09-02T00:00:00+00:00",
        ]
    );
    // Sunday the 31st moves back to Friday; April has no 31st.
    assert_eq!(
        fires("0 0 31W * *", "UTC", "2024-03-01T00:00:00Z", 2),
        ["2024-03-29T00:00:00+00:00", "2024-05-31T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 LW * *", "UTC", "2024-08-01T00:00:00Z", 4),
        [
            "2024-08-30T00:00:00+00:00",
            "2024-09-30T00:00:00+00:00",
            "2024-10-31T00:00:00+00:00",
            "2024-11-29T00:00:00+00:00",
        ]
    );
}

#[test]
fn nth_and_last_day_of_week() {
    assert_eq!(
        fires("0 0 * * FRI#3", "UTC", "2024-01-01T00:00:00Z", 2),
        ["2024-01-19T00:00:00+00:00", "2024-02-16T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 * * 1#5", "UTC", "2024-01-01T00:00:00Z", 3),
        [
            "2024-01-29T00:00:00+00:00",
            "2024-04-29T00:00:00+00:00",
            "2024-07-29T00:00:00+00:00",
        ]
    );
    assert_eq!(
        fires("0 0 * * 5L", "UTC", "2024-01-01T00:00:00Z", 2),
        ["2024-01-26T00:00:00+00:00", "2024-02-23T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 * * friL", "UTC", "2024-01-01T00:00:00Z", 2),
        fires("0 0 * * 5L", "UTC", "2024-01-01T00:00:00Z", 2)
    );
    assert!(errors("0 0 * * FRI#6")[0].message.contains("k 1-5"));
}

#[test]
fn full_month_and_day_names_are_read_as_ncrontab_and_quartz_read_them() {
    let from = "2024-01-01T00:00:00Z";
    assert_eq!(
        fires("0 9 * February-March Monday-Friday", "UTC", from, 2),
        fires("0 9 * FEB-MAR MON-FRI", "UTC", from, 2)
    );
    assert_eq!(
        fires("0 0 1 * * Wednesday", "UTC", from, 1),
        ["2024-01-03T01:00:00+00:00"]
    );
    // A name is the abbreviation or the whole name, nothing between.
    let e = errors("0 0 * Febr *");
    assert!(
        e[0].message.contains("is not a month name"),
        "{}",
        e[0].message
    );
    assert!(e[0].message.contains("full names"), "{}", e[0].message);
}

#[test]
fn names_seven_and_question_mark_are_synonyms() {
    let from = "2024-01-01T00:00:00Z";
    let want = fires("0 0 * 1,7 0", "UTC", from, 12);
    assert_eq!(want.len(), 12);
    for expr in [
        "0 0 * JAN,jul sun",
        "0 0 * January,JULY Sunday",
        "0 0 ? january,Jul 7",
        "0 0 ? Jan,Jul 7",
        "0 0 ? 1,7 SUN",
        "0 0 0 * 1,7 0",
    ] {
        assert_eq!(fires(expr, "UTC", from, 12), want, "{expr}");
    }
    // 5-7 is Friday to Sunday.
    assert_eq!(
        fires("0 0 * * 5-7", "UTC", "2024-01-01T00:00:00Z", 4),
        [
            "2024-01-05T00:00:00+00:00",
            "2024-01-06T00:00:00+00:00",
            "2024-01-07T00:00:00+00:00",
            "2024-01-12T00:00:00+00:00",
        ]
    );
    assert_eq!(
        fires("0 0 * * MON-FRI/2", "UTC", "2024-01-01T00:00:00Z", 3),
        [
            "2024-01-03T00:00:00+00:00",
            "2024-01-05T00:00:00+00:00",
            "2024-01-08T00:00:00+00:00",
        ]
    );
}

#[test]
fn macros() {
    let from = "2024-05-15T10:15:00Z";
    for (m, want) in [
        ("@yearly", "2025-01-01T00:00:00+00:00"),
        ("@annually", "2025-01-01T00:00:00+00:00"),
        ("@monthly", "2024-06-01T00:00:00+00:00"),
        ("@weekly", "2024-05-19T00:00:00+00:00"),
        ("@daily", "2024-05-16T00:00:00+00:00"),
        ("@midnight", "2024-05-16T00:00:00+00:00"),
        ("@hourly", "2024-05-15T11:00:00+00:00"),
        ("@DAILY", "2024-05-16T00:00:00+00:00"),
    ] {
        assert_eq!(fires(m, "UTC", from, 1), [want], "{m}");
    }
    let e = errors("@every_minute");
    assert!(e[0].message.contains("unknown macro"), "{e:?}");
    assert_eq!(e[0].span, span(1, 14));
    let e = errors("@daily 5");
    assert_eq!(e[0].span, span(8, 9));
}

#[test]
fn seconds_field() {
    assert_eq!(
        fires("*/20 * * * * *", "UTC", "2024-01-01T00:00:50Z", 3),
        [
            "2024-01-01T00:01:00+00:00",
            "2024-01-01T00:01:20+00:00",
            "2024-01-01T00:01:40+00:00",
        ]
    );
}

#[test]
fn both_day_fields_restricted_warns_and_means_both() {
    let (_, warnings) = parse("0 0 1 * MON").unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert!(warnings[0].message.contains("match both"), "{warnings:?}");
    assert_eq!(warnings[0].span, span(5, 12));
    assert_eq!(parse("0 0 L * FRI").unwrap().1.len(), 1);
    for quiet in [
        "0 0 1 * *",
        "0 0 * * MON",
        "0 0 ? * MON",
        "0 0 1 * ?",
        "@weekly",
    ] {
        assert!(parse(quiet).unwrap().1.is_empty(), "{quiet}");
    }
}

#[test]
fn never_firing_schedules_are_rejected() {
    for text in [
        "0 0 30 2 *",
        "0 0 31 4 *",
        "0 0 31 2,4,6,9,11 *",
        "0 0 30W 2 *",
    ] {
        let e = errors(text);
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("never fires"), "{e:?}");
        assert_eq!(e[0].span, span(5, text.len() as u32 + 1), "{text}");
    }
    for text in ["0 0 29 2 *", "0 0 31 4,5 *", "0 0 29 2 MON"] {
        assert!(parse(text).is_ok(), "{text}");
    }
}

#[test]
fn malformed_fields_are_located() {
    let e = errors("0 25 * * *");
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "the hour field \"25\" is out of range; hours are 0-23"
    );
    assert_eq!(e[0].span, span(3, 5));
    assert_eq!(e[0].path, "");

    // Every error at once.
    let e = errors("61 25 * * *");
    assert_eq!(e.len(), 2);
    assert!(e[0].message.starts_with("the minute field \"61\""));
    assert_eq!(e[1].span, span(4, 6));

    for (text, needle, col, end) in [
        ("*/0 * * * *", "step of 0", 3, 4),
        ("*/61 * * * *", "steps are 1-59", 3, 5),
        ("5-1 * * * *", "backwards range", 1, 4),
        ("0 0 * FOO *", "is not a month name", 7, 10),
        ("0 0 * * FUNDAY", "is not a day name", 9, 15),
        ("0 0 * * 8", "is out of range", 9, 10),
        ("0 0 32 * *", "days of the month are 1-31", 5, 7),
        ("0 0 0 * *", "out of range", 5, 6),
        ("1,,2 * * * *", "empty list item", 3, 3),
        ("1-x * * * *", "is not a number", 3, 4),
        ("L * * * *", "only for the day fields", 1, 2),
        ("0 0 * * 1W", "is not a number", 9, 11),
        ("0 1#2 * * *", "# is only for the day-of-week field", 3, 6),
        ("0 0 * * 5#x", "k 1-5", 9, 12),
        ("0 0 40W * *", "n 1-31", 5, 8),
        ("0 0 * 1-13 *", "months are 1-12", 9, 11),
    ] {
        let e = errors(text);
        assert!(e[0].message.contains(needle), "{text}: {e:?}");
        assert_eq!(e[0].span, span(col, end), "{text}: {e:?}");
    }

    let e = errors("* * * *");
    assert!(e[0].message.contains("this one has 4"));
    assert_eq!(e[0].span, span(1, 8));
    let e = errors("0 0 0 * * * 2024");
    assert!(e[0].message.contains("year"));
    assert_eq!(e[0].span, span(13, 17));
    assert!(errors("   ")[0].message.contains("empty"));
}

#[test]
fn spans_count_characters_and_lines() {
    let e = errors("é5 25 * * *");
    assert_eq!(e.len(), 2);
    assert!(e[0].message.contains("unexpected character 'é'"), "{e:?}");
    assert_eq!(e[0].span, span(1, 2));
    assert_eq!(e[1].span, span(4, 6));
    let e = errors("0 0\n * * 9");
    assert_eq!(
        e[0].span,
        Some(Span {
            line: 2,
            column: 6,
            end_line: 2,
            end_column: 7
        })
    );
}

#[test]
fn leap_years() {
    assert_eq!(
        fires("0 0 29 2 *", "UTC", "1999-03-01T00:00:00Z", 2),
        ["2000-02-29T00:00:00+00:00", "2004-02-29T00:00:00+00:00"]
    );
    // 2100 is not a leap year: 40 years between Mondays on February 29th.
    assert_eq!(
        fires("0 0 29 2 MON", "UTC", "2072-03-01T00:00:00Z", 1),
        ["2112-02-29T00:00:00+00:00"]
    );
}

#[test]
fn limit_cron_text_length() {
    let ok = format!("{:<width$}", "0 0 * * *", width = MAX_CRON_CHARS);
    assert!(parse(&ok).is_ok());
    let long = format!("{ok} ");
    assert!(errors(&long)[0].message.contains("at most 1024"));
    assert!(errors(&"x".repeat(100_000))[0].message.contains("at most"));
}

#[test]
fn limit_list_items() {
    let list = |n: usize| vec!["0"; n].join(",");
    assert!(parse(&format!("{} * * * *", list(MAX_LIST_ITEMS))).is_ok());
    let e = errors(&format!("{} * * * *", list(MAX_LIST_ITEMS + 1)));
    assert!(e[0].message.contains("at most 64"), "{e:?}");
}

#[test]
fn limit_preview_count() {
    let c = cron("* * * * *");
    let from = at("2024-01-01T00:00:00Z", "UTC");
    assert_eq!(
        c.preview(from, MAX_PREVIEW, "UTC", &UtcOnly).unwrap().len(),
        MAX_PREVIEW as usize
    );
    assert!(c.preview(from, MAX_PREVIEW + 1, "UTC", &UtcOnly).is_err());
    assert!(c.preview(from, 0, "UTC", &UtcOnly).unwrap().is_empty());
}

#[test]
fn limit_search_horizon() {
    let (c, _) = parse("0 0 29 2 *").unwrap();
    let from = engine::DAY * crate::value::days_from_civil(2096, 3, 1);
    // The next leap day is 8 years ahead (2104): found within 8 years, not within 7.
    assert!(c.spec.next_local(from, 8).is_some());
    assert!(c.spec.next_local(from, 7).is_none());
    // At the end of the calendar there is nothing more.
    let end = at("9999-03-01T00:00:00Z", "UTC");
    assert_eq!(c.next_after(end, "UTC", &UtcOnly), Ok(None));
    let c = cron("* * * * *");
    let last = at("9999-12-31T23:59:00Z", "UTC");
    assert_eq!(c.next_after(last, "UTC", &UtcOnly), Ok(None));
}

#[test]
fn host_questions_stay_few() {
    let counting = Counting(&Tzdb, Cell::new(0));
    let c = cron("*/30 * * * *");
    let from = at("2016-11-05T00:00:00Z", "UTC");
    let out = c.preview(from, 100, "America/New_York", &counting).unwrap();
    assert_eq!(out.len(), 100);
    assert!(
        counting.1.get() < 100 * 12,
        "{} questions",
        counting.1.get()
    );
}

#[test]
fn zone_errors_are_reported_not_panicked() {
    let c = cron("0 0 * * *");
    let from = at("2024-01-01T00:00:00Z", "UTC");
    assert!(c.next_after(from, "Mars/Olympus", &Tzdb).is_err());
    assert!(c.next_after(from, "X", &Fixed(i32::MAX)).is_err());
    assert!(c.next_after(from, "X", &Fixed(i32::MIN)).is_err());
    assert_eq!(
        c.next_after(from, "X", &Fixed(3600)),
        Ok(Some(at("2024-01-01T23:00:00Z", "UTC")))
    );
    let bad = Instant {
        seconds: i64::MAX,
        nanoseconds: 0,
    };
    assert!(c.next_after(bad, "UTC", &UtcOnly).is_err());
}

#[test]
fn format_in_zone_writes_the_offset() {
    let i = at("2016-03-13T07:00:00Z", "UTC");
    assert_eq!(
        format_in_zone(i, "America/New_York", &Tzdb).unwrap(),
        "2016-03-13T03:00:00-04:00"
    );
    assert_eq!(
        format_in_zone(i, "Asia/Kathmandu", &Tzdb).unwrap(),
        "2016-03-13T12:45:00+05:45"
    );
    assert_eq!(
        format_in_zone(i, "UTC", &Tzdb).unwrap(),
        "2016-03-13T07:00:00+00:00"
    );
    let frac = Instant {
        seconds: i.seconds,
        nanoseconds: 500_000_000,
    };
    assert_eq!(
        format_in_zone(frac, "UTC", &UtcOnly).unwrap(),
        "2016-03-13T07:00:00.5+00:00"
    );
    assert_eq!(
        format_in_zone(i, "X", &Fixed(61)).unwrap(),
        "2016-03-13T07:00:00Z"
    );
    assert!(format_in_zone(i, "Nowhere", &UtcOnly).is_err());
}

#[test]
fn parse_local_or_rfc3339_reads_local_times() {
    let ny = "America/New_York";
    let z = |t| at(t, "UTC");
    assert_eq!(
        at("2016-03-13T01:30:00-05:00", ny),
        z("2016-03-13T06:30:00Z")
    );
    assert_eq!(at("2016-07-01T12:00:00", ny), z("2016-07-01T16:00:00Z"));
    assert_eq!(at("2016-07-01T12:00", ny), z("2016-07-01T16:00:00Z"));
    // A fold: the earlier instant.
    assert_eq!(at("2016-11-06T01:30:00", ny), z("2016-11-06T05:30:00Z"));
    // A gap: the first instant after it.
    assert_eq!(at("2016-03-13T02:30:00", ny), z("2016-03-13T07:00:00Z"));
    for bad in [
        "",
        "yesterday",
        "2016-13-01T00:00:00",
        "2016-03-13T01:30:00é",
        "é",
    ] {
        assert!(parse_local_or_rfc3339(bad, ny, &Tzdb).is_err(), "{bad}");
    }
}

#[test]
fn text_is_kept_and_cron_is_send_sync() {
    fn send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    send_sync::<Cron>();
    assert_eq!(cron("  0 0 * * *").text(), "  0 0 * * *");
}

#[test]
fn plan_cron_preview_paths() {
    let after = at("2024-01-01T00:00:00Z", "UTC");
    let (out, warnings) = crate::plan::cron_preview("0 0 * * *", None, after, 2, &UtcOnly).unwrap();
    assert!(warnings.is_empty());
    let (_, warned) = crate::plan::cron_preview("0 0 13 * FRI", None, after, 1, &UtcOnly).unwrap();
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].path, "cron");
    assert!(warned[0].span.is_some());
    assert_eq!(
        out,
        [
            at("2024-01-02T00:00:00Z", "UTC"),
            at("2024-01-03T00:00:00Z", "UTC")
        ]
    );
    let e = crate::plan::cron_preview("0 25 * * *", None, after, 2, &UtcOnly).unwrap_err();
    assert_eq!((e[0].path.as_str(), e[0].span), ("cron", span(3, 5)));
    let e =
        crate::plan::cron_preview("0 0 * * *", Some("Nowhere"), after, 2, &UtcOnly).unwrap_err();
    assert_eq!(e[0].path, "time-zone");
    let e =
        crate::plan::cron_preview("0 0 * * *", None, after, MAX_PREVIEW + 1, &UtcOnly).unwrap_err();
    assert_eq!(e[0].path, "count");
    let ny = crate::plan::cron_preview("0 0 * * *", Some("America/New_York"), after, 1, &Tzdb);
    assert_eq!(ny.unwrap().0, [at("2024-01-01T05:00:00Z", "UTC")]);
}

/// Whether `spec` matches the UTC second `s`, checked field by field without the engine's
/// search.
fn matches(spec: &engine::Spec, s: i64) -> bool {
    let days = s.div_euclid(engine::DAY);
    let t = s.rem_euclid(engine::DAY);
    let (y, m, d) = crate::value::civil_from_days(days);
    spec.months & (1 << m) != 0
        && spec.day_mask(y, m) & (1 << d) != 0
        && spec.hours & (1 << (t / 3600)) != 0
        && spec.minutes & (1 << (t / 60 % 60)) != 0
        && spec.seconds & (1 << (t % 60)) != 0
}

/// Random field texts from the dialect.
fn field_text(min: u32, max: u32, specials: &'static [&'static str]) -> BoxedStrategy<String> {
    let value = min..=max;
    let item = prop_oneof![
        Just("*".to_string()),
        value.clone().prop_map(|v| v.to_string()),
        (value.clone(), value.clone(), 1..=max.max(1)).prop_map(|(a, b, s)| format!(
            "{}-{}/{s}",
            a.min(b),
            a.max(b)
        )),
        (value.clone(), 1..=max.max(1)).prop_map(|(a, s)| format!("{a}/{s}")),
        (1..=max.max(1)).prop_map(|s| format!("*/{s}")),
        proptest::sample::select(if specials.is_empty() {
            &["*"]
        } else {
            specials
        })
        .prop_map(str::to_string),
    ];
    proptest::collection::vec(item, 1..4)
        .prop_map(|v| v.join(","))
        .boxed()
}

fn expression() -> impl Strategy<Value = String> {
    (
        proptest::option::of(field_text(0, 59, &[])),
        field_text(0, 59, &[]),
        field_text(0, 23, &[]),
        field_text(1, 31, &["L", "L-3", "LW", "15W", "1W", "?"]),
        field_text(1, 12, &["JAN", "dec", "FEB-MAR"]),
        field_text(0, 7, &["MON-FRI", "5L", "FRI#3", "sun#5", "?"]),
    )
        .prop_map(|(s, mi, h, dom, mo, dow)| {
            let body = format!("{mi} {h} {dom} {mo} {dow}");
            match s {
                Some(s) => format!("{s} {body}"),
                None => body,
            }
        })
}

const ZONES: [&str; 8] = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Paris",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Apia",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(text in "\\PC{0,40}") {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_cron_like_text(text in "[0-9A-Za-z*?,/#@ \t\n-]{0,40}") {
        if let Ok((c, _)) = parse(&text) {
            let from = Instant { seconds: 1_700_000_000, nanoseconds: 0 };
            let _ = c.next_after(from, "Europe/London", &Tzdb);
        }
    }

    #[test]
    fn next_after_never_panics_and_moves_forward(
        expr in expression(),
        zone in proptest::sample::select(&ZONES[..]),
        seconds in -2_000_000_000i64..5_000_000_000,
    ) {
        let Ok((c, _)) = parse(&expr) else { return Ok(()); };
        let from = Instant { seconds, nanoseconds: 0 };
        let got = c.preview(from, 3, zone, &Tzdb).unwrap();
        prop_assert!(!got.is_empty(), "{expr} never fired in {zone}");
        let mut last = from;
        for g in got {
            prop_assert!(g > last, "{expr} in {zone}: {g:?} not after {last:?}");
            last = g;
        }
    }

    #[test]
    fn utc_matches_a_brute_force_scan(
        expr in expression(),
        seconds in 0i64..4_000_000_000,
    ) {
        let Ok((c, _)) = parse(&expr) else { return Ok(()); };
        // Whole minutes for 5-field expressions, whole seconds for 6.
        let from = Instant { seconds, nanoseconds: 0 };
        let got = c.next_after(from, "UTC", &UtcOnly).unwrap();
        let window = 3 * engine::DAY;
        let mut brute = None;
        let mut s = seconds + 1;
        while s <= seconds + window {
            let (y, m, d) = crate::value::civil_from_days(s.div_euclid(engine::DAY));
            if c.spec.months & (1 << m) == 0 || c.spec.day_mask(y, m) & (1 << d) == 0 {
                s = (s.div_euclid(engine::DAY) + 1) * engine::DAY;
                continue;
            }
            if matches(&c.spec, s) {
                brute = Some(s);
                break;
            }
            s += 1;
        }
        match brute {
            Some(s) => prop_assert_eq!(got.map(|g| g.seconds), Some(s), "{}", expr),
            None => prop_assert!(got.is_none_or(|g| g.seconds > seconds + window), "{}", expr),
        }
    }
}

/// Instants near real offset changes (gaps and folds of 1 hour, 30 minutes and a day).
const TRANSITIONS: [(&str, &str); 9] = [
    ("America/New_York", "2016-03-13T07:00:00Z"),
    ("America/New_York", "2016-11-06T06:00:00Z"),
    ("Europe/London", "2026-03-29T01:00:00Z"),
    ("Europe/London", "2026-10-25T01:00:00Z"),
    ("Europe/Paris", "2024-10-27T01:00:00Z"),
    ("Australia/Sydney", "2024-04-06T16:00:00Z"),
    ("Australia/Sydney", "2024-10-05T16:00:00Z"),
    ("Australia/Lord_Howe", "2024-04-06T15:00:00Z"),
    ("Pacific/Apia", "2011-12-30T10:00:00Z"),
];

/// 5-field expressions that often fire in the hours where clocks change.
fn early_hours_expression() -> impl Strategy<Value = String> {
    let hour = prop_oneof![
        proptest::sample::select(&["*", "1", "2", "3", "0-3", "1-2/1", "*/2", "2,3", "0,1"][..])
            .prop_map(str::to_string),
        field_text(0, 23, &[]),
    ];
    let day = proptest::sample::select(&["*", "*", "*", "1-31/2", "L", "5-7"][..]);
    (field_text(0, 59, &[]), hour, day)
        .prop_map(|(minute, hour, day)| format!("{minute} {hour} {day} * *"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Across real gaps and folds, checked minute by minute against chrono-tz's own
    /// local-time resolution: no fire is missed, none is made up, a fixed-time job never
    /// fires in a fold's second pass, and a skipped time fires right after the gap.
    #[test]
    fn dst_fires_agree_with_a_minute_by_minute_scan(
        expr in early_hours_expression(),
        which in 0..TRANSITIONS.len(),
        before_minutes in 0i64..(26 * 60),
    ) {
        let Ok((c, _)) = parse(&expr) else { return Ok(()); };
        // Cronos' rule, read from the text rather than from the engine.
        let interval = expr
            .split_whitespace()
            .take(2)
            .any(|f| f.contains(['*', '?', '-', '/']));
        let (zone, change) = TRANSITIONS[which];
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let off = |s: i64| i64::from(Tzdb.utc_offset(zone, Instant { seconds: s, nanoseconds: 0 }).unwrap());
        let second_pass = |s: i64| {
            let local = chrono::DateTime::from_timestamp(s + off(s), 0).unwrap().naive_utc();
            matches!(tz.from_local_datetime(&local), chrono::LocalResult::Ambiguous(_, b) if b.timestamp() == s)
        };
        let from = at(change, "UTC").seconds - before_minutes * 60;
        let window_end = from + 2 * engine::DAY;
        let mut prev = from;
        while prev < window_end {
            let got = c.next_after(Instant { seconds: prev, nanoseconds: 0 }, zone, &Tzdb).unwrap();
            let got = got.map(|g| g.seconds).unwrap_or(i64::MAX);
            prop_assert!(got > prev);
            // Nothing matching was skipped before the fire (or the end of the window).
            let mut u = prev - prev.rem_euclid(60) + 60;
            while u < got.min(window_end) {
                let local_matches = matches(&c.spec, u + off(u));
                prop_assert!(
                    !local_matches || (second_pass(u) && !interval),
                    "{expr} in {zone} after {prev}: missed {u}, fired {got}"
                );
                u += 60;
            }
            if got >= window_end {
                break;
            }
            let local = got + off(got);
            if matches(&c.spec, local) {
                prop_assert!(!second_pass(got) || interval,
                    "{expr} in {zone}: a fixed job fired in a second pass at {got}");
            } else {
                // Only a time skipped by the gap that ends at `got` may fire there.
                let gap_start = got - 1 + off(got - 1) + 1;
                prop_assert!(gap_start < local, "{expr} in {zone}: {got} matches nothing");
                let skipped = (gap_start..local).step_by(60).any(|l| matches(&c.spec, l));
                prop_assert!(skipped, "{expr} in {zone}: {got} fires for no skipped time");
            }
            prev = got;
        }
    }
}

#[test]
fn every_cron_problem_has_a_span() {
    for text in [
        "",
        "   ",
        "* * *",
        "0 25 * * *",
        "@nightly",
        "@daily 5",
        "0 0 30 2 *",
        "0 0 * * * * 2024",
    ] {
        for p in errors(text) {
            assert!(p.span.is_some(), "{text:?}: {p}");
        }
    }
    let long = "* ".repeat(crate::cron::MAX_CRON_CHARS);
    let p = &errors(&long)[0];
    let span = p.span.expect("the too-long text is located");
    assert_eq!(
        (span.line, span.column),
        (1, crate::cron::MAX_CRON_CHARS as u32 + 1)
    );
    let p = &errors("  ")[0];
    assert_eq!(p.span.map(|s| (s.column, s.end_column)), Some((1, 3)));
}
