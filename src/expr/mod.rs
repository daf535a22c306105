//! The platform's expression language: compiled once, evaluated per record.
//!
//! [`compile`] parses and checks an expression for where it is used ([`Usage`]) and
//! returns an immutable [`Expr`]; [`Expr::eval`] and [`Expr::matches`] evaluate it over a
//! [`Scope`] (a record, its prior state, the time and an id seed). Nothing is read from
//! the machine: `NOW`, `TODAY` and `NEWGUID` come from the scope, so a render is
//! reproducible.
//!
//! # Grammar
//!
//! Attributes `[Name]`, related-entity hops `[Class].[Code]` to any depth, system
//! attributes `[$EnterDTM]`, `[$EnterUserName]`, `[$LastChgDTM]`, `[$LastChgUserName]`;
//! literals `"text"` or `'text'` (a doubled quote stands for one), numbers, `TRUE`,
//! `FALSE`, `NULL`; operators, tightest first: unary `-`; `* /`; `+ - &`;
//! `= <> > < >= <=`; `IN (...)`, `NOT IN (...)`; `AND`; `OR`. Keywords and function names
//! are case-insensitive. The functions are listed in `func.rs`; `NOW`, `TODAY` and
//! `NEWGUID` take no parentheses.
//!
//! # Attribute lookup
//!
//! A path is looked up with exact names first, then with names in any ASCII letter case.
//! A path that names a related entity (`[Class]`, when the record has `["Class", ...]`)
//! gives the related member's code (`["Class", "Code"]`). An attribute the record does
//! not have is NULL: hosts may leave NULL attributes out of a record.
//!
//! # Rules
//!
//! - **NULL in comparisons**: `=` and `<>` treat NULL as a value: `NULL = NULL` is TRUE,
//!   `[X] = NULL` tests for NULL, `NULL = 5` is FALSE. The ordering operators
//!   `> < >= <=` with a NULL side give NULL ("unknown"), which a filter treats as not
//!   passing. `IN` uses `=`.
//! - **NULL in logic**: three-valued, like SQL: `FALSE AND NULL` is FALSE,
//!   `TRUE OR NULL` is TRUE, `TRUE AND NULL` and `NOT(NULL)` are NULL; `IF(NULL, a, b)`
//!   is `b`.
//! - **NULL in text**: `&` and `CONCAT` read NULL as empty text. `CONTAINS`,
//!   `STARTSWITH`, `ENDSWITH`, `INDEXOF` and `CONTAINSPATTERN` read NULL as empty text;
//!   `LENGTH(NULL)` is 0; `LEFT`, `RIGHT`, `SUBSTRING` and `TEXT` of NULL are NULL.
//! - **NULL in arithmetic and conversions**: any NULL operand or argument gives NULL
//!   (`[MSRP] * 2`, `DATEADD(NULL, 1, DAY)`, `TONUMBER(NULL)`).
//! - **Letter case**: text comparisons (`=`, `<>`, ordering, `IN`, `CHANGEDFROM`/`TO`
//!   lists) and searches (`CONTAINS`, `STARTSWITH`, `ENDSWITH`, `INDEXOF`,
//!   `CONTAINSPATTERN`) ignore letter case, like the platform's case-insensitive SQL
//!   collation; letters of the Latin, Greek and Cyrillic scripts are folded to lower
//!   case (`crate::value::fold_case`), other characters compare as they are. `CHANGED`, however,
//!   sees a change of case as a change: it reports what was stored.
//! - **Mixed types**: a date and a datetime compare as the date's midnight UTC. Text
//!   compared with a number, date or boolean is read as one (`"42" = 42` is TRUE,
//!   `"2024-06-01" = DATE(1, 6, 2024)` is TRUE); if it does not read as one, `=` is FALSE,
//!   `<>` is TRUE and ordering is an error. Values of other different kinds (a number and
//!   a date) are unequal and cannot be ordered. Arithmetic reads text as a number
//!   (`"2" * 3` is 6) and refuses text that is not one; to join text, use `&`.
//! - **Numbers** are exact decimals (`2294.99 - 1251.98` is `1043.01`); a division that
//!   does not terminate is rounded to 28 digits after the point, half away from zero.
//!   Division by zero and results beyond 38 digits are evaluation errors.
//! - **Dates** are distinct from datetimes. `date + n` and `date - n` add days (`n` a
//!   whole number), `date - date` is a number of days; `DATEDIFF` counts calendar days
//!   (UTC for datetimes).
//! - **Text forms** (`&`, `TEXT`, `CONCAT`): numbers exactly, dates `YYYY-MM-DD`,
//!   datetimes RFC 3339 UTC with `Z`, booleans `TRUE`/`FALSE`.
//! - **Positions** count characters, not bytes; `SUBSTRING` and `INDEXOF` are 0-based and
//!   `INDEXOF` gives -1 when the part is not found.
//! - **Prior state** (`CHANGED`, `CHANGEDFROM`, `CHANGEDTO`, `PRIOR`): a compile error
//!   where the usage never has one (added, deleted and schedule filters, request
//!   values). In a Records field (which also renders added records and on-demand runs), a
//!   missing prior state means nothing changed and `PRIOR` is NULL; elsewhere a missing
//!   prior state is an evaluation error.
//! - **Filters** ([`Expr::matches`]): TRUE passes; FALSE and NULL do not; any other value
//!   is an error saying the filter must be TRUE or FALSE.
//! - `CONTAINSPATTERN` patterns are SQL/VB `Like` wildcards (`pattern.rs`).

