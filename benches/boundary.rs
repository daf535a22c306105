//! The figures of the 0.2.0 contract, native and through wasmtime, measured paired in one
//! process: each round times the native render and then the same render through the
//! sandboxed component (A, B, A, B, ...), and the table gives the median of the rounds
//! and their range. `cargo bench --bench boundary` (add `-- quick` for fewer rounds, and
//! `-- sandbox` for the cost of fuel and of the pooling allocator).
//!
//! Every workload is checked before it is timed (the requests it renders, the members a
//! filter passes), so a bench that measures nothing fails instead.
//!
//! - render: N changes x F-field Records mapping (`[F0]`...), batches of B, added;
//! - filter: a 5-clause filter over 100,000 members of one page (none sent);
//! - instance: a fresh sandboxed instance from the `InstancePre`;
//! - re-sign: the signature headers for a 100-record request (id and body in, headers out).

use std::hint::black_box;
use std::time::{Duration, Instant as Clock};

use host_test::bindings as b;
use host_test::contract::records;
use host_test::{Limits, Runtime};
use webhook_provider::Plan;
use webhook_provider::model as m;
use webhook_provider::page::Page;

const NOW: i64 = 1_718_447_400;

const FILTER: &str = "[MSRP] > 100 AND [Status] = \"Active\" AND [Class].[Code] IN (\"H\",\"M\") \
                      AND LEFT([Code],2) = \"BK\" AND [SellStartDate] >= DATE(1,1,2024)";

fn rounds() -> usize {
    if std::env::args().any(|a| a == "quick") {
        5
    } else {
        15
    }
}

/// The page as the native renderer reads it: copied (as lowering copies it into the
/// guest) and checked, in every iteration, so that both sides do the same work.
fn checked(page: &Page) -> webhook_provider::page::Checked {
    page.clone().check("page").unwrap()
}

/// The median and range of `xs`, in the unit given.
fn stats(xs: &mut [f64]) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

/// Time `f` over enough iterations to take about `target`; seconds per iteration.
fn time_per_iter(target: Duration, mut f: impl FnMut()) -> f64 {
    let start = Clock::now();
    f();
    let once = start.elapsed().max(Duration::from_nanos(50));
    let iters = (target.as_secs_f64() / once.as_secs_f64()).clamp(1.0, 1e7) as u64;
    let start = Clock::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_secs_f64() / iters as f64
}

struct Render {
    changes: usize,
    fields: usize,
    batch: u32,
}

fn native_plan(fields: usize, batch: u32) -> Plan {
    let config = m::Configuration {
        name: "bench".into(),
        webhook_url: "https://hooks.example.com/in".into(),
        max_body_bytes: Some(16 * 1024 * 1024),
        ..Default::default()
    };
    let strategy = m::Strategy {
        name: "bench".into(),
        entity: "Product".into(),
        records: (0..fields)
            .map(|i| m::Field {
                key: format!("Field{i}"),
                value: m::FieldValue::Expression(format!("[F{i}]")),
            })
            .collect(),
        run_options: m::RunOptions {
            run_as_user: "svc".into(),
            batch_size: batch,
            added: m::Trigger {
                enabled: true,
                filter: None,
            },
            ..Default::default()
        },
        schedules: vec![m::Schedule {
            name: "filter-only".into(),
            cron: "@daily".into(),
            filter: Some(format!("{FILTER} AND [Name] = \"never\"")),
            time_zone: None,
        }],
        ..Default::default()
    };
    Plan::compile(config, strategy, &m::UtcOnly).expect("the bench strategy compiles")
}

