//! The expression language's tests: the shared conformance file, then one test per rule.

use super::json::{attributes_from_json, value_to_json_text};
use super::*;
use crate::value::{Date, Decimal};

const CONFORMANCE: &str = include_str!("../../tests/data/conformance/expressions.json");

/// The project's own cases in the same format, for what the reference cases leave out.
const OURS: &str = include_str!("../../tests/data/expressions.json");

fn conformance() -> serde_json::Value {
    serde_json::from_str(CONFORMANCE).expect("the conformance file is JSON")
}

/// The reference cases, then ours.
fn case_files() -> [serde_json::Value; 2] {
    [
        conformance(),
        serde_json::from_str(OURS).expect("tests/data/expressions.json is JSON"),
    ]
}

fn at(text: &str) -> Instant {
    Instant::parse_rfc3339(text).expect("a valid instant")
}

/// The conformance record and prior state.
fn product() -> (Vec<Attribute>, Vec<Attribute>) {
    record_and_prior(&conformance())
}

/// A case file's record and prior state.
fn record_and_prior(c: &serde_json::Value) -> (Vec<Attribute>, Vec<Attribute>) {
    (
        attributes_from_json(&c["record"]).unwrap(),
        attributes_from_json(&c["prior"]).unwrap(),
    )
}

/// Whether `actual` is the value the conformance file's `expect` describes: numbers by
/// exact value, strings by kind (a date string must be a date, an RFC 3339 string a
/// datetime) and text form.
fn same_as_expected(expect: &serde_json::Value, actual: &Value) -> bool {
    match (expect, actual) {
        (serde_json::Value::Bool(b), Value::Boolean(a)) => a == b,
        (serde_json::Value::Null, Value::Null) => true,
        (serde_json::Value::Number(n), Value::Decimal(d)) => {
            json::decimal_from_json_number(&n.to_string()).is_ok_and(|e| e == *d)
        }
        (serde_json::Value::String(s), v) => match json::value_from_json(expect) {
            Ok(Value::Date(_)) => matches!(v, Value::Date(_)) && v.to_string() == *s,
            Ok(Value::DateTime(e)) => *v == Value::DateTime(e),
            _ => *v == Value::Text(s.clone()),
        },
        _ => false,
    }
}

#[test]
fn conformance_cases_pass() {
    for c in case_files() {
        let (record, prior) = record_and_prior(&c);
        let now = at(c["now"].as_str().unwrap());
        let cases = c["cases"].as_array().unwrap();
        assert!(!cases.is_empty());
        let mut passed = 0;
        for case in cases {
            let text = case["expr"].as_str().unwrap();
            let expr = compile(text, Usage::Preview).unwrap_or_else(|p| panic!("{text}: {p:?}"));
            let scope = Scope::new(&record, Some(&prior), now, 7);
            let got = expr.eval(&scope).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(
                same_as_expected(&case["expect"], &got),
                "{text}: expected {}, got {}",
                case["expect"],
                value_to_json_text(&got)
            );
            passed += 1;
        }
        assert_eq!(passed, cases.len());
    }
}

#[test]
fn conformance_errors_are_rejected_with_a_location() {
    for c in case_files() {
        let errors = c["errors"].as_array().unwrap();
        assert!(!errors.is_empty());
        for e in errors {
            let text = e.as_str().unwrap();
            let problems = compile(text, Usage::Preview).expect_err(text);
            assert!(!problems.is_empty());
            for p in &problems {
                let span = p.span.unwrap_or_else(|| panic!("{text}: no span in {p:?}"));
                assert!(span.line >= 1 && span.column >= 1, "{text}: {span:?}");
                assert!(
                    span.column as usize <= text.chars().count() + 1,
                    "{text}: {span:?}"
                );
                assert_eq!(p.severity, crate::model::Severity::Error);
                assert_eq!(p.path, "");
            }
        }
    }
    // The two shipped cases, precisely.
    let p = &compile("[MSRP] >", Usage::Preview).unwrap_err()[0];
    assert_eq!(p.span.map(|s| (s.line, s.column)), Some((1, 9)));
    assert!(
        p.message
            .contains("expected a value after '>' but the expression ends here")
    );
    let p = &compile("FOO([Name])", Usage::Preview).unwrap_err()[0];
    assert_eq!(
        p.span,
        Some(Span {
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 4
        })
    );
    assert!(p.message.contains("unknown function FOO"), "{}", p.message);
}

