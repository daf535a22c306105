//! Tokens to a syntax tree, by recursive descent with one function per precedence level.
//!
//! Precedence, tightest first: unary `-`; `* /`; `+ - &`; comparisons; `IN`/`NOT IN`;
//! `AND`; `OR`. Runs of operators of one level (`a + b - c`, `x AND y AND z`) become one
//! flat node evaluated left to right, so a long filter does not make a deep tree: the tree
//! is only as deep as the parentheses, calls and minus signs nest, which
//! [`MAX_NESTING_DEPTH`] bounds.

use super::lex::{Op, Tok, Token, tokens};
use super::{MAX_LIST_ITEMS, MAX_NESTING_DEPTH};
use crate::model::{Problem, Span};
use crate::value::Decimal;

/// A syntax tree node, before names are resolved.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Syn {
    /// What it is.
    pub(crate) kind: SynKind,
    /// Where it is, from its first to its last character.
    pub(crate) span: Span,
}

/// The kinds of syntax node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SynKind {
    /// A quoted text.
    Text(String),
    /// A number.
    Number(Decimal),
    /// `[A].[B].[C]`: the names, outermost first.
    Attr(Vec<String>),
    /// A bare word: `TRUE`, `NOW`, `DAY`, or a mistake.
    Word(String),
    /// `NAME(args)`.
    Call {
        /// The name as written.
        name: String,
        /// Where the name is.
        name_span: Span,
        /// The arguments.
        args: Vec<Syn>,
    },
    /// `(a, b, ...)` with two or more items.
    List(Vec<Syn>),
    /// `-x`.
    Neg(Box<Syn>),
    /// `first op x op y ...` for operators of one precedence level.
    Chain {
        /// The leftmost operand.
        first: Box<Syn>,
        /// Each further operator, where it is, and its right operand.
        rest: Vec<(Op, Span, Syn)>,
    },
    /// `a AND b AND ...`.
    And(Vec<Syn>),
    /// `a OR b OR ...`.
    Or(Vec<Syn>),
    /// `value [NOT] IN (items)`.
    In {
        /// The value looked for.
        value: Box<Syn>,
        /// The items.
        items: Vec<Syn>,
        /// `NOT IN`.
        negated: bool,
    },
}

/// The span from the start of `a` to the end of `b`.
pub(crate) fn join(a: Span, b: Span) -> Span {
    Span {
        line: a.line,
        column: a.column,
        end_line: b.end_line,
        end_column: b.end_column,
    }
}

/// Parse a whole expression.
pub(crate) fn parse(text: &str) -> Result<Syn, Problem> {
    let toks = tokens(text)?;
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        depth: 0,
    };
    if p.peek().tok == Tok::End {
        return Err(Problem::error(
            "",
            "the expression is empty: write a value or a condition, such as [Status] = \"Active\"",
        )
        .at(p.peek().span));
    }
    let root = p.or()?;
    if p.peek().tok != Tok::End {
        return Err(
            p.expected("an operator (such as =, +, &, AND, OR) or the end of the expression")
        );
    }
    Ok(root)
}

/// The parser's state.
struct Parser<'t> {
    toks: &'t [Token],
    pos: usize,
    depth: usize,
}

/// A token standing for the end, should the list ever be empty.
static END: Token = Token {
    tok: Tok::End,
    span: Span {
        line: 1,
        column: 1,
        end_line: 1,
        end_column: 1,
    },
};

