//! Fuzzing that stays: a stable-Rust harness (no nightly, no cargo-fuzz) that mutates seed
//! inputs and feeds them to each target, checking that none panics and none hangs.
//!
//! Targets: the expression language (compile and evaluate), cron (parse and preview),
//! configuration and strategy compilation through the sandboxed component, token
//! responses, and the API's body parsing. Each run is seeded and bounded:
//! `FUZZ_ITERATIONS` inputs per target (default 2,000, the smoke run `cargo test` makes),
//! from `FUZZ_SEED` (default fixed, so a failure reproduces). A long run:
//! `FUZZ_ITERATIONS=2000000 cargo test --release --test fuzz -- --nocapture`; its figures
//! are in the README's reliability section.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant as Clock};

use webhook_provider::model::{Instant, RenderContext, Sample, UtcOnly};

/// The longest one input may take before it counts as a hang: far above any input's
/// honest cost (a few milliseconds at most), so only a runaway trips it.
const HANG: Duration = Duration::from_secs(2);

fn iterations() -> u64 {
    std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// A small, seeded PRNG (SplitMix64): the run is the same for the same seed.
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Rng {
        let seed = std::env::var("FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x5eed_f00d);
        Rng(seed ^ salt)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `seed`: byte flips, insertions of dictionary words or random bytes,
/// deletions, duplications and splices, a few at a time.
fn mutate(rng: &mut Rng, seed: &[u8], dictionary: &[&str]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let w = dictionary[rng.below(dictionary.len())];
                v.splice(at..at, w.bytes());
            }
            2 => v.insert(at, rng.next() as u8),
            3 if !v.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(v.len());
                v.drain(at.min(end)..end);
            }
            4 if !v.is_empty() => {
                let from = rng.below(v.len());
                let end = (from + 1 + rng.below(16)).min(v.len());
                let piece = v[from..end].to_vec();
                v.splice(at..at, piece);
            }
            _ => {
                let w = dictionary[rng.below(dictionary.len())];
                v.extend_from_slice(w.as_bytes());
            }
        }
    }
    v
}

/// Feed `iterations()` mutated inputs to `target`; fail with the input on a panic or a
/// hang. Prints the figures (executions, panics, hangs, time).
fn run(name: &str, salt: u64, seeds: &[Vec<u8>], dictionary: &[&str], target: impl Fn(&[u8])) {
    let mut rng = Rng::new(salt);
    let n = iterations();
    let started = Clock::now();
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let seed = &seeds[rng.below(seeds.len())];
        let input = if i % 8 == 0 {
            seed.clone()
        } else {
            mutate(&mut rng, seed, dictionary)
        };
        let t = Clock::now();
        let result = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let took = t.elapsed();
        slowest = slowest.max(took);
        if result.is_err() {
            panic!(
                "{name}: input {i} panicked: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        assert!(
            took < HANG,
            "{name}: input {i} took {took:?} (a hang): {:?}",
            String::from_utf8_lossy(&input)
        );
    }
    eprintln!(
        "fuzz {name}: {n} executions, 0 panics, 0 hangs, {:.1} s, slowest input {:?}",
        started.elapsed().as_secs_f64(),
        slowest
    );
}

/// A JSON record as the component's attributes, through the host's reader.
fn attributes(json: &serde_json::Value) -> Vec<webhook_provider::model::Attribute> {
    use host_test::bindings::Value as B;
    use webhook_provider::model::{Attribute, Date, Decimal, Value};
    host_test::formats::attributes(json, "record")
        .unwrap()
        .into_iter()
        .map(|a| Attribute {
            path: a.path,
            value: match a.value {
                B::Null => Value::Null,
                B::Text(t) => Value::Text(t),
                B::Decimal(d) => Value::Decimal(Decimal::parse(&d).unwrap()),
                B::Boolean(b) => Value::Boolean(b),
                B::Date(d) => Value::Date(Date::new(d.year, d.month, d.day).unwrap()),
                B::Datetime(i) => Value::DateTime(Instant::new(i.seconds, i.nanoseconds).unwrap()),
            },
        })
        .collect()
}