/// Compile `text` for a preview and evaluate it over the conformance record (prior
/// state given) at its `now`: the value in the output form, or the (first) error.
fn show(text: &str) -> String {
    let (record, prior) = product();
    let expr = match compile(text, Usage::Preview) {
        Ok(e) => e,
        Err(p) => return format!("compile error: {}", p[0].message),
    };
    let scope = Scope::new(&record, Some(&prior), at("2024-06-15T10:30:00Z"), 7);
    match expr.eval(&scope) {
        Ok(v) => value_to_json_text(&v),
        Err(e) => format!("error: {}", e.message),
    }
}

/// The first compile problem's message and column.
fn compile_error(text: &str, usage: Usage) -> (String, u32) {
    let problems = compile(text, usage).expect_err(text);
    let p = &problems[0];
    (p.message.clone(), p.span.map_or(0, |s| s.column))
}

#[test]
fn attribute_lookup_exact_then_any_case_then_entity_code() {
    assert_eq!(show("[Name]"), "\"Mountain-200 Black, 42\"");
    assert_eq!(show("[msrp]"), "2294.99");
    assert_eq!(show("[class].[NAME]"), "\"High\"");
    assert_eq!(show("[Class]"), "\"H\"");
    assert_eq!(
        show("[ProductSubcategory].[ProductCategory].[Name]"),
        "\"Bikes\""
    );
    assert_eq!(show("[ProductSubcategory].[ProductCategory]"), "\"1\"");
    assert_eq!(show("[NoSuchAttribute]"), "null");
    // Exact wins over another case.
    let attrs = vec![
        Attribute {
            path: vec!["code".into()],
            value: Value::Text("lower".into()),
        },
        Attribute {
            path: vec!["Code".into()],
            value: Value::Text("exact".into()),
        },
    ];
    let e = compile("[Code] & [CODE]", Usage::Record).unwrap();
    let v = e
        .eval(&Scope::new(&attrs, None, at("2024-01-01T00:00:00Z"), 0))
        .unwrap();
    assert_eq!(v, Value::Text("exactlower".into()));
}

#[test]
fn system_attributes_are_known_by_name() {
    let attrs = vec![
        Attribute {
            path: vec!["$EnterDTM".into()],
            value: Value::DateTime(at("2024-01-02T03:04:05Z")),
        },
        Attribute {
            path: vec!["$LastChgUserName".into()],
            value: Value::Text("ann".into()),
        },
    ];
    let e = compile(
        "TEXT([$enterdtm]) & ' ' & [$LastChgUserName] & [$EnterUserName]",
        Usage::Record,
    )
    .unwrap();
    let v = e
        .eval(&Scope::new(&attrs, None, at("2024-01-01T00:00:00Z"), 0))
        .unwrap();
    assert_eq!(v, Value::Text("2024-01-02T03:04:05Z ann".into()));
    let (m, col) = compile_error("[$Created] = 1", Usage::Record);
    assert!(
        m.contains("not a system attribute") && m.contains("[$EnterDTM]"),
        "{m}"
    );
    assert_eq!(col, 1);
    let (m, _) = compile_error("[Class].[$EnterDTM]", Usage::Record);
    assert!(m.contains("belongs to the record itself"), "{m}");
}

#[test]
fn literals_and_keywords_are_case_insensitive() {
    assert_eq!(show("true"), "true");
    assert_eq!(show("False"), "false");
    assert_eq!(show("null"), "null");
    assert_eq!(show("'it''s'"), "\"it's\"");
    assert_eq!(show("left('abc', 2) = 'AB' and Not(FALSE)"), "true");
    assert_eq!(
        show("dateadd(DATE(31, 1, 2024), 1, month)"),
        "\"2024-02-29\""
    );
    assert_eq!(show("-5 + 2"), "-3");
    assert_eq!(show("-[MSRP]"), "-2294.99");
}

#[test]
fn numbers_are_exact_decimals() {
    assert_eq!(show("2294.99 - 1251.98"), "1043.01");
    assert_eq!(show("0.1 + 0.2 = 0.3"), "true");
    assert_eq!(show("[MSRP] * 2"), "4589.98");
    assert_eq!(show("10 / 4"), "2.5");
    assert_eq!(show("1 / 3"), "0.3333333333333333333333333333");
    assert_eq!(show("2 + 3 * 4"), "14");
    assert_eq!(show("(2 + 3) * 4"), "20");
    assert_eq!(show("10 - 2 - 3"), "5");
    assert_eq!(show("\"2\" * 3"), "6");
}

