//! Evaluates a checked tree over one record. Values borrow text from the record and the
//! tree where they can ([`Cow`]), so a typical filter allocates nothing per record.
//!
//! The rules (NULL, letter case, mixed types) are documented on the [`super`] module.

use std::borrow::Cow;
use std::cmp::Ordering;

use std::sync::atomic::Ordering::Relaxed;

use super::apply::apply;
use super::func::{Func, MAX_FIXED_ARGS};
use super::lex::Op;
use super::parse::join;
use super::tree::{AttrRef, Kind, Node};
use super::val::{DateLike, Val, err, fold, number, parse_date_like, whole};
use super::{EvalError, MAX_TEXT_BYTES, Record, Scope, Usage, ValueRef};
use crate::model::{Attribute, Span};
use crate::page::{Candidates, CellValue};
use crate::value::{Date, Decimal, Instant, Value};

/// What evaluation reads besides the tree.
pub(crate) struct Cx<'s, 'v> {
    /// The record, prior state, time and id seed.
    pub(crate) scope: &'s Scope<'v>,
    /// Where the expression is used (decides what a missing prior state means).
    pub(crate) usage: Usage,
}

/// Evaluate `node`.
pub(crate) fn eval<'v>(node: &'v Node, cx: &Cx<'_, 'v>) -> Result<Val<'v>, EvalError> {
    match &node.kind {
        Kind::Const(v) => Ok(Val::of(v)),
        Kind::Attr(attr) => Ok(read(&cx.scope.record, attr)),
        Kind::Now => Ok(Val::DateTime(cx.scope.now)),
        Kind::Today => Date::from_days_since_epoch(cx.scope.now.seconds.div_euclid(86_400))
            .map(Val::Date)
            .ok_or_else(|| {
                err(
                    "TODAY: the current time is outside years 1 to 9999",
                    node.span,
                )
            }),
        Kind::NewGuid => Ok(Val::Text(Cow::Owned(cx.scope.next_guid()))),
        Kind::Keyword(_) | Kind::List(_) => Err(err(
            "a keyword or list cannot stand for a value here (an internal error)",
            node.span,
        )),
        Kind::Neg(x) => match number(eval(x, cx)?, "'-' (minus)", x.span)? {
            None => Ok(Val::Null),
            Some(n) => n
                .checked_neg()
                .map(Val::Num)
                .ok_or_else(|| err("the number is too large to negate", node.span)),
        },
        Kind::Chain { first, rest } => {
            let mut acc = eval(first, cx)?;
            for (op, _, right) in rest.iter() {
                let r = eval(right, cx)?;
                acc = binary(*op, acc, r, join(first.span, right.span))?;
            }
            Ok(acc)
        }
        Kind::And(items) => {
            let mut unknown = false;
            for item in items.iter() {
                match truth(eval(item, cx)?, "AND", item.span)? {
                    Some(false) => return Ok(Val::Bool(false)),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            Ok(if unknown { Val::Null } else { Val::Bool(true) })
        }
        Kind::Or(items) => {
            let mut unknown = false;
            for item in items.iter() {
                match truth(eval(item, cx)?, "OR", item.span)? {
                    Some(true) => return Ok(Val::Bool(true)),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            Ok(if unknown { Val::Null } else { Val::Bool(false) })
        }
        Kind::In {
            value,
            items,
            negated,
        } => {
            let v = eval(value, cx)?;
            let found = any_equal(&v, items, cx)?;
            Ok(Val::Bool(found != *negated))
        }
        Kind::Call { func, args } => call(*func, args, node.span, cx),
    }
}

/// Whether `v` equals any of `items` by the `=` rules.
fn any_equal<'v>(v: &Val<'_>, items: &'v [Node], cx: &Cx<'_, 'v>) -> Result<bool, EvalError> {
    for item in items {
        if equal(v, &eval(item, cx)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The value `attr` refers to in `record`; NULL when the record does not have it.
#[inline]
pub(crate) fn read<'v>(record: &Record<'v>, attr: &AttrRef) -> Val<'v> {
    match record {
        Record::Attributes(attrs) => find(attrs, attr).map_or(Val::Null, Val::of),
        Record::Row(row) => {
            let resolved;
            let candidates = match row.bound.slot(attr.slot.load(Relaxed)) {
                Some(c) => c,
                None => {
                    // An expression no plan has bound (never on the render path): resolve
                    // it against the page for this one read.
                    resolved = Candidates::resolve(row.page, &attr.path);
                    &resolved
                }
            };
            let before = attr.hint.load(Relaxed);
            let mut hint = before;
            match candidates.find(row.paths, &mut hint) {
                Some(i) => {
                    if hint != before {
                        attr.hint.store(hint, Relaxed);
                    }
                    Val::of_cell(row.page, row.cell(i))
                }
                None => Val::Null,
            }
        }
    }
}

/// The value `attr` refers to in `record`, as a borrowed view: [`read`] without building
/// a [`Val`], for a field that is one attribute.
#[inline]
pub(crate) fn read_ref<'v>(record: &Record<'v>, attr: &AttrRef) -> ValueRef<'v> {
    if let Record::Row(row) = record
        && let Some(candidates) = row.bound.slot(attr.slot.load(Relaxed))
    {
        let before = attr.hint.load(Relaxed);
        let mut hint = before;
        let Some(i) = candidates.find(row.paths, &mut hint) else {
            return ValueRef::Null;
        };
        if hint != before {
            attr.hint.store(hint, Relaxed);
        }
        return match row.cell(i) {
            CellValue::Null => ValueRef::Null,
            CellValue::Text(t) => ValueRef::Text(row.page.str(t)),
            CellValue::Decimal(d) => ValueRef::Decimal(d),
            CellValue::Boolean(b) => ValueRef::Boolean(b),
            CellValue::Date(d) => ValueRef::Date(d),
            CellValue::DateTime(i) => ValueRef::DateTime(i),
        };
    }
    match read(record, attr) {
        Val::Text(Cow::Borrowed(t)) => ValueRef::Text(t),
        // A read lends the record's text and never owns any: this arm is never taken.
        Val::Text(Cow::Owned(_)) | Val::Null => ValueRef::Null,
        Val::Num(d) => ValueRef::Decimal(d),
        Val::Bool(b) => ValueRef::Boolean(b),
        Val::Date(d) => ValueRef::Date(d),
        Val::DateTime(i) => ValueRef::DateTime(i),
    }
}

/// The attribute `attr` refers to, trying its hinted position first (see
/// [`AttrRef::hint`]) and remembering where it was found.
pub(crate) fn find<'r>(attrs: &'r [Attribute], attr: &AttrRef) -> Option<&'r Value> {
    let hint = attr.hint.load(Relaxed);
    if let Some(a) = attrs.get(hint)
        && a.path.len() == attr.path.len()
        && a.path.iter().zip(attr.path.iter()).all(|(x, y)| x == &**y)
    {
        return Some(&a.value);
    }
    let (i, value) = lookup(attrs, &attr.path)?;
    attr.hint.store(i, Relaxed);
    Some(value)
}

