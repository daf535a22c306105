//! Turns expression text into tokens, each with its 1-based line/column span (columns
//! count characters, not bytes, because that is what an editor shows the user).

use crate::model::{Problem, Span};
use crate::value::Decimal;

/// An operator symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `&`
    Concat,
}

impl Op {
    /// The symbol as written.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Concat => "&",
        }
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// `[Name]`: the name between the brackets, trimmed.
    Attr(String),
    /// `"text"` or `'text'`, with doubled quotes undone.
    Text(String),
    /// A number literal.
    Number(Decimal),
    /// A word: a function name, keyword, `AND`, `OR`, `IN`, `NOT`, `TRUE`...
    Word(String),
    /// `(`
    Open,
    /// `)`
    Close,
    /// `,`
    Comma,
    /// `.` between attribute references.
    Dot,
    /// An operator.
    Op(Op),
    /// The end of the text.
    End,
}

/// A token and where it is.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    /// What it is.
    pub(crate) tok: Tok,
    /// Where it is.
    pub(crate) span: Span,
}

impl Token {
    /// The token as a user would name it in a message.
    pub(crate) fn describe(&self) -> String {
        match &self.tok {
            Tok::Attr(name) => format!("[{}]", clip(name)),
            Tok::Text(t) => format!("the text \"{}\"", clip(t)),
            Tok::Number(n) => format!("the number {n}"),
            Tok::Word(w) => format!("'{}'", clip(w)),
            Tok::Open => "'('".into(),
            Tok::Close => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Dot => "'.'".into(),
            Tok::Op(op) => format!("'{}'", op.symbol()),
            Tok::End => "the end of the expression".into(),
        }
    }

    /// Whether this token is the word `word`, in any letter case.
    pub(crate) fn is_word(&self, word: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(word))
    }
}

/// At most 40 characters of `text`, for messages (cut on a character boundary).
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// A position in the text being read.
#[derive(Clone, Copy)]
struct Pos {
    line: u32,
    column: u32,
}

/// Reads characters and keeps the line and column.
struct Reader<'t> {
    chars: std::iter::Peekable<std::str::Chars<'t>>,
    pos: Pos,
}

impl Reader<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line = self.pos.line.saturating_add(1);
            self.pos.column = 1;
        } else {
            self.pos.column = self.pos.column.saturating_add(1);
        }
        Some(c)
    }
}

/// The span from `start` to the reader's position.
fn span(start: Pos, end: Pos) -> Span {
    Span {
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
    }
}

fn error(message: String, start: Pos, end: Pos) -> Problem {
    Problem::error("", message).at(span(start, end))
}

/// Split `text` into tokens, ending with [`Tok::End`]; the first lexical error otherwise.
pub(crate) fn tokens(text: &str) -> Result<Vec<Token>, Problem> {
    let mut r = Reader {
        chars: text.chars().peekable(),
        pos: Pos { line: 1, column: 1 },
    };
    let mut out = Vec::new();
    loop {
        while r.peek().is_some_and(char::is_whitespace) {
            r.bump();
        }
        let start = r.pos;
        let Some(c) = r.bump() else {
            out.push(Token {
                tok: Tok::End,
                span: span(start, start),
            });
            return Ok(out);
        };
        let tok = match c {
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            '.' if r.peek().is_some_and(|d| d.is_ascii_digit()) => {
                return Err(error(
                    "a number must start with a digit: write 0.5 rather than .5".into(),
                    start,
                    r.pos,
                ));
            }
            '.' => Tok::Dot,
            '=' if r.peek() == Some('=') => {
                r.bump();
                return Err(error(
                    "'==' is not an operator here: write a single '=' to compare".into(),
                    start,
                    r.pos,
                ));
            }
            '=' => Tok::Op(Op::Eq),
            '!' if r.peek() == Some('=') => {
                r.bump();
                return Err(error(
                    "'!=' is not an operator here: write '<>' for \"not equal\"".into(),
                    start,
                    r.pos,
                ));
            }
            '<' => match r.peek() {
                Some('>') => {
                    r.bump();
                    Tok::Op(Op::Ne)
                }
                Some('=') => {
                    r.bump();
                    Tok::Op(Op::Le)
                }
                _ => Tok::Op(Op::Lt),
            },
            '>' if r.peek() == Some('=') => {
                r.bump();
                Tok::Op(Op::Ge)
            }
            '>' => Tok::Op(Op::Gt),
            '+' => Tok::Op(Op::Add),
            '-' => Tok::Op(Op::Sub),
            '*' => Tok::Op(Op::Mul),
            '/' => Tok::Op(Op::Div),
            '&' => Tok::Op(Op::Concat),
            '"' | '\'' => Tok::Text(quoted(&mut r, c, start)?),
            '[' => attribute(&mut r, start)?,
            ']' => {
                return Err(error(
                    "found ']' without a '[' before it: attribute names are written [Name]".into(),
                    start,
                    r.pos,
                ));
            }
            d if d.is_ascii_digit() => number(&mut r, d, start)?,
            w if w.is_alphabetic() || w == '_' => {
                let mut word = String::from(w);
                while let Some(n) = r.peek().filter(|n| n.is_alphanumeric() || *n == '_') {
                    word.push(n);
                    r.bump();
                }
                Tok::Word(word)
            }
            other => {
                return Err(error(
                    format!(
                        "the character '{other}' is not part of the expression language; text must be in quotes and attribute names in [brackets]"
                    ),
                    start,
                    r.pos,
                ));
            }
        };
        out.push(Token {
            tok,
            span: span(start, r.pos),
        });
    }
}