#[test]
fn division_by_zero_and_overflow_are_located_errors() {
    let (record, _) = product();
    let zero = vec![Attribute {
        path: vec!["Zero".into()],
        value: Value::Decimal(Decimal::ZERO),
    }];
    let e = compile("1 + [MSRP] / [Zero]", Usage::Record).unwrap();
    let mut attrs = record.clone();
    attrs.extend(zero);
    let err = e
        .eval(&Scope::new(&attrs, None, at("2024-01-01T00:00:00Z"), 0))
        .unwrap_err();
    assert!(err.message.contains("division by zero"), "{}", err.message);
    assert_eq!((err.span.column, err.span.end_column), (5, 20));
    // Constant ones are found at compile time.
    let (m, col) = compile_error("[MSRP] > 1 / 0", Usage::Updated);
    assert!(m.contains("division by zero"), "{m}");
    assert_eq!(col, 10);
    let big = "99999999999999999999999999999999999999";
    let (m, _) = compile_error(&format!("{big} * 10"), Usage::Preview);
    assert!(m.contains("too large"), "{m}");
    let e = compile(&format!("[MSRP] * {big}"), Usage::Record).unwrap();
    let err = e
        .eval(&Scope::new(&record, None, at("2024-01-01T00:00:00Z"), 0))
        .unwrap_err();
    assert!(err.message.contains("too large"), "{}", err.message);
}

#[test]
fn null_in_comparisons() {
    assert_eq!(show("[Missing] = NULL"), "true");
    assert_eq!(show("NULL = NULL"), "true");
    assert_eq!(show("[Missing] = 5"), "false");
    assert_eq!(show("[Missing] <> 5"), "true");
    assert_eq!(show("[Name] <> NULL"), "true");
    assert_eq!(show("[Missing] > 5"), "null");
    assert_eq!(show("[Missing] <= 5"), "null");
    assert_eq!(show("[Missing] IN (1, NULL)"), "true");
    assert_eq!(show("[Missing] NOT IN (1, 2)"), "true");
}

#[test]
fn null_in_logic_is_three_valued() {
    assert_eq!(show("FALSE AND [Missing] > 1"), "false");
    assert_eq!(show("[Missing] > 1 AND FALSE"), "false");
    assert_eq!(show("TRUE AND [Missing] > 1"), "null");
    assert_eq!(show("TRUE OR [Missing] > 1"), "true");
    assert_eq!(show("[Missing] > 1 OR FALSE"), "null");
    assert_eq!(show("NOT([Missing] > 1)"), "null");
    assert_eq!(show("IF([Missing] > 1, 'yes', 'no')"), "\"no\"");
}

#[test]
fn if_takes_exactly_three_arguments() {
    for text in [
        "IF([MSRP] > 1, 'yes')",
        "IF([MSRP] > 1)",
        "IF([MSRP] > 1, 'a', 'b', 'c')",
    ] {
        let (m, column) = compile_error(text, Usage::Preview);
        assert!(m.contains("IF takes 3 arguments"), "{text}: {m}");
        assert_eq!(column, 1, "{text}");
    }
}

#[test]
fn null_in_text_arithmetic_and_conversions() {
    assert_eq!(show("'a' & [Missing] & 'b'"), "\"ab\"");
    assert_eq!(show("CONCAT([Missing], 'x', NULL)"), "\"x\"");
    assert_eq!(show("CONTAINS([Missing], 'x')"), "false");
    assert_eq!(show("STARTSWITH([Missing], '')"), "true");
    assert_eq!(show("INDEXOF([Missing], 'x')"), "-1");
    assert_eq!(show("LENGTH([Missing])"), "0");
    assert_eq!(show("LEFT([Missing], 2)"), "null");
    assert_eq!(show("SUBSTRING([Missing], 1)"), "null");
    assert_eq!(show("TEXT([Missing])"), "null");
    assert_eq!(show("[Missing] * 2"), "null");
    assert_eq!(show("-[Missing]"), "null");
    assert_eq!(show("DATEADD([Missing], 1, DAY)"), "null");
    assert_eq!(show("TONUMBER([Missing])"), "null");
    assert_eq!(show("DATEDIFF([Missing], TODAY)"), "null");
}

#[test]
fn text_comparison_ignores_letter_case() {
    assert_eq!(show("[Status] = 'ACTIVE'"), "true");
    assert_eq!(show("[Status] IN ('active', 'draft')"), "true");
    assert_eq!(show("'apple' < 'BANANA'"), "true");
    assert_eq!(show("'Größe' = 'GRÖSSE'"), "false");
    assert_eq!(show("'ÄBC' = 'äbc'"), "true");
    assert_eq!(show("CONTAINS([Name], 'black')"), "true");
    assert_eq!(show("STARTSWITH([Code], 'bk-')"), "true");
    assert_eq!(show("ENDSWITH([Code], '-42')"), "true");
    assert_eq!(show("INDEXOF([Name], 'BLACK')"), "13");
    assert_eq!(show("INDEXOF('ÄÖÜx', 'x')"), "3");
}