/// The attribute at `path` and its position: exact names first, then names in any ASCII
/// letter case; a path naming a related entity (`[Class]`) gives that entity's code
/// (`[Class].[Code]`).
pub(crate) fn lookup<'r>(attrs: &'r [Attribute], path: &[Box<str>]) -> Option<(usize, &'r Value)> {
    fn scan<'r>(
        attrs: &'r [Attribute],
        path: &[Box<str>],
        code: bool,
        same: fn(&str, &str) -> bool,
    ) -> Option<(usize, &'r Value)> {
        let len = path.len() + usize::from(code);
        attrs
            .iter()
            .position(|a| {
                a.path.len() == len
                    && a.path.iter().zip(path).all(|(x, y)| same(x, y))
                    && (!code || a.path.last().is_some_and(|l| same(l, "Code")))
            })
            .and_then(|i| Some((i, &attrs.get(i)?.value)))
    }
    let exact: fn(&str, &str) -> bool = |a, b| a == b;
    let any_case: fn(&str, &str) -> bool = |a, b| a.eq_ignore_ascii_case(b);
    scan(attrs, path, false, exact)
        .or_else(|| scan(attrs, path, false, any_case))
        .or_else(|| scan(attrs, path, true, exact))
        .or_else(|| scan(attrs, path, true, any_case))
}

