//! The cron dialect: text to a compiled [`Spec`], with every problem located.

use crate::model::{Problem, Span};

use super::engine::{ALL_DAYS, ALL_WEEKDAYS, Spec};
use super::{MAX_CRON_CHARS, MAX_LIST_ITEMS};

/// What one field accepts.
struct FieldDef {
    /// How messages name the field ("the hour field").
    name: &'static str,
    /// What the field allows, for messages.
    allowed: &'static str,
    /// The smallest value.
    min: u32,
    /// The largest value written (7 for Sunday in the day-of-week field).
    max: u32,
    /// The largest value `*` and `a/n` reach (Saturday, 6, in the day-of-week field, so
    /// that Sunday is not counted twice).
    star_max: u32,
    /// Names standing for `min`, `min + 1`, ...
    names: &'static [&'static str],
    /// The same in full (`FEBRUARY`, `MONDAY`), which NCrontab and Quartz users write too.
    full_names: &'static [&'static str],
    /// Names are month or day names, for messages.
    name_kind: &'static str,
}

const SECOND: FieldDef = FieldDef {
    name: "second",
    allowed: "seconds are 0-59",
    min: 0,
    max: 59,
    star_max: 59,
    names: &[],
    full_names: &[],
    name_kind: "",
};
const MINUTE: FieldDef = FieldDef {
    name: "minute",
    allowed: "minutes are 0-59",
    ..SECOND
};
const HOUR: FieldDef = FieldDef {
    name: "hour",
    allowed: "hours are 0-23",
    max: 23,
    star_max: 23,
    ..SECOND
};
const MONTH_DAY: FieldDef = FieldDef {
    name: "day-of-month",
    allowed: "days of the month are 1-31, L, L-n, nW or LW",
    min: 1,
    max: 31,
    star_max: 31,
    ..SECOND
};
const MONTH: FieldDef = FieldDef {
    name: "month",
    allowed: "months are 1-12, JAN-DEC or their full names",
    min: 1,
    max: 12,
    star_max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    full_names: &[
        "JANUARY",
        "FEBRUARY",
        "MARCH",
        "APRIL",
        "MAY",
        "JUNE",
        "JULY",
        "AUGUST",
        "SEPTEMBER",
        "OCTOBER",
        "NOVEMBER",
        "DECEMBER",
    ],
    name_kind: "a month name",
};
const WEEK_DAY: FieldDef = FieldDef {
    name: "day-of-week",
    allowed: "days of the week are 0-7 (0 and 7 are Sunday), SUN-SAT or their full names, with nL or n#k",
    min: 0,
    max: 7,
    star_max: 6,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    full_names: &[
        "SUNDAY",
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
    ],
    name_kind: "a day name",
};

/// The six fields, in order.
const FIELDS: [&FieldDef; 6] = [&SECOND, &MINUTE, &HOUR, &MONTH_DAY, &MONTH, &WEEK_DAY];

/// A run of non-blank characters in the text, with where it starts.
#[derive(Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    line: u32,
    column: u32,
}

impl Token<'_> {
    /// The span of bytes `from..to` of this token (ASCII, so bytes are characters).
    fn span(&self, from: usize, to: usize) -> Span {
        let at = |n: usize| {
            self.column
                .saturating_add(u32::try_from(n).unwrap_or(u32::MAX))
        };
        Span {
            line: self.line,
            column: at(from),
            end_line: self.line,
            end_column: at(to),
        }
    }

    /// The span of the whole token, in characters.
    fn whole(&self) -> Span {
        self.span(0, self.text.chars().count())
    }
}

/// The span of characters `from..to` of `text`, lines counted.
fn text_span(text: &str, from: usize, to: usize) -> Span {
    let mut at = (1u32, 1u32);
    let (mut start, mut end) = (at, at);
    for (i, c) in text.chars().enumerate().take(to) {
        if i == from {
            start = at;
        }
        at = if c == '\n' {
            (at.0.saturating_add(1), 1)
        } else {
            (at.0, at.1.saturating_add(1))
        };
        end = at;
    }
    if from >= to {
        start = end;
    }
    Span {
        line: start.0,
        column: start.1,
        end_line: end.0,
        end_column: end.1,
    }
}

