//! The contract's instants on the host side, over their whole range: years 1 to 9999 in
//! UTC, as the component reads them (`src/value.rs`).
//!
//! `jiff::Timestamp` stops 26 hours short of that (at 9999-12-30T22:00Z, so that every
//! timestamp has a civil time in every offset), so the host never converts an instant to
//! a timestamp to read, write or place it in a zone: it works on civil date-times, whose
//! range is the whole of years 1 to 9999, and offsets. Only the real-time timer of
//! `serve` needs a [`Timestamp`], and it asks for one with [`to_timestamp`].

use crate::contract::bindings::Instant;
use jiff::civil::DateTime;
use jiff::fmt::temporal::Pieces;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// Seconds since the epoch of 0001-01-01T00:00:00Z, the first instant the contract allows.
pub const FIRST_SECOND: i64 = -62_135_596_800;

/// Seconds since the epoch of 9999-12-31T23:59:59Z, the last second the contract allows.
pub const LAST_SECOND: i64 = 253_402_300_799;

pub use crate::limits::MAX_OFFSET_SECONDS;

/// The civil epoch, 1970-01-01T00:00:00.
const EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

/// Unix milliseconds of an instant (the outbox's times).
pub fn to_ms(at: Instant) -> i64 {
    at.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(at.nanoseconds / 1_000_000))
}

/// The instant of Unix milliseconds.
pub fn from_ms(ms: i64) -> Instant {
    Instant {
        seconds: ms.div_euclid(1000),
        nanoseconds: (ms.rem_euclid(1000) as u32) * 1_000_000,
    }
}

/// Read RFC 3339 with an offset (or `Z`) of at most ±18:00, in years 1 to 9999 in UTC.
pub fn parse(text: &str) -> Option<Instant> {
    let pieces = Pieces::parse(text).ok()?;
    let offset = pieces.offset()?.to_numeric_offset();
    if offset.seconds().abs() > MAX_OFFSET_SECONDS {
        return None;
    }
    let local = pieces.date().to_datetime(pieces.time()?);
    from_local(local, offset)
}

/// The instant at which the clocks of `offset` read `local`, if it is in range.
pub fn from_local(local: DateTime, offset: Offset) -> Option<Instant> {
    let since = local.duration_since(EPOCH) - SignedDuration::from_secs(offset.seconds().into());
    let seconds = since.as_secs();
    (FIRST_SECOND..=LAST_SECOND)
        .contains(&seconds)
        .then(|| Instant {
            seconds,
            nanoseconds: since.subsec_nanos() as u32,
        })
}

/// What the clocks of `offset` read at `at`, if that is within years 1 to 9999 (near
/// the range's ends a local time can fall in year 0 or 10000, which RFC 3339's four-digit
/// years cannot write).
pub fn to_local(at: Instant, offset: Offset) -> Option<DateTime> {
    let seconds = at.seconds.checked_add(i64::from(offset.seconds()))?;
    let nanos = i32::try_from(at.nanoseconds).ok()?;
    let local = EPOCH
        .checked_add(SignedDuration::new(seconds, nanos))
        .ok()?;
    (1..=9999).contains(&local.year()).then_some(local)
}

/// The offset of `tz` at `at`. Past the end of jiff's timestamps (the last 26 hours of
/// year 9999) a zone keeps the offset it has at that end: no zone's rules change clocks
/// in the last days of December.
pub fn offset_at(tz: &TimeZone, at: Instant) -> Offset {
    let seconds = at
        .seconds
        .clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    tz.to_offset(Timestamp::from_second(seconds).unwrap_or(Timestamp::MAX))
}

/// RFC 3339 in UTC with `Z`, fractions only when there are any.
pub fn rfc3339(at: Instant) -> String {
    written(at, Offset::UTC, "Z")
}

/// RFC 3339 with `tz`'s offset at `at` written out (`+00:00` for UTC); in UTC when RFC
/// 3339 cannot write that offset (one with seconds, as the local mean times before
/// standard time) or its local time (one in year 10000, at the very end of the range).
pub fn rfc3339_in(at: Instant, tz: &TimeZone) -> String {
    let offset = offset_at(tz, at);
    let offset = if offset.seconds() % 60 != 0 || to_local(at, offset).is_none() {
        Offset::UTC
    } else {
        offset
    };
    let s = offset.seconds();
    let sign = if s < 0 { '-' } else { '+' };
    let zone = format!("{sign}{:02}:{:02}", s.abs() / 3600, s.abs() % 3600 / 60);
    written(at, offset, &zone)
}

