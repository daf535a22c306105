//! End-to-end: the built component loads into the reference host's sandbox, and every
//! sandbox limit is tested both ways (obeyed and violated).

use std::sync::OnceLock;
use std::time::Duration;

use host_test::bindings as b;
use host_test::{HostError, Limits, Runtime, formats};

/// One compiled component for the whole test binary: compiling costs far more than
/// instantiating, and limits are per instance.
fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(Limits::default()).expect("the component loads"))
}

fn examples() -> (b::Configuration, b::Strategy) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    (
        formats::read_configuration(&root.join("examples/customer.config.json")).unwrap(),
        formats::read_strategy(&root.join("examples/customer.strategy.json")).unwrap(),
    )
}

fn compile_with(limits: Limits) -> Result<(), HostError> {
    let (config, strategy) = examples();
    runtime()
        .instantiate_with(limits)?
        .compile(&config, &strategy)
        .map(|_| ())
}

#[test]
fn the_component_imports_only_its_contracts_interfaces() {
    let rt = runtime();
    let bytes = std::fs::read(host_test::COMPONENT_WASM).unwrap();
    let component = host_test::wasmtime::component::Component::new(rt.engine(), &bytes).unwrap();
    host_test::sandbox::runtime::check_imports(rt.engine(), &component).unwrap();
    let mut names: Vec<String> = component
        .component_type()
        .imports(rt.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    names.sort();
    // No WASI at all: the only interface with functions is zone; the others carry types.
    assert_eq!(
        names,
        [
            "connect:webhook/config@0.2.0",
            "connect:webhook/page@0.2.0",
            "connect:webhook/types@0.2.0",
            "connect:webhook/zone@0.2.0",
        ]
    );
    let exports: Vec<String> = component
        .component_type()
        .exports(rt.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(exports, ["connect:webhook/provider@0.2.0"]);
}

/// A component that exports `provider` of version `version` and imports `imports`.
fn shell(version: &str, import: &str) -> String {
    format!(
        r#"(component {import} (instance $p) (export "connect:webhook/provider@{version}" (instance $p)))"#
    )
}

/// A later patch version of the contract passes the version and import checks: it may add
/// items, never change one, and wasmtime links `@0.2.x` names to this host's `@0.2.0`.
/// (This shell has no functions, so it fails later, at binding, naming what it lacks.)
#[test]
fn a_later_patch_version_is_not_refused_as_another_version() {
    let wat = shell(
        "0.2.7",
        r#"(import "connect:webhook/zone@0.2.7" (instance))"#,
    );
    match Runtime::from_bytes(wat.as_bytes(), Limits::default()) {
        Err(HostError::UnsupportedVersion { found, .. }) => {
            panic!("0.2.7 was refused as another version ({found:?})")
        }
        Err(HostError::ImportNotAllowed(name)) => panic!("0.2.7's import {name} was refused"),
        Err(HostError::Load(message)) => {
            assert!(message.contains("provider"), "{message}")
        }
        Err(other) => panic!("unexpected {other}"),
        Ok(_) => panic!("a component without functions loaded"),
    }
}

#[test]
fn a_component_importing_anything_else_is_refused_at_load() {
    for name in [
        "wasi:sockets/tcp@0.2.0",
        "wasi:cli/environment@0.2.0",
        "connect:webhook/zone@0.1.0",
    ] {
        let wat = shell("0.2.0", &format!(r#"(import "{name}" (instance))"#));
        match Runtime::from_bytes(wat.as_bytes(), Limits::default()) {
            Err(HostError::ImportNotAllowed(found)) => assert_eq!(found, name),
            Err(other) => panic!("expected ImportNotAllowed for {name}, got {other}"),
            Ok(_) => panic!("the import {name} was accepted"),
        }
    }
}

#[test]
fn a_component_of_another_contract_version_is_refused_by_name_not_by_a_link_failure() {
    let wat = shell("0.1.0", "");
    match Runtime::from_bytes(wat.as_bytes(), Limits::default()) {
        Err(e @ HostError::UnsupportedVersion { .. }) => {
            let text = e.to_string();
            assert!(text.contains("connect:webhook/provider@0.1.0"), "{text}");
            assert!(text.contains("connect:webhook@0.2.0"), "{text}");
        }
        Err(other) => panic!("expected UnsupportedVersion, got {other}"),
        Ok(_) => panic!("a 0.1.0 component was accepted"),
    }
    // Another minor version before 1.0 is another contract, and so is a prerelease.
    for version in ["0.3.0", "1.0.0", "0.2.1-rc1"] {
        let wat = shell(version, "");
        assert!(
            matches!(
                Runtime::from_bytes(wat.as_bytes(), Limits::default()),
                Err(HostError::UnsupportedVersion { .. })
            ),
            "{version} was not refused as another version"
        );
    }
    let wat = "(component)";
    match Runtime::from_bytes(wat.as_bytes(), Limits::default()) {
        Err(e @ HostError::UnsupportedVersion { found: None, .. }) => {
            assert!(
                e.to_string().contains("not a webhook-provider component"),
                "{e}"
            )
        }
        other => panic!("expected UnsupportedVersion, got {:?}", other.err()),
    }
}

#[test]
fn fuel_budget_obeyed_and_violated() {
    compile_with(Limits::default()).unwrap();
    match compile_with(Limits {
        fuel: 1_000,
        ..Limits::default()
    }) {
        Err(HostError::OutOfFuel { fuel: 1_000 }) => {}
        other => panic!("expected OutOfFuel, got {:?}", other.err()),
    }
}

#[test]
fn deadline_obeyed_and_violated() {
    compile_with(Limits {
        deadline: Duration::from_secs(5),
        ..Limits::default()
    })
    .unwrap();
    // A zero deadline is already reached when the call starts: the first epoch check traps.
    match compile_with(Limits {
        deadline: Duration::ZERO,
        ..Limits::default()
    }) {
        Err(HostError::Deadline { limit }) => assert_eq!(limit, Duration::ZERO),
        other => panic!("expected Deadline, got {:?}", other.err()),
    }
}

/// A strategy whose Records mapping carries `bytes` of text: lowering it makes the guest
/// allocate that much.
fn heavy_strategy(bytes: usize) -> (b::Configuration, b::Strategy) {
    let (config, mut strategy) = examples();
    strategy.records.push(b::Field {
        key: "Padding".into(),
        value: b::FieldValue::Text("x".repeat(bytes)),
    });
    (config, strategy)
}

#[test]
fn memory_cap_obeyed_and_violated() {
    let (config, strategy) = heavy_strategy(6 * 1024 * 1024);
    let limits = |mib: usize| Limits {
        memory_bytes: mib * 1024 * 1024,
        ..Limits::default()
    };
    runtime()
        .instantiate_with(limits(64))
        .unwrap()
        .compile(&config, &strategy)
        .map(|_| ())
        .unwrap();
    let err = runtime()
        .instantiate_with(limits(4))
        .unwrap()
        .compile(&config, &strategy)
        .err()
        .expect("a 6 MiB input cannot fit in a 4 MiB memory");
    assert!(
        matches!(err, HostError::MemoryLimit { limit } if limit == 4 * 1024 * 1024),
        "expected MemoryLimit, got {err}"
    );
}

#[test]
fn input_cap_obeyed_and_violated() {
    let (config, strategy) = heavy_strategy(100_000);
    let limits = |max: usize| Limits {
        max_input_bytes: max,
        ..Limits::default()
    };
    let run = |max| {
        runtime()
            .instantiate_with(limits(max))
            .unwrap()
            .compile(&config, &strategy)
            .map(|_| ())
    };
    run(200_000).unwrap();
    match run(50_000) {
        Err(HostError::InputTooLarge {
            size,
            limit: 50_000,
        }) => assert!(size > 100_000),
        other => panic!("expected InputTooLarge, got {:?}", other.err()),
    }
}

#[test]
fn a_trapped_instance_is_poisoned_not_reused() {
    let (config, strategy) = examples();
    let mut instance = runtime()
        .instantiate_with(Limits {
            fuel: 1_000,
            ..Limits::default()
        })
        .unwrap();
    let sample = b::Sample {
        state: vec![],
        prior: None,
    };
    let ctx = b::RenderContext {
        now: b::Instant {
            seconds: 0,
            nanoseconds: 0,
        },
        access_token: None,
        platform_token: None,
        id_seed: 0,
    };
    assert!(matches!(
        instance.evaluate("1", &sample, &ctx),
        Err(HostError::OutOfFuel { .. })
    ));
    assert!(matches!(
        instance.evaluate("1", &sample, &ctx),
        Err(HostError::Poisoned)
    ));
    assert!(matches!(
        instance.compile(&config, &strategy),
        Err(HostError::Poisoned)
    ));
}

#[test]
fn compile_reports_every_problem_with_its_path() {
    let (mut config, mut strategy) = examples();
    config.webhook_url = "ftp://nowhere".into();
    strategy.run_options.batch_size = 0;
    strategy.records.push(strategy.records[0].clone());
    match runtime().session(&config, &strategy) {
        Err(HostError::Invalid(problems)) => {
            let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
            assert_eq!(
                paths,
                [
                    "configuration.webhook-url",
                    "strategy.records[9].key",
                    "strategy.run-options.batch-size"
                ]
            );
        }
        other => panic!("expected problems, got {:?}", other.err()),
    }
}

fn example_changes() -> Vec<b::RecordChange> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    formats::read_changes(&root.join("examples/customer.changes.json")).unwrap()
}

fn token_context() -> b::RenderContext {
    b::RenderContext {
        now: b::Instant {
            seconds: 1_718_447_400,
            nanoseconds: 0,
        },
        access_token: Some("example-access-token".into()),
        platform_token: None,
        id_seed: 0,
    }
}

#[test]
fn output_cap_obeyed_and_violated() {
    let (config, strategy) = examples();
    let changes = example_changes();
    let render = |max: usize| {
        runtime()
            .instantiate_with(Limits {
                max_output_bytes: max,
                ..Limits::default()
            })
            .unwrap()
            .compile(&config, &strategy)
            .unwrap()
            .on_changes(&changes, &token_context())
    };
    let requests = render(1 << 20).unwrap();
    assert_eq!(requests.len(), 1);
    match render(500) {
        Err(HostError::OutputTooLarge { size, limit: 500 }) => assert!(size > 500),
        other => panic!("expected OutputTooLarge, got {:?}", other.err()),
    }
}

#[test]
fn typed_render_errors_cross_the_boundary() {
    let (config, strategy) = examples();
    let mut session = runtime().session(&config, &strategy).unwrap();
    let no_token = b::RenderContext {
        access_token: None,
        ..token_context()
    };
    assert!(matches!(
        session.on_changes(&example_changes(), &no_token),
        Err(HostError::Render(b::RenderError::MissingAccessToken))
    ));
    // The session is still usable after a typed error (only traps poison an instance).
    assert_eq!(
        session
            .on_changes(&example_changes(), &token_context())
            .unwrap()
            .len(),
        1
    );
    // A malformed input value is a located problem, not a trap.
    let mut bad = example_changes();
    bad[0].new_state.as_mut().unwrap().attributes[3].value = b::Value::Decimal("12,5".into());
    match session.on_changes(&bad, &token_context()) {
        Err(HostError::Render(b::RenderError::InvalidInput(p))) => {
            assert_eq!(p.path, "changes[0].new-state.attributes[3]");
        }
        other => panic!("expected InvalidInput, got {:?}", other.err()),
    }
}

#[test]
fn after_a_trap_the_next_call_runs_on_a_fresh_instance() {
    let (config, strategy) = examples();
    let limits = Limits {
        fuel: 40_000_000,
        ..Limits::default()
    };
    let mut session = runtime()
        .instantiate_with(limits)
        .unwrap()
        .compile(&config, &strategy)
        .unwrap();
    assert_eq!(
        session
            .on_changes(&example_changes(), &token_context())
            .unwrap()
            .len(),
        1
    );
    // Ten thousand copies of the changes need more fuel than one call has: the call traps.
    let many: Vec<b::RecordChange> = (0..10_000)
        .flat_map(|i| {
            example_changes().into_iter().map(move |mut c| {
                c.event_id = format!("{}-{i}", c.event_id);
                c
            })
        })
        .collect();
    match session.on_changes(&many, &token_context()) {
        Err(HostError::OutOfFuel { .. }) => {}
        other => panic!("expected OutOfFuel, got {:?}", other.map(|r| r.len())),
    }
    assert!(session.needs_fresh_instance());
    // The next call is served by a fresh instance with the plan compiled again.
    assert_eq!(
        session
            .on_changes(&example_changes(), &token_context())
            .unwrap()
            .len(),
        1
    );
    assert!(!session.needs_fresh_instance());
}

/// The component and the host cap `Retry-After` at one value: the component's verdict
/// never asks for a wait the host would cut, and the host never waits longer than the
/// component allows.
#[test]
fn the_component_and_the_host_cap_retry_after_alike() {
    assert_eq!(
        host_test::limits::RETRY_AFTER_CAP.as_secs(),
        u64::from(webhook_provider::response::MAX_RETRY_AFTER_SECS)
    );
}
