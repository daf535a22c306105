//! The pure functions' bodies: each computes its result from its arguments' values alone,
//! so the checker evaluates a call with constant arguments once, at compile time.
//!
//! `IF`, `CONCAT` and the prior-state functions (`CHANGED`, `CHANGEDFROM`, `CHANGEDTO`,
//! `PRIOR`) are evaluated in `eval.rs`, because they evaluate their arguments lazily or
//! read attribute references rather than values.

use std::borrow::Cow;

use super::EvalError;
use super::func::{FUNCTIONS, Func, Kw};
use super::pattern::Pattern;
use super::tree::Node;
use super::val::{DateLike, Val, date_like, err, fold, number, text_of, whole};
use crate::model::Span;
use crate::value::{Date, Decimal, Instant, days_in_month};

/// Evaluate a pure function over its evaluated arguments (`vals[i]` for `nodes[i]`; a
/// keyword argument arrives as `kw`, its value slot `NULL`).
pub(crate) fn apply<'v>(
    func: Func,
    vals: &mut [Val<'v>],
    nodes: &[Node],
    kw: Option<Kw>,
    span: Span,
) -> Result<Val<'v>, EvalError> {
    let at = |i: usize| nodes.get(i).map_or(span, |n| n.span);
    let given = vals.len();
    let mut take = |i: usize| vals.get_mut(i).map(std::mem::take).unwrap_or_default();
    let name = FUNCTIONS
        .iter()
        .find(|s| s.func == func)
        .map_or("the function", |s| s.name);
    Ok(match func {
        Func::Not => match take(0) {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(!b),
            other => {
                return Err(err(
                    format!(
                        "NOT takes a condition that is TRUE or FALSE, but this is {}",
                        other.describe()
                    ),
                    at(0),
                ));
            }
        },
        Func::Contains | Func::StartsWith | Func::EndsWith | Func::IndexOf => {
            let text = fold_text(&take(0));
            let part = fold_text(&take(1));
            match func {
                Func::Contains => Val::Bool(text.contains(part.as_str())),
                Func::StartsWith => Val::Bool(text.starts_with(part.as_str())),
                Func::EndsWith => Val::Bool(text.ends_with(part.as_str())),
                _ => Val::Num(Decimal::from_i64(match text.find(part.as_str()) {
                    // Folding keeps one character per character, so counting the
                    // characters before the match gives its index in the original.
                    Some(byte) => text.get(..byte).map_or(0, |s| s.chars().count()) as i64,
                    None => -1,
                })),
            }
        }
        Func::ContainsPattern => {
            let text = take(0);
            let pattern = take(1);
            let pattern = Pattern::compile(&text_or_empty(&pattern)).map_err(|m| err(m, at(1)))?;
            Val::Bool(
                pattern
                    .anywhere()
                    .matches(&text_or_empty(&text))
                    .map_err(|m| err(m, span))?,
            )
        }
        Func::Left | Func::Right => {
            let Some(text) = text_of(take(0)) else {
                return Ok(Val::Null);
            };
            let Some(count) = count(take(1), name, "count", at(1))? else {
                return Ok(Val::Null);
            };
            let len = char_count(&text);
            let keep = count.min(len);
            if func == Func::Left {
                Val::Text(chars(text, 0, keep))
            } else {
                Val::Text(chars(text, len - keep, len))
            }
        }
        Func::Length => Val::Num(Decimal::from_i64(
            text_of(take(0)).map_or(0, |t| t.chars().count()) as i64,
        )),
        Func::Substring => {
            let Some(text) = text_of(take(0)) else {
                return Ok(Val::Null);
            };
            let Some(start) = count(take(1), name, "start", at(1))? else {
                return Ok(Val::Null);
            };
            let len = char_count(&text);
            let start = start.min(len);
            let end = if given > 2 {
                let Some(n) = count(take(2), name, "length", at(2))? else {
                    return Ok(Val::Null);
                };
                start.saturating_add(n).min(len)
            } else {
                len
            };
            Val::Text(chars(text, start, end))
        }
        Func::Date => {
            let mut parts = [0i64; 3];
            for (i, part) in parts.iter_mut().enumerate() {
                let Some(n) = whole(take(i), name, at(i))? else {
                    return Ok(Val::Null);
                };
                *part = n;
            }
            Val::Date(make_date(parts[2], parts[1], parts[0]).ok_or_else(|| {
                err(
                    format!("DATE({}, {}, {}) is not a date: the arguments are day, month, year (years 1 to 9999)", parts[0], parts[1], parts[2]),
                    span,
                )
            })?)
        }
        Func::DateTimeUtc => {
            let mut parts = [0i64; 7];
            for (i, part) in parts.iter_mut().enumerate().take(given) {
                let Some(n) = whole(take(i), name, at(i))? else {
                    return Ok(Val::Null);
                };
                *part = n;
            }
            let [d, m, y, h, mi, s, ms] = parts;
            let date = make_date(y, m, d).ok_or_else(|| {
                err(
                    format!(
                        "DATETIMEUTC: {d}/{m}/{y} (day/month/year) is not a date in years 1 to 9999"
                    ),
                    span,
                )
            })?;
            if !(0..24).contains(&h)
                || !(0..60).contains(&mi)
                || !(0..60).contains(&s)
                || !(0..1000).contains(&ms)
            {
                return Err(err(
                    format!(
                        "DATETIMEUTC: {h}:{mi}:{s}.{ms} is not a time of day (hour 0-23, minute 0-59, second 0-59, millisecond 0-999)"
                    ),
                    span,
                ));
            }
            Val::DateTime(Instant::from_date_time(
                date,
                h as u32,
                mi as u32,
                s as u32,
                ms as u32 * 1_000_000,
            ))
        }
        Func::DateAdd => {
            let base = take(0);
            let Some(n) = whole(take(1), name, at(1))? else {
                return Ok(Val::Null);
            };
            let out_of_range = || err("DATEADD: the result falls outside years 1 to 9999", span);
            let unit = kw.unwrap_or(Kw::Day);
            match date_like(base, name, at(0))? {
                None => Val::Null,
                Some(DateLike::Date(d)) => Val::Date(add(d, n, unit).ok_or_else(out_of_range)?),
                Some(DateLike::DateTime(i)) => {
                    let day = Date::from_days_since_epoch(i.seconds.div_euclid(86_400))
                        .ok_or_else(out_of_range)?;
                    let moved = add(day, n, unit).ok_or_else(out_of_range)?;
                    let seconds = (moved.days_since_epoch() - day.days_since_epoch())
                        .checked_mul(86_400)
                        .and_then(|s| s.checked_add(i.seconds))
                        .ok_or_else(out_of_range)?;
                    Val::DateTime(Instant::new(seconds, i.nanoseconds).ok_or_else(out_of_range)?)
                }
            }
        }
        Func::DateDiff => {
            let (Some(start), Some(end)) = (
                date_like(take(0), name, at(0))?,
                date_like(take(1), name, at(1))?,
            ) else {
                return Ok(Val::Null);
            };
            Val::Num(Decimal::from_i64(end.day_number() - start.day_number()))
        }
        Func::RelativeDate => {
            let Some(base) = date_like(take(0), name, at(0))? else {
                return Ok(Val::Null);
            };
            let day = Date::from_days_since_epoch(base.day_number())
                .ok_or_else(|| err("RELATIVEDATE: the date is outside years 1 to 9999", at(0)))?;
            Val::Date(
                relative(day, kw.unwrap_or(Kw::StartOfMonth)).ok_or_else(|| {
                    err(
                        "RELATIVEDATE: the result falls outside years 1 to 9999",
                        span,
                    )
                })?,
            )
        }
        Func::Text => match text_of(take(0)) {
            Some(t) => Val::Text(t),
            None => Val::Null,
        },
        Func::ToNumber => match number(take(0), name, at(0))? {
            Some(n) => Val::Num(n),
            None => Val::Null,
        },
        Func::ToDate => match date_like(take(0), name, at(0))? {
            None => Val::Null,
            Some(DateLike::Date(d)) => Val::Date(d),
            Some(DateLike::DateTime(i)) => Val::Date(
                Date::from_days_since_epoch(i.seconds.div_euclid(86_400))
                    .ok_or_else(|| err("TODATE: the date is outside years 1 to 9999", at(0)))?,
            ),
        },
        Func::ToDateTimeUtc => match date_like(take(0), name, at(0))? {
            None => Val::Null,
            Some(DateLike::Date(d)) => Val::DateTime(Instant::from_date_time(d, 0, 0, 0, 0)),
            Some(DateLike::DateTime(i)) => Val::DateTime(i),
        },
        Func::If
        | Func::Concat
        | Func::Changed
        | Func::ChangedFrom
        | Func::ChangedTo
        | Func::Prior => {
            return Err(err(
                format!("{name} cannot be evaluated here (an internal error)"),
                span,
            ));
        }
    })
}