/// The span from the start of `first` to the end of `last`.
fn between(first: &Token, last: &Token) -> Span {
    let end = last.whole();
    Span {
        line: first.line,
        column: first.column,
        end_line: end.end_line,
        end_column: end.end_column,
    }
}

/// An error inside a field: bytes `from..to` of the field, and the message.
struct Bad {
    from: usize,
    to: usize,
    message: String,
}

/// Split the text into tokens at whitespace, counting lines and columns in characters.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let (mut line, mut column) = (1u32, 1u32);
    let mut start: Option<(usize, u32, u32)> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some((s, l, col)) = start.take() {
                out.push(Token {
                    text: &text[s..i],
                    line: l,
                    column: col,
                });
            }
            if c == '\n' {
                line = line.saturating_add(1);
                column = 1;
                continue;
            }
        } else if start.is_none() {
            start = Some((i, line, column));
        }
        column = column.saturating_add(1);
    }
    if let Some((s, l, col)) = start {
        out.push(Token {
            text: &text[s..],
            line: l,
            column: col,
        });
    }
    out
}

/// The fields a macro stands for (second minute hour day-of-month month day-of-week).
fn macro_fields(name: &str) -> Option<[&'static str; 6]> {
    Some(match name.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => ["0", "0", "0", "1", "1", "*"],
        "@monthly" => ["0", "0", "0", "1", "*", "*"],
        "@weekly" => ["0", "0", "0", "*", "*", "0"],
        "@daily" | "@midnight" => ["0", "0", "0", "*", "*", "*"],
        "@hourly" => ["0", "0", "*", "*", "*", "*"],
        _ => return None,
    })
}

/// Parse a cron text: the compiled schedule and its warnings, or every error.
pub(crate) fn parse(text: &str) -> Result<(Spec, Vec<Problem>), Vec<Problem>> {
    let chars = if text.len() > MAX_CRON_CHARS * 4 {
        text.len()
    } else {
        text.chars().count()
    };
    if chars > MAX_CRON_CHARS {
        // Located at what lies past the limit.
        return Err(vec![
            Problem::error(
                "",
                format!(
                    "the cron expression is {chars} characters long; at most {MAX_CRON_CHARS} are allowed"
                ),
            )
            .at(text_span(text, MAX_CRON_CHARS, chars)),
        ]);
    }
    let toks = tokens(text);
    let (Some(first), Some(last)) = (toks.first(), toks.last()) else {
        return Err(vec![
            Problem::error(
                "",
                "the cron expression is empty; write 5 fields (minute hour day-of-month month day-of-week), 6 with a leading second field, or a macro such as @daily",
            )
            .at(text_span(text, 0, chars)),
        ]);
    };

    if first.text.starts_with('@') {
        let Some(fields) = macro_fields(first.text) else {
            return Err(vec![
                Problem::error(
                    "",
                    format!(
                        "unknown macro {:?}; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly",
                        first.text
                    ),
                )
                .at(first.whole()),
            ]);
        };
        if let Some(extra) = toks.get(1) {
            return Err(vec![
                Problem::error(
                    "",
                    format!(
                        "the macro {:?} stands alone; remove {:?} and what follows",
                        first.text, extra.text
                    ),
                )
                .at(between(extra, last)),
            ]);
        }
        let fields = fields.map(|text| Token { text, ..*first });
        return compile(&fields);
    }

    match toks.len() {
        5 => {
            let seconds = Token {
                text: "0",
                ..*first
            };
            let mut fields = [seconds; 6];
            fields[1..].copy_from_slice(&toks);
            compile(&fields)
        }
        6 => {
            let mut fields = [*first; 6];
            fields.copy_from_slice(&toks);
            compile(&fields)
        }
        7 => Err(vec![
            Problem::error(
                "",
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading second field; a seventh (year) field is not supported",
            )
            .at(toks[6].whole()),
        ]),
        n => Err(vec![
            Problem::error(
                "",
                format!(
                    "a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading second field; this one has {n}"
                ),
            )
            .at(between(first, last)),
        ]),
    }
}