#[test]
fn mixed_types_compare_by_documented_rules() {
    assert_eq!(show("[Size].[Code] = 42"), "true");
    assert_eq!(show("[Size].[Code] > 41.5"), "true");
    assert_eq!(show("[SellStartDate] = '2024-06-01'"), "true");
    assert_eq!(
        show("[SellStartDate] = DATETIMEUTC(1, 6, 2024, 0, 0, 0)"),
        "true"
    );
    assert_eq!(
        show("[SellStartDate] < DATETIMEUTC(1, 6, 2024, 0, 0, 1)"),
        "true"
    );
    assert_eq!(show("NOW > TODAY"), "true");
    assert_eq!(show("'true' = TRUE"), "true");
    assert_eq!(show("[Name] = 5"), "false");
    assert_eq!(show("[Name] <> 5"), "true");
    assert_eq!(show("[MSRP] = TODAY"), "false");
    assert!(show("[Name] > 5").contains("cannot order"));
    assert!(show("[MSRP] < TODAY").contains("cannot order"));
}

#[test]
fn date_arithmetic() {
    assert_eq!(show("[SellStartDate] + 30"), "\"2024-07-01\"");
    assert_eq!(show("[SellEndDate] - [SellStartDate]"), "30");
    assert_eq!(show("[SellStartDate] - 1"), "\"2024-05-31\"");
    assert_eq!(show("NOW + 1"), "\"2024-06-16T10:30:00Z\"");
    assert_eq!(show("DATEDIFF([SellStartDate], [SellEndDate])"), "30");
    assert_eq!(show("DATEDIFF(NOW, '2024-06-01')"), "-14");
    assert_eq!(show("DATEADD(NOW, 1, MONTH)"), "\"2024-07-15T10:30:00Z\"");
    assert_eq!(show("DATEADD([SellStartDate], -1, YEAR)"), "\"2023-06-01\"");
    assert!(show("[SellStartDate] + 1.5").contains("whole number"));
    assert!(show("DATEADD(DATE(31,12,9999), 1, DAY)").contains("outside"));
}

#[test]
fn text_functions_count_characters() {
    assert_eq!(show("LEFT('Größe', 3)"), "\"Grö\"");
    assert_eq!(show("RIGHT('Größe', 2)"), "\"ße\"");
    assert_eq!(show("RIGHT('abc', 10)"), "\"abc\"");
    assert_eq!(show("LENGTH('Größe')"), "5");
    assert_eq!(show("SUBSTRING('Größe', 2, 2)"), "\"öß\"");
    assert_eq!(show("SUBSTRING('abc', 1)"), "\"bc\"");
    assert_eq!(show("SUBSTRING('abc', 5, 2)"), "\"\"");
    assert_eq!(show("LEFT([MSRP], 4)"), "\"2294\"");
    assert!(show("LEFT('abc', -1)").contains("cannot be negative"));
    assert!(show("LEFT('abc', 1.5)").contains("whole number"));
    assert_eq!(
        show("CONCAT('a', 1.50, TRUE, DATE(2, 1, 2024))"),
        "\"a1.5TRUE2024-01-02\""
    );
    assert_eq!(
        show("[Class].[Name] & '-' & [Color].[Name]"),
        "\"High-Black\""
    );
    assert_eq!(show("1 + 2 & 'x'"), "\"3x\"");
}

#[test]
fn containspattern_uses_like_wildcards() {
    assert_eq!(show("CONTAINSPATTERN([Code], 'BK-*-##')"), "true");
    assert_eq!(show("CONTAINSPATTERN([Code], 'bk-m??b*')"), "true");
    assert_eq!(show("CONTAINSPATTERN([Code], '[A-C]K*')"), "true");
    // Contained, not whole: some character is not B, and M68 is inside BK-M68B-42.
    assert_eq!(show("CONTAINSPATTERN([Code], '[!B]*')"), "true");
    assert_eq!(show("CONTAINSPATTERN([Code], 'M68')"), "true");
    assert_eq!(show("CONTAINSPATTERN([Code], 'M68B-##')"), "true");
    assert_eq!(show("CONTAINSPATTERN([Code], 'M69')"), "false");
    assert_eq!(show("CONTAINSPATTERN([Code], '[!A-Z0-9-]')"), "false");
    let (m, _) = compile_error("CONTAINSPATTERN([Code], '[abc')", Usage::Preview);
    assert!(m.contains("never closed"), "{m}");
}

