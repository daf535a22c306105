//! The `host-test schedule` command: preview a cron text's next fire times, given directly
//! or as a named schedule of a strategy file.
//!
//! The fire times come from the component (`cron-preview`), so the preview shows exactly
//! what the component will schedule. The host does only what the component leaves to it:
//! reading `--from` (a local wall time needs the zone's rules) and writing each instant
//! with its zone's offset, both through `jiff` and the host's time-zone database, which is
//! the same database that answers the component's `zone.utc-offset` import.
//!
//! **`--from` as a local time.** A wall time without an offset is read in the zone. When a
//! fall-back fold repeats it, the earlier instant is meant. When a spring-forward gap skips
//! it, it is read as the moment the gap ends, and a fire at exactly that moment is listed:
//! every wall time inside the gap lies before it, so `--from 02:30` on a day that jumps
//! from 02:00 to 03:00 lists a 03:00 fire, and nothing before it.
//!
//! **Exit codes.** 0: the fire times were printed. 1: what is being previewed is invalid
//! (the cron text, or the time zone), with every problem on stderr as
//! `error: path (line L, column C): message`. 2: the command cannot run as asked (a
//! strategy file that cannot be read, no schedule of that name, a malformed `--from`, a
//! `--count` outside 1 to [`MAX_COUNT`]).

use std::path::{Path, PathBuf};

use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::contract::bindings::{Instant, Problem, Severity};
use crate::{
    formats, sandbox::error::HostError, sandbox::runtime::Runtime, time::instant, time::zones,
};

pub use crate::limits::MAX_COUNT;

/// The zone of a schedule that names none, as in the component's plan.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// What to preview.
#[derive(Clone, Debug)]
pub enum Target {
    /// A cron text in a time zone (UTC when none).
    Cron {
        /// The cron text.
        cron: String,
        /// The IANA zone of its fields.
        time_zone: Option<String>,
    },
    /// The schedule named `name` in a strategy file, in the schedule's own zone.
    Schedule {
        /// The strategy file.
        strategy: PathBuf,
        /// The schedule's name.
        name: String,
    },
}

/// One `schedule` command.
#[derive(Clone, Debug)]
pub struct Request {
    /// What to preview.
    pub target: Target,
    /// How many fire times, 1 to [`MAX_COUNT`].
    pub count: u32,
    /// List fire times strictly after this (RFC 3339, or a local time in the zone);
    /// none means now.
    pub from: Option<String>,
}

/// Why a preview printed no fire times.
#[derive(Debug)]
pub enum ScheduleError {
    /// The cron text or the time zone is invalid: every problem, located (exit 1).
    Problems(Vec<Problem>),
    /// The command cannot run as asked (exit 2).
    Usage(String),
    /// The host could not run the component (exit 2).
    Host(HostError),
}

impl ScheduleError {
    /// The process exit code for this error: 1 for problems in what is previewed, 2 when
    /// the command itself cannot run.
    pub fn exit_code(&self) -> u8 {
        match self {
            ScheduleError::Problems(_) => 1,
            ScheduleError::Usage(_) | ScheduleError::Host(_) => 2,
        }
    }
}

