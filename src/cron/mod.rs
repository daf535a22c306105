//! Cron schedules: the dialect, and the fire-time engine.
//!
//! The dialect is Cronos' (the scheduler behind Hangfire), which accepts what users paste
//! from crontab.guru, Hangfire, Azure and Quartz: 5 fields (minute hour day-of-month month
//! day-of-week), or 6 with a leading second field; `* , - /`; month names JAN-DEC and day
//! names SUN-SAT in any case; `7` for Sunday; `?` for `*`; `L`, `L-n`, `W` and `LW` in the
//! day-of-month field; `nL` and `n#k` in the day-of-week field; and the macros `@yearly`,
//! `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly`.
//!
//! **Both day fields.** When both the day-of-month and the day-of-week field are
//! restricted, a day matches only if it satisfies both (the rule of Cronos and NCrontab,
//! not Vixie cron's "either"); [`parse`] returns a warning saying so.
//!
//! **Time zones.** The component bundles no time-zone database: every local-time question
//! is answered from the one question the host can answer, the UTC offset of a zone at an
//! instant ([`Zones::utc_offset`]). Gaps and folds are found by probing that function.
//! Daylight saving follows cron(8) and Cronos:
//! - a local time skipped by a spring-forward gap fires once, at the first instant after
//!   the gap;
//! - in a fall-back fold, a job fires in the first pass; it fires in the second pass too
//!   only if it is an *interval* job: one whose second, minute or hour field uses `*`, `?`,
//!   a range or a step (Cronos' rule). `0 2 * * *` and `30 1 * * *` fire once;
//!   `*/30 * * * *` and `*/30 1 * * *` keep firing through both passes.
//!
//! Fire times are found field by field (month, day, hour, minute, second), never by
//! scanning minute by minute, within [`MAX_SEARCH_YEARS`].
//!
//! **Why not a crate.** Measured on the conformance cases (`cron-cases.json`, 12 cases)
//! with chrono-tz: cron-parser 0.12.0 passes 12, croner 4.0.3 passes 10 (11 with its
//! `dom_and_dow` option; it rejects `2/5`). But cron-parser lacks `L`, `W`, `#`, month
//! names, `7`, `?`, the macros and the seconds field, and fires a fixed-time job twice in
//! a fold; croner has the dialect but not Cronos' fold rule for fixed times with lists.
//! Both need a `chrono::TimeZone`, that is a bundled database or an adapter over the
//! host's offsets, plus chrono itself in the component. This engine is about 38 KiB of
//! the component and asks the host a few offset questions per fire time. cron-parser
//! stays as the tests' differential oracle (`tests/cron_oracle.rs`): over generated
//! 5-field expressions in its syntax, in UTC, both accept and refuse the same texts and
//! fire at the same instants, but for the classes listed there (`7` for Sunday, month
//! names, the end of year 9999).

mod engine;
mod syntax;
mod zone;

#[cfg(test)]
mod tests;

use crate::model::{Instant, Problem, Zones};

pub use zone::{format_in_zone, parse_local_or_rfc3339};

/// The longest cron text, in characters. Writing every field as an explicit list of all
/// its values (seconds 0-59, minutes 0-59, hours, days, month names, day names) takes
/// under 600 characters; 1,024 leaves room for spacing and bounds the parser's work.
pub const MAX_CRON_CHARS: usize = 1024;

/// The most comma-separated items in one field. The largest fields (seconds, minutes)
/// have 60 values, so a longer list can only repeat itself; 64 allows every value once.
pub const MAX_LIST_ITEMS: usize = 64;

/// How far ahead, in years, the engine looks for the next fire time. The Gregorian
/// calendar repeats exactly every 400 years (146,097 days, which is exactly 20,871 weeks),
/// so a schedule that fires at all fires at least once in any 400-year window: a longer
/// search could find nothing new, and a shorter one could miss a rare schedule such as
/// `0 0 29 2 MON` across non-leap centuries. [`parse`] rejects schedules that never fire.
pub const MAX_SEARCH_YEARS: i32 = 400;

/// The most fire times one preview may list. A preview is for a person to read; 100 covers
/// every minute of more than an hour and a hundred days of a daily job, and bounds the
/// host offset questions one call may ask (a few per fire time).
pub const MAX_PREVIEW: u32 = 100;

/// A parsed cron schedule. Cheap to clone; holds no reference to the zone it runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    text: String,
    spec: engine::Spec,
}

/// Parse a cron text: the schedule and its warnings, or every error found (at least one).
///
/// Problems carry an empty `path` (the caller fills it in) and a span in characters,
/// 1-based, end exclusive, pointing at the offending field or text.
pub fn parse(text: &str) -> Result<(Cron, Vec<Problem>), Vec<Problem>> {
    let (spec, warnings) = syntax::parse(text)?;
    Ok((
        Cron {
            text: text.to_string(),
            spec,
        },
        warnings,
    ))
}

impl Cron {
    /// First fire strictly after `after`, in `zone` (IANA name; "UTC" for UTC). `None` if
    /// it never fires again within [`MAX_SEARCH_YEARS`] (or before year 10000).
    ///
    /// The error is the host's message when it cannot answer for `zone`, or a description
    /// of an out-of-range `after` or of offsets no real zone has.
    pub fn next_after(
        &self,
        after: Instant,
        zone: &str,
        zones: &dyn Zones,
    ) -> Result<Option<Instant>, String> {
        zone::next_after(&self.spec, after, &zone::Zone::new(zone, zones))
    }

    /// The next `count` fire times strictly after `after`, in order; fewer when the
    /// schedule stops firing within the horizon. `count` is at most [`MAX_PREVIEW`].
    pub fn preview(
        &self,
        after: Instant,
        count: u32,
        zone: &str,
        zones: &dyn Zones,
    ) -> Result<Vec<Instant>, String> {
        if count > MAX_PREVIEW {
            return Err(format!(
                "a preview lists at most {MAX_PREVIEW} fire times; {count} were asked for"
            ));
        }
        let zone = zone::Zone::new(zone, zones);
        let mut out = Vec::with_capacity(count as usize);
        let mut at = after;
        while out.len() < count as usize {
            match zone::next_after(&self.spec, at, &zone)? {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// The text this schedule was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }
}