mod apply;
mod check;
mod eval;
mod func;
#[cfg(test)]
pub mod json;
mod lex;
mod parse;
mod pattern;
mod tree;
mod val;

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use crate::model::{Attribute, Problem, RenderContext, Sample, Span};
use crate::page::RowRef;
use crate::value::{Instant, Value};

/// The longest expression, in characters: 4,000 is the platform's expression field
/// (an `nvarchar(4000)` column), and it bounds compile time and the size of the tree.
pub const MAX_EXPRESSION_CHARS: usize = 4000;

/// How deeply parentheses, function calls and minus signs may nest. Hand-written
/// expressions rarely nest beyond ten; 32 keeps the recursive parser, checker and
/// evaluator within a few tens of KiB of the component's stack (1 MiB on wasm32).
pub const MAX_NESTING_DEPTH: usize = 32;

/// The most values in one `IN (...)` or value list: Oracle's long-standing limit for an
/// IN list; longer lists belong in an attribute or a related entity.
pub const MAX_LIST_ITEMS: usize = 1000;

/// The most bytes a text value may grow to while evaluating (`&`, `CONCAT`): 1 MiB, the
/// default maximum request body, so a larger value could never be sent anyway; it turns a
/// concatenation explosion into an error instead of exhausting memory.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// The most steps one `CONTAINSPATTERN` match may take: wildcard matching costs up to
/// text length × pattern length; ten million steps is about 10 ms, far above any real
/// pattern over a real value, and stops pathological ones.
pub const MAX_PATTERN_STEPS: u64 = 10_000_000;

/// Where an expression is used: decides what it may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Usage {
    /// The added-records filter: the new record, no prior state.
    Added,
    /// The updated-records filter: the new record and its prior state.
    Updated,
    /// The deleted-records filter: the deleted record (its last state), no prior state.
    Deleted,
    /// A schedule's filter: each member as it is, no prior state.
    Schedule,
    /// A header, query or Request Body value: evaluated once per request, no record.
    Request,
    /// A Records field: once per record; prior state when the record was updated.
    Record,
    /// The `evaluate` preview: prior-state functions allowed, the sample provides it.
    Preview,
}

impl Usage {
    /// Whether the expression decides which records pass, so must be TRUE or FALSE.
    fn is_filter(self) -> bool {
        matches!(
            self,
            Usage::Added | Usage::Updated | Usage::Deleted | Usage::Schedule
        )
    }

    /// Whether a prior state can exist.
    fn has_prior(self) -> bool {
        matches!(self, Usage::Updated | Usage::Record | Usage::Preview)
    }

    /// The usage in words, for messages.
    fn describe(self) -> &'static str {
        match self {
            Usage::Added => "an added-records filter",
            Usage::Updated => "an updated-records filter",
            Usage::Deleted => "a deleted-records filter",
            Usage::Schedule => "a schedule's filter",
            Usage::Request => "a header, query or Request Body value",
            Usage::Record => "a Records field",
            Usage::Preview => "a preview",
        }
    }
}

/// An expression failed while evaluating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    /// What went wrong, for the administrator.
    pub message: String,
    /// The part of the expression that failed.
    pub span: Span,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.span.line, self.span.column, self.message
        )
    }
}