impl<'t> Parser<'t> {
    fn peek(&self) -> &'t Token {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .unwrap_or(&END)
    }

    fn peek2(&self) -> &'t Token {
        self.toks
            .get(self.pos + 1)
            .or_else(|| self.toks.last())
            .unwrap_or(&END)
    }

    fn bump(&mut self) -> &'t Token {
        let t = self.peek();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    /// "expected `what` after X but found Y", located at the unexpected token.
    fn expected(&self, what: &str) -> Problem {
        let found = self.peek();
        let after = match self.pos.checked_sub(1).and_then(|i| self.toks.get(i)) {
            Some(prev) => format!(" after {}", prev.describe()),
            None => String::new(),
        };
        let message = match found.tok {
            Tok::End => format!("expected {what}{after} but the expression ends here"),
            _ => format!("expected {what}{after} but found {}", found.describe()),
        };
        Problem::error("", message).at(found.span)
    }

    /// Enter one more level of nesting, or fail when that is too deep.
    fn enter(&mut self) -> Result<(), Problem> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(Problem::error(
                "",
                format!(
                    "the expression nests more than {MAX_NESTING_DEPTH} levels deep (parentheses, function calls and minus signs inside one another); split it or simplify it"
                ),
            )
            .at(self.peek().span));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn or(&mut self) -> Result<Syn, Problem> {
        let first = self.and()?;
        if !self.peek().is_word("OR") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek().is_word("OR") {
            self.bump();
            items.push(self.and()?);
        }
        Ok(Syn {
            span: join(items[0].span, items[items.len() - 1].span),
            kind: SynKind::Or(items),
        })
    }

    fn and(&mut self) -> Result<Syn, Problem> {
        let first = self.in_()?;
        if !self.peek().is_word("AND") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek().is_word("AND") {
            self.bump();
            items.push(self.in_()?);
        }
        Ok(Syn {
            span: join(items[0].span, items[items.len() - 1].span),
            kind: SynKind::And(items),
        })
    }

    fn in_(&mut self) -> Result<Syn, Problem> {
        let value = self.chain(Level::Compare)?;
        let negated = if self.peek().is_word("IN") {
            false
        } else if self.peek().is_word("NOT") && self.peek2().is_word("IN") {
            self.bump();
            true
        } else {
            return Ok(value);
        };
        self.bump();
        if self.peek().tok != Tok::Open {
            return Err(self.expected("'(' and the values to look for, such as IN (\"S\", \"M\"),"));
        }
        self.bump();
        self.enter()?;
        let mut items = Vec::new();
        loop {
            if items.len() >= MAX_LIST_ITEMS {
                return Err(Problem::error(
                    "",
                    format!("a list may hold at most {MAX_LIST_ITEMS} values; split it with OR"),
                )
                .at(self.peek().span));
            }
            items.push(self.or()?);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::Close => break,
                _ => return Err(self.expected("',' or ')' in the list of values")),
            }
        }
        let close = self.bump();
        self.leave();
        Ok(Syn {
            span: join(value.span, close.span),
            kind: SynKind::In {
                value: Box::new(value),
                items,
                negated,
            },
        })
    }

    fn chain(&mut self, level: Level) -> Result<Syn, Problem> {
        let first = match level.tighter() {
            Some(t) => self.chain(t)?,
            None => self.unary()?,
        };
        let mut rest = Vec::new();
        while let Tok::Op(op) = self.peek().tok {
            if !level.has(op) {
                break;
            }
            let op_span = self.bump().span;
            let right = match level.tighter() {
                Some(t) => self.chain(t)?,
                None => self.unary()?,
            };
            rest.push((op, op_span, right));
        }
        Ok(match rest.last() {
            None => first,
            Some((_, _, last)) => Syn {
                span: join(first.span, last.span),
                kind: SynKind::Chain {
                    first: Box::new(first),
                    rest,
                },
            },
        })
    }

    fn unary(&mut self) -> Result<Syn, Problem> {
        if self.peek().tok == Tok::Op(Op::Sub) {
            let minus = self.bump().span;
            self.enter()?;
            let operand = self.unary()?;
            self.leave();
            return Ok(match operand.kind {
                // A negative number literal is a constant, not an operation.
                SynKind::Number(n) if n.checked_neg().is_some() => Syn {
                    kind: SynKind::Number(n.checked_neg().unwrap_or(n)),
                    span: join(minus, operand.span),
                },
                _ => Syn {
                    span: join(minus, operand.span),
                    kind: SynKind::Neg(Box::new(operand)),
                },
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Syn, Problem> {
        let t = self.peek();
        match &t.tok {
            Tok::Number(n) => {
                self.bump();
                Ok(Syn {
                    kind: SynKind::Number(*n),
                    span: t.span,
                })
            }
            Tok::Text(s) => {
                self.bump();
                Ok(Syn {
                    kind: SynKind::Text(s.clone()),
                    span: t.span,
                })
            }
            Tok::Attr(name) => {
                self.bump();
                let mut path = vec![name.clone()];
                let mut end = t.span;
                while self.peek().tok == Tok::Dot {
                    self.bump();
                    match &self.peek().tok {
                        Tok::Attr(next) => {
                            path.push(next.clone());
                            end = self.bump().span;
                        }
                        _ => {
                            return Err(
                                self.expected("an attribute name in brackets, such as [Code],")
                            );
                        }
                    }
                }
                Ok(Syn {
                    kind: SynKind::Attr(path),
                    span: join(t.span, end),
                })
            }
            Tok::Word(w) if self.peek2().tok == Tok::Open => {
                self.bump();
                self.bump();
                self.enter()?;
                let mut args = Vec::new();
                if self.peek().tok != Tok::Close {
                    loop {
                        args.push(self.or()?);
                        match self.peek().tok {
                            Tok::Comma => {
                                self.bump();
                            }
                            Tok::Close => break,
                            _ => {
                                return Err(self.expected(&format!(
                                    "',' or ')' in the arguments of {}",
                                    w.to_ascii_uppercase()
                                )));
                            }
                        }
                    }
                }
                let close = self.bump();
                self.leave();
                Ok(Syn {
                    kind: SynKind::Call {
                        name: w.clone(),
                        name_span: t.span,
                        args,
                    },
                    span: join(t.span, close.span),
                })
            }
            Tok::Word(w)
                if ["AND", "OR", "IN", "NOT"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                Err(Problem::error(
                    "",
                    format!(
                        "'{w}' is in the wrong place: {} needs a value or condition before it",
                        w.to_ascii_uppercase()
                    ),
                )
                .at(t.span))
            }
            Tok::Word(w) => {
                self.bump();
                Ok(Syn {
                    kind: SynKind::Word(w.clone()),
                    span: t.span,
                })
            }
            Tok::Open => {
                self.bump();
                self.enter()?;
                let mut items = vec![self.or()?];
                loop {
                    match self.peek().tok {
                        Tok::Comma => {
                            self.bump();
                            if items.len() >= MAX_LIST_ITEMS {
                                return Err(Problem::error(
                                    "",
                                    format!("a list may hold at most {MAX_LIST_ITEMS} values"),
                                )
                                .at(self.peek().span));
                            }
                            items.push(self.or()?);
                        }
                        Tok::Close => break,
                        _ => return Err(self.expected("')' to close the '('")),
                    }
                }
                let close = self.bump();
                self.leave();
                let span = join(t.span, close.span);
                Ok(if items.len() == 1 {
                    let mut inner = items.remove(0);
                    inner.span = span;
                    inner
                } else {
                    Syn {
                        kind: SynKind::List(items),
                        span,
                    }
                })
            }
            _ => {
                let mut problem = self.expected("a value");
                problem.message.push_str(
                    " (a value is a number, \"text\" in quotes, an [attribute], a function or an expression in parentheses)",
                );
                Err(problem)
            }
        }
    }
}

/// The binary precedence levels, loosest first.
#[derive(Clone, Copy)]
enum Level {
    Compare,
    Additive,
    Multiplicative,
}

impl Level {
    fn tighter(self) -> Option<Level> {
        match self {
            Level::Compare => Some(Level::Additive),
            Level::Additive => Some(Level::Multiplicative),
            Level::Multiplicative => None,
        }
    }

    fn has(self, op: Op) -> bool {
        match self {
            Level::Compare => matches!(op, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le),
            Level::Additive => matches!(op, Op::Add | Op::Sub | Op::Concat),
            Level::Multiplicative => matches!(op, Op::Mul | Op::Div),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree in a compact prefix form, to assert shapes and precedence.
    fn shape(s: &Syn) -> String {
        let list = |v: &[Syn]| v.iter().map(shape).collect::<Vec<_>>().join(" ");
        match &s.kind {
            SynKind::Text(t) => format!("{t:?}"),
            SynKind::Number(n) => n.to_string(),
            SynKind::Attr(p) => p
                .iter()
                .map(|n| format!("[{n}]"))
                .collect::<Vec<_>>()
                .join("."),
            SynKind::Word(w) => w.clone(),
            SynKind::Call { name, args, .. } => format!("{name}({})", list(args)),
            SynKind::List(items) => format!("list({})", list(items)),
            SynKind::Neg(x) => format!("(neg {})", shape(x)),
            SynKind::Chain { first, rest } => {
                let mut out = format!("({}", shape(first));
                for (op, _, r) in rest {
                    out.push_str(&format!(" {} {}", op.symbol(), shape(r)));
                }
                out + ")"
            }
            SynKind::And(v) => format!("(and {})", list(v)),
            SynKind::Or(v) => format!("(or {})", list(v)),
            SynKind::In {
                value,
                items,
                negated,
            } => {
                format!(
                    "({}in {} {})",
                    if *negated { "not " } else { "" },
                    shape(value),
                    list(items)
                )
            }
        }
    }

    fn p(text: &str) -> String {
        shape(&parse(text).unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    #[test]
    fn precedence_follows_the_design() {
        assert_eq!(p("1 + 2 * 3"), "(1 + (2 * 3))");
        assert_eq!(p("1 * 2 + 3 & \"x\""), "((1 * 2) + 3 & \"x\")");
        assert_eq!(p("[A] + 1 > [B] * 2"), "(([A] + 1) > ([B] * 2))");
        assert_eq!(p("[A] = 1 IN (TRUE)"), "(in ([A] = 1) TRUE)");
        assert_eq!(
            p("[A] = 1 OR [B] = 2 AND [C] = 3"),
            "(or ([A] = 1) (and ([B] = 2) ([C] = 3)))"
        );
        assert_eq!(p("a or b And c"), "(or a (and b c))");
        assert_eq!(p("(1 + 2) * 3"), "((1 + 2) * 3)");
        assert_eq!(p("-[A] - -2"), "((neg [A]) - -2)");
    }

    #[test]
    fn attributes_calls_lists_and_in_parse() {
        assert_eq!(p("[A].[B].[Name]"), "[A].[B].[Name]");
        assert_eq!(
            p("[Size].[Code] not in ('S', 'M')"),
            "(not in [Size].[Code] \"S\" \"M\")"
        );
        assert_eq!(p("[X] IN (1)"), "(in [X] 1)");
        assert_eq!(p("left([Code], 2)"), "left([Code] 2)");
        assert_eq!(p("NOW"), "NOW");
        assert_eq!(p("F()"), "F()");
        assert_eq!(
            p("CHANGEDFROM([S], (\"a\", \"b\"))"),
            "CHANGEDFROM([S] list(\"a\" \"b\"))"
        );
    }

    #[test]
    fn spans_cover_the_whole_node() {
        let s = parse("  [A].[B] +\n LEFT(x, 2)").unwrap();
        assert_eq!(
            s.span,
            Span {
                line: 1,
                column: 3,
                end_line: 2,
                end_column: 12
            }
        );
    }

    #[test]
    fn parse_errors_say_what_was_expected_and_where() {
        for (text, column, words) in [
            (
                "[MSRP] >",
                9,
                "expected a value after '>' but the expression ends here",
            ),
            ("", 1, "empty"),
            ("[A] = 1 2", 9, "expected an operator"),
            ("(1 + 2", 7, "')' to close"),
            ("LEFT([A], 2", 12, "in the arguments of LEFT"),
            ("[A] IN \"x\"", 8, "'(' and the values"),
            ("[A] IN (1 2)", 11, "',' or ')'"),
            ("[A].Name", 5, "attribute name in brackets"),
            ("1 + * 2", 5, "expected a value after '+' but found '*'"),
            (")", 1, "found ')'"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.span.unwrap().column, column, "{text:?}: {}", e.message);
            assert!(e.message.contains(words), "{text:?}: {}", e.message);
        }
    }

    #[test]
    fn long_flat_chains_are_not_deep() {
        let text = vec!["[A] = 1"; 500].join(" AND ");
        match parse(&text).unwrap().kind {
            SynKind::And(items) => assert_eq!(items.len(), 500),
            other => panic!("{other:?}"),
        }
    }
}
