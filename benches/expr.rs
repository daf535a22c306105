//! Evaluating a compiled 5-clause filter 100,000 times: the per-record cost of a trigger
//! or schedule filter. Criterion reports the time per 100,000 evaluations; divide by
//! 100,000 for ns/record (the throughput line shows records per second).
//!
//! Two runs: over 100,000 distinct generated records (about 150 MB, far beyond the
//! caches, so it mostly measures memory latency while following attribute paths), and
//! over 1,000 records 100 times (records in cache, as when a host filters a batch it has
//! just decoded).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use webhook_provider::expr::{Scope, Usage, compile};
use webhook_provider::model::{Attribute, Date, Decimal, Instant, Value};

const RECORDS: usize = 100_000;

const FILTER: &str = "[MSRP] > 100 AND [Status] = \"Active\" AND [Class].[Code] IN (\"H\",\"M\") \
                      AND LEFT([Code],2) = \"BK\" AND [SellStartDate] >= DATE(1,1,2024)";

fn attr(path: &[&str], value: Value) -> Attribute {
    Attribute {
        path: path.iter().map(|s| s.to_string()).collect(),
        value,
    }
}

/// Product-like records; most pass every clause so all five are evaluated.
fn records() -> Vec<Vec<Attribute>> {
    let classes = ["H", "M", "L"];
    let statuses = ["Active", "Active", "Active", "Draft"];
    (0..RECORDS)
        .map(|i| {
            let start = Date::from_days_since_epoch(19_700 + (i % 400) as i64).expect("a date");
            vec![
                attr(&["Code"], Value::Text(format!("BK-{i:06}"))),
                attr(&["Name"], Value::Text(format!("Mountain-{i} Black"))),
                attr(
                    &["MSRP"],
                    Value::Decimal(
                        Decimal::new(5_000 + (i % 300_000) as i128, 2).expect("a decimal"),
                    ),
                ),
                attr(&["StandardCost"], Value::Decimal(Decimal::from_i64(1251))),
                attr(
                    &["Status"],
                    Value::Text(statuses[i % statuses.len()].into()),
                ),
                attr(
                    &["Class", "Code"],
                    Value::Text(classes[i % classes.len()].into()),
                ),
                attr(&["Class", "Name"], Value::Text("High".into())),
                attr(&["Color", "Code"], Value::Text("BK".into())),
                attr(&["SellStartDate"], Value::Date(start)),
                attr(&["SellEndDate"], Value::Null),
            ]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let filter = compile(FILTER, Usage::Schedule).expect("the filter compiles");
    let records = records();
    let now = Instant::new(1_718_447_400, 0).expect("an instant");
    let mut group = c.benchmark_group("expr");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(20);
    let mut run = |name: &str, order: &[usize]| {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut passed = 0usize;
                for (n, &i) in order.iter().enumerate() {
                    let scope = Scope::new(&records[i], None, now, n as u64);
                    if filter.matches(black_box(&scope)).expect("evaluates") {
                        passed += 1;
                    }
                }
                black_box(passed)
            })
        });
    };
    let distinct: Vec<usize> = (0..RECORDS).collect();
    run("5-clause filter, 100k distinct records", &distinct);
    // Every 100th record, so the 1,000 still cover the whole range of values.
    let cached: Vec<usize> = (0..RECORDS).map(|n| (n % 1000) * 100).collect();
    run("5-clause filter, 1k records x 100", &cached);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