fn wasm_pair(fields: usize, batch: u32, signed: bool) -> (b::Configuration, b::Strategy) {
    let off = b::Trigger {
        enabled: false,
        filter: None,
    };
    let config = b::Configuration {
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
        signing_secrets: if signed {
            vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()]
        } else {
            vec![]
        },
        max_body_bytes: Some(16 * 1024 * 1024),
    };
    let strategy = b::Strategy {
        name: "bench".into(),
        entity: "Product".into(),
        headers: vec![],
        body: vec![],
        records: (0..fields)
            .map(|i| b::Field {
                key: format!("Field{i}"),
                value: b::FieldValue::Expression(format!("[F{i}]")),
            })
            .collect(),
        run_options: b::RunOptions {
            run_as_user: "svc".into(),
            batch_size: batch,
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
            filter: Some(format!("{FILTER} AND [Name] = \"never\"")),
            time_zone: None,
        }],
    };
    (config, strategy)
}

fn host_changes(n: usize, fields: usize) -> Vec<b::RecordChange> {
    (0..n)
        .map(|i| b::RecordChange {
            event_id: format!("evt-{i}"),
            kind: b::ChangeKind::Added,
            entity: "Product".into(),
            code: format!("C-{i:05}"),
            new_state: Some(b::Member {
                code: format!("C-{i:05}"),
                attributes: (0..fields)
                    .map(|f| b::Attribute {
                        path: vec![format!("F{f}")],
                        value: b::Value::Text(format!("value {f} of record {i}")),
                    })
                    .collect(),
            }),
            prior_state: None,
            changed_by: "alice".into(),
            at: b::Instant {
                seconds: NOW,
                nanoseconds: 0,
            },
        })
        .collect()
}

fn native_changes(n: usize, fields: usize) -> Vec<m::RecordChange> {
    (0..n)
        .map(|i| m::RecordChange {
            event_id: format!("evt-{i}"),
            kind: m::ChangeKind::Added,
            entity: "Product".into(),
            code: format!("C-{i:05}"),
            new_state: Some(m::Member {
                code: format!("C-{i:05}"),
                attributes: (0..fields)
                    .map(|f| m::Attribute {
                        path: vec![format!("F{f}")],
                        value: m::Value::Text(format!("value {f} of record {i}")),
                    })
                    .collect(),
            }),
            prior_state: None,
            changed_by: "alice".into(),
            at: m::Instant {
                seconds: NOW,
                nanoseconds: 0,
            },
        })
        .collect()
}

