//! `CONTAINSPATTERN`'s wildcard patterns, as SQL/VB `Like` writes them (no regex crate:
//! the component stays small and a pattern can never be exponential).
//!
//! - `*` any run of characters, including none;
//! - `?` exactly one character;
//! - `#` exactly one digit `0`-`9`;
//! - `[abc]` one of the listed characters, `[a-z]` one in the range, `[!abc]` or `[!a-z]`
//!   one character not listed; inside brackets `*`, `?` and `#` stand for themselves;
//! - any other character stands for itself.
//!
//! `CONTAINSPATTERN` is true when the text *contains* a match of the pattern, as its name
//! says: `"M68"` is found in `BK-M68B-42`, `"-##"` in any text with a dash and two digits
//! (to test a whole text, compare it with `=`, or use `STARTSWITH`/`ENDSWITH`). Letters
//! match in any case, like every text comparison here.

use super::MAX_PATTERN_STEPS;
use super::val::fold;

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Piece {
    /// `*`
    Any,
    /// `?`
    One,
    /// `#`
    Digit,
    /// `[...]`: inclusive ranges (a single character is a range of one), case-folded.
    Class {
        /// `[!...]`
        negated: bool,
        /// The ranges.
        ranges: Vec<(char, char)>,
    },
    /// A literal character, case-folded.
    Char(char),
}

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pattern(Vec<Piece>);

impl Pattern {
    /// Compile `text`, or say what is wrong with it.
    pub(crate) fn compile(text: &str) -> Result<Pattern, String> {
        let mut pieces = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            pieces.push(match c {
                '*' => {
                    // Runs of `*` mean the same as one.
                    if pieces.last() == Some(&Piece::Any) {
                        continue;
                    }
                    Piece::Any
                }
                '?' => Piece::One,
                '#' => Piece::Digit,
                '[' => {
                    let mut negated = false;
                    let mut members = Vec::new();
                    let mut closed = false;
                    for m in chars.by_ref() {
                        if m == ']' {
                            closed = true;
                            break;
                        }
                        if m == '!' && members.is_empty() && !negated {
                            negated = true;
                        } else {
                            members.push(fold(m));
                        }
                    }
                    if !closed {
                        return Err("the pattern has a '[' that is never closed with ']'".into());
                    }
                    if members.is_empty() {
                        return Err("the pattern has an empty '[]': list the characters to match, such as [abc] or [a-z]".into());
                    }
                    let mut ranges = Vec::new();
                    let mut i = 0;
                    while i < members.len() {
                        match (members.get(i + 1), members.get(i + 2)) {
                            (Some('-'), Some(&hi)) => {
                                let lo = members[i];
                                if hi < lo {
                                    return Err(format!(
                                        "the pattern's range [{lo}-{hi}] is backwards: write the lower character first"
                                    ));
                                }
                                ranges.push((lo, hi));
                                i += 3;
                            }
                            _ => {
                                ranges.push((members[i], members[i]));
                                i += 1;
                            }
                        }
                    }
                    Piece::Class { negated, ranges }
                }
                other => Piece::Char(fold(other)),
            });
        }
        Ok(Pattern(pieces))
    }

    /// The pattern found anywhere in a text: with a `*` before and after it.
    pub(crate) fn anywhere(mut self) -> Pattern {
        if self.0.first() != Some(&Piece::Any) {
            self.0.insert(0, Piece::Any);
        }
        if self.0.last() != Some(&Piece::Any) {
            self.0.push(Piece::Any);
        }
        self
    }

    /// Whether the whole of `text` matches; `Err` when matching would take more than
    /// [`MAX_PATTERN_STEPS`] steps.
    pub(crate) fn matches(&self, text: &str) -> Result<bool, String> {
        let t: Vec<char> = text.chars().map(fold).collect();
        let p = &self.0;
        let (mut ti, mut pi) = (0usize, 0usize);
        // Where the last `*` was, and where in the text it currently ends.
        let mut star: Option<(usize, usize)> = None;
        let mut steps = 0u64;
        while ti < t.len() {
            steps += 1;
            if steps > MAX_PATTERN_STEPS {
                return Err(format!(
                    "matching this pattern would take more than {MAX_PATTERN_STEPS} steps; use fewer '*' or a shorter text"
                ));
            }
            match p.get(pi) {
                Some(Piece::Any) => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                Some(piece) if piece.accepts(t[ti]) => {
                    ti += 1;
                    pi += 1;
                }
                _ => match star {
                    // Let the last `*` swallow one more character and retry after it.
                    Some((sp, st)) => {
                        pi = sp + 1;
                        ti = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return Ok(false),
                },
            }
        }
        Ok(p[pi.min(p.len())..].iter().all(|x| *x == Piece::Any))
    }
}