fn written(at: Instant, offset: Offset, zone: &str) -> String {
    match to_local(at, offset) {
        Some(local) => format!("{}{zone}", local.strftime("%Y-%m-%dT%H:%M:%S%.f")),
        // Only an instant outside the contract, which the host never makes: say so
        // rather than print a wrong time.
        None => format!(
            "(an instant {}s after 1970, outside years 1 to 9999)",
            at.seconds
        ),
    }
}

/// A timestamp as an instant.
pub fn from_timestamp(ts: Timestamp) -> Instant {
    Instant {
        seconds: ts.as_second(),
        nanoseconds: ts.subsec_nanosecond().max(0) as u32,
    }
}

/// The instant as a timestamp, or `None` in the last 26 hours of year 9999, which jiff's
/// timestamps do not reach; for the real-time timer that is "not in this process's life".
pub fn to_timestamp(at: Instant) -> Option<Timestamp> {
    Timestamp::new(at.seconds, at.nanoseconds as i32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, nanoseconds: u32) -> Instant {
        Instant {
            seconds,
            nanoseconds,
        }
    }

    /// The WIT's instant has no `PartialEq`.
    fn pair(i: Instant) -> (i64, u32) {
        (i.seconds, i.nanoseconds)
    }

    #[test]
    fn the_whole_contract_range_reads_and_writes() {
        for (text, want, back) in [
            (
                "0001-01-01T00:00:00Z",
                at(FIRST_SECOND, 0),
                "0001-01-01T00:00:00Z",
            ),
            (
                "9999-12-31T23:59:59Z",
                at(LAST_SECOND, 0),
                "9999-12-31T23:59:59Z",
            ),
            (
                "9999-12-31T23:59:59.999999999Z",
                at(LAST_SECOND, 999_999_999),
                "9999-12-31T23:59:59.999999999Z",
            ),
            // Local 12:00 at -08:00 on the last day is 20:00Z, within range though past
            // the end of jiff's timestamps.
            (
                "9999-12-31T12:00:00-08:00",
                at(LAST_SECOND - 4 * 3600 + 1, 0),
                "9999-12-31T20:00:00Z",
            ),
            (
                "0001-01-01T10:00:00+10:00",
                at(FIRST_SECOND, 0),
                "0001-01-01T00:00:00Z",
            ),
            (
                "2024-06-15T10:30:00.5Z",
                at(1_718_447_400, 500_000_000),
                "2024-06-15T10:30:00.5Z",
            ),
            ("1969-12-31T23:59:59Z", at(-1, 0), "1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(parse(text).map(pair), Some(pair(want)), "{text}");
            assert_eq!(rfc3339(want), back, "{text}");
        }
    }

    #[test]
    fn instants_outside_the_contract_or_without_an_offset_are_refused() {
        for text in [
            // After the end of 9999 in UTC, though 9999 locally.
            "9999-12-31T23:00:00-01:00",
            // Before year 1 in UTC.
            "0001-01-01T00:00:00+00:01",
            "2024-06-15T10:30:00+18:01",
            "2024-06-15T10:30:00-25:59",
            "2024-06-15T10:30:00",
            "2024-06-15",
            "",
            "soon",
        ] {
            assert_eq!(parse(text).map(pair), None, "{text}");
        }
        assert!(parse("2024-06-15T10:30:00+18:00").is_some());
        assert!(parse("2024-06-15T10:30:00-18:00").is_some());
    }

    #[test]
    fn zones_answer_to_the_last_second_of_9999() {
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        let kiritimati = TimeZone::get("Pacific/Kiritimati").unwrap();
        let last = at(LAST_SECOND, 0);
        assert_eq!(offset_at(&la, last).seconds(), -8 * 3600);
        assert_eq!(offset_at(&kiritimati, last).seconds(), 14 * 3600);
        assert_eq!(rfc3339_in(last, &la), "9999-12-31T15:59:59-08:00");
        // 10000-01-01T13:59:59+14:00 locally: written in UTC instead.
        assert_eq!(rfc3339_in(last, &kiritimati), "9999-12-31T23:59:59+00:00");
        assert_eq!(
            rfc3339_in(at(LAST_SECOND - 14 * 3600, 0), &kiritimati),
            "9999-12-31T23:59:59+14:00"
        );
        assert!(to_timestamp(last).is_none());
        assert!(to_timestamp(at(0, 0)).is_some());
    }
}
