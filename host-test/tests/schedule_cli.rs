//! `host-test schedule` end to end: the conformance cases, daylight saving, located
//! problems, strategy schedules, limits and exit codes, through the built binary.

use std::process::{Command, Output};

use host_test::scheduler::preview::MAX_COUNT;
use scratch::Scratch;

mod fixtures;
mod scratch;

use fixtures::*;

/// Run `schedule` with `args`, require exit 0, and return the printed lines.
fn fires(args: &[&str]) -> Vec<String> {
    let mut all = vec!["schedule"];
    all.extend_from_slice(args);
    let out = host_test(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stderr(&out), "", "{args:?}");
    stdout(&out).lines().map(str::to_string).collect()
}

fn schedule(args: &[&str]) -> Output {
    let mut all = vec!["schedule"];
    all.extend_from_slice(args);
    host_test(&all)
}

#[derive(serde::Deserialize)]
struct Case {
    id: String,
    expr: String,
    tz: String,
    from: String,
    next: Vec<String>,
}

#[test]
fn every_conformance_case_passes_through_the_cli() {
    let path = repo().join("tests/data/conformance/cron-cases.json");
    let cases: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(cases.len(), 12, "the conformance file has 12 cases");
    // Each run loads the component (seconds in a debug build): start them all, then
    // check each, so the cases share the cores instead of queueing.
    let runs: Vec<_> = cases
        .iter()
        .map(|case| {
            Command::new(bin())
                .args(["schedule", "--cron", &case.expr, "--tz", &case.tz])
                .args([
                    "--from",
                    &case.from,
                    "--count",
                    &case.next.len().to_string(),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("host-test starts")
        })
        .collect();
    let mut passed = 0;
    for (case, run) in cases.iter().zip(runs) {
        let out = run.wait_with_output().expect("host-test runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "case {}: {}",
            case.id,
            stderr(&out)
        );
        let got: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        assert_eq!(got, case.next, "case {}", case.id);
        passed += 1;
    }
    assert_eq!(passed, 12, "conformance cases passed through the CLI");
}

#[test]
fn new_york_previews_across_both_daylight_saving_changes() {
    // Spring forward: 02:00 EST becomes 03:00 EDT, and an interval job goes straight on.
    // (A fixed-time job inside a gap: the Europe/Amsterdam strategy test below.)
    assert_eq!(
        fires(&[
            "--cron",
            "*/30 * * * *",
            "--tz",
            "America/New_York",
            "--from",
            "2016-03-13T01:00:00",
            "--count",
            "4",
        ]),
        [
            "2016-03-13T01:30:00-05:00",
            "2016-03-13T03:00:00-04:00",
            "2016-03-13T03:30:00-04:00",
            "2016-03-13T04:00:00-04:00",
        ]
    );
    // Fall back: 01:00-01:59 happens twice. An interval job fires in both passes, a
    // fixed-time job once.
    assert_eq!(
        fires(&[
            "--cron",
            "*/30 1 * * *",
            "--tz",
            "America/New_York",
            "--from",
            "2016-11-06T00:00:00",
            "--count",
            "5",
        ]),
        [
            "2016-11-06T01:00:00-04:00",
            "2016-11-06T01:30:00-04:00",
            "2016-11-06T01:00:00-05:00",
            "2016-11-06T01:30:00-05:00",
            "2016-11-07T01:00:00-05:00",
        ]
    );
    assert_eq!(
        fires(&[
            "--cron",
            "30 1 * * *",
            "--tz",
            "America/New_York",
            "--from",
            "2016-11-06T00:00:00",
            "--count",
            "2",
        ]),
        ["2016-11-06T01:30:00-04:00", "2016-11-07T01:30:00-05:00"]
    );
}

#[test]
fn london_previews_across_both_daylight_saving_changes() {
    assert_eq!(
        fires(&[
            "--cron",
            "30 1 * * *",
            "--tz",
            "Europe/London",
            "--from",
            "2026-03-28 12:00",
            "--count",
            "3",
        ]),
        // 01:30 is skipped on 2026-03-29 (01:00 GMT becomes 02:00 BST).
        [
            "2026-03-29T02:00:00+01:00",
            "2026-03-30T01:30:00+01:00",
            "2026-03-31T01:30:00+01:00",
        ]
    );
    assert_eq!(
        fires(&[
            "--cron",
            "0 * * * *",
            "--tz",
            "Europe/London",
            "--from",
            "2026-10-25T00:30:00+01:00",
            "--count",
            "3",
        ]),
        [
            "2026-10-25T01:00:00+01:00",
            "2026-10-25T01:00:00+00:00",
            "2026-10-25T02:00:00+00:00",
        ]
    );
}

#[test]
fn a_local_from_in_a_gap_lists_the_fire_at_the_end_of_the_gap() {
    // 02:30 does not exist on 2016-03-13 in New York; 03:00 EDT is the first wall time
    // after it, so a 03:00 job is listed for that day.
    assert_eq!(
        fires(&[
            "--cron",
            "0 3 * * *",
            "--tz",
            "America/New_York",
            "--from",
            "2016-03-13 02:30",
            "--count",
            "2",
        ]),
        ["2016-03-13T03:00:00-04:00", "2016-03-14T03:00:00-04:00"]
    );
}

#[test]
fn utc_is_the_default_zone_and_is_written_as_plus_zero() {
    assert_eq!(
        fires(&[
            "--cron",
            "@hourly",
            "--from",
            "2024-06-15T10:30:00+02:00",
            "--count",
            "2"
        ]),
        ["2024-06-15T09:00:00+00:00", "2024-06-15T10:00:00+00:00"]
    );
}

#[test]
fn without_from_the_fire_times_are_after_now() {
    let before = jiff::Timestamp::now();
    let got = fires(&["--cron", "* * * * * *", "--count", "3"]);
    assert_eq!(got.len(), 3);
    let times: Vec<jiff::Timestamp> = got.iter().map(|t| t.parse().unwrap()).collect();
    assert!(times[0] > before, "{got:?} should be after {before}");
    assert!(
        times
            .windows(2)
            .all(|w| w[0].duration_until(w[1]) == jiff::SignedDuration::from_secs(1))
    );
}

#[test]
fn an_invalid_expression_exits_1_with_a_located_problem() {
    let out = schedule(&["--cron", "5 9x * * *", "--count", "3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).starts_with("error: cron (line 1, column 3): "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_zone_exits_1_as_a_problem_whatever_the_from() {
    for from in [
        None,
        Some("2024-01-01T00:00:00Z"),
        Some("2024-01-01T00:00:00"),
    ] {
        let mut args = vec!["--cron", "@daily", "--tz", "Mars/Olympus", "--count", "1"];
        if let Some(f) = from {
            args.extend(["--from", f]);
        }
        let out = schedule(&args);
        assert_eq!(out.status.code(), Some(1), "{from:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(
                "error: time-zone: unknown time zone \"Mars/Olympus\"; use an IANA name"
            ),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_bad_from_exits_2_naming_both_accepted_forms() {
    let out = schedule(&["--cron", "@daily", "--count", "1", "--from", "next week"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("--from \"next week\" is not a date and time"),
        "{e}"
    );
    assert!(
        e.contains("RFC 3339") && e.contains("local time in UTC"),
        "{e}"
    );
}

#[test]
fn the_count_limit_is_obeyed_and_refused_past_it() {
    let max = MAX_COUNT.to_string();
    let got = fires(&[
        "--cron",
        "* * * * *",
        "--from",
        "2024-01-01T00:00:00Z",
        "--count",
        &max,
    ]);
    assert_eq!(got.len(), MAX_COUNT as usize);
    assert_eq!(got.last().unwrap(), "2024-01-01T01:40:00+00:00");
    for count in [(MAX_COUNT + 1).to_string(), "0".to_string()] {
        let out = schedule(&["--cron", "* * * * *", "--count", &count]);
        assert_eq!(out.status.code(), Some(2), "--count {count}");
        assert!(
            stderr(&out).contains(&format!(
                "--count {count} is out of range: a preview lists 1 to {MAX_COUNT} fire times"
            )),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn the_count_limit_is_the_components_own() {
    // The CLI's limit must not drift from the component's MAX_PREVIEW: the component
    // accepts MAX_COUNT and refuses one more.
    let rt = host_test::Runtime::new(host_test::Limits::default()).unwrap();
    let at = host_test::bindings::Instant {
        seconds: 0,
        nanoseconds: 0,
    };
    assert_eq!(
        rt.cron_preview("* * * * *", None, at, MAX_COUNT)
            .unwrap()
            .fires
            .len(),
        MAX_COUNT as usize
    );
    match rt.cron_preview("* * * * *", None, at, MAX_COUNT + 1) {
        Err(host_test::HostError::Invalid(p)) => assert_eq!(p[0].path, "count"),
        other => panic!("expected a count problem, got {other:?}"),
    }
}

#[test]
fn a_strategy_schedule_previews_in_its_own_zone() {
    let strategy = repo().join("examples/customer.strategy.json");
    // "Nightly reconciliation" is 0 2 * * * in Europe/Amsterdam, which skips 02:00-02:59
    // on 2024-03-31.
    assert_eq!(
        fires(&[
            "--strategy",
            strategy.to_str().unwrap(),
            "--schedule",
            "Nightly reconciliation",
            "--from",
            "2024-03-29T12:00:00Z",
            "--count",
            "3",
        ]),
        [
            "2024-03-30T02:00:00+01:00",
            "2024-03-31T03:00:00+02:00",
            "2024-04-01T02:00:00+02:00",
        ]
    );
    // A local --from is read in the schedule's zone.
    assert_eq!(
        fires(&[
            "--strategy",
            strategy.to_str().unwrap(),
            "--schedule",
            "Nightly reconciliation",
            "--from",
            "2024-07-01T01:59:59",
            "--count",
            "1",
        ]),
        ["2024-07-01T02:00:00+02:00"]
    );
}

#[test]
fn an_unknown_schedule_name_exits_2_listing_the_names() {
    let strategy = repo().join("examples/customer.strategy.json");
    let out = schedule(&[
        "--strategy",
        strategy.to_str().unwrap(),
        "--schedule",
        "Nightly",
        "--count",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "no schedule is named \"Nightly\"; its schedules are \"Nightly reconciliation\""
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_strategy_schedules_problems_carry_its_path_in_the_file() {
    let mut strategy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/customer.strategy.json")).unwrap(),
    )
    .unwrap();
    strategy["schedules"][0]["cron"] = "0 25 * * *".into();
    strategy["schedules"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "Zoneless", "cron": "0 6 * * *"}));
    strategy["schedules"].as_array_mut().unwrap().push(
        serde_json::json!({"name": "Martian", "cron": "@daily", "time-zone": "Mars/Olympus"}),
    );
    let dir = Scratch::new("schedule", "zones");
    let file = dir.join("s.json");
    std::fs::write(&file, strategy.to_string()).unwrap();
    let file = file.to_str().unwrap();

    let out = schedule(&[
        "--strategy",
        file,
        "--schedule",
        "Nightly reconciliation",
        "--count",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: strategy.schedules[0].cron (line 1, column 3): "),
        "{}",
        stderr(&out)
    );
    let out = schedule(&["--strategy", file, "--schedule", "Martian", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: strategy.schedules[2].time-zone: unknown time zone"),
        "{}",
        stderr(&out)
    );
    // No zone means UTC.
    assert_eq!(
        fires(&[
            "--strategy",
            file,
            "--schedule",
            "Zoneless",
            "--from",
            "2024-01-01T00:00:00",
            "--count",
            "1"
        ]),
        ["2024-01-01T06:00:00+00:00"]
    );
}

#[test]
fn an_unreadable_strategy_exits_2_naming_the_file() {
    let out = schedule(&[
        "--strategy",
        "/nonexistent/s.json",
        "--schedule",
        "x",
        "--count",
        "1",
    ]);
    assert_ended(&out, 2, "/nonexistent/s.json: cannot read");
}

#[test]
fn schedule_prints_the_warnings_validate_prints() {
    let out = schedule(&[
        "--cron",
        "0 0 13 * FRI",
        "--count",
        "1",
        "--from",
        "2026-11-29T00:00:00Z",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout.trim(), "2027-08-13T00:00:00+00:00", "{stdout}");
    assert!(
        stderr.starts_with("warning: cron (line 1, column "),
        "{stderr}"
    );
    // Without anything to warn about, stderr stays empty.
    let out = schedule(&[
        "--cron",
        "0 0 * * FRI",
        "--count",
        "1",
        "--from",
        "2026-11-29T00:00:00Z",
    ]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The contract's instants reach the last second of year 9999 (`instant::LAST_SECOND`);
/// jiff's timestamps stop 26 hours earlier, where `--from` and the zone answers used to
/// fail with "out of range".
#[test]
fn fire_times_reach_the_end_of_year_9999_in_every_offset() {
    assert_eq!(
        fires(&[
            "--cron",
            "59 23 31 12 *",
            "--from",
            "9999-12-30T00:00:00Z",
            "--count",
            "3"
        ]),
        ["9999-12-31T23:59:00+00:00"]
    );
    assert_eq!(
        fires(&[
            "--cron",
            "0 * * * *",
            "--tz",
            "America/Los_Angeles",
            "--from",
            "9999-12-31T13:00:00",
            "--count",
            "5",
        ]),
        // 16:00 in Los Angeles is 10000-01-01T00:00Z: past the range.
        ["9999-12-31T14:00:00-08:00", "9999-12-31T15:00:00-08:00"]
    );
    // Kiritimati is 14 hours ahead: its last local midnight of 9999 is 10:00Z on the 31st.
    assert_eq!(
        fires(&[
            "--cron",
            "0 0 * * *",
            "--tz",
            "Pacific/Kiritimati",
            "--from",
            "9999-12-29T00:00:00Z",
            "--count",
            "5",
        ]),
        ["9999-12-30T00:00:00+14:00", "9999-12-31T00:00:00+14:00"]
    );
    // Past the end is still refused, and says where the range ends.
    let out = schedule(&[
        "--cron",
        "0 0 * * *",
        "--tz",
        "America/Los_Angeles",
        "--from",
        "9999-12-31T16:00:00",
        "--count",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("outside years 1 to 9999"),
        "{}",
        stderr(&out)
    );
}