impl std::error::Error for EvalError {}

/// A compiled expression: immutable, cheap to clone, shareable across threads.
#[derive(Clone, Debug)]
pub struct Expr {
    inner: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    text: Box<str>,
    root: tree::Node,
    usage: Usage,
}

/// Parse and check `text` for `usage`. Every problem has a span, severity Error and an
/// empty path for the caller to fill.
pub fn compile(text: &str, usage: Usage) -> Result<Expr, Vec<Problem>> {
    let chars = text.chars().count();
    if chars > MAX_EXPRESSION_CHARS {
        return Err(vec![
            Problem::error(
                "",
                format!(
                    "the expression is {chars} characters long; the most is {MAX_EXPRESSION_CHARS}"
                ),
            )
            .at(Span {
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
            }),
        ]);
    }
    let syn = parse::parse(text).map_err(|p| vec![p])?;
    let root = check::check(syn, usage)?;
    Ok(Expr {
        inner: Arc::new(Compiled {
            text: text.into(),
            root,
            usage,
        }),
    })
}

/// What one evaluation reads: the record, its prior state, the time and the id seed.
///
/// Cheap to create (no allocation): make one per record. `NEWGUID` numbers its ids per
/// scope, so give each record its own `id_seed` (for example the run's seed mixed with
/// the record's position) when ids must differ across records.
#[derive(Debug)]
pub struct Scope<'a> {
    /// The record.
    pub(crate) record: Record<'a>,
    /// The record before the change, when it was updated.
    pub(crate) prior: Option<Record<'a>>,
    /// The current time, for `NOW` and `TODAY`.
    pub now: Instant,
    /// The seed of `NEWGUID`.
    pub id_seed: u64,
    guids: Cell<u64>,
}

