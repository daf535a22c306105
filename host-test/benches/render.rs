//! The component's hot paths through wasmtime, in the sandbox with its default limits:
//! rendering 10,000 changes through a 10-field Records mapping in batches of 500 (compare
//! with the root package's native `render` bench), and a 5-clause filter over 100,000
//! members (a scheduled run whose filter passes none, so it measures filtering and the
//! boundary, not rendering; compare with the root package's `expr` bench).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use host_test::bindings as b;
use host_test::{Limits, Runtime};

const CHANGES: usize = 10_000;
const FIELDS: usize = 10;
const MEMBERS: usize = 100_000;

const FILTER: &str = "[MSRP] > 100 AND [Status] = \"Active\" AND [Class].[Code] IN (\"H\",\"M\") \
                      AND LEFT([Code],2) = \"BK\" AND [SellStartDate] >= DATE(1,1,2024)";

fn text(s: impl Into<String>) -> b::Value {
    b::Value::Text(s.into())
}

fn attr(path: &[&str], value: b::Value) -> b::Attribute {
    b::Attribute {
        path: path.iter().map(|s| s.to_string()).collect(),
        value,
    }
}

fn config() -> b::Configuration {
    b::Configuration {
        name: "bench".into(),
        webhook_url: "https://hooks.example.com/in".into(),
        include_platform_token: false,
        oauth: b::OauthSettings {
            token_url: None,
            client_id: None,
            client_secret: None,
            scope: None,
            client_auth: b::ClientAuth::Basic,
        },
        headers: vec![],
        query: vec![],
        signing_secrets: vec![],
        max_body_bytes: Some(16 * 1024 * 1024),
    }
}

fn strategy() -> b::Strategy {
    let off = b::Trigger {
        enabled: false,
        filter: None,
    };
    b::Strategy {
        name: "bench".into(),
        entity: "Product".into(),
        headers: vec![],
        body: vec![],
        records: (0..FIELDS)
            .map(|i| b::Field {
                key: format!("Field{i}"),
                value: b::FieldValue::Expression(format!("[F{i}]")),
            })
            .collect(),
        run_options: b::RunOptions {
            run_as_user: "svc".into(),
            batch_size: 500,
            sync_enabled: false,
            sync_record_limit: 0,
            async_enabled: false,
            added: b::Trigger {
                enabled: true,
                filter: None,
            },
            updated: off.clone(),
            deleted: off,
        },
        schedules: vec![b::Schedule {
            name: "filter-only".into(),
            cron: "@daily".into(),
            // Every clause but the last passes, so all five are evaluated and none sent.
            filter: Some(format!("{FILTER} AND [Name] = \"never\"")),
            time_zone: None,
        }],
    }
}

fn changes() -> Vec<b::RecordChange> {
    (0..CHANGES)
        .map(|i| b::RecordChange {
            event_id: format!("evt-{i}"),
            kind: b::ChangeKind::Added,
            entity: "Product".into(),
            code: format!("C-{i:05}"),
            new_state: Some(b::Member {
                code: format!("C-{i:05}"),
                attributes: (0..FIELDS)
                    .map(|f| {
                        attr(
                            &[&format!("F{f}")],
                            text(format!("value {f} of record {i}")),
                        )
                    })
                    .collect(),
            }),
            prior_state: None,
            changed_by: "alice".into(),
            at: b::Instant {
                seconds: 1_718_447_400,
                nanoseconds: 0,
            },
        })
        .collect()
}

fn members() -> Vec<b::Member> {
    let classes = ["H", "M", "L"];
    (0..MEMBERS)
        .map(|i| b::Member {
            code: format!("BK-{i:06}"),
            attributes: vec![
                attr(&["Code"], text(format!("BK-{i:06}"))),
                attr(&["Name"], text(format!("Mountain-{i} Black"))),
                attr(
                    &["MSRP"],
                    b::Value::Decimal(format!("{}.{:02}", 50 + i % 3000, i % 100)),
                ),
                attr(&["Status"], text("Active")),
                attr(&["Class", "Code"], text(classes[i % 2])),
                attr(&["Class", "Name"], text("High")),
                attr(
                    &["SellStartDate"],
                    b::Value::Date(b::Date {
                        year: 2024,
                        month: 6,
                        day: 1,
                    }),
                ),
            ],
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new(Limits::default()).unwrap();
    let mut session = rt.session(&config(), &strategy()).unwrap();
    let ctx = b::RenderContext {
        now: b::Instant {
            seconds: 1_718_447_400,
            nanoseconds: 0,
        },
        access_token: None,
        platform_token: None,
        id_seed: 1,
    };

    let changes = changes();
    assert_eq!(
        session.on_changes(&changes, &ctx).unwrap().len(),
        CHANGES / 500
    );
    let fuel = Limits::default().fuel - session.fuel_left();
    eprintln!(
        "render: {fuel} fuel for {CHANGES} changes ({} per record)",
        fuel / CHANGES as u64
    );
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(CHANGES as u64));
    group.bench_function("wasm 10k changes x 10 fields, batches of 500", |bench| {
        bench.iter(|| black_box(session.on_changes(black_box(&changes), &ctx).unwrap()))
    });
    group.finish();

    let members = members();
    assert!(
        session
            .on_schedule("filter-only", &members, &ctx)
            .unwrap()
            .is_empty()
    );
    let fuel = Limits::default().fuel - session.fuel_left();
    eprintln!(
        "filter: {fuel} fuel for {MEMBERS} members ({} per record)",
        fuel / MEMBERS as u64
    );
    let mut group = c.benchmark_group("filter");
    group.throughput(Throughput::Elements(MEMBERS as u64));
    group.sample_size(10);
    group.bench_function("wasm 5-clause filter over 100k members", |bench| {
        bench.iter(|| {
            black_box(
                session
                    .on_schedule("filter-only", black_box(&members), &ctx)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