/// A condition's truth: `Some` for TRUE/FALSE, `None` for NULL, an error otherwise.
fn truth(v: Val<'_>, what: &str, span: Span) -> Result<Option<bool>, EvalError> {
    match v {
        Val::Bool(b) => Ok(Some(b)),
        Val::Null => Ok(None),
        other => Err(err(
            format!(
                "{what} needs conditions that are TRUE or FALSE, but this is {}",
                other.describe()
            ),
            span,
        )),
    }
}

/// Compare texts ignoring letter case.
pub(crate) fn fold_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        let (x, y) = (a.as_bytes(), b.as_bytes());
        for (p, q) in x.iter().zip(y) {
            match p.to_ascii_lowercase().cmp(&q.to_ascii_lowercase()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        return x.len().cmp(&y.len());
    }
    a.chars().map(fold).cmp(b.chars().map(fold))
}

/// Whether texts are equal ignoring letter case.
pub(crate) fn fold_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    fold_cmp(a, b) == Ordering::Equal
}

/// The result of comparing two values.
enum Cmp {
    /// One side is NULL.
    Null,
    /// Comparable, in this order.
    Ord(Ordering),
    /// Of kinds that cannot be compared.
    Mismatch,
}

fn date_seconds(d: Date) -> i64 {
    d.days_since_epoch() * 86_400
}

fn compare(a: &Val<'_>, b: &Val<'_>) -> Cmp {
    use Val::*;
    match (a, b) {
        (Null, _) | (_, Null) => Cmp::Null,
        (Num(x), Num(y)) => Cmp::Ord(x.cmp(y)),
        (Text(x), Text(y)) => Cmp::Ord(fold_cmp(x, y)),
        (Bool(x), Bool(y)) => Cmp::Ord(x.cmp(y)),
        (Date(x), Date(y)) => Cmp::Ord(x.cmp(y)),
        (DateTime(x), DateTime(y)) => Cmp::Ord(x.cmp(y)),
        (Date(x), DateTime(y)) => Cmp::Ord((date_seconds(*x), 0).cmp(&(y.seconds, y.nanoseconds))),
        (DateTime(_), Date(_)) => match compare(b, a) {
            Cmp::Ord(o) => Cmp::Ord(o.reverse()),
            other => other,
        },
        (Text(t), other) => match text_as(t, other) {
            Some(v) => compare(&v, other),
            None => Cmp::Mismatch,
        },
        (other, Text(t)) => match text_as(t, other) {
            Some(v) => compare(other, &v),
            None => Cmp::Mismatch,
        },
        _ => Cmp::Mismatch,
    }
}

