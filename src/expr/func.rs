//! The functions: their names, signatures and result types, checked at compile time, and
//! the bare keywords some of them take. What a function computes is in `apply.rs`, or for
//! `IF`, `CONCAT` and the prior-state functions in `eval.rs`.

/// A function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub(crate) enum Func {
    If,
    Not,
    Concat,
    Contains,
    ContainsPattern,
    StartsWith,
    EndsWith,
    IndexOf,
    Left,
    Right,
    Length,
    Substring,
    Date,
    DateAdd,
    DateDiff,
    DateTimeUtc,
    RelativeDate,
    Text,
    ToNumber,
    ToDate,
    ToDateTimeUtc,
    Changed,
    ChangedFrom,
    ChangedTo,
    Prior,
}

impl Func {
    /// Whether the function reads the record's prior state.
    pub(crate) fn reads_prior(self) -> bool {
        matches!(
            self,
            Func::Changed | Func::ChangedFrom | Func::ChangedTo | Func::Prior
        )
    }
}

/// A bare keyword argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub(crate) enum Kw {
    Day,
    Month,
    Year,
    StartOfWeek,
    EndOfWeek,
    NextWeek,
    StartOfMonth,
    EndOfMonth,
    NextMonth,
    StartOfQuarter,
    EndOfQuarter,
    NextQuarter,
    StartOfYear,
    EndOfYear,
    NextYear,
}

/// Every keyword with its spelling.
pub(crate) const KEYWORDS: &[(&str, Kw)] = &[
    ("DAY", Kw::Day),
    ("MONTH", Kw::Month),
    ("YEAR", Kw::Year),
    ("StartOfWeek", Kw::StartOfWeek),
    ("EndOfWeek", Kw::EndOfWeek),
    ("NextWeek", Kw::NextWeek),
    ("StartOfMonth", Kw::StartOfMonth),
    ("EndOfMonth", Kw::EndOfMonth),
    ("NextMonth", Kw::NextMonth),
    ("StartOfQuarter", Kw::StartOfQuarter),
    ("EndOfQuarter", Kw::EndOfQuarter),
    ("NextQuarter", Kw::NextQuarter),
    ("StartOfYear", Kw::StartOfYear),
    ("EndOfYear", Kw::EndOfYear),
    ("NextYear", Kw::NextYear),
];

const UNITS: &[Kw] = &[Kw::Day, Kw::Month, Kw::Year];
const RELATIVE: &[Kw] = &[
    Kw::StartOfWeek,
    Kw::EndOfWeek,
    Kw::NextWeek,
    Kw::StartOfMonth,
    Kw::EndOfMonth,
    Kw::NextMonth,
    Kw::StartOfQuarter,
    Kw::EndOfQuarter,
    Kw::NextQuarter,
    Kw::StartOfYear,
    Kw::EndOfYear,
    Kw::NextYear,
];

/// The keyword spelled `word` (any case).
pub(crate) fn keyword(word: &str) -> Option<Kw> {
    KEYWORDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(_, k)| k)
}

/// The spelling of a keyword.
pub(crate) fn keyword_name(kw: Kw) -> &'static str {
    KEYWORDS
        .iter()
        .find(|(_, k)| *k == kw)
        .map_or("?", |(name, _)| name)
}

/// A static type, as far as compile time can know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Unknown until evaluation (attributes, `IF`, `PRIOR`).
    Any,
    /// `NULL`.
    Null,
    /// Text.
    Text,
    /// A number.
    Number,
    /// TRUE or FALSE.
    Bool,
    /// A date.
    Date,
    /// A date and time.
    DateTime,
    /// A number or a date (the result of `+` or `-` with an operand of unknown type).
    NumberOrDate,
}

impl Ty {
    /// The type as a user would name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Any => "a value",
            Ty::Null => "NULL",
            Ty::Text => "text",
            Ty::Number => "a number",
            Ty::Bool => "TRUE or FALSE",
            Ty::Date => "a date",
            Ty::DateTime => "a date and time",
            Ty::NumberOrDate => "a number or a date",
        }
    }
}

