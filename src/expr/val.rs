//! A value during evaluation, and how the operators and the functions read one: as a
//! number, a whole number, text or a date, each failing with the same located error.
//! Below the evaluator, the functions' bodies and the patterns, which all share it.

use std::borrow::Cow;
use std::fmt;

use super::EvalError;
use super::lex::clip;
use crate::model::Span;
use crate::page::{CellValue, Page};
use crate::value::{Date, Decimal, Instant, Value};

/// A value during evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Val<'v> {
    /// NULL.
    #[default]
    Null,
    /// Text, borrowed from the record or the expression when it can be.
    Text(Cow<'v, str>),
    /// A number.
    Num(Decimal),
    /// TRUE or FALSE.
    Bool(bool),
    /// A date.
    Date(Date),
    /// A date and time.
    DateTime(Instant),
}

impl<'v> Val<'v> {
    /// A borrowed view of a stored value.
    pub(crate) fn of(v: &'v Value) -> Val<'v> {
        match v {
            Value::Null => Val::Null,
            Value::Text(t) => Val::Text(Cow::Borrowed(t)),
            Value::Decimal(d) => Val::Num(*d),
            Value::Boolean(b) => Val::Bool(*b),
            Value::Date(d) => Val::Date(*d),
            Value::DateTime(i) => Val::DateTime(*i),
        }
    }

    /// A borrowed view of a page's cell.
    #[inline]
    pub(crate) fn of_cell(page: &'v Page, v: CellValue) -> Val<'v> {
        match v {
            CellValue::Null => Val::Null,
            CellValue::Text(t) => Val::Text(Cow::Borrowed(page.str(t))),
            CellValue::Decimal(d) => Val::Num(d),
            CellValue::Boolean(b) => Val::Bool(b),
            CellValue::Date(d) => Val::Date(d),
            CellValue::DateTime(i) => Val::DateTime(i),
        }
    }

    /// The owned value.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Text(t) => Value::Text(t.into_owned()),
            Val::Num(d) => Value::Decimal(d),
            Val::Bool(b) => Value::Boolean(b),
            Val::Date(d) => Value::Date(d),
            Val::DateTime(i) => Value::DateTime(i),
        }
    }

    /// The value as a user would name it: `the number 5`, `the text "abc"`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Val::Null => "NULL".into(),
            Val::Text(t) => format!("the text \"{}\"", clip(t)),
            Val::Num(n) => format!("the number {n}"),
            Val::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).into(),
            Val::Date(d) => format!("the date {d}"),
            Val::DateTime(i) => format!("the date and time {}", i.to_rfc3339()),
        }
    }
}

impl fmt::Display for Val<'_> {
    /// The text form: numbers exactly, dates `YYYY-MM-DD`, datetimes RFC 3339 UTC,
    /// booleans `TRUE`/`FALSE`, NULL as nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Null => Ok(()),
            Val::Text(t) => f.write_str(t),
            Val::Num(n) => write!(f, "{n}"),
            Val::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Val::Date(d) => write!(f, "{d}"),
            Val::DateTime(i) => f.write_str(&i.to_rfc3339()),
        }
    }
}

/// An evaluation error at `span`: the one constructor the evaluator and the functions share.
pub(crate) fn err(message: impl Into<String>, span: Span) -> EvalError {
    EvalError {
        message: message.into(),
        span,
    }
}

/// Fold a character for case-insensitive comparison (see [`crate::value::fold_case`]).
#[inline]
pub(crate) fn fold(c: char) -> char {
    crate::value::fold_case(c)
}

/// A value as a number: numbers as they are, text that reads as a number, NULL as `None`.
pub(crate) fn number(v: Val<'_>, what: &str, span: Span) -> Result<Option<Decimal>, EvalError> {
    match v {
        Val::Null => Ok(None),
        Val::Num(n) => Ok(Some(n)),
        Val::Text(t) => Decimal::parse(t.trim()).map(Some).map_err(|_| {
            err(
                format!(
                    "{what} needs a number, but the text \"{}\" is not one{}",
                    clip(&t),
                    if what == "'+'" {
                        "; to join text use &"
                    } else {
                        ""
                    }
                ),
                span,
            )
        }),
        other => Err(err(
            format!("{what} needs a number, but this is {}", other.describe()),
            span,
        )),
    }
}

/// A value as a whole number that fits in 64 bits.
pub(crate) fn whole(v: Val<'_>, what: &str, span: Span) -> Result<Option<i64>, EvalError> {
    match number(v, what, span)? {
        None => Ok(None),
        Some(n) => n.to_i64().map(Some).ok_or_else(|| {
            err(
                format!("{what} needs a whole number, but this is {n}"),
                span,
            )
        }),
    }
}

/// A value's text form, keeping borrowed text borrowed; NULL gives `None`.
pub(crate) fn text_of(v: Val<'_>) -> Option<Cow<'_, str>> {
    match v {
        Val::Null => None,
        Val::Text(t) => Some(t),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// A date or a date and time.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DateLike {
    /// A date.
    Date(Date),
    /// A date and time.
    DateTime(Instant),
}

impl DateLike {
    /// Days since 1970-01-01 of the (UTC) calendar day.
    #[inline]
    pub(crate) fn day_number(self) -> i64 {
        match self {
            DateLike::Date(d) => d.days_since_epoch(),
            DateLike::DateTime(i) => i.seconds.div_euclid(86_400),
        }
    }
}

/// A date argument: a date, a date and time, or text in `YYYY-MM-DD` or
/// `YYYY-MM-DD HH:mm:ss` (UTC unless it carries an offset) form; NULL gives `None`.
pub(crate) fn date_like(v: Val<'_>, func: &str, span: Span) -> Result<Option<DateLike>, EvalError> {
    match v {
        Val::Null => Ok(None),
        Val::Date(d) => Ok(Some(DateLike::Date(d))),
        Val::DateTime(i) => Ok(Some(DateLike::DateTime(i))),
        Val::Text(t) => parse_date_like(t.trim()).map(Some).ok_or_else(|| {
            err(
                format!(
                    "{func}: the text \"{}\" is not a date; write dates as YYYY-MM-DD and times as YYYY-MM-DD HH:mm:ss",
                    clip(&t)
                ),
                span,
            )
        }),
        other => Err(err(format!("{func} needs a date, but this is {}", other.describe()), span)),
    }
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:mm:ss[.fff]` (UTC) or RFC 3339.
pub(crate) fn parse_date_like(t: &str) -> Option<DateLike> {
    if let Some(d) = Date::parse(t) {
        return Some(DateLike::Date(d));
    }
    if let Some(i) = Instant::parse_rfc3339(t) {
        return Some(DateLike::DateTime(i));
    }
    // No offset: UTC.
    let mut with_zone = String::with_capacity(t.len() + 1);
    with_zone.push_str(t);
    with_zone.push('Z');
    Instant::parse_rfc3339(&with_zone).map(DateLike::DateTime)
}