/// Text read as the kind of `like`, when it reads as one (`"42"` as a number, `"2024-06-01"`
/// as a date, `"true"` as a boolean).
fn text_as(t: &str, like: &Val<'_>) -> Option<Val<'static>> {
    let t = t.trim();
    match like {
        Val::Num(_) => Decimal::parse(t).ok().map(Val::Num),
        Val::Bool(_) => {
            if t.eq_ignore_ascii_case("true") {
                Some(Val::Bool(true))
            } else if t.eq_ignore_ascii_case("false") {
                Some(Val::Bool(false))
            } else {
                None
            }
        }
        Val::Date(_) | Val::DateTime(_) => parse_date_like(t).map(|d| match d {
            DateLike::Date(d) => Val::Date(d),
            DateLike::DateTime(i) => Val::DateTime(i),
        }),
        _ => None,
    }
}

/// `a = b`: NULL equals only NULL; values of kinds that cannot be compared are unequal.
pub(crate) fn equal(a: &Val<'_>, b: &Val<'_>) -> bool {
    if let (Val::Text(x), Val::Text(y)) = (a, b) {
        return fold_eq(x, y);
    }
    match compare(a, b) {
        Cmp::Null => matches!((a, b), (Val::Null, Val::Null)),
        Cmp::Ord(o) => o == Ordering::Equal,
        Cmp::Mismatch => false,
    }
}

fn binary<'v>(op: Op, a: Val<'v>, b: Val<'v>, span: Span) -> Result<Val<'v>, EvalError> {
    let ordered = |test: fn(Ordering) -> bool| match compare(&a, &b) {
        Cmp::Null => Ok(Val::Null),
        Cmp::Ord(o) => Ok(Val::Bool(test(o))),
        Cmp::Mismatch => Err(err(
            format!(
                "'{}' cannot order {} and {}: compare numbers with numbers, text with text and dates with dates",
                op.symbol(),
                a.describe(),
                b.describe()
            ),
            span,
        )),
    };
    match op {
        Op::Eq => Ok(Val::Bool(equal(&a, &b))),
        Op::Ne => Ok(Val::Bool(!equal(&a, &b))),
        Op::Gt => ordered(|o| o == Ordering::Greater),
        Op::Lt => ordered(|o| o == Ordering::Less),
        Op::Ge => ordered(|o| o != Ordering::Less),
        Op::Le => ordered(|o| o != Ordering::Greater),
        Op::Concat => {
            let mut out = match a {
                Val::Text(t) => t.into_owned(),
                Val::Null => String::new(),
                other => other.to_string(),
            };
            push_text(&mut out, &b, span)?;
            Ok(Val::Text(Cow::Owned(out)))
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => arithmetic(op, a, b, span),
    }
}

/// Append `v`'s text form to `out`, within [`MAX_TEXT_BYTES`].
pub(crate) fn push_text(out: &mut String, v: &Val<'_>, span: Span) -> Result<(), EvalError> {
    let text: Cow<'_, str> = match v {
        Val::Text(t) => Cow::Borrowed(t.as_ref()),
        Val::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    };
    if out.len().saturating_add(text.len()) > MAX_TEXT_BYTES {
        return Err(err(
            format!(
                "the text would be longer than {MAX_TEXT_BYTES} bytes, the most a value may hold"
            ),
            span,
        ));
    }
    out.push_str(&text);
    Ok(())
}

fn arithmetic<'v>(op: Op, a: Val<'v>, b: Val<'v>, span: Span) -> Result<Val<'v>, EvalError> {
    let sym = op.symbol();
    let what = format!("'{sym}'");
    let out_of_range = || {
        err(
            format!("'{sym}': the date falls outside years 1 to 9999"),
            span,
        )
    };
    if matches!(a, Val::Null) || matches!(b, Val::Null) {
        return Ok(Val::Null);
    }
    // Days added to or taken from a date or datetime; days between dates.
    let (date, days, sign) = match (op, &a, &b) {
        (Op::Sub, Val::Date(x), Val::Date(y)) => {
            return Ok(Val::Num(Decimal::from_i64(
                x.days_since_epoch() - y.days_since_epoch(),
            )));
        }
        (Op::Add | Op::Sub, Val::Date(_) | Val::DateTime(_), Val::Num(_) | Val::Text(_)) => {
            (a.clone(), b.clone(), if op == Op::Sub { -1 } else { 1 })
        }
        (Op::Add, Val::Num(_) | Val::Text(_), Val::Date(_) | Val::DateTime(_)) => {
            (b.clone(), a.clone(), 1)
        }
        _ => (Val::Null, Val::Null, 0),
    };
    if sign != 0 {
        let Some(n) = whole(days, &what, span)? else {
            return Ok(Val::Null);
        };
        let n = n.checked_mul(sign).ok_or_else(out_of_range)?;
        return match date {
            Val::Date(d) => d
                .days_since_epoch()
                .checked_add(n)
                .and_then(Date::from_days_since_epoch)
                .map(Val::Date)
                .ok_or_else(out_of_range),
            Val::DateTime(i) => n
                .checked_mul(86_400)
                .and_then(|s| i.seconds.checked_add(s))
                .and_then(|s| Instant::new(s, i.nanoseconds))
                .map(Val::DateTime)
                .ok_or_else(out_of_range),
            _ => Ok(Val::Null),
        };
    }
    let (Some(x), Some(y)) = (number(a, &what, span)?, number(b, &what, span)?) else {
        return Ok(Val::Null);
    };
    let result = match op {
        Op::Add => x.checked_add(y),
        Op::Sub => x.checked_sub(y),
        Op::Mul => x.checked_mul(y),
        _ => {
            if y.is_zero() {
                return Err(err(format!("division by zero: {x} / 0"), span));
            }
            x.checked_div(y)
        }
    };
    result.map(Val::Num).ok_or_else(|| {
        err(
            format!("the result of {x} {sym} {y} is too large: numbers may have at most 38 digits"),
            span,
        )
    })
}

fn arg(args: &[Node], i: usize, span: Span) -> Result<&Node, EvalError> {
    args.get(i)
        .ok_or_else(|| err("a function argument is missing (an internal error)", span))
}

fn call<'v>(
    func: Func,
    args: &'v [Node],
    span: Span,
    cx: &Cx<'_, 'v>,
) -> Result<Val<'v>, EvalError> {
    match func {
        Func::If => {
            let cond = arg(args, 0, span)?;
            let chosen = match truth(eval(cond, cx)?, "IF", cond.span)? {
                Some(true) => args.get(1),
                _ => args.get(2),
            };
            match chosen {
                Some(node) => eval(node, cx),
                None => Ok(Val::Null),
            }
        }
        Func::Concat => {
            let mut out = String::new();
            for a in args {
                push_text(&mut out, &eval(a, cx)?, a.span)?;
            }
            Ok(Val::Text(Cow::Owned(out)))
        }
        Func::Changed | Func::ChangedFrom | Func::ChangedTo | Func::Prior => {
            prior_state(func, args, span, cx)
        }
        _ => {
            let mut vals: [Val<'v>; MAX_FIXED_ARGS] = Default::default();
            let mut kw = None;
            for (i, a) in args.iter().enumerate() {
                match &a.kind {
                    Kind::Keyword(k) => kw = Some(*k),
                    _ => {
                        let slot = vals
                            .get_mut(i)
                            .ok_or_else(|| err("too many arguments (an internal error)", span))?;
                        *slot = eval(a, cx)?;
                    }
                }
            }
            let n = args.len().min(MAX_FIXED_ARGS);
            apply(func, &mut vals[..n], args, kw, span)
        }
    }
}

