//! The CLI's contract: exit codes, and every problem printed with its path.

use std::path::Path;
use std::process::{Command, Output};

use scratch::Scratch;

mod fixtures;
mod scratch;

use fixtures::*;

/// A scratch directory unique to one test, removed when it passes.
fn scratch(name: &str) -> Scratch {
    Scratch::new("cli", name)
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
        // Every cron problem is located, an empty text too.
        "error: strategy.schedules[0].cron (line 1, column 1): ",
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

/// `host-test render` on the example configuration, strategy and changes, plus `extra`.
fn render_examples(extra: &[&str]) -> Output {
    render_changes(&examples().join("customer.changes.json"), extra)
}

/// `render` of the examples' configuration and strategy over the changes at `changes`.
fn render_changes(changes: &Path, extra: &[&str]) -> Output {
    let ex = examples();
    let files = ["customer.config.json", "customer.strategy.json"]
        .map(|f| ex.join(f).to_str().unwrap().to_string());
    let mut args = vec![
        "render",
        "--config",
        &files[0],
        "--strategy",
        &files[1],
        "--changes",
        changes.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    host_test(&args)
}

#[test]
fn render_prints_the_golden_requests_for_the_examples() {
    let out = render_examples(&[
        "--now",
        "2024-06-15T10:30:00Z",
        "--token",
        "example-access-token",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/customer.render.json");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, want);
    // What the golden file says, in words: adds that pass the filter, the update that
    // changed a watched field and the delete in a watched country; not the prospect, the
    // city-only update, the run-as user's own change or the US delete.
    assert_eq!(
        got[0]["member-codes"],
        serde_json::json!(["C-1001", "C-0042", "C-0007"])
    );
}

/// The last second the contract allows, 9999-12-31T23:59:59Z, is a valid `--now` and a
/// valid change time: jiff's timestamps stop 26 hours earlier, where both used to be
/// refused as "not RFC 3339".
#[test]
fn render_runs_at_the_last_second_of_year_9999() {
    let s = scratch("render_at_9999");
    let changes: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("customer.changes.json")).unwrap(),
    )
    .unwrap();
    let mut changes = changes.as_array().unwrap().clone();
    for c in &mut changes {
        c["at"] = "9999-12-31T23:59:59Z".into();
    }
    let path = s.join("changes.json");
    std::fs::write(&path, serde_json::to_vec(&changes).unwrap()).unwrap();
    let out = render_changes(&path, &["--now", "9999-12-31T23:59:59Z", "--token", "t"]);
    assert!(out.status.success(), "{}", text(&out));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let headers = got[0]["headers"].as_array().unwrap();
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h[0] == name)
            .map(|h| h[1].as_str().unwrap().to_string())
    };
    assert_eq!(header("webhook-timestamp").as_deref(), Some("253402300799"));
    assert_eq!(header("X-Sent-On").as_deref(), Some("9999-12-31"));
    // One second later is past the range, and the message says which range.
    let out = render_examples(&["--now", "10000-01-01T00:00:00Z", "--token", "t"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("years 1 to 9999"), "{}", text(&out));
}

#[test]
fn render_without_the_oauth_token_says_what_is_missing() {
    let out = render_examples(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--token"), "{}", text(&out));
}

#[test]
fn eval_prints_one_json_value_or_a_located_error() {
    let dir = scratch("eval");
    let record = dir.join("r.json");
    std::fs::write(
        &record,
        r#"{"MSRP": 2294.99, "StandardCost": 1251.98, "Class": {"Name": "High"}}"#,
    )
    .unwrap();
    let r = record.to_str().unwrap();
    let out = host_test(&["eval", "--record", r, "[MSRP] - [StandardCost]"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1043.01");
    let out = host_test(&[
        "eval",
        "--record",
        r,
        "--now",
        "2024-06-15T10:30:00Z",
        "TODAY",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "\"2024-06-15\""
    );
    let out = host_test(&["eval", "--record", r, "[MSRP] >"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1, column 9"),
        "{}",
        text(&out)
    );
}

#[test]
fn eval_passes_the_expression_conformance_file() {
    assert_eq!(eval_passes("conformance/expressions.json"), 10);
}

/// The project's own cases, in the same format (CONTAINSPATTERN's "contains" rule, the
/// arity of IF).
#[test]
fn eval_passes_the_projects_own_expression_cases() {
    assert_eq!(eval_passes("expressions.json"), 14);
}

/// Run every case of the file at `tests/data/{name}` through `host-test eval`; the count.
fn eval_passes(name: &str) -> usize {
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&data).unwrap()).unwrap();
    let dir = scratch(&name.replace(['/', '.'], "_"));
    let (record, prior) = (dir.join("record.json"), dir.join("prior.json"));
    std::fs::write(&record, file["record"].to_string()).unwrap();
    std::fs::write(&prior, file["prior"].to_string()).unwrap();
    let now = file["now"].as_str().unwrap();
    let mut passed = 0;
    for case in file["cases"].as_array().unwrap() {
        let expr = case["expr"].as_str().unwrap();
        let out = host_test(&[
            "eval",
            "--record",
            record.to_str().unwrap(),
            "--prior",
            prior.to_str().unwrap(),
            "--now",
            now,
            expr,
        ]);
        assert!(out.status.success(), "{expr}: {}", text(&out));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got, case["expect"], "{expr}");
        passed += 1;
    }
    for expr in file["errors"].as_array().unwrap() {
        let out = host_test(&[
            "eval",
            "--record",
            record.to_str().unwrap(),
            "--now",
            now,
            expr.as_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{expr} must be rejected");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("(line "),
            "{}",
            text(&out)
        );
        passed += 1;
    }
    passed
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["schedule", "--cron", "* * * * *", "--count", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("host-test runs");
    // Close the reading end before the command writes anything, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn allow_host_with_a_port_is_refused_with_what_to_write() {
    let out = host_test(&[
        "send",
        "--config",
        "x.json",
        "--strategy",
        "y.json",
        "--changes",
        "z.json",
        "--allow-host",
        "localhost:8080",
    ]);
    assert_ended(&out, 2, "write --allow-host localhost,");
}

#[test]
fn a_zero_timeout_or_concurrency_and_an_unwritable_log_are_refused_clearly() {
    let ex = examples();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "send".to_string(),
            "--config".into(),
            ex.join("customer.config.json").to_str().unwrap().into(),
            "--strategy".into(),
            ex.join("customer.strategy.json").to_str().unwrap().into(),
            "--changes".into(),
            ex.join("customer.changes.json").to_str().unwrap().into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        host_test(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run(&["--timeout", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--timeout"), "{}", text(&out));
    let out = run(&["--concurrency", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("at least 1"), "{}", text(&out));
    let out = run(&["--log", "/nonexistent-dir/log.jsonl"]);
    assert_ended(&out, 2, "cannot write the delivery log there");
}

#[test]
fn a_changes_file_over_its_cap_is_refused_without_reading_it_whole() {
    use std::io::Write as _;
    let dir = scratch("big-changes");
    let path = dir.join("changes.json");
    // 100 MiB of a JSON array: past the 64 MiB cap on data files.
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(b"[").unwrap();
    let chunk = "0,".repeat(1 << 19);
    for _ in 0..100 {
        f.write_all(chunk.as_bytes()).unwrap();
    }
    f.write_all(b"0]").unwrap();
    f.flush().unwrap();
    drop(f);
    let out = render_changes(&path, &["--token", "t"]);
    assert_ended(&out, 2, "larger than 67108864 bytes");
    // An endless configuration file is refused at its own, smaller cap.
    let out = host_test(&[
        "validate",
        "--config",
        "/dev/zero",
        "--strategy",
        examples().join("customer.strategy.json").to_str().unwrap(),
    ]);
    assert_ended(&out, 2, "larger than 4194304 bytes");
}

#[test]
fn diagnostics_go_to_stderr_and_results_to_stdout() {
    let ex = examples();
    let dir = scratch("diagnostics");
    let mut strategy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ex.join("customer.strategy.json")).unwrap())
            .unwrap();
    strategy["run-options"]["batch-size"] = 0.into();
    let bad = dir.join("strategy.json");
    std::fs::write(&bad, strategy.to_string()).unwrap();
    let config = ex.join("customer.config.json");
    for command in ["validate", "render"] {
        let mut args = vec![
            command,
            "--config",
            config.to_str().unwrap(),
            "--strategy",
            bad.to_str().unwrap(),
        ];
        let changes = ex.join("customer.changes.json");
        if command == "render" {
            args.extend(["--changes", changes.to_str().unwrap(), "--token", "t"]);
        }
        let out = host_test(&args);
        assert_eq!(out.status.code(), Some(1), "{command}: {}", text(&out));
        assert!(
            out.stdout.is_empty(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error: strategy.run-options.batch-size"),
            "{command}: {stderr}"
        );
    }
    let out = host_test(&[
        "validate",
        "--config",
        config.to_str().unwrap(),
        "--strategy",
        ex.join("customer.strategy.json").to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ok: "),
        "{}",
        text(&out)
    );
}

#[test]
fn render_bodies_prints_the_exact_bytes_that_were_signed() {
    let common = [
        "--now",
        "2024-06-15T10:30:00Z",
        "--token",
        "example-access-token",
    ];
    let described = render_examples(&common);
    assert!(described.status.success(), "{}", text(&described));
    let requests: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
    let mut args = common.to_vec();
    args.push("--bodies");
    let raw = render_examples(&args);
    assert!(raw.status.success(), "{}", text(&raw));
    let bodies: Vec<&[u8]> = raw
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let requests = requests.as_array().unwrap();
    assert_eq!(bodies.len(), requests.len());
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("customer.config.json")).unwrap(),
    )
    .unwrap();
    let secret = config["signing-secrets"][0].as_str().unwrap().to_string();
    for (body, r) in bodies.iter().zip(requests) {
        let header = |name: &str| {
            r["headers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h[0] == name)
                .and_then(|h| h[1].as_str())
                .unwrap_or_else(|| panic!("no {name} in {r}"))
                .to_string()
        };
        host_test::reference::receiver::verify_signature(
            std::slice::from_ref(&secret),
            Some(&header("webhook-id")),
            Some(&header("webhook-timestamp")),
            Some(&header("webhook-signature")),
            body,
            None,
        )
        .unwrap_or_else(|e| panic!("the printed body is not what was signed: {e}"));
    }
}

#[test]
fn send_takes_the_retry_options_of_serve() {
    for command in ["send", "serve"] {
        let out = host_test(&[command, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        for option in ["--retry-base-ms", "--retry-cap-ms", "--max-attempts"] {
            assert!(help.contains(option), "{command} lacks {option}:\n{help}");
        }
    }
    let out = host_test(&[
        "send",
        "--config",
        "c",
        "--strategy",
        "s",
        "--changes",
        "x",
        "--max-attempts",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn component_loads_another_build_and_refuses_what_is_not_one() {
    let ex = examples();
    let (config, strategy) = (
        ex.join("customer.config.json"),
        ex.join("customer.strategy.json"),
    );
    let pair = [
        "--config",
        config.to_str().unwrap(),
        "--strategy",
        strategy.to_str().unwrap(),
    ];
    let dir = scratch("component");
    let copy = dir.join("pulled.wasm");
    std::fs::copy(host_test::COMPONENT_WASM, &copy).unwrap();
    let with = |component: &Path| {
        let mut args = vec!["--component", component.to_str().unwrap(), "validate"];
        args.extend(pair);
        host_test(&args)
    };

    let out = with(&copy);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("ok: "), "{}", text(&out));
    // Nothing is cached beside a file the host does not own.
    let beside: Vec<_> = std::fs::read_dir(&*dir).unwrap().collect();
    assert_eq!(beside.len(), 1, "{beside:?}");

    let out = with(&dir.join("missing.wasm"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("missing.wasm: cannot read it"),
        "{}",
        text(&out)
    );

    // A component of another contract version is refused by its export's name.
    let old = dir.join("old.wat");
    std::fs::write(
        &old,
        r#"(component (instance $p) (export "connect:webhook/provider@0.1.0" (instance $p)))"#,
    )
    .unwrap();
    let out = with(&old);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("connect:webhook/provider@0.1.0, but this host speaks connect:webhook@0.2.0"),
        "{}",
        text(&out)
    );
}
