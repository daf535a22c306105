//! No input makes the expression language panic: random text, and random expressions
//! shaped by the grammar (so they reach the checker and evaluator, not only the lexer),
//! go through `compile` for every usage and then `eval` and `matches`.
//!
//! Cases per property: `PROPTEST_CASES` when set (the long run), else 512.

use proptest::prelude::*;
use proptest::test_runner::Config;
use webhook_provider::expr::{Scope, Usage, compile};
use webhook_provider::model::{Attribute, Date, Decimal, Instant, Severity, Value};

const USAGES: [Usage; 7] = [
    Usage::Added,
    Usage::Updated,
    Usage::Deleted,
    Usage::Schedule,
    Usage::Request,
    Usage::Record,
    Usage::Preview,
];

fn attr(path: &[&str], value: Value) -> Attribute {
    Attribute {
        path: path.iter().map(|s| s.to_string()).collect(),
        value,
    }
}

fn record(msrp: &str, status: &str) -> Vec<Attribute> {
    vec![
        attr(&["Code"], Value::Text("BK-M68B-42".into())),
        attr(&["Name"], Value::Text("Größe 42 «ß»".into())),
        attr(&["MSRP"], Value::Decimal(Decimal::parse(msrp).unwrap())),
        attr(&["Zero"], Value::Decimal(Decimal::ZERO)),
        attr(
            &["Huge"],
            Value::Decimal(Decimal::new(i128::MAX, 0).unwrap()),
        ),
        attr(&["Status"], Value::Text(status.into())),
        attr(&["Flag"], Value::Boolean(true)),
        attr(&["Class", "Code"], Value::Text("H".into())),
        attr(&["Class", "Name"], Value::Text("High".into())),
        attr(&["Start"], Value::Date(Date::new(9999, 12, 31).unwrap())),
        attr(&["Early"], Value::Date(Date::new(1, 1, 1).unwrap())),
        attr(
            &["$EnterDTM"],
            Value::DateTime(Instant::new(1_718_447_400, 5).unwrap()),
        ),
        attr(&["Empty"], Value::Null),
    ]
}

/// Compile for every usage; evaluate whatever compiles. Panics are the failure.
fn exercise(text: &str) {
    let now_record = record("2294.99", "Active");
    let before = record("-0.0000000000000000000000000001", "Draft");
    let now = Instant::new(253_402_300_799, 999_999_999).unwrap();
    let chars = text.chars().count() as u32;
    for usage in USAGES {
        match compile(text, usage) {
            Ok(expr) => {
                for prior in [None, Some(before.as_slice())] {
                    let scope = Scope::new(&now_record, prior, now, 42);
                    let _ = expr.eval(&scope);
                    let _ = expr.matches(&scope);
                }
            }
            Err(problems) => {
                assert!(!problems.is_empty(), "{text:?}: an error with no problem");
                for p in problems {
                    let span = p.span.expect("every compile problem is located");
                    assert!(span.line >= 1 && span.column >= 1, "{text:?}: {p:?}");
                    assert!(span.column <= chars + 1 || span.line > 1, "{text:?}: {p:?}");
                    assert_eq!(p.severity, Severity::Error);
                    assert!(!p.message.is_empty());
                }
            }
        }
    }
}

/// A small grammar-shaped expression generator.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(vec![
            "[MSRP]",
            "[Code]",
            "[Name]",
            "[Status]",
            "[Class]",
            "[Class].[Code]",
            "[class].[name]",
            "[Zero]",
            "[Huge]",
            "[Start]",
            "[Early]",
            "[Empty]",
            "[Flag]",
            "[$EnterDTM]",
            "[$LastChgUserName]",
            "[Missing].[Deep].[Path]",
            "TRUE",
            "FALSE",
            "NULL",
            "NOW",
            "TODAY",
            "NEWGUID",
            "DAY",
            "MONTH",
            "YEAR",
            "StartOfMonth",
            "NextQuarter",
            "0",
            "1",
            "-1",
            "2.5",
            "0.0000000000000000000000000001",
            "99999999999999999999999999999999999999",
            "'BK'",
            "\"\"",
            "'*#?[a-z]'",
            "'[!'",
            "'2024-06-01'",
            "'2024-06-01 10:00:00'",
            "'x'",
            "'Größe'",
        ])
        .prop_map(str::to_string),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-zA-Z0-9 *#?\\[\\]!-]{0,12}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        let functions = prop::sample::select(vec![
            "IF",
            "NOT",
            "CONCAT",
            "CONTAINS",
            "CONTAINSPATTERN",
            "STARTSWITH",
            "ENDSWITH",
            "INDEXOF",
            "LEFT",
            "RIGHT",
            "LENGTH",
            "SUBSTRING",
            "DATE",
            "DATEADD",
            "DATEDIFF",
            "DATETIMEUTC",
            "RELATIVEDATE",
            "TEXT",
            "TONUMBER",
            "TODATE",
            "TODATETIMEUTC",
            "CHANGED",
            "CHANGEDFROM",
            "CHANGEDTO",
            "PRIOR",
            "now",
            "Bogus",
        ]);
        let ops = prop::sample::select(vec![
            "=", "<>", ">", "<", ">=", "<=", "+", "-", "*", "/", "&", "AND", "OR",
        ]);
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            (functions, prop::collection::vec(inner.clone(), 0..5))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (
                inner.clone(),
                prop::collection::vec(inner.clone(), 1..4),
                any::<bool>()
            )
                .prop_map(|(a, items, not)| format!(
                    "{a} {}IN ({})",
                    if not { "NOT " } else { "" },
                    items.join(", ")
                )),
        ]
    })
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,80}") {
        exercise(&text);
    }

    #[test]
    fn random_token_soup_never_panics(
        parts in prop::collection::vec(
            prop::sample::select(vec![
                "[", "]", "(", ")", ",", ".", "'", "\"", "-", "+", "*", "/", "&", "=", "<", ">",
                "<>", "AND", "OR", "NOT", "IN", "LEFT", "IF", "[A]", "1", "1.5", "\n", " ", "é",
                "NOW", "DAY", "CHANGED", "$", "[$EnterDTM]",
            ]),
            0..40,
        )
    ) {
        exercise(&parts.concat());
    }

    #[test]
    fn grammar_shaped_expressions_never_panic(text in expression()) {
        exercise(&text);
    }
}

#[test]
fn deep_and_long_inputs_never_panic() {
    for text in [
        "(".repeat(10_000),
        "-".repeat(10_000),
        "LEFT(".repeat(5_000),
        "1 +".repeat(2_000),
        "[A] AND ".repeat(500) + "[A]",
        "'".repeat(3_999),
        "[".repeat(4_000),
    ] {
        exercise(&text);
    }
}

/// The generator is only useful if much of what it makes compiles and evaluates: count.
#[test]
fn grammar_shaped_expressions_reach_the_evaluator() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = expression();
    let record = record("2294.99", "Active");
    let now = Instant::new(1_718_447_400, 0).unwrap();
    let (mut compiled, mut evaluated) = (0, 0);
    let total = 2000;
    for _ in 0..total {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        if let Ok(expr) = compile(&text, Usage::Preview) {
            compiled += 1;
            if expr
                .eval(&Scope::new(&record, Some(&record), now, 1))
                .is_ok()
            {
                evaluated += 1;
            }
        }
    }
    eprintln!("{compiled} of {total} compiled, {evaluated} evaluated without error");
    assert!(compiled * 5 >= total, "only {compiled} of {total} compiled");
    assert!(
        evaluated * 10 >= total,
        "only {evaluated} of {total} evaluated"
    );
}