/// `CHANGED`, `CHANGEDFROM`, `CHANGEDTO` and `PRIOR`.
fn prior_state<'v>(
    func: Func,
    args: &'v [Node],
    span: Span,
    cx: &Cx<'_, 'v>,
) -> Result<Val<'v>, EvalError> {
    let Some(prior) = &cx.scope.prior else {
        return if cx.usage == Usage::Record {
            // A Records field also renders added records and on-demand runs: with no
            // state before, nothing changed and there is no prior value.
            Ok(if func == Func::Prior {
                Val::Null
            } else {
                Val::Bool(false)
            })
        } else {
            Err(err(
                "this reads the record's state before the change, but none was given; provide the prior state",
                span,
            ))
        };
    };
    let path = |i: usize| -> Result<&'v AttrRef, EvalError> {
        match &arg(args, i, span)?.kind {
            Kind::Attr(a) => Ok(a),
            _ => Err(err(
                "an attribute reference was expected (an internal error)",
                span,
            )),
        }
    };
    let record = &cx.scope.record;
    match func {
        Func::Prior => Ok(read(prior, path(0)?)),
        Func::Changed => {
            for i in 0..args.len() {
                let p = path(i)?;
                if read(record, p) != read(prior, p) {
                    return Ok(Val::Bool(true));
                }
            }
            Ok(Val::Bool(false))
        }
        _ => {
            let p = path(0)?;
            let (now, before) = (read(record, p), read(prior, p));
            if now == before {
                return Ok(Val::Bool(false));
            }
            let side = if func == Func::ChangedFrom {
                before
            } else {
                now
            };
            let target = arg(args, 1, span)?;
            let hit = match &target.kind {
                Kind::List(items) => any_equal(&side, items, cx)?,
                _ => equal(&side, &eval(target, cx)?),
            };
            Ok(Val::Bool(hit))
        }
    }
}