#[test]
fn date_constructors_and_conversions() {
    assert_eq!(show("DATE(29, 2, 2024)"), "\"2024-02-29\"");
    assert_eq!(
        show("DATETIMEUTC(15, 6, 2024, 10, 30, 0)"),
        "\"2024-06-15T10:30:00Z\""
    );
    assert_eq!(
        show("DATETIMEUTC(15, 6, 2024, 10, 30, 0, 250)"),
        "\"2024-06-15T10:30:00.25Z\""
    );
    assert_eq!(show("TODATE('2024-06-01')"), "\"2024-06-01\"");
    assert_eq!(
        show("TODATETIMEUTC('2024-06-01 08:15:00')"),
        "\"2024-06-01T08:15:00Z\""
    );
    assert_eq!(
        show("TODATETIMEUTC([SellStartDate])"),
        "\"2024-06-01T00:00:00Z\""
    );
    assert_eq!(show("TODATE(NOW)"), "\"2024-06-15\"");
    assert_eq!(show("TONUMBER(' 12.50 ')"), "12.5");
    assert_eq!(show("TONUMBER([Size].[Code]) + 1"), "43");
    assert_eq!(show("TEXT(DATE(1, 2, 2024))"), "\"2024-02-01\"");
    assert_eq!(show("TEXT(12.50)"), "\"12.5\"");
    assert_eq!(show("RELATIVEDATE(TODAY, StartOfMonth)"), "\"2024-06-01\"");
    assert_eq!(show("RELATIVEDATE(NOW, endofquarter)"), "\"2024-06-30\"");
    assert!(show("TONUMBER([Name])").contains("not one"));
    assert!(show("TODATE([Name])").contains("not a date"));
    for bad in [
        "DATE(30, 2, 2024)",
        "DATE(1, 1, 10000)",
        "TODATE('2024-13-01')",
        "TONUMBER('x')",
        "DATETIMEUTC(1, 1, 2024, 24, 0, 0)",
    ] {
        let (m, col) = compile_error(bad, Usage::Preview);
        assert!(col >= 1 && m.contains("not"), "{bad}: {m}");
    }
}

#[test]
fn now_today_and_newguid_come_from_the_scope() {
    assert_eq!(show("NOW"), "\"2024-06-15T10:30:00Z\"");
    assert_eq!(show("TODAY"), "\"2024-06-15\"");
    let e = compile("NEWGUID & ' ' & NEWGUID", Usage::Request).unwrap();
    let run = |seed| {
        e.eval(&Scope::new(&[], None, at("2024-01-01T00:00:00Z"), seed))
            .unwrap()
            .to_string()
    };
    let first = run(1);
    assert_eq!(first, run(1), "same seed, same ids");
    assert_ne!(first, run(2), "another seed, other ids");
    let (a, b) = first.split_once(' ').unwrap();
    assert_ne!(a, b, "each NEWGUID in a scope differs");
    for g in [a, b] {
        let parts: Vec<&str> = g.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{g}"
        );
        assert!(
            g.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{g}"
        );
        assert!(parts[2].starts_with('4'), "version 4: {g}");
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "variant: {g}"
        );
    }
}

#[test]
fn prior_state_functions() {
    assert_eq!(show("CHANGED([MSRP])"), "true");
    assert_eq!(show("CHANGED([Name], [Class])"), "false");
    assert_eq!(show("CHANGED([Name], [Status])"), "true");
    assert_eq!(show("CHANGEDFROM([Status], ('draft', 'Retired'))"), "true");
    assert_eq!(show("CHANGEDFROM([Status], 'Active')"), "false");
    assert_eq!(show("CHANGEDTO([Status], 'Active')"), "true");
    assert_eq!(show("CHANGEDTO([Status], [Status])"), "true");
    assert_eq!(show("CHANGEDTO([Name], [Name])"), "false");
    assert_eq!(show("PRIOR([MSRP])"), "2000");
    assert_eq!(show("[MSRP] - PRIOR([MSRP])"), "294.99");
    // A change of letter case is a change.
    let now = vec![Attribute {
        path: vec!["S".into()],
        value: Value::Text("abc".into()),
    }];
    let before = vec![Attribute {
        path: vec!["S".into()],
        value: Value::Text("ABC".into()),
    }];
    let e = compile("CHANGED([S])", Usage::Updated).unwrap();
    assert!(
        e.matches(&Scope::new(
            &now,
            Some(&before),
            at("2024-01-01T00:00:00Z"),
            0
        ))
        .unwrap()
    );
}