/// What an argument position takes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Param {
    /// A value, ideally of this type (text accepts anything, shown as text).
    Value(Ty),
    /// One of these bare keywords.
    Keyword(&'static [Kw]),
    /// An attribute reference such as `[Status]`.
    Attr,
    /// A value or a list of values `("a", "b")`.
    ValueOrList,
}

/// A function's signature.
pub(crate) struct Spec {
    /// The name, upper case.
    pub(crate) name: &'static str,
    /// The function.
    pub(crate) func: Func,
    /// Each parameter's name (for messages) and kind.
    pub(crate) params: &'static [(&'static str, Param)],
    /// The fewest arguments.
    pub(crate) min: usize,
    /// Whether the last parameter may repeat.
    pub(crate) variadic: bool,
    /// The result type.
    pub(crate) ret: Ty,
}

impl Spec {
    /// How the call is written, for messages: `LEFT(text, count)`.
    pub(crate) fn signature(&self) -> String {
        let mut names: Vec<String> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, (n, _))| {
                if i >= self.min {
                    format!("[{n}]")
                } else {
                    (*n).to_string()
                }
            })
            .collect();
        if self.variadic {
            names.push("...".into());
        }
        format!("{}({})", self.name, names.join(", "))
    }

    /// The most arguments, if bounded.
    pub(crate) fn max(&self) -> Option<usize> {
        (!self.variadic).then_some(self.params.len())
    }
}

/// The most arguments a function without a repeating parameter has (`DATETIMEUTC`).
pub(crate) const MAX_FIXED_ARGS: usize = 7;

const V: Param = Param::Value(Ty::Any);
const T: Param = Param::Value(Ty::Text);
const N: Param = Param::Value(Ty::Number);
const D: Param = Param::Value(Ty::Date);
const B: Param = Param::Value(Ty::Bool);