impl std::fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleError::Problems(problems) => {
                let lines: Vec<String> = problems
                    .iter()
                    .map(crate::contract::text::problem_line)
                    .collect();
                f.write_str(&lines.join("\n"))
            }
            ScheduleError::Usage(m) => f.write_str(m),
            ScheduleError::Host(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// The cron text, the zone name and the problem-path prefix of what `target` names.
struct Resolved {
    cron: String,
    zone: String,
    /// `""` for `--cron`; `strategy.schedules[i].` for a strategy's schedule, so a problem
    /// reads straight into the file, as `validate` prints it.
    prefix: String,
}

fn resolve(target: &Target) -> Result<Resolved, ScheduleError> {
    match target {
        Target::Cron { cron, time_zone } => Ok(Resolved {
            cron: cron.clone(),
            zone: time_zone
                .clone()
                .unwrap_or_else(|| DEFAULT_TIME_ZONE.into()),
            prefix: String::new(),
        }),
        Target::Schedule { strategy, name } => find_schedule(strategy, name),
    }
}

fn find_schedule(path: &Path, name: &str) -> Result<Resolved, ScheduleError> {
    let strategy = formats::read_strategy(path).map_err(|e| ScheduleError::Usage(e.to_string()))?;
    let Some(index) = strategy.schedules.iter().position(|s| s.name == name) else {
        let names: Vec<String> = strategy
            .schedules
            .iter()
            .map(|s| format!("{:?}", s.name))
            .collect();
        let known = if names.is_empty() {
            "it has no schedules".to_string()
        } else {
            format!("its schedules are {}", names.join(", "))
        };
        return Err(ScheduleError::Usage(format!(
            "{}: no schedule is named {name:?}; {known}",
            path.display()
        )));
    };
    let schedule = &strategy.schedules[index];
    Ok(Resolved {
        cron: schedule.cron.clone(),
        // An empty zone means UTC, as the component's plan reads it.
        zone: schedule
            .time_zone
            .clone()
            .filter(|z| !z.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.into()),
        prefix: format!("strategy.schedules[{index}]."),
    })
}

/// A command checked and resolved, ready to run on the component.
#[derive(Clone, Debug)]
pub struct Prepared {
    cron: String,
    zone: String,
    tz: TimeZone,
    prefix: String,
    after: Instant,
    count: u32,
}

/// Check a command and resolve everything the host answers itself (the count, the
/// strategy file and schedule name, the zone, `--from`), so that a mistake in the command
/// is reported without loading the component, which takes seconds in a debug build.
/// `now` is the default for `--from`.
pub fn prepare(request: &Request, now: Timestamp) -> Result<Prepared, ScheduleError> {
    if request.count == 0 || request.count > MAX_COUNT {
        return Err(ScheduleError::Usage(format!(
            "--count {} is out of range: a preview lists 1 to {MAX_COUNT} fire times",
            request.count
        )));
    }
    let target = resolve(&request.target)?;
    let tz = zones::time_zone(&target.zone).map_err(|m| {
        ScheduleError::Problems(vec![Problem {
            path: format!("{}time-zone", target.prefix),
            message: m,
            span: None,
            severity: Severity::Error,
        }])
    })?;
    let after = match &request.from {
        Some(text) => parse_from(text, &tz, &target.zone).map_err(ScheduleError::Usage)?,
        None => instant::from_timestamp(now),
    };
    Ok(Prepared {
        cron: target.cron,
        zone: target.zone,
        tz,
        prefix: target.prefix,
        after,
        count: request.count,
    })
}

impl Prepared {
    /// The fire times, one line each, in RFC 3339 with the zone's offset, from the
    /// component's `cron-preview`.
    pub fn run(&self, runtime: &Runtime) -> Result<Preview, ScheduleError> {
        let answer = runtime
            .cron_preview(&self.cron, Some(&self.zone), self.after, self.count)
            .map_err(|e| match e {
                HostError::Invalid(problems) => ScheduleError::Problems(
                    problems
                        .into_iter()
                        .map(|p| Problem {
                            path: format!("{}{}", self.prefix, p.path),
                            ..p
                        })
                        .collect(),
                ),
                other => ScheduleError::Host(other),
            })?;
        let located = |p: Problem| Problem {
            path: format!("{}{}", self.prefix, p.path),
            ..p
        };
        Ok(Preview {
            lines: answer
                .fires
                .into_iter()
                .map(|i| instant::rfc3339_in(i, &self.tz))
                .collect(),
            warnings: answer.warnings.into_iter().map(located).collect(),
        })
    }
}

/// What `schedule` prints: the fire times, one line each, and the warnings `validate`
/// gives the same cron text (with the same paths).
#[derive(Debug)]
pub struct Preview {
    /// The fire times, in RFC 3339 with the zone's offset.
    pub lines: Vec<String>,
    /// The cron text's warnings.
    pub warnings: Vec<Problem>,
}

/// Run a `schedule` command: [`prepare`], then [`Prepared::run`].
pub fn preview(
    runtime: &Runtime,
    request: &Request,
    now: Timestamp,
) -> Result<Preview, ScheduleError> {
    prepare(request, now)?.run(runtime)
}

/// Read `--from`: RFC 3339 with an offset (`2016-11-06T01:45:00-04:00`), or a local date
/// and time without one (`2016-11-06T01:45:00`, `2016-11-06 01:45`, seconds and fractions
/// optional) in `tz`, named `zone` in messages. A local time repeated by a fold is the
/// earlier instant; one skipped by a gap is the moment the gap ends, made inclusive (see
/// the module documentation).
pub fn parse_from(text: &str, tz: &TimeZone, zone: &str) -> Result<Instant, String> {
    let malformed = || {
        format!(
            "--from {text:?} is not a date and time; write RFC 3339 with an offset (2016-11-06T01:45:00-04:00) or a local time in {zone} (2016-11-06T01:45:00 or 2016-11-06 01:45)"
        )
    };
    if let Some(at) = instant::parse(text) {
        return Ok(at);
    }
    let local = parse_local(text).ok_or_else(malformed)?;
    let out_of_range = || format!("--from {text:?} in {zone} is outside years 1 to 9999 in UTC");
    // The offsets come from the zone; the instant is computed from the civil time, which
    // reaches the end of year 9999 where jiff's timestamps stop a day short.
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            instant::from_local(local, offset).ok_or_else(out_of_range)
        }
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the offset after the gap, the time falls before the transition;
            // the next transition is the end of the gap.
            let before_gap = instant::from_local(local, after)
                .and_then(instant::to_timestamp)
                .ok_or_else(out_of_range)?;
            let end = tz
                .following(before_gap)
                .next()
                .map(|t| t.timestamp())
                .ok_or_else(|| format!("--from {text:?}: {zone} has no transition after it"))?;
            Ok(instant::from_timestamp(end - SignedDuration::from_nanos(1)))
        }
    }
}