#[test]
fn prior_state_functions_without_a_prior_state() {
    let (record, _) = product();
    let scope = Scope::new(&record, None, at("2024-01-01T00:00:00Z"), 0);
    // A Records field: nothing changed, no prior value.
    let e = compile("IF(CHANGED([MSRP]), 'x', PRIOR([MSRP]))", Usage::Record).unwrap();
    assert_eq!(e.eval(&scope).unwrap(), Value::Null);
    // Elsewhere: an error, located at the call.
    for usage in [Usage::Updated, Usage::Preview] {
        let e = compile("[MSRP] > 1 AND CHANGED([MSRP])", usage).unwrap();
        let err = e.matches(&scope).unwrap_err();
        assert!(err.message.contains("before the change"), "{}", err.message);
        assert_eq!(err.span.column, 16);
    }
}

#[test]
fn prior_state_functions_are_compile_errors_where_there_is_no_prior_state() {
    for usage in [
        Usage::Added,
        Usage::Deleted,
        Usage::Schedule,
        Usage::Request,
    ] {
        let problems = compile("[A] = 1 AND CHANGED([B])", usage).unwrap_err();
        let p = problems
            .iter()
            .find(|p| p.message.contains("CHANGED reads"))
            .unwrap();
        assert_eq!(p.span.unwrap().column, 13, "{usage:?}");
    }
    for usage in [Usage::Updated, Usage::Record, Usage::Preview] {
        assert!(
            compile("[A] = 1 AND CHANGED([B])", usage).is_ok(),
            "{usage:?}"
        );
    }
    let (m, col) = compile_error("PRIOR([A]) = 1", Usage::Added);
    assert!(m.contains("added-records filter"), "{m}");
    assert_eq!(col, 1);
}

#[test]
fn request_values_cannot_read_attributes() {
    let (m, col) = compile_error("'Bearer ' & [Code]", Usage::Request);
    assert!(
        m.contains("once per request") && m.contains("[Code]"),
        "{m}"
    );
    assert_eq!(col, 13);
    let e = compile(
        "'run-' & TEXT(TODAY) & '-' & LEFT(NEWGUID, 8)",
        Usage::Request,
    )
    .unwrap();
    let v = e
        .eval(&Scope::new(&[], None, at("2024-06-15T10:30:00Z"), 3))
        .unwrap();
    assert!(v.to_string().starts_with("run-2024-06-15-"), "{v}");
}