impl Piece {
    /// Whether this single-character piece accepts the case-folded character `c`.
    fn accepts(&self, c: char) -> bool {
        match self {
            Piece::Any => true,
            Piece::One => true,
            Piece::Digit => c.is_ascii_digit(),
            Piece::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
            Piece::Char(x) => *x == c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str, pattern: &str) -> bool {
        Pattern::compile(pattern).unwrap().matches(text).unwrap()
    }

    #[test]
    fn wildcards_match_like_vb_like() {
        assert!(m("BK-M68B-42", "BK*"));
        assert!(m("BK-M68B-42", "bk-*-##"));
        assert!(!m("BK-M68B-4x", "BK-*-##"));
        assert!(m("BK-M68B-42", "*M68?*"));
        assert!(!m("BK-M68B-42", "M68*"), "matches() is the whole text");
        let found = |text: &str, pattern: &str| {
            Pattern::compile(pattern)
                .unwrap()
                .anywhere()
                .matches(text)
                .unwrap()
        };
        assert!(found("BK-M68B-42", "M68"), "the issue's case: contained");
        assert!(found("BK-M68B-42", "m68?-##"));
        assert!(found("BK-M68B-42", ""));
        assert!(!found("BK-M68B-42", "M69"));
        assert!(!found("", "?"));
        assert!(m("", "*"));
        assert!(!m("", "?"));
        assert!(m("abc", "a*c"));
        assert!(m("ac", "a*c"));
        assert!(m("aXbXc", "a*b*c"));
        assert!(m("Größe", "GRÖ?E"));
    }

    #[test]
    fn classes_ranges_and_negation() {
        assert!(m("b", "[abc]"));
        assert!(!m("d", "[abc]"));
        assert!(m("Q", "[a-z]"));
        assert!(!m("5", "[a-z]"));
        assert!(m("5", "[!a-z]"));
        assert!(m("*", "[*]"));
        assert!(!m("x", "[*]"));
        assert!(m("-", "[-]"));
    }

    #[test]
    fn bad_patterns_are_explained() {
        for (p, words) in [
            ("[abc", "never closed"),
            ("[]", "empty"),
            ("[z-a]", "backwards"),
        ] {
            let e = Pattern::compile(p).unwrap_err();
            assert!(e.contains(words), "{p}: {e}");
        }
    }

    #[test]
    fn pattern_steps_limit_obeyed() {
        // A pathological pattern over a text that needs under MAX_PATTERN_STEPS steps.
        let text = "a".repeat(1000);
        let pattern = Pattern::compile(&format!("*{}b", "a".repeat(10))).unwrap();
        assert_eq!(pattern.matches(&text), Ok(false));
    }

    #[test]
    fn pattern_steps_limit_violated() {
        let text = "a".repeat(200_000);
        let pattern = Pattern::compile(&format!("*{}b", "a".repeat(100))).unwrap();
        let e = pattern.matches(&text).unwrap_err();
        assert!(e.contains("steps"), "{e}");
    }
}
