//! The compiled schedule and the search for the next matching local wall time.
//!
//! Local wall times are counted as seconds since 1970-01-01T00:00:00 *local* (as if the
//! zone were UTC); [`super::zone`] maps them to and from instants.

use crate::value::{civil_from_days, days_from_civil, days_in_month};

use super::MAX_SEARCH_YEARS;

/// Seconds in a civil day.
pub(crate) const DAY: i64 = 86_400;

/// The last year an [`crate::model::Instant`] can hold; the search stops after it.
const LAST_YEAR: i64 = 9999;

/// Every day of a month, bits 1 to 31.
pub(crate) const ALL_DAYS: u32 = 0xFFFF_FFFE;
/// Every day of the week, bits 0 (Sunday) to 6 (Saturday).
pub(crate) const ALL_WEEKDAYS: u8 = 0x7F;

/// The day-of-month field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MonthDays {
    /// Plain days, bits 1 to 31.
    pub days: u32,
    /// `L-n`: bit n for n days before the last day (`L` is bit 0).
    pub before_last: u32,
    /// `nW`: bit n for the weekday nearest day n, within the month.
    pub nearest_weekday: u32,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    pub last_weekday: bool,
}

/// The day-of-week field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WeekDays {
    /// Plain days of the week, bits 0 (Sunday) to 6 (Saturday).
    pub days: u8,
    /// `nL`: bit n for the last such day of the month.
    pub last: u8,
    /// `n#k`: bit n of entry k-1 for the k-th such day of the month.
    pub nth: [u8; 5],
}

/// A compiled cron schedule: bit sets per field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Spec {
    /// Bits 0 to 59.
    pub seconds: u64,
    /// Bits 0 to 59.
    pub minutes: u64,
    /// Bits 0 to 23.
    pub hours: u64,
    /// Bits 1 to 12.
    pub months: u64,
    /// The day-of-month field.
    pub month_days: MonthDays,
    /// The day-of-week field.
    pub week_days: WeekDays,
    /// Whether the second, minute or hour field uses `*`, `?`, a range or a step: such a
    /// job keeps firing through the second pass of a fall-back fold (Cronos' rule).
    pub interval: bool,
}

/// The lowest set bit of `mask` at or above `from`.
fn next_bit(mask: u64, from: i64) -> Option<i64> {
    if !(0..64).contains(&from) {
        return None;
    }
    let rest = mask >> from;
    (rest != 0).then(|| from + i64::from(rest.trailing_zeros()))
}

/// Day of the week (0 = Sunday) of a day count since 1970-01-01, a Thursday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

impl Spec {
    /// The days of month `month` of `year` on which the schedule fires, as bits 1 to 31:
    /// the day-of-month field's days AND the day-of-week field's days.
    pub(crate) fn day_mask(&self, year: i64, month: i64) -> u32 {
        let Ok(y) = i32::try_from(year) else {
            return 0;
        };
        let last = i64::from(days_in_month(y, month as u8));
        if last == 0 {
            return 0;
        }
        let first_weekday = weekday(days_from_civil(year, month, 1));
        let weekday_of = |day: i64| (first_weekday + day - 1).rem_euclid(7);
        let in_month = (u32::MAX >> (31 - last)) & ALL_DAYS;

        let md = &self.month_days;
        let mut by_month = md.days & in_month;
        for n in 0..31 {
            if md.before_last & (1 << n) != 0 && last - n >= 1 {
                by_month |= 1 << (last - n);
            }
        }
        for n in 1..=last {
            if md.nearest_weekday & (1 << n) != 0 {
                let day = match weekday_of(n) {
                    6 if n == 1 => 3,
                    6 => n - 1,
                    0 if n == last => n - 2,
                    0 => n + 1,
                    _ => n,
                };
                by_month |= 1 << day;
            }
        }
        if md.last_weekday {
            let day = match weekday_of(last) {
                6 => last - 1,
                0 => last - 2,
                _ => last,
            };
            by_month |= 1 << day;
        }

        let wd = &self.week_days;
        let mut by_week = 0u32;
        for day in 1..=last {
            if wd.days & (1 << weekday_of(day)) != 0 {
                by_week |= 1 << day;
            }
        }
        for w in 0..7 {
            if wd.last & (1 << w) != 0 {
                by_week |= 1 << (last - (weekday_of(last) - w).rem_euclid(7));
            }
            let first = 1 + (w - first_weekday).rem_euclid(7);
            for (k, bits) in (0i64..).zip(wd.nth) {
                let day = first + 7 * k;
                if bits & (1 << w) != 0 && day <= last {
                    by_week |= 1 << day;
                }
            }
        }
        by_month & by_week
    }

    /// The first time of day, in seconds, at or after `from` that the second, minute and
    /// hour fields match.
    fn time_of_day(&self, from: i64) -> Option<i64> {
        let (h0, m0, s0) = (from / 3600, from / 60 % 60, from % 60);
        let mut hour = next_bit(self.hours, h0)?;
        loop {
            let mut minute_from = if hour == h0 { m0 } else { 0 };
            while let Some(minute) = next_bit(self.minutes, minute_from) {
                let second_from = if hour == h0 && minute == m0 { s0 } else { 0 };
                if let Some(second) = next_bit(self.seconds, second_from) {
                    return Some(hour * 3600 + minute * 60 + second);
                }
                minute_from = minute + 1;
            }
            hour = next_bit(self.hours, hour + 1)?;
        }
    }

    /// The first local wall time strictly after `after` that matches, looking at most
    /// `years` years ahead and never past year 9999.
    pub(crate) fn next_local(&self, after: i64, years: i32) -> Option<i64> {
        let start = after.checked_add(1)?;
        let start_day = start.div_euclid(DAY);
        let start_time = start.rem_euclid(DAY);
        let (mut year, mut month, first_day) = civil_from_days(start_day);
        let last_year = year.saturating_add(i64::from(years)).min(LAST_YEAR);
        let mut day_from = first_day;
        while year <= last_year {
            if self.months & (1 << month) != 0 {
                let mask = u64::from(self.day_mask(year, month));
                while let Some(day) = next_bit(mask, day_from) {
                    let days = days_from_civil(year, month, day);
                    let from = if days == start_day { start_time } else { 0 };
                    if let Some(time) = self.time_of_day(from) {
                        return Some(days * DAY + time);
                    }
                    day_from = day + 1;
                }
            }
            day_from = 1;
            month += 1;
            if month > 12 {
                month = 1;
                year += 1;
            }
        }
        None
    }

    /// Whether the schedule fires at all: the calendar repeats every 400 years, so one
    /// 400-year window tells.
    pub(crate) fn ever_fires(&self) -> bool {
        self.next_local(days_from_civil(2000, 1, 1) * DAY - 1, MAX_SEARCH_YEARS)
            .is_some()
    }

    /// Whether the day-of-month field restricts days (is not `*` or `?`).
    pub(crate) fn restricts_month_days(&self) -> bool {
        self.month_days
            != (MonthDays {
                days: ALL_DAYS,
                ..MonthDays::default()
            })
    }

    /// Whether the day-of-week field restricts days (is not `*` or `?`).
    pub(crate) fn restricts_week_days(&self) -> bool {
        self.week_days
            != (WeekDays {
                days: ALL_WEEKDAYS,
                ..WeekDays::default()
            })
    }
}
