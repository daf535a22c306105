//! Resolves a syntax tree into the evaluated tree, finding at compile time every mistake
//! that does not depend on a record: unknown functions and words (with a "did you mean"),
//! argument counts, keywords where values belong and the reverse, attribute references
//! where the usage has no record, prior-state functions where it has no prior state,
//! values of the wrong type where the type is known, and constant sub-expressions that
//! would fail (`DATE(31, 2, 2024)`, `1 / 0`). Constant sub-expressions are evaluated once
//! here, so `DATE(1, 1, 2024)` costs nothing per record.

use std::sync::atomic::{AtomicU32, AtomicUsize};

use super::eval::{self, Cx};
use super::func::{self, FUNCTIONS, Func, Kw, Param, Ty};
use super::lex::{Op, clip};
use super::parse::{Syn, SynKind};
use super::pattern::Pattern;
use super::tree::{AttrRef, Kind, Node, UNBOUND};
use super::val;
use super::{Scope, Usage};
use crate::model::{Problem, Span};
use crate::value::{Decimal, Instant, Value};

/// The system attributes, as spelled in messages and looked up in records.
pub(crate) const SYSTEM_ATTRIBUTES: &[&str] = &[
    "$EnterDTM",
    "$EnterUserName",
    "$LastChgDTM",
    "$LastChgUserName",
];

/// The bare words that are values.
const VALUE_WORDS: &[&str] = &["TRUE", "FALSE", "NULL", "NOW", "TODAY", "NEWGUID"];

/// A checked node with what compile time knows about it.
struct Typed {
    node: Node,
    ty: Ty,
    /// No attribute, prior state, clock or id generator below: it can be folded.
    pure: bool,
}

impl Typed {
    fn new(kind: Kind, span: Span, ty: Ty, pure: bool) -> Typed {
        Typed {
            node: Node { kind, span },
            ty,
            pure,
        }
    }
}

/// Check `syn` for `usage`: the evaluated tree, or every problem found.
pub(crate) fn check(syn: Syn, usage: Usage) -> Result<Node, Vec<Problem>> {
    let mut c = Checker {
        usage,
        problems: Vec::new(),
    };
    let root = c.value(syn);
    if usage.is_filter() && !matches!(root.ty, Ty::Bool | Ty::Null | Ty::Any) {
        c.problem(
            format!(
                "a filter must be a condition that is TRUE or FALSE, but this expression gives {}; compare it with something, such as [MSRP] > 100",
                root.ty.name()
            ),
            root.node.span,
        );
    }
    if c.problems.is_empty() {
        Ok(root.node)
    } else {
        Err(c.problems)
    }
}

struct Checker {
    usage: Usage,
    problems: Vec<Problem>,
}

impl Checker {
    fn problem(&mut self, message: String, span: Span) {
        self.problems.push(Problem::error("", message).at(span));
    }

    /// A placeholder after a problem, so checking goes on and finds the others.
    fn broken(span: Span) -> Typed {
        Typed::new(Kind::Const(Value::Null), span, Ty::Any, false)
    }

    /// Check a node in a value position.
    fn value(&mut self, syn: Syn) -> Typed {
        let span = syn.span;
        let problems_before = self.problems.len();
        let typed = match syn.kind {
            SynKind::Text(t) => Typed::new(Kind::Const(Value::Text(t)), span, Ty::Text, true),
            SynKind::Number(n) => {
                Typed::new(Kind::Const(Value::Decimal(n)), span, Ty::Number, true)
            }
            SynKind::Attr(path) => self.attribute(path, span),
            SynKind::Word(w) => self.word(&w, span),
            SynKind::Call {
                name,
                name_span,
                args,
            } => self.call(&name, name_span, args, span),
            SynKind::List(items) => {
                for item in items {
                    self.value(item);
                }
                self.problem(
                    "a list of values in parentheses can only follow IN, as in [Size] IN (\"S\", \"M\"), or be the last argument of CHANGEDFROM or CHANGEDTO".into(),
                    span,
                );
                Checker::broken(span)
            }
            SynKind::Neg(x) => {
                let x = self.value(*x);
                self.numeric(&x, "'-' (minus)");
                let pure = x.pure;
                Typed::new(Kind::Neg(Box::new(x.node)), span, Ty::Number, pure)
            }
            SynKind::Chain { first, rest } => self.chain(*first, rest, span),
            SynKind::And(items) | SynKind::Or(items) if items.is_empty() => Checker::broken(span),
            SynKind::And(items) => {
                let (nodes, pure) = self.conditions(items, "AND");
                Typed::new(Kind::And(nodes), span, Ty::Bool, pure)
            }
            SynKind::Or(items) => {
                let (nodes, pure) = self.conditions(items, "OR");
                Typed::new(Kind::Or(nodes), span, Ty::Bool, pure)
            }
            SynKind::In {
                value,
                items,
                negated,
            } => {
                let value = self.value(*value);
                let mut pure = value.pure;
                let items: Box<[Node]> = items
                    .into_iter()
                    .map(|i| {
                        let t = self.value(i);
                        pure &= t.pure;
                        t.node
                    })
                    .collect();
                Typed::new(
                    Kind::In {
                        value: Box::new(value.node),
                        items,
                        negated,
                    },
                    span,
                    Ty::Bool,
                    pure,
                )
            }
        };
        // A node with a problem already reported is not evaluated: that would report the
        // same mistake twice.
        if self.problems.len() > problems_before {
            return typed;
        }
        self.fold(typed)
    }