const EXPRESSION_WORDS: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    ",",
    "'",
    "\"",
    ".",
    "[Code]",
    "[Class].[Code]",
    "[$LastChgDTM]",
    " AND ",
    " OR ",
    " IN (",
    " NOT IN (",
    "=",
    "<>",
    ">=",
    "<",
    "+",
    "-",
    "*",
    "/",
    "&",
    "IF(",
    "NOT(",
    "CONCAT(",
    "CONTAINSPATTERN(",
    "LEFT(",
    "SUBSTRING(",
    "DATEADD(",
    "DATETIMEUTC(",
    "RELATIVEDATE(",
    "TONUMBER(",
    "TODATE(",
    "CHANGED(",
    "PRIOR(",
    "NOW",
    "TODAY",
    "NEWGUID",
    "DAY",
    "StartOfMonth",
    "NULL",
    "TRUE",
    "99999999999999999999999999999999999999",
    "0.0000000000000000000000000001",
    "1e5",
    "-",
    "\u{e9}",
    "\u{1f600}",
    "*#?[!a-z]",
];

#[test]
fn fuzz_the_expression_language() {
    let conformance: serde_json::Value =
        serde_json::from_str(include_str!("data/conformance/expressions.json")).unwrap();
    let record = attributes(&conformance["record"]);
    let prior = attributes(&conformance["prior"]);
    let sample = Sample {
        record,
        prior: Some(prior),
    };
    let seeds: Vec<Vec<u8>> = conformance["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["expr"].as_str())
        .map(|e| e.as_bytes().to_vec())
        .collect();
    let ctx = RenderContext {
        now: Instant {
            seconds: 1_718_447_400,
            nanoseconds: 0,
        },
        access_token: None,
        platform_token: None,
        id_seed: 7,
    };
    run("expressions", 1, &seeds, EXPRESSION_WORDS, |input| {
        let text = String::from_utf8_lossy(input);
        let _ = webhook_provider::expr::evaluate(&text, &sample, &ctx);
        let _ = webhook_provider::expr::compile(&text, webhook_provider::expr::Usage::Record);
    });
}

#[test]
fn fuzz_cron() {
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("data/conformance/cron-cases.json")).unwrap();
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    collect_strings(&cases, "expr", &mut seeds);
    seeds.extend(
        [
            "@daily",
            "0 0 13 * FRI",
            "*/5 9-17 * * MON-FRI",
            "0 0 L * ?",
        ]
        .map(|s| s.as_bytes().to_vec()),
    );
    let words = [
        "*",
        "/",
        ",",
        "-",
        "?",
        "L",
        "W",
        "#",
        "LW",
        "L-3",
        "JAN",
        "February",
        "MON",
        "7",
        "0",
        "59",
        "60",
        "31",
        "99999999999",
        " ",
        "@hourly",
        "@",
        "\u{e9}",
    ];
    let after = Instant {
        seconds: 1_718_447_400,
        nanoseconds: 0,
    };
    run("cron", 2, &seeds, &words, |input| {
        let text = String::from_utf8_lossy(input);
        let _ = webhook_provider::plan::cron_preview(&text, None, after, 5, &UtcOnly);
    });
}

/// Every string value in `v`, to mutate in place.
fn string_leaves<'a>(v: &'a mut serde_json::Value, out: &mut Vec<&'a mut String>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Object(m) => m.values_mut().for_each(|x| string_leaves(x, out)),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| string_leaves(x, out)),
        _ => {}
    }
}

/// Every string under `key` anywhere in `v`.
fn collect_strings(v: &serde_json::Value, key: &str, out: &mut Vec<Vec<u8>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x {
                    serde_json::Value::String(s) if k == key => out.push(s.as_bytes().to_vec()),
                    other => collect_strings(other, key, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, key, out)),
        _ => {}
    }
}