/// A value read as text for a case-insensitive search: NULL is empty.
fn fold_text(v: &Val<'_>) -> String {
    text_or_empty(v).chars().map(fold).collect()
}

/// A value as text, NULL as empty.
fn text_or_empty<'a>(v: &'a Val<'_>) -> Cow<'a, str> {
    match v {
        Val::Null => Cow::Borrowed(""),
        Val::Text(t) => Cow::Borrowed(t.as_ref()),
        other => Cow::Owned(other.to_string()),
    }
}

/// The characters `start..end` (character indexes) of `text`, borrowing when it borrows.
fn chars(text: Cow<'_, str>, start: usize, end: usize) -> Cow<'_, str> {
    let ascii = text.is_ascii();
    let byte = |n: usize| {
        if ascii {
            n.min(text.len())
        } else {
            text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
        }
    };
    let (a, b) = (byte(start), byte(end.max(start)));
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.get(a..b).unwrap_or("")),
        Cow::Owned(s) => Cow::Owned(s.get(a..b).unwrap_or("").to_string()),
    }
}

/// The number of characters in `text` (its length in bytes when it is ASCII).
fn char_count(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// A non-negative whole-number argument.
fn count(v: Val<'_>, func: &str, what: &str, span: Span) -> Result<Option<usize>, EvalError> {
    match whole(v, func, span)? {
        None => Ok(None),
        Some(n) if n < 0 => Err(err(
            format!("{func}'s {what} cannot be negative, but it is {n}"),
            span,
        )),
        Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
    }
}

/// A date built from year, month and day numbers, when they make one.
fn make_date(y: i64, m: i64, d: i64) -> Option<Date> {
    Date::new(
        i32::try_from(y).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(d).ok()?,
    )
}

/// `date` moved by `n` units; months and years keep the day, or the month's last day
/// when it has fewer (January 31 + 1 MONTH is February 28 or 29).
fn add(date: Date, n: i64, unit: Kw) -> Option<Date> {
    match unit {
        Kw::Month | Kw::Year => {
            let months = if unit == Kw::Year {
                n.checked_mul(12)?
            } else {
                n
            };
            let total = (date.year() as i64)
                .checked_mul(12)?
                .checked_add(date.month() as i64 - 1)?
                .checked_add(months)?;
            let year = i32::try_from(total.div_euclid(12)).ok()?;
            let month = (total.rem_euclid(12) + 1) as u8;
            let day = date.day().min(days_in_month(year, month));
            Date::new(year, month, day)
        }
        _ => Date::from_days_since_epoch(date.days_since_epoch().checked_add(n)?),
    }
}

/// `RELATIVEDATE`: weeks start on Sunday (the platform's SQL default, `DATEFIRST 7`);
/// `Next...` is the first day of the next week, month, quarter or year.
fn relative(d: Date, kw: Kw) -> Option<Date> {
    let days = d.days_since_epoch();
    let week_start = days - d.weekday() as i64;
    let (y, m) = (d.year(), d.month());
    let quarter_start = (m - 1) / 3 * 3 + 1;
    let next_month = |y: i32, m: u8| if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let last_day = |y: i32, m: u8| Date::new(y, m, days_in_month(y, m));
    match kw {
        Kw::StartOfWeek => Date::from_days_since_epoch(week_start),
        Kw::EndOfWeek => Date::from_days_since_epoch(week_start + 6),
        Kw::NextWeek => Date::from_days_since_epoch(week_start + 7),
        Kw::StartOfMonth => Date::new(y, m, 1),
        Kw::EndOfMonth => last_day(y, m),
        Kw::NextMonth => {
            let (ny, nm) = next_month(y, m);
            Date::new(ny, nm, 1)
        }
        Kw::StartOfQuarter => Date::new(y, quarter_start, 1),
        Kw::EndOfQuarter => last_day(y, quarter_start + 2),
        Kw::NextQuarter => {
            let (ny, nm) = next_month(y, quarter_start + 2);
            Date::new(ny, nm, 1)
        }
        Kw::StartOfYear => Date::new(y, 1, 1),
        Kw::EndOfYear => Date::new(y, 12, 31),
        Kw::NextYear => Date::new(y + 1, 1, 1),
        Kw::Day | Kw::Month | Kw::Year => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn months_and_years_clamp_to_the_month_end() {
        assert_eq!(
            add(date("2024-01-31"), 1, Kw::Month),
            Some(date("2024-02-29"))
        );
        assert_eq!(
            add(date("2023-01-31"), 1, Kw::Month),
            Some(date("2023-02-28"))
        );
        assert_eq!(
            add(date("2024-02-29"), 1, Kw::Year),
            Some(date("2025-02-28"))
        );
        assert_eq!(
            add(date("2024-03-15"), -3, Kw::Month),
            Some(date("2023-12-15"))
        );
        assert_eq!(
            add(date("2024-06-01"), 30, Kw::Day),
            Some(date("2024-07-01"))
        );
        assert_eq!(add(date("9999-12-31"), 1, Kw::Day), None);
        assert_eq!(add(date("2024-01-01"), i64::MAX, Kw::Year), None);
    }

    #[test]
    fn relative_dates_cover_every_keyword() {
        // 2024-06-15 is a Saturday.
        let d = date("2024-06-15");
        for (kw, want) in [
            (Kw::StartOfWeek, "2024-06-09"),
            (Kw::EndOfWeek, "2024-06-15"),
            (Kw::NextWeek, "2024-06-16"),
            (Kw::StartOfMonth, "2024-06-01"),
            (Kw::EndOfMonth, "2024-06-30"),
            (Kw::NextMonth, "2024-07-01"),
            (Kw::StartOfQuarter, "2024-04-01"),
            (Kw::EndOfQuarter, "2024-06-30"),
            (Kw::NextQuarter, "2024-07-01"),
            (Kw::StartOfYear, "2024-01-01"),
            (Kw::EndOfYear, "2024-12-31"),
            (Kw::NextYear, "2025-01-01"),
        ] {
            assert_eq!(relative(d, kw), Some(date(want)), "{kw:?}");
        }
        assert_eq!(
            relative(date("2024-12-10"), Kw::NextQuarter),
            Some(date("2025-01-01"))
        );
        assert_eq!(
            relative(date("2024-11-10"), Kw::EndOfQuarter),
            Some(date("2024-12-31"))
        );
        assert_eq!(relative(date("9999-12-31"), Kw::NextYear), None);
    }
}