    /// Evaluate a pure, not yet constant node now: its value, or its error as a problem.
    fn fold(&mut self, t: Typed) -> Typed {
        if !t.pure || matches!(t.node.kind, Kind::Const(_)) {
            return t;
        }
        // Constant nodes read neither the record nor the time.
        let epoch = Instant {
            seconds: 0,
            nanoseconds: 0,
        };
        let scope = Scope::new(&[], None, epoch, 0);
        let cx = Cx {
            scope: &scope,
            usage: Usage::Preview,
        };
        match eval::eval(&t.node, &cx) {
            Ok(v) => {
                let value = v.into_value();
                Typed::new(Kind::Const(value), t.node.span, t.ty, true)
            }
            Err(e) => {
                self.problem(e.message, e.span);
                Checker::broken(t.node.span)
            }
        }
    }

    fn attribute(&mut self, path: Vec<String>, span: Span) -> Typed {
        if self.usage == Usage::Request {
            self.problem(
                format!(
                    "headers, the query string and Request Body values are worked out once per request, not per record, so they cannot read the attribute [{}]; use it in a Records field instead",
                    clip(&path.join("].["))
                ),
                span,
            );
            return Checker::broken(span);
        }
        let mut ty = Ty::Any;
        let mut names: Vec<Box<str>> = Vec::with_capacity(path.len());
        for name in &path {
            if name.starts_with('$') {
                let known = SYSTEM_ATTRIBUTES
                    .iter()
                    .find(|s| s.eq_ignore_ascii_case(name));
                match known {
                    Some(s) if path.len() == 1 => {
                        ty = if s.ends_with("DTM") { Ty::DateTime } else { Ty::Text };
                        names.push((*s).into());
                        continue;
                    }
                    Some(_) => self.problem(
                        format!("the system attribute [{name}] belongs to the record itself: write it alone, not after '.'"),
                        span,
                    ),
                    None => self.problem(
                        format!(
                            "[{}] is not a system attribute; the system attributes are [{}]",
                            clip(name),
                            SYSTEM_ATTRIBUTES.join("], [")
                        ),
                        span,
                    ),
                }
                return Checker::broken(span);
            }
            names.push(name.as_str().into());
        }
        let attr = AttrRef {
            path: names.into(),
            hint: AtomicUsize::new(0),
            slot: AtomicU32::new(UNBOUND),
        };
        Typed::new(Kind::Attr(attr), span, ty, false)
    }