#[test]
fn fuzz_token_responses() {
    let seeds: Vec<Vec<u8>> = [
        r#"{"access_token":"abc","token_type":"Bearer","expires_in":3600,"scope":"x"}"#,
        r#"{"error":"invalid_client","error_description":"bad secret"}"#,
        r#"{"access_token":"a","token_type":"bearer","expires_in":"60"}"#,
        r#"{"a":[1,{"b":[[[]]]}],"access_token":"\u00e9\ud83d\ude00"}"#,
    ]
    .map(|s| s.as_bytes().to_vec())
    .to_vec();
    let words = [
        "{", "}", "[", "]", "\"", ":", ",", "\\u0000", "\\ud800", "1e999", "-", "null", "true",
    ];
    let now = Instant {
        seconds: 1_718_447_400,
        nanoseconds: 0,
    };
    run("token responses", 3, &seeds, &words, |input| {
        for status in [200, 400, 401, 500] {
            let _ = webhook_provider::oauth::accept_token(status, input, now);
        }
    });
}

#[test]
fn fuzz_api_bodies() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = vec![
        std::fs::read(root.join("examples/customer.changes.json")).unwrap(),
        br#"[{"event-id":"e","kind":"added","entity":"E","code":"C","new-state":{"Code":"C","N":1.5},"changed-by":"u","at":"2024-06-15T10:30:00Z"}]"#.to_vec(),
    ];
    let words = [
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "1e5",
        "\"2024-02-30\"",
        "\"+19:00\"",
        "null",
        "-0",
        "\\u0000",
    ];
    run("API bodies", 4, &seeds, &words, |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(list) = host_test::formats::parse::<Vec<host_test::formats::ChangeJson>>(&text) {
            for (i, c) in list.into_iter().enumerate() {
                let _ = c.into_wit(&format!("[{i}]"));
            }
        }
    });
}

#[test]
fn fuzz_configuration_and_strategy_compilation() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let strategy = std::fs::read_to_string(root.join("examples/customer.strategy.json")).unwrap();
    let rt = host_test::Runtime::new(host_test::Limits::default()).unwrap();
    let seeds = [strategy.as_bytes().to_vec()];
    let words = [
        "\"",
        ",",
        "[",
        "]",
        "{",
        "}",
        "0",
        "-1",
        "4294967296",
        "\"[Code] =\"",
        "\"0 25 * * *\"",
        "\"Mars/Olympus\"",
    ];
    let base = host_test::formats::read_configuration(&root.join("examples/customer.config.json"))
        .unwrap();
    // Through the sandboxed component: a trap here would be a bug in the component. Most
    // inputs mutate one string of the strategy (an expression, a cron text, a name), so
    // they reach compilation; the rest mutate its bytes, to reach the reader's errors.
    let tree: serde_json::Value = serde_json::from_slice(&seeds[0]).unwrap();
    let n = (iterations() / 10).max(50);
    let mut rng = Rng::new(5);
    let started = Clock::now();
    let mut reached = 0u64;
    for i in 0..n {
        let input = if i % 4 == 0 {
            mutate(&mut rng, &seeds[0], &words)
        } else {
            let mut t = tree.clone();
            let mut leaves = Vec::new();
            string_leaves(&mut t, &mut leaves);
            let k = rng.below(leaves.len());
            let leaf = &mut *leaves[k];
            let bytes = mutate(&mut rng, leaf.as_bytes(), EXPRESSION_WORDS);
            *leaf = String::from_utf8_lossy(&bytes).into_owned();
            serde_json::to_vec(&t).unwrap()
        };
        let text = String::from_utf8_lossy(&input);
        let Ok(s) = host_test::formats::parse::<host_test::formats::StrategyJson>(&text) else {
            continue;
        };
        let Ok(strategy) = s.into_wit() else { continue };
        reached += 1;
        match rt.session(&base, &strategy) {
            Ok(_) | Err(host_test::HostError::Invalid(_)) => {}
            Err(e) => panic!("input {i}: the component failed instead of answering: {e}: {text}"),
        }
    }
    eprintln!(
        "fuzz configuration and strategy: {n} executions, {reached} of them compiled by the component, 0 traps, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(reached > 0, "no mutation reached the component");
}
