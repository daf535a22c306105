//! The CLI's contract: exit codes, and every problem printed with its path.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn host_test(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(args)
        .output()
        .expect("host-test runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch directory unique to one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("host-test-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn validate_accepts_the_examples() {
    let ex = examples();
    let out = host_test(&[
        "validate",
        "--config",
        ex.join("customer.config.json").to_str().unwrap(),
        "--strategy",
        ex.join("customer.strategy.json").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("ok: "), "{}", text(&out));
}

#[test]
fn validate_lists_every_problem_of_a_broken_copy_with_its_path() {
    let ex = examples();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ex.join("customer.config.json")).unwrap())
            .unwrap();
    let mut strategy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ex.join("customer.strategy.json")).unwrap())
            .unwrap();
    config["webhook-url"] = "hooks.acme.example/mdm".into();
    config["oauth"]["client-id"] = serde_json::Value::Null;
    strategy["run-options"]["batch-size"] = 0.into();
    strategy["schedules"][0]["cron"] = "".into();
    let dir = scratch("broken");
    let (c, s) = (dir.join("c.json"), dir.join("s.json"));
    std::fs::write(&c, config.to_string()).unwrap();
    std::fs::write(&s, strategy.to_string()).unwrap();

    let out = host_test(&[
        "validate",
        "--config",
        c.to_str().unwrap(),
        "--strategy",
        s.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let shown = text(&out);
    for path in [
        "error: configuration.webhook-url: ",
        "error: configuration.oauth.client-id: ",
        "error: strategy.run-options.batch-size: ",
        "error: strategy.schedules[0].cron: ",
    ] {
        assert!(shown.contains(path), "{path} missing from:\n{shown}");
    }
    assert!(shown.contains("invalid: 4 error(s)"), "{shown}");
    assert!(
        !shown.contains("example-client-secret-change-me"),
        "the secret leaked:\n{shown}"
    );
}

#[test]
fn validate_names_the_key_of_a_malformed_file() {
    let dir = scratch("malformed");
    let c = dir.join("c.json");
    std::fs::write(
        &c,
        r#"{"name": "x", "webhook-url": "https://a.example", "max-body-bytes": "big"}"#,
    )
    .unwrap();
    let s = examples().join("customer.strategy.json");
    let out = host_test(&[
        "validate",
        "--config",
        c.to_str().unwrap(),
        "--strategy",
        s.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("max-body-bytes"), "{}", text(&out));
}
