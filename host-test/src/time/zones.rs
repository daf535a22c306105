//! Time-zone answers for the component's `zone` import, from the host's own time-zone
//! database (the system's, through `jiff`), so rule changes reach the component with an
//! ordinary OS update.

use crate::contract::bindings::Instant;

/// The offset from UTC in seconds east of `name` at `at`, or a message naming the zone.
pub fn utc_offset(name: &str, at: Instant) -> Result<i32, String> {
    Ok(crate::time::instant::offset_at(&time_zone(name)?, at).seconds())
}

/// The IANA zone `name` from the host's database, or a message naming it and saying what
/// would be right. The CLI uses this too, so that an unknown zone reads the same whether
/// the host or the component finds it.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name).map_err(|_| {
        format!(
            "unknown time zone {name:?}; use an IANA name such as Europe/London or America/New_York"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_daylight_saving() {
        // 2016-03-13 06:30Z is 01:30 EST; 08:00Z is 04:00 EDT.
        let at = |s| Instant {
            seconds: s,
            nanoseconds: 0,
        };
        assert_eq!(
            utc_offset("America/New_York", at(1_457_850_600)),
            Ok(-5 * 3600)
        );
        assert_eq!(
            utc_offset("America/New_York", at(1_457_856_000)),
            Ok(-4 * 3600)
        );
        assert_eq!(utc_offset("UTC", at(0)), Ok(0));
        assert!(
            utc_offset("Mars/Olympus", at(0))
                .unwrap_err()
                .contains("Mars/Olympus")
        );
    }
}