/// Every function.
pub(crate) static FUNCTIONS: &[Spec] = &[
    Spec {
        name: "IF",
        func: Func::If,
        params: &[
            ("condition", B),
            ("value if true", V),
            ("value if false", V),
        ],
        min: 3,
        variadic: false,
        ret: Ty::Any,
    },
    Spec {
        name: "NOT",
        func: Func::Not,
        params: &[("condition", B)],
        min: 1,
        variadic: false,
        ret: Ty::Bool,
    },
    Spec {
        name: "CONCAT",
        func: Func::Concat,
        params: &[("text", T)],
        min: 1,
        variadic: true,
        ret: Ty::Text,
    },
    Spec {
        name: "CONTAINS",
        func: Func::Contains,
        params: &[("text", T), ("part", T)],
        min: 2,
        variadic: false,
        ret: Ty::Bool,
    },
    Spec {
        name: "CONTAINSPATTERN",
        func: Func::ContainsPattern,
        params: &[("text", T), ("pattern", T)],
        min: 2,
        variadic: false,
        ret: Ty::Bool,
    },
    Spec {
        name: "STARTSWITH",
        func: Func::StartsWith,
        params: &[("text", T), ("start", T)],
        min: 2,
        variadic: false,
        ret: Ty::Bool,
    },
    Spec {
        name: "ENDSWITH",
        func: Func::EndsWith,
        params: &[("text", T), ("end", T)],
        min: 2,
        variadic: false,
        ret: Ty::Bool,
    },
    Spec {
        name: "INDEXOF",
        func: Func::IndexOf,
        params: &[("text", T), ("part", T)],
        min: 2,
        variadic: false,
        ret: Ty::Number,
    },
    Spec {
        name: "LEFT",
        func: Func::Left,
        params: &[("text", T), ("count", N)],
        min: 2,
        variadic: false,
        ret: Ty::Text,
    },
    Spec {
        name: "RIGHT",
        func: Func::Right,
        params: &[("text", T), ("count", N)],
        min: 2,
        variadic: false,
        ret: Ty::Text,
    },
    Spec {
        name: "LENGTH",
        func: Func::Length,
        params: &[("text", T)],
        min: 1,
        variadic: false,
        ret: Ty::Number,
    },
    Spec {
        name: "SUBSTRING",
        func: Func::Substring,
        params: &[("text", T), ("start", N), ("length", N)],
        min: 2,
        variadic: false,
        ret: Ty::Text,
    },
    Spec {
        name: "DATE",
        func: Func::Date,
        params: &[("day", N), ("month", N), ("year", N)],
        min: 3,
        variadic: false,
        ret: Ty::Date,
    },
    Spec {
        name: "DATEADD",
        func: Func::DateAdd,
        params: &[
            ("date", D),
            ("number", N),
            ("DAY|MONTH|YEAR", Param::Keyword(UNITS)),
        ],
        min: 3,
        variadic: false,
        ret: Ty::Any,
    },
    Spec {
        name: "DATEDIFF",
        func: Func::DateDiff,
        params: &[("start", D), ("end", D)],
        min: 2,
        variadic: false,
        ret: Ty::Number,
    },
    Spec {
        name: "DATETIMEUTC",
        func: Func::DateTimeUtc,
        params: &[
            ("day", N),
            ("month", N),
            ("year", N),
            ("hour", N),
            ("minute", N),
            ("second", N),
            ("millisecond", N),
        ],
        min: 6,
        variadic: false,
        ret: Ty::DateTime,
    },
    Spec {
        name: "RELATIVEDATE",
        func: Func::RelativeDate,
        params: &[
            ("date", D),
            ("StartOfMonth|EndOfMonth|...", Param::Keyword(RELATIVE)),
        ],
        min: 2,
        variadic: false,
        ret: Ty::Date,
    },
    Spec {
        name: "TEXT",
        func: Func::Text,
        params: &[("value", V)],
        min: 1,
        variadic: false,
        ret: Ty::Text,
    },
    Spec {
        name: "TONUMBER",
        func: Func::ToNumber,
        params: &[("text", V)],
        min: 1,
        variadic: false,
        ret: Ty::Number,
    },
    Spec {
        name: "TODATE",
        func: Func::ToDate,
        params: &[("text", V)],
        min: 1,
        variadic: false,
        ret: Ty::Date,
    },
    Spec {
        name: "TODATETIMEUTC",
        func: Func::ToDateTimeUtc,
        params: &[("text", V)],
        min: 1,
        variadic: false,
        ret: Ty::DateTime,
    },
    Spec {
        name: "CHANGED",
        func: Func::Changed,
        params: &[("[attribute]", Param::Attr)],
        min: 1,
        variadic: true,
        ret: Ty::Bool,
    },
    Spec {
        name: "CHANGEDFROM",
        func: Func::ChangedFrom,
        params: &[("[attribute]", Param::Attr), ("values", Param::ValueOrList)],
        min: 2,
        variadic: false,
        ret: Ty::Bool,
    },
    Spec {
        name: "CHANGEDTO",
        func: Func::ChangedTo,
        params: &[("[attribute]", Param::Attr), ("values", Param::ValueOrList)],
        min: 2,
        variadic: false,
        ret: Ty::Bool,
    },
    Spec {
        name: "PRIOR",
        func: Func::Prior,
        params: &[("[attribute]", Param::Attr)],
        min: 1,
        variadic: false,
        ret: Ty::Any,
    },
];

/// The function named `name` (any case).
pub(crate) fn spec(name: &str) -> Option<&'static Spec> {
    FUNCTIONS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_like_the_documentation() {
        assert_eq!(spec("left").unwrap().signature(), "LEFT(text, count)");
        assert_eq!(
            spec("Substring").unwrap().signature(),
            "SUBSTRING(text, start, [length])"
        );
        assert_eq!(spec("CONCAT").unwrap().signature(), "CONCAT(text, ...)");
        assert!(spec("FOO").is_none());
        assert!(
            FUNCTIONS
                .iter()
                .all(|s| s.max().is_none_or(|m| m <= MAX_FIXED_ARGS))
        );
    }
}