    fn word(&mut self, w: &str, span: Span) -> Typed {
        let upper = w.to_ascii_uppercase();
        match upper.as_str() {
            "TRUE" => return Typed::new(Kind::Const(Value::Boolean(true)), span, Ty::Bool, true),
            "FALSE" => {
                return Typed::new(Kind::Const(Value::Boolean(false)), span, Ty::Bool, true);
            }
            "NULL" => return Typed::new(Kind::Const(Value::Null), span, Ty::Null, true),
            "NOW" => return Typed::new(Kind::Now, span, Ty::DateTime, false),
            "TODAY" => return Typed::new(Kind::Today, span, Ty::Date, false),
            "NEWGUID" => return Typed::new(Kind::NewGuid, span, Ty::Text, false),
            "AND" | "OR" | "IN" | "NOT" => {
                self.problem(
                    format!(
                        "'{w}' is in the wrong place: {} needs a value or condition before it",
                        upper
                    ),
                    span,
                );
                return Checker::broken(span);
            }
            _ => {}
        }
        if let Some(kw) = func::keyword(w) {
            let owner = if matches!(kw, Kw::Day | Kw::Month | Kw::Year) {
                "DATEADD's last argument, as in DATEADD([SellStartDate], 30, DAY)"
            } else {
                "RELATIVEDATE's last argument, as in RELATIVEDATE(TODAY, StartOfMonth)"
            };
            self.problem(
                format!(
                    "{} is a keyword that can only be {owner}",
                    func::keyword_name(kw)
                ),
                span,
            );
        } else if let Some(spec) = func::spec(w) {
            self.problem(
                format!(
                    "{} is a function: write it with its arguments in parentheses, {}",
                    spec.name,
                    spec.signature()
                ),
                span,
            );
        } else {
            let hint = suggest(w).map_or(String::new(), |s| format!("did you mean {s}? "));
            self.problem(
                format!(
                    "unknown word '{}': {hint}text must be in quotes (\"{}\") and attribute names in brackets ([{}])",
                    clip(w),
                    clip(w),
                    clip(w)
                ),
                span,
            );
        }
        Checker::broken(span)
    }