fn host_members(n: usize) -> Vec<b::Member> {
    let text = |s: String| b::Value::Text(s);
    let attr = |path: &[&str], value| b::Attribute {
        path: path.iter().map(|s| s.to_string()).collect(),
        value,
    };
    let classes = ["H", "M", "L"];
    (0..n)
        .map(|i| b::Member {
            code: format!("BK-{i:06}"),
            attributes: vec![
                attr(&["Code"], text(format!("BK-{i:06}"))),
                attr(&["Name"], text(format!("Mountain-{i} Black"))),
                attr(
                    &["MSRP"],
                    b::Value::Decimal(format!("{}.{:02}", 50 + i % 3000, i % 100)),
                ),
                attr(&["Status"], text("Active".into())),
                attr(&["Class", "Code"], text(classes[i % 2].into())),
                attr(&["Class", "Name"], text("High".into())),
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

/// Host members as the native model's, through their JSON-free value forms.
fn native_members(host: &[b::Member]) -> Vec<m::Member> {
    host.iter()
        .map(|h| m::Member {
            code: h.code.clone(),
            attributes: h
                .attributes
                .iter()
                .map(|a| m::Attribute {
                    path: a.path.clone(),
                    value: match &a.value {
                        b::Value::Text(t) => m::Value::Text(t.clone()),
                        b::Value::Decimal(d) => m::Value::Decimal(m::Decimal::parse(d).unwrap()),
                        b::Value::Date(d) => {
                            m::Value::Date(m::Date::new(d.year, d.month, d.day).unwrap())
                        }
                        _ => m::Value::Null,
                    },
                })
                .collect(),
        })
        .collect()
}

fn main() {
    let rounds = rounds();
    let target = Duration::from_millis(if rounds > 5 { 200 } else { 100 });
    // BOUNDARY_WASM runs a saved build of another page shape against its own bench binary.
    let path = std::env::var("BOUNDARY_WASM").unwrap_or(host_test::COMPONENT_WASM.into());
    let path = std::path::Path::new(&path);
    let rt = Runtime::from_file(path, Limits::default()).expect("the component loads");
    let host_ctx = b::RenderContext {
        now: b::Instant {
            seconds: NOW,
            nanoseconds: 0,
        },
        access_token: None,
        platform_token: None,
        id_seed: 1,
    };
    let native_ctx = m::RenderContext {
        now: m::Instant {
            seconds: NOW,
            nanoseconds: 0,
        },
        access_token: None,
        platform_token: None,
        id_seed: 1,
    };
    // `-- profile`: only the wasm 10,000 x 10 render, for 5 s, to run under `perf record`
    // with WEBHOOK_PROVIDER_PERFMAP set (BENCHMARKS.md, "Profiling").
    if std::env::args().any(|a| a == "profile") {
        let (config, strategy) = wasm_pair(10, 500, false);
        let mut session = rt.session(&config, &strategy).unwrap();
        let (hp, hc) = records::page_of_changes(&host_changes(10_000, 10));
        let start = Clock::now();
        while start.elapsed() < Duration::from_secs(5) {
            black_box(session.on_changes_page(&hp, &hc, &host_ctx).unwrap());
        }
        return;
    }
    println!("{rounds} rounds, native then wasm in each; medians, [min-max] over the rounds\n");
    println!("| workload | native records/s | wasm records/s | wasm/native |");
    println!("| --- | ---: | ---: | ---: |");

    let workloads = [
        Render {
            changes: 10_000,
            fields: 10,
            batch: 500,
        },
        Render {
            changes: 10_000,
            fields: 10,
            batch: 1,
        },
        Render {
            changes: 10_000,
            fields: 10,
            batch: 10,
        },
        Render {
            changes: 10_000,
            fields: 10,
            batch: 100,
        },
        Render {
            changes: 10_000,
            fields: 10,
            batch: 1_000,
        },
        Render {
            changes: 2_000,
            fields: 100,
            batch: 500,
        },
        Render {
            changes: 1,
            fields: 10,
            batch: 1,
        },
    ];
    for w in &workloads {
        let plan = native_plan(w.fields, w.batch);
        let (np, nc) = Page::of_changes(&native_changes(w.changes, w.fields));
        let (config, strategy) = wasm_pair(w.fields, w.batch, false);
        let mut session = rt.session(&config, &strategy).unwrap();
        let (hp, hc) = records::page_of_changes(&host_changes(w.changes, w.fields));
        let expect = w.changes.div_ceil(w.batch as usize);
        let native = plan
            .render_changes(&checked(&np), &nc, &native_ctx)
            .unwrap();
        let wasm = session.on_changes_page(&hp, &hc, &host_ctx).unwrap();
        assert_eq!(native.len(), expect);
        assert_eq!(wasm.len(), expect);
        // Same input, same bytes.
        assert_eq!(native[0].body, wasm[0].body);
        let (mut n, mut x, mut ratio) = (vec![], vec![], vec![]);
        for _ in 0..rounds {
            let tn = time_per_iter(target, || {
                black_box(
                    plan.render_changes(&checked(black_box(&np)), &nc, &native_ctx)
                        .unwrap(),
                );
            });
            let tw = time_per_iter(target, || {
                black_box(
                    session
                        .on_changes_page(black_box(&hp), &hc, &host_ctx)
                        .unwrap(),
                );
            });
            n.push(w.changes as f64 / tn);
            x.push(w.changes as f64 / tw);
            ratio.push(tw / tn);
        }
        let (n, n0, n1) = stats(&mut n);
        let (x, x0, x1) = stats(&mut x);
        let (r, r0, r1) = stats(&mut ratio);
        println!(
            "| {} changes x {} fields, batches of {} | {:.0} [{:.0}-{:.0}] | {:.0} [{:.0}-{:.0}] | {:.2} [{:.2}-{:.2}] |",
            w.changes, w.fields, w.batch, n, n0, n1, x, x0, x1, r, r0, r1
        );
    }

    // The boundary alone: every change is by the run-as user, so the page is lowered,
    // checked and resolved, and nothing is rendered.
    {
        let plan = native_plan(10, 500);
        let mut nat = native_changes(10_000, 10);
        nat.iter_mut().for_each(|c| c.changed_by = "svc".into());
        let (np, nc) = Page::of_changes(&nat);
        let (config, strategy) = wasm_pair(10, 500, false);
        let mut session = rt.session(&config, &strategy).unwrap();
        let mut host = host_changes(10_000, 10);
        host.iter_mut().for_each(|c| c.changed_by = "svc".into());
        let (hp, hc) = records::page_of_changes(&host);
        assert!(
            plan.render_changes(&checked(&np), &nc, &native_ctx)
                .unwrap()
                .is_empty()
        );
        assert!(
            session
                .on_changes_page(&hp, &hc, &host_ctx)
                .unwrap()
                .is_empty()
        );
        let (mut n, mut x) = (vec![], vec![]);
        for _ in 0..rounds {
            n.push(
                time_per_iter(target, || {
                    black_box(
                        plan.render_changes(&checked(black_box(&np)), &nc, &native_ctx)
                            .unwrap(),
                    );
                }) / 10_000.0,
            );
            x.push(
                time_per_iter(target, || {
                    black_box(
                        session
                            .on_changes_page(black_box(&hp), &hc, &host_ctx)
                            .unwrap(),
                    );
                }) / 10_000.0,
            );
        }
        let (n, n0, n1) = stats(&mut n);
        let (x, x0, x1) = stats(&mut x);
        println!(
            "| boundary only: 10000 changes x 10 fields, all dropped (per record) | {:.0} ns [{:.0}-{:.0}] | {:.0} ns [{:.0}-{:.0}] | {:.2} |",
            n * 1e9,
            n0 * 1e9,
            n1 * 1e9,
            x * 1e9,
            x0 * 1e9,
            x1 * 1e9,
            x / n
        );
    }

    // The filter: 100,000 members, none passes the last clause.
    let members = host_members(100_000);
    let hp = records::page_of_members(&members);
    let np = Page::of_members(&native_members(&members));
    let plan = native_plan(10, 500);
    let (config, strategy) = wasm_pair(10, 500, false);
    let mut session = rt.session(&config, &strategy).unwrap();
    assert!(
        plan.render_schedule("filter-only", &checked(&np), &native_ctx)
            .unwrap()
            .is_empty()
    );
    assert!(
        session
            .on_schedule_page("filter-only", &hp, &host_ctx)
            .unwrap()
            .is_empty()
    );
    let (mut n, mut x) = (vec![], vec![]);
    for _ in 0..rounds {
        n.push(
            time_per_iter(target, || {
                black_box(
                    plan.render_schedule("filter-only", &checked(black_box(&np)), &native_ctx)
                        .unwrap(),
                );
            }) / 100_000.0,
        );
        x.push(
            time_per_iter(target, || {
                black_box(
                    session
                        .on_schedule_page("filter-only", black_box(&hp), &host_ctx)
                        .unwrap(),
                );
            }) / 100_000.0,
        );
    }
    let (n, n0, n1) = stats(&mut n);
    let (x, x0, x1) = stats(&mut x);
    println!("\n| per member | native | wasm |\n| --- | ---: | ---: |");
    println!(
        "| 5-clause filter, 100,000 members | {:.0} ns [{:.0}-{:.0}] | {:.0} ns [{:.0}-{:.0}] |",
        n * 1e9,
        n0 * 1e9,
        n1 * 1e9,
        x * 1e9,
        x0 * 1e9,
        x1 * 1e9
    );

    // A fresh sandboxed instance, and the re-sign of a 100-record request.
    let (mut inst, mut sign) = (vec![], vec![]);
    let (config, strategy) = wasm_pair(10, 100, true);
    let mut session = rt.session(&config, &strategy).unwrap();
    let (hp, hc) = records::page_of_changes(&host_changes(100, 10));
    let request = session
        .on_changes_page(&hp, &hc, &host_ctx)
        .unwrap()
        .remove(0);
    assert_eq!(request.member_codes.len(), 100);
    let later = b::Instant {
        seconds: NOW + 60,
        nanoseconds: 0,
    };
    let headers = session
        .signature_headers(&request.delivery_id, &request.body, later)
        .unwrap();
    assert_eq!(headers.len(), 3);
    for _ in 0..rounds {
        inst.push(time_per_iter(target, || {
            black_box(rt.instantiate().unwrap());
        }));
        sign.push(time_per_iter(target, || {
            black_box(
                session
                    .signature_headers(&request.delivery_id, black_box(&request.body), later)
                    .unwrap(),
            );
        }));
    }
    let (i, i0, i1) = stats(&mut inst);
    let (s, s0, s1) = stats(&mut sign);
    println!("\n| call | wasm |\n| --- | ---: |");
    println!(
        "| fresh sandboxed instance | {:.1} µs [{:.1}-{:.1}] |",
        i * 1e6,
        i0 * 1e6,
        i1 * 1e6
    );
    println!(
        "| re-sign a 100-record request ({} body bytes) | {:.1} µs [{:.1}-{:.1}] |",
        request.body.len(),
        s * 1e6,
        s0 * 1e6,
        s1 * 1e6
    );
    if std::env::args().any(|a| a == "sandbox") {
        sandbox(rounds, target, &host_ctx);
    }

    let size = std::fs::metadata(path).unwrap().len();
    println!("\ncomponent: {size} bytes");
}

/// What the sandbox's choices cost: fuel metering and the pooling allocator, each on and
/// off, on the 10,000 x 10 render and on a fresh instance, paired round by round.
fn sandbox(rounds: usize, target: Duration, ctx: &b::RenderContext) {
    use host_test::sandbox::runtime::EngineOptions;
    let options = [
        (
            "fuel + epoch, pooling (default)",
            EngineOptions {
                fuel: true,
                pooling: true,
            },
        ),
        (
            "epoch only, pooling",
            EngineOptions {
                fuel: false,
                pooling: true,
            },
        ),
        (
            "fuel + epoch, no pooling",
            EngineOptions {
                fuel: true,
                pooling: false,
            },
        ),
    ];
    let path = std::path::Path::new(host_test::COMPONENT_WASM);
    let (config, strategy) = wasm_pair(10, 500, false);
    let (page, changes) = records::page_of_changes(&host_changes(10_000, 10));
    let mut runs: Vec<_> = options
        .iter()
        .map(|(name, o)| {
            let rt = Runtime::from_file_with(path, Limits::default(), *o).unwrap();
            let session = rt.session(&config, &strategy).unwrap();
            (name, rt, session, vec![], vec![])
        })
        .collect();
    for (_, _, session, _, _) in &mut runs {
        assert_eq!(
            session.on_changes_page(&page, &changes, ctx).unwrap().len(),
            20
        );
    }
    for _ in 0..rounds {
        for (_, rt, session, render, inst) in &mut runs {
            let t = time_per_iter(target, || {
                black_box(
                    session
                        .on_changes_page(black_box(&page), &changes, ctx)
                        .unwrap(),
                );
            });
            render.push(10_000.0 / t);
            inst.push(time_per_iter(target, || {
                black_box(rt.instantiate().unwrap());
            }));
        }
    }
    println!("\n| engine | render, records/s | fresh instance |\n| --- | ---: | ---: |");
    for (name, _, _, render, inst) in &mut runs {
        let (r, r0, r1) = stats(render);
        let (i, i0, i1) = stats(inst);
        println!(
            "| {name} | {r:.0} [{r0:.0}-{r1:.0}] | {:.1} µs [{:.1}-{:.1}] |",
            i * 1e6,
            i0 * 1e6,
            i1 * 1e6
        );
    }
}