#[test]
fn compile_time_checks_explain_the_fix() {
    for (text, column, words) in [
        ("CONTAIN([Name], 'x')", 1, "did you mean CONTAINS?"),
        ("LEN([Name])", 1, "did you mean LENGTH?"),
        (
            "LEFT([Name])",
            1,
            "LEFT takes 2 arguments, but 1 is given: write LEFT(text, count)",
        ),
        ("SUBSTRING('a', 1, 2, 3)", 1, "2 to 3 arguments"),
        ("CHANGED()", 1, "at least 1"),
        (
            "DATEADD([D], 1, 'DAY')",
            17,
            "DAY, MONTH, YEAR (without quotes)",
        ),
        ("DATEADD([D], 1, WEEK)", 17, "must be one of the words"),
        ("RELATIVEDATE([D], DAY)", 19, "StartOfWeek"),
        ("[D] = DAY", 7, "DAY is a keyword"),
        ("LEFT", 1, "LEFT is a function"),
        ("NOW()", 1, "without parentheses"),
        (
            "[Status] = Active",
            12,
            "text must be in quotes (\"Active\")",
        ),
        ("CHANGED('x')", 9, "must be an attribute"),
        ("[A] = ('x', 'y')", 7, "can only follow IN"),
        ("'abc' * 2", 1, "'*' works on numbers"),
        ("[A] + 'abc'", 7, "to join text use &"),
        ("TRUE + 1", 1, "works on numbers"),
        ("LEFT([A], 'x')", 11, "must be a number"),
        ("DATEADD(5, 1, DAY)", 9, "must be a date"),
        ("IF(5, 1, 2)", 4, "must be a condition"),
        ("[A] AND 5", 9, "each side of AND"),
        ("AND [A]", 1, "in the wrong place"),
    ] {
        let (m, col) = compile_error(text, Usage::Preview);
        assert!(m.contains(words), "{text}: {m}");
        assert_eq!(col, column, "{text}: {m}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let problems = compile("FOO(1) AND LEFT([A]) AND [B] = Activ", Usage::Preview).unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:?}");
    let columns: Vec<u32> = problems.iter().map(|p| p.span.unwrap().column).collect();
    assert_eq!(columns, [1, 12, 32]);
    // One mistake, one problem: a constant that is already wrong is not evaluated too.
    assert_eq!(compile("'abc' * 2", Usage::Preview).unwrap_err().len(), 1);
}

#[test]
fn filters_must_be_conditions() {
    let (m, col) = compile_error("[MSRP] + 1", Usage::Added);
    assert!(m.contains("a filter must be a condition"), "{m}");
    assert_eq!(col, 1);
    assert!(compile("[MSRP] + 1", Usage::Record).is_ok());
    assert!(
        compile("[Flag]", Usage::Schedule).is_ok(),
        "an attribute may be boolean"
    );
    let (record, _) = product();
    let scope = Scope::new(&record, None, at("2024-01-01T00:00:00Z"), 0);
    let e = compile("[Name]", Usage::Schedule).unwrap();
    let err = e.matches(&scope).unwrap_err();
    assert!(
        err.message.contains("must be TRUE or FALSE"),
        "{}",
        err.message
    );
    assert!(
        compile("[MSRP] > 100", Usage::Added)
            .unwrap()
            .matches(&scope)
            .unwrap()
    );
    assert!(
        !compile("[MSRP] < 100", Usage::Added)
            .unwrap()
            .matches(&scope)
            .unwrap()
    );
    assert!(
        !compile("[Missing] > 100", Usage::Added)
            .unwrap()
            .matches(&scope)
            .unwrap()
    );
}

#[test]
fn multi_line_expressions_locate_errors_by_line_and_character() {
    let text = "[Status] = \"Aktiv\" AND\n  LEFT([Größe], 2) = \"x\" AND\n  BOGUS(1)";
    let (m, _) = compile_error(text, Usage::Preview);
    let p = &compile(text, Usage::Preview).unwrap_err()[0];
    assert!(m.contains("BOGUS"), "{m}");
    assert_eq!(
        p.span,
        Some(Span {
            line: 3,
            column: 3,
            end_line: 3,
            end_column: 8
        })
    );
}

#[test]
fn evaluate_previews_with_the_sample_and_context() {
    let (record, prior) = product();
    let sample = Sample {
        record,
        prior: Some(prior),
    };
    let ctx = RenderContext {
        now: at("2024-06-15T10:30:00Z"),
        access_token: None,
        platform_token: None,
        id_seed: 9,
    };
    assert_eq!(
        evaluate("[MSRP] - PRIOR([MSRP])", &sample, &ctx),
        Ok(Value::Decimal(Decimal::parse("294.99").unwrap()))
    );
    assert_eq!(
        evaluate("TODAY", &sample, &ctx),
        Ok(Value::Date(Date::parse("2024-06-15").unwrap()))
    );
    let p = evaluate("[MSRP] >", &sample, &ctx).unwrap_err();
    assert_eq!(p.path, "expression");
    assert_eq!(p.span.map(|s| s.column), Some(9));
    let p = evaluate("[MSRP] / ([StandardCost] - [StandardCost])", &sample, &ctx).unwrap_err();
    assert_eq!(p.path, "expression");
    assert!(p.message.contains("division by zero"));
    let no_prior = Sample {
        prior: None,
        ..sample
    };
    assert!(evaluate("PRIOR([MSRP])", &no_prior, &ctx).is_err());
}

#[test]
fn expr_is_shareable_and_keeps_its_text() {
    fn shareable<T: Send + Sync + Clone>(_: &T) {}
    let e = compile("[MSRP] > 100", Usage::Updated).unwrap();
    shareable(&e);
    assert_eq!(e.text(), "[MSRP] > 100");
    assert_eq!(e.clone().usage(), Usage::Updated);
}

#[test]
fn constants_are_folded_at_compile_time() {
    let e = compile("[SellStartDate] >= DATE(1, 1, 2024)", Usage::Schedule).unwrap();
    match &e.inner.root.kind {
        tree::Kind::Chain { rest, .. } => {
            assert!(matches!(rest[0].2.kind, tree::Kind::Const(Value::Date(_))));
        }
        other => panic!("{other:?}"),
    }
}

// Limits, each obeyed and violated.

#[test]
fn expression_length_limit_obeyed() {
    let text = format!("'{}'", "x".repeat(MAX_EXPRESSION_CHARS - 2));
    assert_eq!(text.chars().count(), MAX_EXPRESSION_CHARS);
    assert!(compile(&text, Usage::Preview).is_ok());
}

#[test]
fn expression_length_limit_violated() {
    let text = format!("'{}'", "é".repeat(MAX_EXPRESSION_CHARS - 1));
    let (m, _) = compile_error(&text, Usage::Preview);
    assert!(m.contains(&MAX_EXPRESSION_CHARS.to_string()), "{m}");
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "(".repeat(depth), ")".repeat(depth))
}