/// Compile six field tokens (second first), collecting every error.
fn compile(fields: &[Token; 6]) -> Result<(Spec, Vec<Problem>), Vec<Problem>> {
    let mut spec = Spec::default();
    let mut errors = Vec::new();
    for (def, tok) in FIELDS.iter().zip(fields) {
        if let Err(bad) = field(def, tok.text, &mut spec) {
            errors.push(Problem::error("", bad.message).at(tok.span(bad.from, bad.to)));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let days = format!(
        "the day-of-month field {:?}, the month field {:?} and the day-of-week field {:?}",
        fields[3].text, fields[4].text, fields[5].text
    );
    if !spec.ever_fires() {
        return Err(vec![
            Problem::error(
                "",
                format!("the schedule never fires: no date matches {days} together"),
            )
            .at(between(&fields[3], &fields[5])),
        ]);
    }
    let mut warnings = Vec::new();
    if spec.restricts_month_days() && spec.restricts_week_days() {
        warnings.push(
            Problem::warning(
                "",
                format!(
                    "both day fields are restricted (day-of-month {:?}, day-of-week {:?}): the schedule fires only on days that match both, as in Cronos and NCrontab, not on days that match either as in Vixie cron; write * in one of them to match by the other alone",
                    fields[3].text, fields[5].text
                ),
            )
            .at(between(&fields[3], &fields[5])),
        );
    }
    Ok((spec, warnings))
}

/// Parse one field into `spec`.
fn field(def: &FieldDef, text: &str, spec: &mut Spec) -> Result<(), Bad> {
    if let Some((i, c)) = text.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
        let n = text[..i].chars().count();
        return Err(Bad {
            from: n,
            to: n + 1,
            message: format!(
                "the {} field {text:?} has an unexpected character {c:?}; {}",
                def.name, def.allowed
            ),
        });
    }
    let items = text.split(',').count();
    if items > MAX_LIST_ITEMS {
        return Err(Bad {
            from: 0,
            to: text.len(),
            message: format!(
                "the {} field has {items} list items; at most {MAX_LIST_ITEMS} are allowed",
                def.name
            ),
        });
    }
    let mut offset = 0;
    for item in text.split(',') {
        self::item(def, item, offset, spec)?;
        offset += item.len() + 1;
    }
    Ok(())
}

/// The bits `from..=to` stepping by `step`.
fn bits(from: u32, to: u32, step: u32) -> u64 {
    let mut out = 0u64;
    let mut v = from;
    while v <= to && v < 64 {
        out |= 1 << v;
        v = v.saturating_add(step.max(1));
    }
    out
}

/// Parse one list item at byte `at` of its field into `spec`.
fn item(def: &FieldDef, text: &str, at: usize, spec: &mut Spec) -> Result<(), Bad> {
    let bad = |from: usize, to: usize, message: String| Bad {
        from: at + from,
        to: at + to,
        message,
    };
    let whole = |what: &str| {
        bad(
            0,
            text.len(),
            format!("the {} field {text:?} {what}", def.name),
        )
    };
    if text.is_empty() {
        return Err(bad(
            0,
            0,
            format!(
                "the {} field has an empty list item; separate values with single commas",
                def.name
            ),
        ));
    }
    let upper = text.to_ascii_uppercase();
    let is_week = std::ptr::eq(def, &WEEK_DAY);
    let is_month_day = std::ptr::eq(def, &MONTH_DAY);
    let is_time = matches!(def.name, "second" | "minute" | "hour");

    if is_month_day {
        let md = &mut spec.month_days;
        if upper == "L" {
            md.before_last |= 1;
            return Ok(());
        }
        if upper == "LW" {
            md.last_weekday = true;
            return Ok(());
        }
        if let Some(n) = upper.strip_prefix("L-") {
            let v = number(n).filter(|v| *v <= 30).ok_or_else(|| {
                whole("is not valid; L-n means n days before the last day of the month, n 0-30")
            })?;
            md.before_last |= 1 << v;
            return Ok(());
        }
        if let Some(n) = upper.strip_suffix('W') {
            let v = number(n).filter(|v| (1..=31).contains(v)).ok_or_else(|| {
                whole("is not valid; nW means the weekday nearest day n of the month, n 1-31")
            })?;
            md.nearest_weekday |= 1 << v;
            return Ok(());
        }
    }
    if is_week {
        if let Some((day, k)) = text.split_once('#') {
            let w = value(def, day).map_err(|m| bad(0, day.len(), m))?;
            let k = number(k).filter(|k| (1..=5).contains(k)).ok_or_else(|| {
                whole("is not valid; d#k means the k-th such day of the month, k 1-5")
            })?;
            spec.week_days.nth[(k - 1) as usize] |= 1 << (w % 7);
            return Ok(());
        }
        if let Some(day) = text.strip_suffix(['L', 'l']).filter(|d| !d.is_empty()) {
            let w = value(def, day).map_err(|m| bad(0, day.len(), m))?;
            spec.week_days.last |= 1 << (w % 7);
            return Ok(());
        }
    }
    if !is_week && upper.contains('#') {
        return Err(whole(
            "is not allowed: # is only for the day-of-week field (FRI#3 is the third Friday)",
        ));
    }
    if !is_month_day
        && !is_week
        && (upper.contains('L') && def.names.is_empty() || upper.contains('W'))
    {
        return Err(whole(&format!(
            "is not allowed: L and W are only for the day fields; {}",
            def.allowed
        )));
    }

    let (range, step) = match text.split_once('/') {
        Some((range, step)) => (range, Some((range.len() + 1, step))),
        None => (text, None),
    };
    let step = match step {
        None => None,
        Some((pos, s)) => {
            let max_step = def.max.max(1);
            match number(s) {
                Some(0) => {
                    return Err(bad(
                        pos,
                        text.len(),
                        format!(
                            "the {} field {text:?} has a step of 0; steps are 1-{max_step}",
                            def.name
                        ),
                    ));
                }
                Some(v) if v <= max_step => Some(v),
                _ => {
                    return Err(bad(
                        pos,
                        text.len(),
                        format!(
                            "the {} field {text:?} has the step {s:?}; steps are 1-{max_step}",
                            def.name
                        ),
                    ));
                }
            }
        }
    };
    let set = if range == "*" || range == "?" {
        if is_time {
            spec.interval = true;
        }
        bits(def.min, def.star_max, step.unwrap_or(1))
    } else if let Some((lo_text, hi_text)) = range.split_once('-') {
        let lo = value(def, lo_text).map_err(|m| bad(0, lo_text.len(), m))?;
        let hi_at = lo_text.len() + 1;
        let hi = value(def, hi_text).map_err(|m| bad(hi_at, hi_at + hi_text.len(), m))?;
        if lo > hi {
            return Err(bad(
                0,
                range.len(),
                format!(
                    "the {} field {text:?} is a backwards range; ranges run from low to high, so write it as two: \"{lo}-{},{}-{hi}\"",
                    def.name, def.max, def.min
                ),
            ));
        }
        if is_time {
            spec.interval = true;
        }
        bits(lo, hi, step.unwrap_or(1))
    } else {
        let v = value(def, range).map_err(|m| bad(0, range.len(), m))?;
        match step {
            Some(step) => {
                if is_time {
                    spec.interval = true;
                }
                bits(v, def.star_max.max(v), step)
            }
            None => bits(v, v, 1),
        }
    };
    match def.name {
        "second" => spec.seconds |= set,
        "minute" => spec.minutes |= set,
        "hour" => spec.hours |= set,
        "day-of-month" => spec.month_days.days |= (set as u32) & ALL_DAYS,
        "month" => spec.months |= set,
        // 7 is Sunday again: fold bit 7 onto bit 0.
        _ => spec.week_days.days |= ((set | (set >> 7)) as u8) & ALL_WEEKDAYS,
    }
    Ok(())
}

/// A decimal number of at most 4 digits (longer ones are out of every range anyway).
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.len() > 4 {
        return Some(u32::MAX);
    }
    digits.parse().ok().or(Some(0))
}

/// One value: a number in the field's range or one of its names (upper case).
fn value(def: &FieldDef, text: &str) -> Result<u32, String> {
    if let Some(n) = number(text) {
        return if (def.min..=def.max).contains(&n) {
            Ok(n)
        } else {
            Err(format!(
                "the {} field {text:?} is out of range; {}",
                def.name, def.allowed
            ))
        };
    }
    if let Some(i) = def.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(def.min + i as u32);
    }
    if let Some(i) = def
        .full_names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        return Ok(def.min + i as u32);
    }
    let what = if text.is_empty() {
        "is missing a value".to_string()
    } else if !def.names.is_empty() && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        format!("is not {}", def.name_kind)
    } else {
        "is not a number".to_string()
    };
    Err(format!(
        "the {} field {text:?} {what}; {}",
        def.name, def.allowed
    ))
}
