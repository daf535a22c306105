//! Rendering 10,000 record changes through a 10-field Records mapping in batches of 500,
//! natively, from a page written once (what the component receives), and from owned
//! changes (the page written in each iteration). The `boundary` bench pairs the first with
//! the same render through wasmtime.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use webhook_provider::Plan;
use webhook_provider::model::{
    Attribute, ChangeKind, Configuration, Field, FieldValue, Instant, Member, RecordChange,
    RenderContext, RunOptions, Strategy, Trigger, UtcOnly, Value,
};
use webhook_provider::page::Page;

const CHANGES: usize = 10_000;
const FIELDS: usize = 10;

fn plan() -> Plan {
    let config = Configuration {
        name: "bench".into(),
        webhook_url: "https://hooks.example.com/in".into(),
        max_body_bytes: Some(16 * 1024 * 1024),
        ..Default::default()
    };
    let strategy = Strategy {
        name: "bench".into(),
        entity: "Customer".into(),
        records: (0..FIELDS)
            .map(|i| Field {
                key: format!("Field{i}"),
                value: FieldValue::Expression(format!("[F{i}]")),
            })
            .collect(),
        run_options: RunOptions {
            run_as_user: "svc".into(),
            batch_size: 500,
            added: Trigger {
                enabled: true,
                filter: None,
            },
            ..Default::default()
        },
        ..Default::default()
    };
    Plan::compile(config, strategy, &UtcOnly).expect("the bench strategy compiles")
}

fn changes() -> Vec<RecordChange> {
    (0..CHANGES)
        .map(|i| RecordChange {
            event_id: format!("evt-{i}"),
            kind: ChangeKind::Added,
            entity: "Customer".into(),
            code: format!("C-{i:05}"),
            new_state: Some(Member {
                code: format!("C-{i:05}"),
                attributes: (0..FIELDS)
                    .map(|f| Attribute {
                        path: vec![format!("F{f}")],
                        value: Value::Text(format!("value {f} of record {i}")),
                    })
                    .collect(),
            }),
            prior_state: None,
            changed_by: "alice".into(),
            at: Instant {
                seconds: 1_718_447_400,
                nanoseconds: 0,
            },
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let plan = plan();
    let changes = changes();
    let ctx = RenderContext {
        now: Instant {
            seconds: 1_718_447_400,
            nanoseconds: 0,
        },
        access_token: None,
        platform_token: None,
        id_seed: 1,
    };
    let requests = plan.on_changes(&changes, &ctx).unwrap();
    assert_eq!(requests.len(), CHANGES / 500);
    let (page, over) = Page::of_changes(&changes);
    assert_eq!(
        plan.render_changes(&page.clone().check("page").unwrap(), &over, &ctx)
            .unwrap(),
        requests
    );
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(CHANGES as u64));
    group.bench_function(
        "native 10k changes x 10 fields, batches of 500, page",
        |b| {
            b.iter(|| {
                let page = black_box(&page).clone().check("page").unwrap();
                black_box(plan.render_changes(&page, &over, &ctx).unwrap())
            })
        },
    );
    group.bench_function(
        "native 10k changes x 10 fields, batches of 500, owned",
        |b| b.iter(|| black_box(plan.on_changes(black_box(&changes), &ctx).unwrap())),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