/// A local date and time with no offset, no `Z` and no annotation: `YYYY-MM-DD` then `T`
/// or a space, then `HH:MM`, optionally `:SS` and a fraction.
fn parse_local(text: &str) -> Option<jiff::civil::DateTime> {
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let digits_at = |s: &str, colons: &[usize]| {
        s.char_indices().all(|(i, c)| {
            if colons.contains(&i) {
                c == ':'
            } else {
                c.is_ascii_digit()
            }
        })
    };
    let (hm, rest) = time.split_at_checked(5)?;
    let well_formed = date.len() == 10
        && date.as_bytes()[4] == b'-'
        && date.as_bytes()[7] == b'-'
        && date[..4].bytes().all(|b| b.is_ascii_digit())
        && date[5..7].bytes().all(|b| b.is_ascii_digit())
        && date[8..].bytes().all(|b| b.is_ascii_digit())
        && digits_at(hm, &[2])
        && (rest.is_empty()
            || (rest.len() >= 3
                && digits_at(&rest[..3], &[0])
                && (rest.len() == 3
                    || (rest.as_bytes()[3] == b'.'
                        && rest.len() > 4
                        && rest[4..].bytes().all(|b| b.is_ascii_digit())))));
    if !well_formed {
        return None;
    }
    format!("{date}T{time}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    fn utc(s: &str) -> Instant {
        instant::parse(s).unwrap()
    }

    /// A parsed `--from` in UTC, to compare (the WIT's instant has no `PartialEq`).
    fn seen(from: Result<Instant, String>) -> Result<String, String> {
        from.map(instant::rfc3339)
    }

    #[test]
    fn from_accepts_rfc3339_and_local_forms() {
        let tz = ny();
        let want = utc("2016-07-01T16:30:00Z");
        for text in [
            "2016-07-01T12:30:00-04:00",
            "2016-07-01T16:30:00Z",
            "2016-07-01T12:30:00",
            "2016-07-01 12:30:00",
            "2016-07-01T12:30",
            "2016-07-01 12:30",
        ] {
            assert_eq!(
                seen(parse_from(text, &tz, "America/New_York")),
                Ok(instant::rfc3339(want)),
                "{text}"
            );
        }
        assert_eq!(
            seen(parse_from(
                "2016-07-01T12:30:00.25",
                &tz,
                "America/New_York"
            )),
            Ok(instant::rfc3339(utc("2016-07-01T16:30:00.25Z")))
        );
    }

    #[test]
    fn from_rejects_what_is_not_a_date_and_time() {
        for text in [
            "",
            "tomorrow",
            "2016-07-01",
            "2016-07-01T12",
            "2016-07-01T12:30:",
            "2016-07-01T12:30:00.",
            "2016-07-01T12:30:00[Europe/Paris]",
            "2016-13-01T12:30:00",
            "2016-07-01T25:30:00",
            "16-07-01T12:30:00",
        ] {
            let e = parse_from(text, &ny(), "America/New_York").unwrap_err();
            assert!(e.contains("is not a date and time"), "{text}: {e}");
            assert!(e.contains("America/New_York"), "{e}");
        }
    }

    #[test]
    fn a_local_time_in_a_fold_is_the_earlier_instant() {
        // 2016-11-06 01:45 happens at -04:00 and again at -05:00 in New York.
        assert_eq!(
            seen(parse_from("2016-11-06T01:45:00", &ny(), "America/New_York")),
            Ok(instant::rfc3339(utc("2016-11-06T05:45:00Z")))
        );
    }

    #[test]
    fn a_local_time_in_a_gap_is_just_before_the_gap_ends() {
        // 2016-03-13 02:00-02:59 does not exist in New York; the gap ends at 07:00Z.
        for text in [
            "2016-03-13T02:00:00",
            "2016-03-13T02:30:00",
            "2016-03-13 02:59",
        ] {
            assert_eq!(
                seen(parse_from(text, &ny(), "America/New_York")),
                Ok(instant::rfc3339(utc("2016-03-13T06:59:59.999999999Z"))),
                "{text}"
            );
        }
    }

    #[test]
    fn instants_are_written_with_the_zone_offset() {
        let tz = ny();
        assert_eq!(
            instant::rfc3339_in(utc("2016-03-13T07:00:00Z"), &tz),
            "2016-03-13T03:00:00-04:00"
        );
        assert_eq!(
            instant::rfc3339_in(utc("2016-01-13T07:00:00Z"), &TimeZone::UTC),
            "2016-01-13T07:00:00+00:00"
        );
        assert_eq!(
            instant::rfc3339_in(utc("2016-01-13T07:00:00.5Z"), &TimeZone::UTC),
            "2016-01-13T07:00:00.5+00:00"
        );
        // Before 1883 New York kept local mean time, -04:56:02: not RFC 3339, so UTC.
        assert_eq!(
            instant::rfc3339_in(utc("1850-01-01T16:56:02Z"), &tz),
            "1850-01-01T16:56:02+00:00"
        );
        assert_eq!(
            instant::rfc3339_in(
                utc("1850-01-01T16:56:02Z"),
                &TimeZone::get("Asia/Kolkata").unwrap()
            ),
            "1850-01-01T16:56:02+00:00"
        );
    }
}