    fn call(&mut self, name: &str, name_span: Span, args: Vec<Syn>, span: Span) -> Typed {
        let Some(spec) = func::spec(name) else {
            let upper = name.to_ascii_uppercase();
            let message = if VALUE_WORDS.contains(&upper.as_str()) {
                format!("{upper} is written without parentheses: write just {upper}")
            } else {
                match suggest(name) {
                    Some(s) => format!("unknown function {}: did you mean {s}?", clip(name)),
                    None => format!(
                        "unknown function {}; the functions are {}",
                        clip(name),
                        FUNCTIONS
                            .iter()
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            };
            self.problem(message, name_span);
            for a in args {
                self.value(a);
            }
            return Checker::broken(span);
        };
        let n = args.len();
        if n < spec.min || spec.max().is_some_and(|m| n > m) {
            let wanted = match spec.max() {
                Some(m) if m == spec.min => format!("{m}"),
                Some(m) => format!("{} to {m}", spec.min),
                None => format!("at least {}", spec.min),
            };
            self.problem(
                format!(
                    "{} takes {wanted} argument{}, but {} {} given: write {}",
                    spec.name,
                    if wanted == "1" { "" } else { "s" },
                    n,
                    if n == 1 { "is" } else { "are" },
                    spec.signature()
                ),
                span,
            );
            return Checker::broken(span);
        }
        if spec.func.reads_prior() && !self.usage.has_prior() {
            self.problem(
                format!(
                    "{} reads the record's state before the change, and {} has none; use it in the updated-records filter or a Records field",
                    spec.name,
                    self.usage.describe()
                ),
                name_span,
            );
        }
        let mut pure = !spec.func.reads_prior();
        let mut nodes = Vec::with_capacity(n);
        let mut tys = Vec::with_capacity(n);
        for (i, arg) in args.into_iter().enumerate() {
            let (pname, param) = spec.params[i.min(spec.params.len() - 1)];
            let arg_span = arg.span;
            let ordinal = ordinal(i);
            match param {
                Param::Keyword(allowed) => {
                    let kw = match &arg.kind {
                        SynKind::Word(w) => func::keyword(w).filter(|k| allowed.contains(k)),
                        _ => None,
                    };
                    match kw {
                        Some(k) => nodes.push(Node {
                            kind: Kind::Keyword(k),
                            span: arg_span,
                        }),
                        None => {
                            let names: Vec<&str> =
                                allowed.iter().map(|k| func::keyword_name(*k)).collect();
                            self.problem(
                                format!(
                                    "{}'s {ordinal} argument must be one of the words {} (without quotes)",
                                    spec.name,
                                    names.join(", ")
                                ),
                                arg_span,
                            );
                            nodes.push(Checker::broken(arg_span).node);
                        }
                    }
                    tys.push(Ty::Any);
                }
                Param::Attr => {
                    if let SynKind::Attr(_) = arg.kind {
                        let t = self.value(arg);
                        tys.push(t.ty);
                        nodes.push(t.node);
                    } else {
                        self.problem(
                            format!(
                                "{}'s {ordinal} argument must be an attribute such as [Status], because it compares the attribute's values before and after the change",
                                spec.name
                            ),
                            arg_span,
                        );
                        nodes.push(Checker::broken(arg_span).node);
                        tys.push(Ty::Any);
                    }
                }
                Param::ValueOrList => {
                    if let SynKind::List(items) = arg.kind {
                        let items: Box<[Node]> =
                            items.into_iter().map(|i| self.value(i).node).collect();
                        nodes.push(Node {
                            kind: Kind::List(items),
                            span: arg_span,
                        });
                        tys.push(Ty::Any);
                    } else {
                        let t = self.value(arg);
                        pure &= t.pure;
                        tys.push(t.ty);
                        nodes.push(t.node);
                    }
                }
                Param::Value(want) => {
                    let t = self.value(arg);
                    let what = format!("{}'s {ordinal} argument ({pname})", spec.name);
                    match want {
                        Ty::Number => self.numeric(&t, &what),
                        Ty::Date => self.date(&t, &what),
                        Ty::Bool => self.condition(&t, &what),
                        _ => {}
                    }
                    pure &= t.pure;
                    tys.push(t.ty);
                    nodes.push(t.node);
                }
            }
        }
        if spec.func == Func::ContainsPattern
            && let Some(Node {
                kind: Kind::Const(Value::Text(p)),
                span,
            }) = nodes.get(1)
            && let Err(m) = Pattern::compile(p)
        {
            self.problem(m, *span);
        }
        let ty = match spec.func {
            Func::DateAdd => match tys.first() {
                Some(Ty::Date) => Ty::Date,
                Some(Ty::DateTime) => Ty::DateTime,
                _ => Ty::Any,
            },
            Func::If => match (tys.get(1), tys.get(2)) {
                (Some(a), Some(b)) if a == b => *a,
                (Some(a), None) => *a,
                _ => Ty::Any,
            },
            _ => spec.ret,
        };
        Typed::new(
            Kind::Call {
                func: spec.func,
                args: nodes.into(),
            },
            span,
            ty,
            pure,
        )
    }

    fn chain(&mut self, first: Syn, rest: Vec<(Op, Span, Syn)>, span: Span) -> Typed {
        let first = self.value(first);
        let mut pure = first.pure;
        let mut ty = first.ty;
        let mut may_be_date = matches!(
            first.ty,
            Ty::Date | Ty::DateTime | Ty::Any | Ty::NumberOrDate
        );
        if let Some((op, _, _)) = rest.first()
            && is_arithmetic(*op)
        {
            self.arith_operand(&first, *op);
        }
        let mut out = Vec::with_capacity(rest.len());
        for (op, op_span, syn) in rest {
            let right = self.value(syn);
            pure &= right.pure;
            if is_arithmetic(op) {
                self.arith_operand(&right, op);
                may_be_date |= matches!(
                    right.ty,
                    Ty::Date | Ty::DateTime | Ty::Any | Ty::NumberOrDate
                );
                ty = if matches!(op, Op::Add | Op::Sub) && may_be_date {
                    Ty::NumberOrDate
                } else {
                    Ty::Number
                };
            } else if op == Op::Concat {
                ty = Ty::Text;
            } else {
                ty = Ty::Bool;
            }
            out.push((op, op_span, right.node));
        }
        Typed::new(
            Kind::Chain {
                first: Box::new(first.node),
                rest: out.into(),
            },
            span,
            ty,
            pure,
        )
    }

    /// Report an arithmetic operand that can never work with `op`.
    fn arith_operand(&mut self, t: &Typed, op: Op) {
        let what = format!("'{}'", op.symbol());
        let bad = match t.ty {
            Ty::Bool => true,
            Ty::Date | Ty::DateTime => matches!(op, Op::Mul | Op::Div),
            Ty::Text => !numeric_text(&t.node),
            _ => false,
        };
        if bad {
            let hint = if op == Op::Add && t.ty == Ty::Text {
                "; to join text use &"
            } else {
                ""
            };
            self.problem(
                format!(
                    "{what} works on numbers{}, but this is {}{hint}",
                    if matches!(op, Op::Add | Op::Sub) {
                        " (or adds days to a date)"
                    } else {
                        ""
                    },
                    t.ty.name()
                ),
                t.node.span,
            );
        }
    }

    /// Report a value that can never be a number.
    fn numeric(&mut self, t: &Typed, what: &str) {
        let bad = match t.ty {
            Ty::Bool | Ty::Date | Ty::DateTime => true,
            Ty::Text => !numeric_text(&t.node),
            _ => false,
        };
        if bad {
            self.problem(
                format!("{what} must be a number, but this is {}", t.ty.name()),
                t.node.span,
            );
        }
    }

    /// Report a value that can never be a date.
    fn date(&mut self, t: &Typed, what: &str) {
        let bad = match t.ty {
            Ty::Bool | Ty::Number => true,
            Ty::Text => match &t.node.kind {
                Kind::Const(Value::Text(s)) => val::parse_date_like(s.trim()).is_none(),
                _ => false,
            },
            _ => false,
        };
        if bad {
            self.problem(
                format!(
                    "{what} must be a date, but this is {}; build one with DATE(day, month, year) or TODATE(\"YYYY-MM-DD\")",
                    t.ty.name()
                ),
                t.node.span,
            );
        }
    }

    /// Report a value that can never be TRUE or FALSE.
    fn condition(&mut self, t: &Typed, what: &str) {
        if !matches!(t.ty, Ty::Bool | Ty::Null | Ty::Any) {
            self.problem(
                format!(
                    "{what} must be a condition that is TRUE or FALSE, but this is {}",
                    t.ty.name()
                ),
                t.node.span,
            );
        }
    }

    fn conditions(&mut self, items: Vec<Syn>, op: &str) -> (Box<[Node]>, bool) {
        let mut pure = true;
        let nodes = items
            .into_iter()
            .map(|i| {
                let t = self.value(i);
                self.condition(&t, &format!("each side of {op}"));
                pure &= t.pure;
                t.node
            })
            .collect();
        (nodes, pure)
    }
}

fn is_arithmetic(op: Op) -> bool {
    matches!(op, Op::Add | Op::Sub | Op::Mul | Op::Div)
}

/// Whether a text node could be read as a number (a constant that parses, or unknown).
fn numeric_text(node: &Node) -> bool {
    match &node.kind {
        Kind::Const(Value::Text(s)) => Decimal::parse(s.trim()).is_ok(),
        _ => true,
    }
}

fn ordinal(i: usize) -> &'static str {
    [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
    ]
    .get(i)
    .copied()
    .unwrap_or("next")
}

/// The known name closest to `word`: a function, value word or keyword at most a third of
/// its length away in edits (at least one), or one that starts with it.
pub(crate) fn suggest(word: &str) -> Option<String> {
    let upper = word.to_ascii_uppercase();
    let names = FUNCTIONS
        .iter()
        .map(|s| s.name)
        .chain(VALUE_WORDS.iter().copied())
        .chain(func::KEYWORDS.iter().map(|(n, _)| *n));
    let mut best: Option<(usize, &str)> = None;
    for name in names {
        let d = distance(&upper, &name.to_ascii_uppercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, name));
        }
    }
    let limit = (upper.chars().count() / 3).max(1);
    if let Some((d, name)) = best
        && d <= limit
    {
        return Some(name.to_string());
    }
    if upper.chars().count() >= 3 {
        return FUNCTIONS
            .iter()
            .find(|s| s.name.starts_with(&upper))
            .map(|s| s.name.to_string());
    }
    None
}

/// Levenshtein distance between two texts, by characters (only run on short names).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_near_names() {
        assert_eq!(suggest("CONTAIN").as_deref(), Some("CONTAINS"));
        assert_eq!(suggest("dateadd2").as_deref(), Some("DATEADD"));
        assert_eq!(suggest("LEN").as_deref(), Some("LENGTH"));
        assert_eq!(suggest("SUBSTR").as_deref(), Some("SUBSTRING"));
        assert_eq!(suggest("startofmonht").as_deref(), Some("StartOfMonth"));
        assert_eq!(suggest("FOO"), None);
        assert_eq!(suggest("Zebra"), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