/// A record an expression reads: a member of a page (the renderer's case), or a list of
/// attributes (previews and tests).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Record<'a> {
    /// Attributes, looked up by name.
    Attributes(&'a [Attribute]),
    /// A page's member, looked up through the plan's resolution of the page.
    Row(RowRef<'a>),
}

impl<'a> Scope<'a> {
    /// A scope over `record` (and its `prior` state) at `now`, with ids from `id_seed`.
    pub fn new(
        record: &'a [Attribute],
        prior: Option<&'a [Attribute]>,
        now: Instant,
        id_seed: u64,
    ) -> Self {
        Scope::of(
            Record::Attributes(record),
            prior.map(Record::Attributes),
            now,
            id_seed,
        )
    }

    /// A scope over a page's member `record` (and its `prior` state).
    pub fn row(record: RowRef<'a>, prior: Option<RowRef<'a>>, now: Instant, id_seed: u64) -> Self {
        Scope::of(Record::Row(record), prior.map(Record::Row), now, id_seed)
    }

    fn of(record: Record<'a>, prior: Option<Record<'a>>, now: Instant, id_seed: u64) -> Self {
        Scope {
            record,
            prior,
            now,
            id_seed,
            guids: Cell::new(0),
        }
    }

    /// The next `NEWGUID`: a lowercase RFC 4122 version-4-shaped GUID, a deterministic
    /// function of the seed and how many this scope has made.
    fn next_guid(&self) -> String {
        let n = self.guids.get();
        self.guids.set(n.wrapping_add(1));
        let hi = splitmix64(self.id_seed ^ splitmix64(n));
        let lo = splitmix64(hi ^ 0xA076_1D64_78BD_642F);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

/// SplitMix64's output function: a fast, well-mixed 64-bit hash.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Expr {
    /// Evaluate over `scope`.
    pub fn eval(&self, scope: &Scope) -> Result<Value, EvalError> {
        let cx = eval::Cx {
            scope,
            usage: self.inner.usage,
        };
        eval::eval(&self.inner.root, &cx).map(val::Val::into_value)
    }

    /// Evaluate and hand the value to `write` without copying text out of the record:
    /// the renderer's path, where a Records field is usually a bare attribute.
    pub fn eval_with<R>(
        &self,
        scope: &Scope,
        write: impl FnOnce(ValueRef<'_>) -> R,
    ) -> Result<R, EvalError> {
        // The commonest field by far: one attribute, written straight from its cell.
        if let tree::Kind::Attr(a) = &self.inner.root.kind {
            return Ok(write(eval::read_ref(&scope.record, a)));
        }
        let cx = eval::Cx {
            scope,
            usage: self.inner.usage,
        };
        let v = eval::eval(&self.inner.root, &cx)?;
        Ok(write(match &v {
            val::Val::Null => ValueRef::Null,
            val::Val::Text(t) => ValueRef::Text(t),
            val::Val::Num(d) => ValueRef::Decimal(*d),
            val::Val::Bool(b) => ValueRef::Boolean(*b),
            val::Val::Date(d) => ValueRef::Date(*d),
            val::Val::DateTime(i) => ValueRef::DateTime(*i),
        }))
    }

    /// Evaluate as a filter: TRUE passes; FALSE and NULL do not; anything else is an
    /// error saying the filter must be TRUE or FALSE.
    pub fn matches(&self, scope: &Scope) -> Result<bool, EvalError> {
        let cx = eval::Cx {
            scope,
            usage: self.inner.usage,
        };
        match eval::eval(&self.inner.root, &cx)? {
            val::Val::Bool(b) => Ok(b),
            val::Val::Null => Ok(false),
            other => Err(EvalError {
                message: format!(
                    "a filter must be TRUE or FALSE, but this one gave {}; compare it with something, such as [MSRP] > 100",
                    other.describe()
                ),
                span: self.inner.root.span,
            }),
        }
    }

    /// Give each attribute reference its slot: the index of its path in `slots`, added
    /// there when new. A plan does this once for all its expressions, so that a page is
    /// resolved once per call for every expression ([`crate::page::Bound`]).
    pub fn bind(&self, slots: &mut Vec<Box<[Box<str>]>>) {
        self.inner.root.visit_attrs(&mut |a| {
            let slot = match slots.iter().position(|p| *p == a.path) {
                Some(i) => i,
                None => {
                    slots.push(a.path.clone());
                    slots.len() - 1
                }
            };
            a.slot
                .store(slot as u32, std::sync::atomic::Ordering::Relaxed);
        });
    }

    /// The text the expression was compiled from.
    pub fn text(&self) -> &str {
        &self.inner.text
    }

    /// Where the expression was compiled to be used.
    pub fn usage(&self) -> Usage {
        self.inner.usage
    }
}

/// A borrowed view of a result, for [`Expr::eval_with`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// NULL.
    Null,
    /// Text.
    Text(&'a str),
    /// A decimal.
    Decimal(crate::value::Decimal),
    /// A boolean.
    Boolean(bool),
    /// A date.
    Date(crate::value::Date),
    /// An instant.
    DateTime(Instant),
}

/// Preview over a page's rows: what the WIT `evaluate` export does. `state` and `prior`
/// are rows of `page`, checked by the caller.
pub fn evaluate_rows(
    text: &str,
    page: &crate::page::Checked,
    state: u32,
    prior: Option<u32>,
    ctx: &RenderContext,
) -> Result<Value, Problem> {
    let expr = compile_preview(text)?;
    let mut slots = Vec::new();
    expr.bind(&mut slots);
    let bound = crate::page::Bound::new(page, &slots);
    let scope = Scope::row(
        RowRef::new(page, &bound, state),
        prior.map(|p| RowRef::new(page, &bound, p)),
        ctx.now,
        ctx.id_seed,
    );
    expr.eval(&scope)
        .map_err(|e| Problem::error("expression", e.message).at(e.span))
}

fn compile_preview(text: &str) -> Result<Expr, Problem> {
    compile(text, Usage::Preview).map_err(|problems| {
        let mut first = problems
            .into_iter()
            .next()
            .unwrap_or_else(|| Problem::error("", "the expression could not be compiled"));
        first.path = "expression".into();
        first
    })
}

/// Preview: the owned form of [`evaluate_rows`]. Compiles `text` as [`Usage::Preview`]
/// and evaluates it over the sample; the first problem (path `expression`) otherwise.
pub fn evaluate(text: &str, sample: &Sample, ctx: &RenderContext) -> Result<Value, Problem> {
    let expr = compile_preview(text)?;
    let scope = Scope::new(
        &sample.record,
        sample.prior.as_deref(),
        ctx.now,
        ctx.id_seed,
    );
    expr.eval(&scope)
        .map_err(|e| Problem::error("expression", e.message).at(e.span))
}

#[cfg(test)]
mod tests;
