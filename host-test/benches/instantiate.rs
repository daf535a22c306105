//! What a fresh sandboxed instance costs: instantiate from the `InstancePre`, then one
//! call (`compile` of the example configuration and strategy).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use host_test::{Limits, Runtime, formats};

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let config = formats::read_configuration(&root.join("customer.config.json")).unwrap();
    let strategy = formats::read_strategy(&root.join("customer.strategy.json")).unwrap();
    let rt = Runtime::new(Limits::default()).unwrap();
    c.bench_function("instantiate", |b| {
        b.iter(|| black_box(rt.instantiate().unwrap()))
    });
    c.bench_function("instantiate+compile", |b| {
        b.iter(|| black_box(rt.session(&config, &strategy).unwrap()))
    });
    let started = std::time::Instant::now();
    let _ = Runtime::new(Limits::default()).unwrap();
    eprintln!(
        "loading the component (from the compiled-artefact cache when present): {:?}",
        started.elapsed()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