#[test]
fn nesting_depth_limit_obeyed() {
    assert_eq!(show(&nested(MAX_NESTING_DEPTH)), "1");
    let calls = format!(
        "{}'x'{}",
        "LEFT(".repeat(MAX_NESTING_DEPTH),
        ", 1)".repeat(MAX_NESTING_DEPTH)
    );
    assert_eq!(show(&calls), "\"x\"");
}

#[test]
fn nesting_depth_limit_violated() {
    let (m, _) = compile_error(&nested(MAX_NESTING_DEPTH + 1), Usage::Preview);
    assert!(m.contains("nests more than"), "{m}");
    let minus = format!("{}1", "-".repeat(MAX_NESTING_DEPTH + 1));
    let (m, _) = compile_error(&minus, Usage::Preview);
    assert!(m.contains("nests more than"), "{m}");
}

fn list(n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!("[MSRP] IN ({})", items.join(","))
}

#[test]
fn list_length_limit_obeyed() {
    assert_eq!(show(&list(MAX_LIST_ITEMS)), "false");
}

#[test]
fn list_length_limit_violated() {
    let (m, _) = compile_error(&list(MAX_LIST_ITEMS + 1), Usage::Preview);
    assert!(m.contains("at most 1000 values"), "{m}");
}

fn big_record(bytes: usize) -> Vec<Attribute> {
    vec![Attribute {
        path: vec!["Big".into()],
        value: Value::Text("x".repeat(bytes)),
    }]
}

#[test]
fn text_size_limit_obeyed() {
    let record = big_record(MAX_TEXT_BYTES / 2);
    let scope = Scope::new(&record, None, at("2024-01-01T00:00:00Z"), 0);
    for text in ["[Big] & [Big]", "CONCAT([Big], [Big])"] {
        let v = compile(text, Usage::Record).unwrap().eval(&scope).unwrap();
        assert_eq!(v.to_string().len(), MAX_TEXT_BYTES);
    }
}

#[test]
fn text_size_limit_violated() {
    let record = big_record(MAX_TEXT_BYTES / 2);
    let scope = Scope::new(&record, None, at("2024-01-01T00:00:00Z"), 0);
    for text in [
        "[Big] & [Big] & 'x'",
        "CONCAT([Big], 'x', [Big])",
        "LENGTH([Big] & [Big] & [Big] & [Big])",
    ] {
        let err = compile(text, Usage::Record)
            .unwrap()
            .eval(&scope)
            .unwrap_err();
        assert!(
            err.message.contains("longer than"),
            "{text}: {}",
            err.message
        );
    }
}

#[test]
fn pattern_steps_limit_obeyed_and_violated_through_the_language() {
    let record = big_record(200_000);
    let scope = Scope::new(&record, None, at("2024-01-01T00:00:00Z"), 0);
    let ok = compile("CONTAINSPATTERN([Big], '*x')", Usage::Record).unwrap();
    assert_eq!(ok.eval(&scope).unwrap(), Value::Boolean(true));
    let bad = format!("CONTAINSPATTERN([Big], '*{}y')", "x".repeat(100));
    let err = compile(&bad, Usage::Record)
        .unwrap()
        .eval(&scope)
        .unwrap_err();
    assert!(err.message.contains("steps"), "{}", err.message);
}

#[test]
fn remembered_attribute_positions_never_change_answers() {
    let a = |name: &str, v: &str| Attribute {
        path: vec![name.into()],
        value: Value::Text(v.into()),
    };
    let first = vec![a("Code", "1"), a("Status", "Active")];
    let reordered = vec![a("Status", "Draft"), a("Code", "2")];
    let missing = vec![a("Code", "3")];
    let other_case = vec![a("status", "active"), a("Code", "4")];
    let e = compile("[Status] & '/' & [Code]", Usage::Record).unwrap();
    let now = at("2024-01-01T00:00:00Z");
    let run = |r: &[Attribute]| e.eval(&Scope::new(r, None, now, 0)).unwrap().to_string();
    for _ in 0..2 {
        assert_eq!(run(&first), "Active/1");
        assert_eq!(run(&reordered), "Draft/2");
        assert_eq!(run(&missing), "/3");
        assert_eq!(run(&other_case), "active/4");
    }
}