/// The rest of a quoted text after its opening `quote`; a doubled quote stands for one.
fn quoted(r: &mut Reader<'_>, quote: char, start: Pos) -> Result<String, Problem> {
    let mut text = String::new();
    loop {
        match r.bump() {
            Some(c) if c == quote => {
                if r.peek() == Some(quote) {
                    r.bump();
                    text.push(quote);
                } else {
                    return Ok(text);
                }
            }
            Some(c) => text.push(c),
            None => {
                return Err(error(
                    format!(
                        "the text starting here is never closed: add a closing {quote} (to put a {quote} inside the text, write it twice)"
                    ),
                    start,
                    r.pos,
                ));
            }
        }
    }
}

/// The rest of an attribute reference after its `[`.
fn attribute(r: &mut Reader<'_>, start: Pos) -> Result<Tok, Problem> {
    let mut name = String::new();
    loop {
        match r.bump() {
            Some(']') => break,
            Some('[') => {
                return Err(error(
                    "an attribute name cannot contain '[': close the previous one with ']' first"
                        .into(),
                    start,
                    r.pos,
                ));
            }
            Some(c) => name.push(c),
            None => {
                return Err(error(
                    "the attribute name starting here is never closed: add a ']'".into(),
                    start,
                    r.pos,
                ));
            }
        }
    }
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(error(
            "'[]' names no attribute: write the attribute's name between the brackets, such as [Name]".into(),
            start,
            r.pos,
        ));
    }
    Ok(Tok::Attr(trimmed.to_string()))
}

/// The rest of a number literal after its first digit.
fn number(r: &mut Reader<'_>, first: char, start: Pos) -> Result<Tok, Problem> {
    let mut text = String::from(first);
    let mut seen_point = false;
    while let Some(c) = r.peek() {
        if c.is_ascii_digit() {
            text.push(c);
        } else if c == '.' && !seen_point {
            seen_point = true;
            text.push(c);
        } else if c.is_alphanumeric() || c == '_' || c == '.' {
            r.bump();
            return Err(error(
                format!(
                    "'{}' is not a number: numbers are digits with an optional decimal point, such as 1043.01",
                    clip(&format!("{text}{c}"))
                ),
                start,
                r.pos,
            ));
        } else {
            break;
        }
        r.bump();
    }
    Decimal::parse(&text).map(Tok::Number).map_err(|_| {
        error(
            format!(
                "the number {} is too long: numbers may have at most 38 digits, 28 of them after the point",
                clip(&text)
            ),
            start,
            r.pos,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        tokens(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_cover_every_kind() {
        assert_eq!(
            kinds("[Class].[Code] <> 'a''b' & \"x\"\"y\" >= 12.50 <= ( , ) = < > + - * /"),
            vec![
                Tok::Attr("Class".into()),
                Tok::Dot,
                Tok::Attr("Code".into()),
                Tok::Op(Op::Ne),
                Tok::Text("a'b".into()),
                Tok::Op(Op::Concat),
                Tok::Text("x\"y".into()),
                Tok::Op(Op::Ge),
                Tok::Number(Decimal::parse("12.5").unwrap()),
                Tok::Op(Op::Le),
                Tok::Open,
                Tok::Comma,
                Tok::Close,
                Tok::Op(Op::Eq),
                Tok::Op(Op::Lt),
                Tok::Op(Op::Gt),
                Tok::Op(Op::Add),
                Tok::Op(Op::Sub),
                Tok::Op(Op::Mul),
                Tok::Op(Op::Div),
                Tok::End,
            ]
        );
    }

    #[test]
    fn spans_count_characters_and_lines() {
        let toks = tokens("\"é\" =\n  [Größe]").unwrap();
        assert_eq!(
            toks[0].span,
            Span {
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 4
            }
        );
        assert_eq!(toks[1].span.column, 5);
        assert_eq!(
            toks[2].span,
            Span {
                line: 2,
                column: 3,
                end_line: 2,
                end_column: 10
            }
        );
        assert_eq!(toks[3].tok, Tok::End);
        assert_eq!((toks[3].span.line, toks[3].span.column), (2, 10));
    }

    #[test]
    fn lexical_errors_are_located_and_explained() {
        for (text, column, words) in [
            ("[Name] = \"abc", 10, "never closed"),
            ("[Name", 1, "never closed"),
            ("[] = 1", 1, "names no attribute"),
            ("1 != 2", 3, "'<>'"),
            ("1 == 2", 3, "single '='"),
            ("12abc", 1, "not a number"),
            ("1.2.3", 1, "not a number"),
            ("# 1", 1, "character '#'"),
            ("a ] b", 3, "without a '['"),
            (".5", 1, "0.5"),
            ("9999999999999999999999999999999999999999", 1, "too long"),
        ] {
            let p = tokens(text).unwrap_err();
            assert_eq!(p.span.unwrap().column, column, "{text}: {}", p.message);
            assert!(p.message.contains(words), "{text}: {}", p.message);
        }
    }

    #[test]
    fn clip_cuts_long_text_on_character_boundaries() {
        let long = "é".repeat(50);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), 43);
        assert!(clipped.ends_with("..."));
        assert_eq!(clip("short"), "short");
    }
}
