//! `host-test serve` as a process: the API, the durable outbox across a SIGKILL, and a
//! bounded load.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_test::reference::receiver::{Receiver, Reply};
use scratch::Scratch;
use serde_json::{Value as Json, json};

mod scratch;
mod serve_process;
mod serving;

use serve_process::{Serve, serve_command, tokio, wait_until, write_json};
use serving::*;

/// A fresh directory for one test's files, removed when the test passes.
fn scratch(name: &str) -> Scratch {
    Scratch::new("serve", name)
}

/// Run `serve` in `dir` with `args`, which must make it exit with `code` before it
/// listens; its stderr.
fn serve_fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = serve_command(dir).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

fn ids(answer: &Json) -> Vec<String> {
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

/// The crash test: a few hundred changes to a slow receiver that sometimes fails, the
/// host killed with SIGKILL mid-flight and restarted on the same outbox. Every delivery
/// id the API accepted reaches the receiver, and for each record the first successful
/// receipts come in the order the changes arrived.
#[test]
fn sigkill_mid_flight_loses_nothing_and_keeps_each_records_order() {
    const CODES: usize = 60;
    const VERSIONS: usize = 5;
    let rt = tokio();
    // Successful receipts in arrival order, by delivery id.
    let ok: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let o = ok.clone();
    let receiver = rt
        .block_on(
            Receiver::builder()
                .secrets(vec![SECRET.into()])
                .respond(move |r| {
                    let id = r.header("webhook-id").unwrap_or_default().to_string();
                    let h = small_hash(&id);
                    let delay = Duration::from_millis(5 + h % 25);
                    // One delivery in four fails its first time; a few fail twice.
                    if r.seen
                        <= usize::from(h.is_multiple_of(4)) + usize::from(h.is_multiple_of(16))
                    {
                        return Reply::status(503, "busy").after(delay);
                    }
                    if r.verified.is_ok() {
                        o.lock().unwrap().push(id);
                        Reply::status(200, "ok").after(delay)
                    } else {
                        Reply::status(400, "bad signature")
                    }
                })
                .start(),
        )
        .unwrap();
    let dir = scratch("crash");
    // Two strategies on the entity: each change is a delivery of each.
    definitions(
        &dir,
        &config(&receiver.url("/hook")),
        &[named("Customers out", 1), named("Customers audit", 1)],
    );
    let args = [
        "--retry-base-ms",
        "20",
        "--retry-cap-ms",
        "200",
        "--concurrency",
        "4",
    ];
    let serve = Serve::start(&dir, &args);

    // Accept every change first: versions go out in rounds, each round a few POSTs.
    // (delivery id, strategy and code), in order
    let mut accepted: Vec<(String, String)> = Vec::new();
    for v in 1..=VERSIONS {
        for chunk in (0..CODES).collect::<Vec<_>>().chunks(20) {
            let batch: Vec<Json> = chunk
                .iter()
                .map(|c| change(&format!("C{c:03}"), v, "n"))
                .collect();
            let (status, answer) = serve.post("/changes", &Json::Array(batch));
            assert_eq!(status, 202, "{answer}");
            let deliveries = answer["deliveries"].as_array().unwrap();
            assert_eq!(deliveries.len(), 2 * chunk.len(), "{answer}");
            for name in ["Customers audit", "Customers out"] {
                let of: Vec<&Json> = deliveries
                    .iter()
                    .filter(|d| d["strategy"] == name)
                    .collect();
                assert_eq!(of.len(), chunk.len(), "{name}: {answer}");
                for (d, c) in of.into_iter().zip(chunk) {
                    let id = d["id"].as_str().unwrap().to_string();
                    accepted.push((id, format!("{name}/C{c:03}")));
                }
            }
        }
    }
    let total = accepted.len();
    assert_eq!(total, 2 * CODES * VERSIONS);
    let unique: HashSet<&String> = accepted.iter().map(|(id, _)| id).collect();
    assert_eq!(unique.len(), total, "every change has its own delivery id");

    // Kill mid-flight: some delivered, not all.
    assert!(
        wait_until(Duration::from_secs(120), || ok.lock().unwrap().len()
            >= total / 5),
        "the receiver saw only {} deliveries",
        ok.lock().unwrap().len()
    );
    serve.kill();
    let at_kill: HashSet<String> = ok.lock().unwrap().iter().cloned().collect();
    assert!(
        at_kill.len() < total,
        "everything was delivered before the kill; the test did not test a crash"
    );

    let serve = Serve::start(&dir, &args);
    let resumed = serve.lines.lock().unwrap().join("\n");
    assert!(resumed.contains("pending (resumed)"), "{resumed}");
    let all: HashSet<String> = accepted.iter().map(|(id, _)| id.clone()).collect();
    let complete = wait_until(Duration::from_secs(180), || {
        let seen: HashSet<String> = ok.lock().unwrap().iter().cloned().collect();
        all.is_subset(&seen)
    });
    let seen: HashSet<String> = ok.lock().unwrap().iter().cloned().collect();
    let lost: Vec<&String> = all.difference(&seen).collect();
    assert!(
        complete && lost.is_empty(),
        "lost {} deliveries: {lost:?}",
        lost.len()
    );
    assert!(seen.is_subset(&all), "the receiver got ids nobody accepted");

    // Order per record and strategy: the first successful receipt of each change comes
    // after that of the record's earlier changes for the same strategy.
    let first: HashMap<String, usize> = {
        let mut m = HashMap::new();
        for (i, id) in ok.lock().unwrap().iter().enumerate() {
            m.entry(id.clone()).or_insert(i);
        }
        m
    };
    let mut last_per_code: HashMap<&str, (usize, &str)> = HashMap::new();
    for (id, code) in &accepted {
        let at = first[id];
        if let Some((prev, prev_id)) = last_per_code.get(code.as_str()) {
            assert!(
                at > *prev,
                "{code}: delivery {id} arrived before the earlier change's {prev_id}"
            );
        }
        last_per_code.insert(code, (at, id));
    }

    // The outbox agrees: nothing pending, everything delivered.
    let drained = wait_until(Duration::from_secs(30), || {
        serve.get("/deliveries?limit=1").1["counts"]["pending"] == 0
    });
    assert!(drained, "{}", serve.get("/deliveries?status=pending").1);
    let (_, listing) = serve.get("/deliveries?status=delivered&limit=1000");
    assert_eq!(listing["counts"]["delivered"], total);
    assert_eq!(listing["counts"]["dead"], 0);
    let duplicates = ok.lock().unwrap().len() - total;
    eprintln!(
        "crash test: {total} deliveries, {} received before the SIGKILL, {duplicates} received twice (at least once)",
        at_kill.len()
    );
    drop(receiver);
}

#[test]
fn bad_requests_get_located_4xx_answers() {
    let dir = scratch("bad");
    write_json(&dir.join("config.json"), &config("http://127.0.0.1:9/hook"));
    write_json(&dir.join("strategy.json"), &strategy(10));
    let serve = Serve::start(&dir, &[]);

    let (status, a) = serve.call(
        "POST",
        "/changes",
        b"[{\"event-id\": \"e1\",\n \"kind\": \"renamed\"}]",
    );
    assert_eq!(status, 400, "{a}");
    let p = &a["problems"][0];
    assert_eq!(p["path"], "[0].kind", "{a}");
    assert_eq!(
        (p["line"].as_u64(), p["column"].as_u64()),
        (Some(2), Some(18)),
        "{a}"
    );

    let (status, a) = serve.call("POST", "/changes", b"[1, 2");
    assert_eq!(status, 400, "{a}");
    assert!(a["problems"][0]["line"].is_u64(), "{a}");

    // The body ends where the JSON document ends: trailing bytes are refused, not ignored.
    let (status, a) = serve.call("POST", "/changes", b"[] x");
    assert_eq!(status, 400, "{a}");
    assert!(a["problems"][0]["line"].is_u64(), "{a}");
    assert_eq!(serve.call("POST", "/changes", b"[]\n ").0, 202);

    let mut bad = change("C1", 1, "n");
    bad["at"] = json!("yesterday");
    let (status, a) = serve.post("/changes", &json!([change("C0", 1, "n"), bad]));
    assert_eq!(status, 400, "{a}");
    assert_eq!(a["problems"][0]["path"], "[1].at", "{a}");
    assert!(
        a["error"].as_str().unwrap().contains("none was accepted"),
        "{a}"
    );
    assert_eq!(serve.get("/deliveries").1["counts"]["pending"], 0);

    let (status, a) = serve.call("POST", "/changes", &[0xff, 0xfe]);
    assert_eq!(status, 400, "{a}");

    let (status, a) = serve.post(
        "/strategies/Customers%20out/batch",
        &json!({ "filter": "[Status] =\n  = \"Active\"" }),
    );
    assert_eq!(status, 400, "{a}");
    assert_eq!(a["problems"][0]["path"], "filter", "{a}");
    assert_eq!(a["problems"][0]["line"], 2, "{a}");

    let (status, a) = serve.post(
        "/strategies/Customers%20out/batch",
        &json!({ "filter": "TRUE", "codes": ["C1"] }),
    );
    assert_eq!(status, 400, "{a}");
    let (status, a) = serve.post(
        "/strategies/Customers%20out/batch",
        &json!({ "codes": ["nobody"] }),
    );
    assert_eq!(status, 404, "{a}");
    assert_eq!(a["problems"][0]["path"], "codes[0]", "{a}");
    let (status, a) = serve.post("/strategies/Other/batch", &json!({ "filter": "TRUE" }));
    assert_eq!(status, 404, "{a}");
    assert!(
        a["error"].as_str().unwrap().contains("Customers out"),
        "{a}"
    );

    assert_eq!(serve.get("/nowhere").0, 404);
    assert_eq!(serve.get("/changes").0, 405);
    assert_eq!(serve.post("/deliveries", &json!({})).0, 405);
    let (status, a) = serve.get("/deliveries?status=lost");
    assert_eq!(status, 400, "{a}");
    assert_eq!(serve.get("/deliveries?limit=0").0, 400);
    assert_eq!(serve.get("/deliveries?colour=red").0, 400);
    assert_eq!(serve.post("/deliveries/msg_nope/replay", &json!({})).0, 404);
    assert_eq!(serve.get("/deliveries/msg_nope").0, 404);

    // The body cap, obeyed and violated.
    let mut at_cap = b"[]".to_vec();
    at_cap.resize(host_test::serve::MAX_API_BODY, b' ');
    let (status, a) = serve.call("POST", "/changes", &at_cap);
    assert_eq!((status, &a["changes"]), (202, &json!(0)), "{a}");
    at_cap.push(b' ');
    let (status, a) = serve.call("POST", "/changes", &at_cap);
    assert_eq!(status, 413);
    assert!(
        a["error"].as_str().unwrap().contains("16777216-byte limit"),
        "{a}"
    );
    // The listing cap, obeyed and violated.
    let max = host_test::outbox::MAX_LIST;
    assert_eq!(serve.get(&format!("/deliveries?limit={max}")).0, 200);
    assert_eq!(serve.get(&format!("/deliveries?limit={}", max + 1)).0, 400);
    // Still serving after all of it.
    assert_eq!(serve.get("/deliveries").0, 200);
}

#[test]
fn on_demand_runs_replay_and_history() {
    let rt = tokio();
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    let receiver = rt
        .block_on(
            Receiver::builder()
                .secrets(vec![SECRET.into()])
                .respond(move |_| {
                    if f.load(Ordering::Relaxed) {
                        Reply::status(400, "rejected")
                    } else {
                        Reply::status(200, "ok")
                    }
                })
                .start(),
        )
        .unwrap();
    let dir = scratch("demand");
    write_json(&dir.join("config.json"), &config(&receiver.url("/hook")));
    write_json(&dir.join("strategy.json"), &strategy(2));
    let members: Vec<Json> = (0..5)
        .map(|i| json!({ "Code": format!("M{i}"), "Name": format!("m{i}"), "Status": if i < 3 { "Active" } else { "Gone" } }))
        .collect();
    write_json(&dir.join("members.json"), &Json::Array(members));
    let members_arg = dir.join("members.json");
    let serve = Serve::start(&dir, &["--members", members_arg.to_str().unwrap()]);

    // Batch by filter: 3 active members in batches of 2.
    let (status, a) = serve.post(
        "/strategies/Customers%20out/batch",
        &json!({ "filter": "[Status] = \"Active\"" }),
    );
    assert_eq!(status, 202, "{a}");
    assert_eq!(a["members"], 3, "{a}");
    let batch = ids(&a);
    assert_eq!(batch.len(), 2);
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        == 2));

    // Immediate by codes: answered with the outcome.
    let (status, a) = serve.post(
        "/strategies/Customers%20out/immediate",
        &json!({ "codes": ["M4", "M0"] }),
    );
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["deliveries"][0]["outcome"], "delivered", "{a}");
    assert_eq!(a["deliveries"][0]["status"], 200, "{a}");
    let immediate = ids(&a);

    // A filter giving text is refused with the member named.
    let (status, a) = serve.post(
        "/strategies/Customers%20out/batch",
        &json!({ "filter": "[Name]" }),
    );
    assert_eq!(status, 422, "{a}");
    assert!(
        a["error"].as_str().unwrap().contains("TRUE or FALSE"),
        "{a}"
    );

    // A change the receiver rejects is a dead letter; replaying it after the receiver is
    // fixed delivers it, re-signed, under the same id.
    fail.store(true, Ordering::Relaxed);
    let (status, a) = serve.post("/changes", &json!([change("M1", 2, "x")]));
    assert_eq!(status, 202, "{a}");
    let dead = ids(&a).remove(0);
    assert!(wait_until(Duration::from_secs(30), || {
        serve.get(&format!("/deliveries/{dead}")).1["status"] == "dead"
    }));
    let (_, d) = serve.get(&format!("/deliveries/{dead}"));
    assert_eq!(d["last-status"], 400, "{d}");
    // A percent-encoded delivery id is decoded: `msg_` written as `msg%5F`.
    let encoded = dead.replacen('_', "%5F", 1);
    assert_ne!(encoded, dead);
    let (status, e) = serve.get(&format!("/deliveries/{encoded}"));
    assert_eq!((status, &e["id"]), (200, &json!(dead)), "{e}");
    assert_eq!(serve.get("/deliveries/%zz").0, 400);
    assert_eq!(d["last-response"], "rejected", "{d}");
    assert_eq!(
        serve.get("/deliveries?status=dead").1["deliveries"][0]["id"],
        dead
    );
    fail.store(false, Ordering::Relaxed);
    let (status, a) = serve.post(&format!("/deliveries/{dead}/replay"), &json!({}));
    assert_eq!(status, 202, "{a}");
    assert!(wait_until(Duration::from_secs(30), || {
        serve.get(&format!("/deliveries/{dead}")).1["status"] == "delivered"
    }));
    let received = receiver.received();
    let copies: Vec<_> = received
        .iter()
        .filter(|r| r.header("webhook-id") == Some(dead.as_str()))
        .collect();
    assert_eq!(copies.len(), 2);
    assert!(copies.iter().all(|r| r.verified.is_ok()));
    assert_eq!(copies[0].body, copies[1].body);
    // Replaying a delivered one is allowed too; a pending one is not found to replay.
    assert_eq!(
        serve
            .post(&format!("/deliveries/{}/replay", immediate[0]), &json!({}))
            .0,
        202
    );

    // The history pages.
    let (_, page) = serve.get("/deliveries?limit=2");
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 2);
    let after = page["next-after"].as_i64().unwrap();
    let (_, rest) = serve.get(&format!("/deliveries?limit=100&after={after}"));
    let listed: Vec<String> = page["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["deliveries"].as_array().unwrap())
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    for id in batch.iter().chain(&immediate).chain([&dead]) {
        assert!(listed.contains(id), "{id} not listed");
    }
    drop(receiver);
}

#[test]
fn one_outbox_one_host() {
    let dir = scratch("exclusive");
    write_json(&dir.join("config.json"), &config("http://127.0.0.1:9/hook"));
    write_json(&dir.join("strategy.json"), &strategy(10));
    let first = Serve::start(&dir, &[]);
    let second = Serve::try_start(&dir, &[]);
    let err = second
        .err()
        .expect("a second serve on the same outbox must not start");
    assert!(err.contains("another `host-test serve`"), "{err}");
    drop(first);
}

/// Memory with the receiver down: the outbox grows on disk, not in RAM.
///
/// Bounded: at most [`LOAD_CHANGES`] changes and [`LOAD_SECONDS`] of submitting. Each
/// change carries [`NOTES_BYTES`] of text, so holding the pending deliveries in memory
/// would grow the process by more than the outbox's size; the process may grow by at
/// most [`MAX_GROWTH_KIB`] between the first tenth and the end.
#[test]
fn load_with_the_receiver_down_grows_the_outbox_not_the_memory() {
    const LOAD_CHANGES: usize = 20_000;
    const LOAD_SECONDS: u64 = 120;
    const PER_POST: usize = 200;
    const NOTES_BYTES: usize = 2_000;
    /// 16 MiB: the SQLite page cache, allocator slack and the member store (500 codes)
    /// fit; 20,000 pending deliveries of 2 KB (40 MB) would not.
    const MAX_GROWTH_KIB: u64 = 16 * 1024;

    // A port nobody listens on: every attempt is refused.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", down.local_addr().unwrap());
    drop(down);
    let dir = scratch("load");
    write_json(&dir.join("config.json"), &config(&url));
    write_json(&dir.join("strategy.json"), &strategy(1));
    // Every delivery stays pending for the whole test, however long a loaded machine
    // makes it: its attempts (refused at once, full jitter) must not run out first.
    let serve = Serve::start(&dir, &["--max-attempts", "100"]);
    let notes = "x".repeat(NOTES_BYTES);

    let started = Instant::now();
    let mut sent = 0usize;
    let mut baseline = None;
    while sent < LOAD_CHANGES && started.elapsed() < Duration::from_secs(LOAD_SECONDS) {
        let batch: Vec<Json> = (sent..sent + PER_POST)
            .map(|i| change(&format!("L{:03}", i % 500), i / 500 + 1, &notes))
            .collect();
        let (status, a) = serve.post("/changes", &Json::Array(batch));
        assert_eq!(status, 202, "{a}");
        sent += PER_POST;
        if baseline.is_none() && sent >= LOAD_CHANGES / 10 {
            baseline = Some(serve.memory().0);
        }
    }
    let elapsed = started.elapsed();
    // Let the dispatcher churn through refused attempts and backoffs for a while too.
    std::thread::sleep(Duration::from_secs(3));
    let (_, after) = serve.get("/deliveries?status=pending&limit=1");
    assert!(
        after["deliveries"][0]["attempts"].as_u64() >= Some(1),
        "the dispatcher made attempts: {after}"
    );
    let (rss, peak) = serve.memory();
    let baseline = baseline.unwrap();
    let (_, listing) = serve.get("/deliveries?limit=1");
    assert_eq!(listing["counts"]["pending"], sent, "{listing}");
    let outbox_kib = ["outbox.sqlite", "outbox.sqlite-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()))
        .sum::<u64>()
        / 1024;
    eprintln!(
        "load: {sent} changes in {:.1} s = {:.0} changes/s accepted; outbox {outbox_kib} KiB on disk; memory {baseline} KiB after {} changes, {rss} KiB 3 s after the last, peak {peak} KiB",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        LOAD_CHANGES / 10
    );
    assert!(
        sent >= LOAD_CHANGES / 2,
        "only {sent} changes in {LOAD_SECONDS} s"
    );
    assert!(
        outbox_kib * 1024 > (sent * NOTES_BYTES) as u64,
        "the outbox holds the bodies"
    );
    assert!(
        rss.saturating_sub(baseline) < MAX_GROWTH_KIB,
        "memory grew from {baseline} KiB to {rss} KiB while the outbox grew to {outbox_kib} KiB"
    );
}

/// Deliveries per second to a receiver that answers at once (figures printed; the
/// assertion is only that every one arrives).
#[test]
fn load_drains_to_a_live_receiver() {
    const CHANGES: usize = 10_000;
    let rt = tokio();
    let receiver = rt.block_on(Receiver::builder().start()).unwrap();
    let dir = scratch("drain");
    write_json(&dir.join("config.json"), &config(&receiver.url("/hook")));
    write_json(&dir.join("strategy.json"), &strategy(1));
    let serve = Serve::start(&dir, &["--concurrency", "16"]);
    let started = Instant::now();
    for k in 0..CHANGES / 100 {
        let batch: Vec<Json> = (0..100)
            .map(|i| change(&format!("D{:04}", k * 100 + i), 1, "n"))
            .collect();
        assert_eq!(serve.post("/changes", &Json::Array(batch)).0, 202);
    }
    let accepted = started.elapsed();
    assert!(wait_until(Duration::from_secs(300), || receiver
        .received()
        .len()
        >= CHANGES));
    let drained = started.elapsed();
    let (_, peak) = serve.memory();
    eprintln!(
        "drain: {CHANGES} changes accepted in {:.2} s ({:.0}/s), all delivered after {:.2} s ({:.0} deliveries/s), peak memory {peak} KiB",
        accepted.as_secs_f64(),
        CHANGES as f64 / accepted.as_secs_f64(),
        drained.as_secs_f64(),
        CHANGES as f64 / drained.as_secs_f64()
    );
    assert_eq!(receiver.received().len(), CHANGES);
}

/// OAuth and schedules through `serve`: scheduled fires and changes are written to the
/// outbox without a token, and each attempt carries a real one; neither the token nor the
/// client secret is ever on disk.
#[test]
fn schedules_and_oauth_go_through_the_outbox_without_tokens_on_disk() {
    const CLIENT_SECRET: &str = "client-secret-never-on-disk";
    let rt = tokio();
    let tokens = rt
        .block_on(host_test::reference::receiver::TokenServer::start(
            "serve-test",
            CLIENT_SECRET,
            Duration::from_secs(3600),
        ))
        .unwrap();
    let receiver = rt
        .block_on(
            Receiver::builder()
                .secrets(vec![SECRET.into()])
                .require_tokens_from(&tokens)
                .start(),
        )
        .unwrap();
    let dir = scratch("oauth");
    let mut c = config(&receiver.url("/hook"));
    c["oauth"] = json!({
        "token-url": tokens.url(),
        "client-id": "serve-test",
        "client-secret": CLIENT_SECRET,
        "client-auth": "basic"
    });
    write_json(&dir.join("config.json"), &c);
    let mut s = strategy(10);
    s["schedules"] = json!([{ "name": "every second", "cron": "* * * * * *", "filter": "[Status] = \"Active\"" }]);
    write_json(&dir.join("strategy.json"), &s);
    let members: Vec<Json> = (0..3)
        .map(|i| json!({ "Code": format!("S{i}"), "Name": "s", "Status": "Active" }))
        .collect();
    write_json(&dir.join("members.json"), &Json::Array(members));
    let members_arg = dir.join("members.json");
    let serve = Serve::start(&dir, &["--members", members_arg.to_str().unwrap()]);

    let (status, a) = serve.post("/changes", &json!([change("S9", 1, "n")]));
    assert_eq!(status, 202, "{a}");
    let changed = ids(&a).remove(0);
    assert!(wait_until(Duration::from_secs(60), || {
        let r = receiver.received();
        r.iter()
            .any(|r| r.header("webhook-id") == Some(changed.as_str()))
            && r.iter()
                .filter(|r| r.body.windows(2).any(|w| w == b"S0"))
                .count()
                >= 2
    }));
    let received = receiver.received();
    assert!(
        received
            .iter()
            .all(|r| r.authorized == Some(true) && r.verified.is_ok())
    );
    let (_, listing) = serve.get("/deliveries?status=delivered&limit=1000");
    let sources: HashSet<&str> = listing["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["source"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains("changes") && sources.contains("schedule:every second"),
        "{sources:?}"
    );
    assert!(
        serve
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("fired at"))
    );
    drop(serve);

    let mut on_disk = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let path = f.unwrap().path();
        if path.to_string_lossy().contains("outbox") {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(
                !text.contains("tok-0"),
                "{} holds an access token",
                path.display()
            );
            assert!(
                !text.contains(CLIENT_SECRET),
                "{} holds the client secret",
                path.display()
            );
            on_disk += text.matches(host_test::outbox::TOKEN_PLACEHOLDER).count();
        }
    }
    assert!(
        on_disk > 0,
        "the outbox holds the placeholder where the token was"
    );
}

#[test]
fn the_api_listens_on_loopback_only() {
    let dir = scratch("loopback");
    write_json(&dir.join("config.json"), &config("http://127.0.0.1:9/hook"));
    write_json(&dir.join("strategy.json"), &strategy(10));
    let err = serve_fails(&dir, &["--listen", "0.0.0.0:0"], 2);
    assert!(err.contains("loopback only"), "{err}");
}

/// SIGTERM lets an attempt in flight end and be recorded within the grace, and cuts off
/// one that would take longer; that one is sent again after the restart, the other not.
#[test]
fn sigterm_waits_for_attempts_in_flight_within_the_grace() {
    let grace = host_test::outbox::dispatch::SHUTDOWN_GRACE;
    let rt = tokio();
    let receiver = rt
        .block_on(
            Receiver::builder()
                .respond(move |r| {
                    if r.body.windows(4).any(|w| w == b"slow") {
                        Reply::status(200, "ok").after(grace + Duration::from_secs(3))
                    } else {
                        Reply::status(200, "ok").after(Duration::from_millis(800))
                    }
                })
                .start(),
        )
        .unwrap();
    let dir = scratch("sigterm");
    write_json(&dir.join("config.json"), &config(&receiver.url("/hook")));
    write_json(&dir.join("strategy.json"), &strategy(1));
    let mut serve = Serve::start(&dir, &[]);
    let (status, a) = serve.post(
        "/changes",
        &json!([change("Q1", 1, "quick"), change("S1", 1, "slow")]),
    );
    assert_eq!(status, 202, "{a}");
    let (quick, slow) = (ids(&a)[0].clone(), ids(&a)[1].clone());
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        == 2));

    let asked = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exit = serve.child.wait().unwrap();
    let took = asked.elapsed();
    assert!(exit.success(), "{exit}");
    assert!(
        took >= grace - Duration::from_millis(500),
        "stopped after {took:?}, before the grace"
    );
    assert!(
        took < grace + Duration::from_secs(3),
        "stopped after {took:?}"
    );
    assert!(
        wait_until(Duration::from_secs(5), || {
            serve
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("1 attempt(s) cut off in flight"))
        }),
        "{:?}",
        serve.lines.lock().unwrap()
    );

    let serve = Serve::start(&dir, &[]);
    assert!(wait_until(Duration::from_secs(30), || {
        receiver
            .received()
            .iter()
            .filter(|r| r.header("webhook-id") == Some(slow.as_str()))
            .count()
            == 2
    }));
    let (_, q) = serve.get(&format!("/deliveries/{quick}"));
    assert_eq!(q["status"], "delivered", "{q}");
    let quick_copies = receiver
        .received()
        .iter()
        .filter(|r| r.header("webhook-id") == Some(quick.as_str()))
        .count();
    assert_eq!(
        quick_copies, 1,
        "the attempt that ended within the grace was recorded"
    );
}

/// A delivery during which the host dies every time (here: killed while it waits for
/// the receiver) ends as a dead letter after its attempt budget instead of looping.
#[test]
fn a_delivery_the_host_dies_on_ends_after_its_budget() {
    let rt = tokio();
    let receiver = rt
        .block_on(
            Receiver::builder()
                .respond(|_| Reply::status(200, "late").after(Duration::from_secs(60)))
                .start(),
        )
        .unwrap();
    let dir = scratch("poison");
    write_json(&dir.join("config.json"), &config(&receiver.url("/hook")));
    write_json(&dir.join("strategy.json"), &strategy(1));
    let args = ["--max-attempts", "2"];
    let serve = Serve::start(&dir, &args);
    let (status, a) = serve.post("/changes", &json!([change("P1", 1, "n")]));
    assert_eq!(status, 202, "{a}");
    let id = ids(&a).remove(0);
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        == 1));
    serve.kill();
    let serve = Serve::start(&dir, &args);
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        == 2));
    serve.kill();
    let serve = Serve::start(&dir, &args);
    assert!(wait_until(Duration::from_secs(30), || {
        serve.get(&format!("/deliveries/{id}")).1["status"] == "dead"
    }));
    let (_, d) = serve.get(&format!("/deliveries/{id}"));
    assert_eq!(d["attempts"], 2, "{d}");
    assert!(
        d["last-error"]
            .as_str()
            .unwrap()
            .contains("attempts exhausted"),
        "{d}"
    );
    assert_eq!(receiver.received().len(), 2, "no third attempt");
}

#[test]
fn secret_query_values_are_sent_but_never_stored_in_the_outbox() {
    let rt = tokio();
    let receiver = rt
        .block_on(Receiver::builder().secrets(vec![SECRET.into()]).start())
        .unwrap();
    let dir = scratch("query-secret");
    let mut c = config(&receiver.url("/hook"));
    c["query"] = json!([
        { "key": "api_key", "text": "query-sekret-314159" },
        { "key": "source", "text": "mdm" }
    ]);
    write_json(&dir.join("config.json"), &c);
    write_json(&dir.join("strategy.json"), &strategy(10));
    let serve = Serve::start(&dir, &[]);
    let (status, a) = serve.post("/changes", &json!([change("Q1", 1, "n")]));
    assert_eq!(status, 202, "{a}");
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        == 1));
    let got = &receiver.received()[0];
    assert!(
        got.target.contains("api_key=query-sekret-314159") && got.target.contains("source=mdm"),
        "{}",
        got.target
    );
    drop(serve);
    let mut stored = String::new();
    for f in ["outbox.sqlite", "outbox.sqlite-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(f)) {
            stored.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    assert!(
        !stored.contains("query-sekret-314159"),
        "the outbox holds the secret"
    );
    assert!(
        stored.contains("api_key=query-value-added-at-each-attempt&source=mdm"),
        "the stored URL keeps the rest, with the placeholder"
    );
}

/// A trap in the component, from its fuel or its memory cap, answers that one API call
/// 503 in JSON and breaks nothing: the next call runs on a fresh instance (a fuel trap
/// used to make every later `POST /changes` answer 503 until a restart).
#[test]
fn a_trap_answers_503_in_json_and_the_next_call_runs_on_a_fresh_instance() {
    let dir = scratch("trap");
    write_json(&dir.join("config.json"), &config("http://127.0.0.1:9/hook"));
    write_json(&dir.join("strategy.json"), &strategy(10));
    for (limit, value, many, says) in [
        // One change costs well under a million units; 5,000 in one call do not fit.
        ("--fuel", "40000000", 5_000, "fuel"),
        // 3 MiB of notes, in the new and the prior state and then in the body, do not
        // fit an instance capped at 8 MiB.
        ("--memory-mib", "8", 1, "memory"),
    ] {
        let serve = Serve::start(&dir, &[limit, value]);
        let one = |v: usize| json!([change("C1", v, "n")]);
        let (status, a) = serve.post("/changes", &one(1));
        assert_eq!(status, 202, "{limit}: {a}");
        let notes = if many == 1 {
            "x".repeat(3 << 20)
        } else {
            "n".into()
        };
        let heavy: Vec<Json> = (0..many)
            .map(|i| change(&format!("H{i}"), 1, &notes))
            .collect();
        let (status, a) = serve.post("/changes", &Json::Array(heavy));
        assert_eq!(status, 503, "{limit}: {a}");
        let message = a["error"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{limit}: {a}");
        // Nothing of the refused call was accepted; the next call is served.
        let (status, a) = serve.post("/changes", &one(2));
        assert_eq!(status, 202, "{limit} after the trap: {a}");
        let (status, a) = serve.post("/changes", &one(3));
        assert_eq!(status, 202, "{limit} twice after the trap: {a}");
        let (_, listed) = serve.get("/deliveries?limit=100");
        assert!(
            !listed.to_string().contains("\"H0\""),
            "{limit}: the trapped call left deliveries: {listed}"
        );
        serve.kill();
        std::fs::remove_file(dir.join("outbox.sqlite")).unwrap();
    }
    // A zero budget is refused before anything starts.
    let out = serve_command(&dir).args(["--fuel", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = serve_command(&dir)
        .args(["--memory-mib", "2048"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1..=1024"));
}

// ---- many strategies, one configuration, managed at run time ----

/// A configuration for the platform tests: signed, with a header every strategy's
/// requests carry.
fn shared_config(url: &str) -> Json {
    let mut c = config(url);
    c["name"] = json!("Shared CRM");
    c["headers"] = json!([{ "key": "X-Configuration", "text": "shared" }]);
    c
}

/// A receiver that verifies every signature and answers `200`, or `503` while `down`.
fn switchable_receiver(rt: &tokio::runtime::Runtime, down: Arc<AtomicBool>) -> Receiver {
    rt.block_on(
        Receiver::builder()
            .secrets(vec![SECRET.into()])
            .respond(move |r| {
                if down.load(Ordering::SeqCst) {
                    Reply::status(503, "down")
                } else if r.verified.is_ok() {
                    Reply::status(200, "ok")
                } else {
                    Reply::status(400, "bad signature")
                }
            })
            .start(),
    )
    .unwrap()
}

/// The bodies of the requests a receiver got with a valid signature, by the strategy
/// each names (a request refused while the receiver was down counts too).
fn received_by_strategy(receiver: &Receiver) -> HashMap<String, Vec<Json>> {
    let mut by: HashMap<String, Vec<Json>> = HashMap::new();
    for r in receiver.received().iter().filter(|r| r.verified.is_ok()) {
        let body: Json = serde_json::from_slice(&r.body).unwrap();
        by.entry(body["Strategy"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(body);
    }
    by
}

/// A strategy that names itself in each body, with a filter on its added and updated
/// triggers.
fn filtered(name: &str, batch_size: u32, filter: Option<&str>) -> Json {
    let mut s = named(name, batch_size);
    s["body"] = json!([{ "key": "Strategy", "text": name }]);
    for trigger in ["added", "updated"] {
        s["run-options"][trigger] = match filter {
            Some(f) => json!({ "enabled": true, "filter": f }),
            None => json!({ "enabled": true }),
        };
    }
    s
}

#[test]
fn two_strategies_on_one_entity_each_with_its_filter_batches_and_ids() {
    let rt = tokio();
    let receiver = switchable_receiver(&rt, Arc::new(AtomicBool::new(false)));
    let dir = scratch("two_strategies");
    let mut other_entity = filtered("Products out", 10, None);
    other_entity["entity"] = json!("Product");
    definitions(
        &dir,
        &shared_config(&receiver.url("/hook")),
        &[
            filtered("Active one by one", 1, Some("[Status] = \"Active\"")),
            filtered("All in tens", 10, None),
            other_entity,
        ],
    );
    let serve = Serve::start(&dir, &[]);
    let started = serve.lines.lock().unwrap().join("\n");
    assert!(started.contains("serving 3 strategy(ies)"), "{started}");

    let mut inactive = change("C3", 1, "n");
    inactive["new"]["Status"] = json!("Blocked");
    let changes = json!([change("C1", 1, "n"), change("C2", 1, "n"), inactive]);
    let (status, a) = serve.post("/changes", &changes);
    assert_eq!(status, 202, "{a}");
    assert_eq!(
        a["strategies"],
        json!(["Active one by one", "All in tens"]),
        "{a}"
    );
    let deliveries = a["deliveries"].as_array().unwrap();
    // Two active changes one by one, and all three in one batch of ten.
    let of = |name: &str| deliveries.iter().filter(|d| d["strategy"] == name).count();
    assert_eq!((of("Active one by one"), of("All in tens")), (2, 1), "{a}");
    let unique: HashSet<&str> = deliveries
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        unique.len(),
        3,
        "each strategy makes its own delivery ids: {a}"
    );

    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        >= 3));
    let got = received_by_strategy(&receiver);
    let records = |name: &str| -> Vec<usize> {
        got.get(name)
            .map(|bodies| {
                bodies
                    .iter()
                    .map(|b| b["Records"].as_array().unwrap().len())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(records("Active one by one"), [1, 1]);
    assert_eq!(records("All in tens"), [3]);
    assert!(!got.contains_key("Products out"));
    // The configuration's header is on every strategy's requests.
    for r in receiver.received() {
        assert_eq!(r.header("x-configuration"), Some("shared"), "{r:?}");
    }
    // Each delivery records the strategy and version that rendered it.
    let (_, listed) = serve.get("/deliveries");
    for d in listed["deliveries"].as_array().unwrap() {
        assert_eq!(d["strategy-version"], 1, "{d}");
    }
    let (_, strategies) = serve.get("/strategies");
    let names: Vec<&str> = strategies["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Active one by one", "All in tens", "Products out"]);
    let (_, shared) = serve.get("/configurations/Shared%20CRM");
    assert_eq!(
        shared["strategies"].as_array().unwrap().len(),
        3,
        "{shared}"
    );
    // Secrets are never shown.
    assert!(!shared.to_string().contains(SECRET), "{shared}");
    assert_eq!(
        shared["definition"]["signing-secrets"],
        json!(["[redacted]"])
    );
}

#[test]
fn a_broken_put_is_refused_with_located_problems_and_the_old_strategy_keeps_delivering() {
    let rt = tokio();
    let receiver = switchable_receiver(&rt, Arc::new(AtomicBool::new(false)));
    let dir = scratch("broken_put");
    definitions(
        &dir,
        &shared_config(&receiver.url("/hook")),
        &[filtered("Sync", 1, None)],
    );
    let serve = Serve::start(&dir, &[]);
    let mut broken = filtered("Sync", 1, Some("[Status] = "));
    broken["configuration"] = json!("Shared CRM");
    let (status, a) = serve.call("PUT", "/strategies/Sync", broken.to_string().as_bytes());
    assert_eq!(status, 422, "{a}");
    let p = &a["problems"][0];
    assert!(p["path"].as_str().unwrap().contains("filter"), "{a}");
    assert!(p["line"].is_u64() && p["column"].is_u64(), "{a}");
    assert_eq!(p["source"], "PUT /strategies/Sync", "{a}");
    // A strategy naming a configuration that does not exist, and a name that is not the
    // path's, are refused too.
    let mut lost = filtered("Sync", 1, None);
    lost["configuration"] = json!("Nowhere");
    let (status, a) = serve.call("PUT", "/strategies/Sync", lost.to_string().as_bytes());
    assert_eq!(status, 422, "{a}");
    assert!(
        a["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("\"Shared CRM\""),
        "{a}"
    );
    let (status, _) = serve.call("PUT", "/strategies/Other", broken.to_string().as_bytes());
    assert_eq!(status, 422);
    // The working one is untouched, and delivers.
    let (_, s) = serve.get("/strategies/Sync");
    assert_eq!(s["version"], 1, "{s}");
    let (status, a) = serve.post("/changes", &json!([change("C1", 1, "n")]));
    assert_eq!(status, 202, "{a}");
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        == 1));

    // A good PUT takes effect for new work, as version 2.
    let mut good = filtered("Sync", 1, Some("[Status] = \"Active\""));
    good["configuration"] = json!("Shared CRM");
    let (status, a) = serve.call("PUT", "/strategies/Sync", good.to_string().as_bytes());
    assert_eq!((status, a["version"].clone()), (200, json!(2)), "{a}");
    let (_, a) = serve.post("/changes", &json!([change("C2", 1, "n")]));
    let id = a["deliveries"][0]["id"].as_str().unwrap().to_string();
    let (_, d) = serve.get(&format!("/deliveries/{id}"));
    assert_eq!(d["strategy-version"], 2, "{d}");
    // A new strategy is 201; a configuration in use cannot be deleted.
    let mut second = filtered("Second", 5, None);
    second["configuration"] = json!("Shared CRM");
    let (status, _) = serve.call("PUT", "/strategies/Second", second.to_string().as_bytes());
    assert_eq!(status, 201);
    let (status, a) = serve.call("DELETE", "/configurations/Shared%20CRM", b"");
    assert_eq!(status, 409, "{a}");
    assert!(a["error"].as_str().unwrap().contains("\"Second\""), "{a}");
}

#[test]
fn a_strategy_deleted_while_deliveries_are_pending_lets_them_finish() {
    let rt = tokio();
    let down = Arc::new(AtomicBool::new(true));
    let receiver = switchable_receiver(&rt, down.clone());
    let dir = scratch("delete_pending");
    definitions(
        &dir,
        &shared_config(&receiver.url("/hook")),
        &[filtered("Going", 1, None), filtered("Staying", 1, None)],
    );
    let serve = Serve::start(&dir, &["--retry-base-ms", "50", "--retry-cap-ms", "200"]);
    let (status, a) = serve.post("/changes", &json!([change("C1", 1, "n")]));
    assert_eq!(status, 202, "{a}");
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        >= 2));
    let (status, a) = serve.call("DELETE", "/strategies/Going", b"");
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["pending-deliveries"], 1, "{a}");
    assert_eq!(serve.get("/strategies/Going").0, 404);
    // It renders nothing more.
    let (_, a) = serve.post("/changes", &json!([change("C2", 1, "n")]));
    assert_eq!(a["strategies"], json!(["Staying"]), "{a}");
    // The receiver comes back: the deleted strategy's pending delivery is delivered.
    down.store(false, Ordering::SeqCst);
    assert!(wait_until(Duration::from_secs(60), || {
        serve.get("/deliveries?status=pending").1["counts"]["pending"] == 0
    }));
    let (_, listed) = serve.get("/deliveries?status=delivered");
    let going: Vec<&Json> = listed["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["strategy"] == "Going")
        .collect();
    assert_eq!(going.len(), 1, "{listed}");
    // (The receiver saw it more than once: refused while down, then taken.)
    let going_ids: HashSet<String> = receiver
        .received()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("\"Going\""))
        .filter_map(|r| r.header("webhook-id").map(str::to_string))
        .collect();
    assert_eq!(going_ids.len(), 1, "{going_ids:?}");
}

#[test]
fn a_restart_comes_back_with_the_definitions_and_the_outbox_holds_no_secret() {
    let rt = tokio();
    let receiver = switchable_receiver(&rt, Arc::new(AtomicBool::new(false)));
    let dir = scratch("restart_definitions");
    let mut config = shared_config(&receiver.url("/hook"));
    config["oauth"] = json!({});
    config["query"] = json!([{ "key": "api_key", "text": "query-secret-value" }]);
    definitions(&dir, &config, &[filtered("From a file", 1, None)]);
    let serve = Serve::start(&dir, &[]);
    let mut added = filtered("From the API", 1, None);
    added["configuration"] = json!("Shared CRM");
    let (status, _) = serve.call(
        "PUT",
        "/strategies/From%20the%20API",
        added.to_string().as_bytes(),
    );
    assert_eq!(status, 201);
    serve.kill();
    // No definitions given: the outbox's come back, with their versions.
    std::fs::remove_dir_all(dir.join("defs")).unwrap();
    let serve = Serve::start(&dir, &[]);
    let (_, s) = serve.get("/strategies");
    let names: Vec<(&str, i64)> = s["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["version"].as_i64().unwrap()))
        .collect();
    assert_eq!(names, [("From a file", 1), ("From the API", 1)], "{s}");
    let (status, a) = serve.post("/changes", &json!([change("C1", 1, "n")]));
    assert_eq!(status, 202, "{a}");
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        == 2));
    // The signing secret and the query secret sign and go out, but the outbox file
    // (and its journal) holds neither.
    for r in receiver.received() {
        assert!(r.verified.is_ok());
        assert!(
            r.target.contains("api_key=query-secret-value"),
            "{}",
            r.target
        );
    }
    serve.kill();
    for file in ["outbox.sqlite", "outbox.sqlite-wal"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [
            SECRET,
            SECRET.trim_start_matches("whsec_"),
            "query-secret-value",
        ] {
            assert!(!text.contains(secret), "{secret} is in {file}");
        }
    }
    // Another key cannot open them: the host says so and does not start.
    let err = Serve::try_start(
        &dir,
        &["--secrets-key", dir.join("other.key").to_str().unwrap()],
    )
    .err()
    .expect("a serve with the wrong key must not start");
    assert!(err.contains("another key"), "{err}");
}

#[test]
fn problems_in_several_definition_files_are_reported_together() {
    let dir = scratch("definition_problems");
    let mut bad_filter = filtered("Bad filter", 1, Some("[Status] ="));
    bad_filter["configuration"] = json!("Shared CRM");
    let mut no_config = filtered("No configuration", 1, None);
    no_config["configuration"] = json!("Missing");
    let defs = dir.join("defs");
    std::fs::create_dir_all(&defs).unwrap();
    write_json(
        &defs.join("shared.config.json"),
        &shared_config("http://127.0.0.1:9/hook"),
    );
    write_json(&defs.join("a.strategy.json"), &bad_filter);
    write_json(&defs.join("b.strategy.json"), &no_config);
    std::fs::write(defs.join("c.strategy.json"), b"{ \"name\": ").unwrap();
    // One run reports them all: the file that does not parse, the filter that does not
    // compile (located, once for each trigger that carries it), and the configuration
    // that does not exist.
    let stderr = serve_fails(&dir, &["--listen", "127.0.0.1:0"], 1);
    assert!(
        stderr.contains("c.strategy.json") && stderr.contains("EOF"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a.strategy.json") && stderr.contains("(line 1, column"),
        "{stderr}"
    );
    assert!(
        stderr.contains("b.strategy.json: configuration: no configuration is named \"Missing\""),
        "{stderr}"
    );
    assert_eq!(stderr.matches("error: ").count(), 4, "{stderr}");
    // A mistyped key is named by its path.
    let mut typo = filtered("Typo", 1, None);
    typo["configuration"] = json!("Shared CRM");
    typo["run-options"]["bach-size"] = json!(1);
    write_json(&defs.join("a.strategy.json"), &typo);
    for f in ["b.strategy.json", "c.strategy.json"] {
        std::fs::remove_file(defs.join(f)).unwrap();
    }
    let stderr = serve_fails(&dir, &["--listen", "127.0.0.1:0"], 1);
    assert!(
        stderr.contains("a.strategy.json: run-options.bach-size: unknown field `bach-size`"),
        "{stderr}"
    );
}

#[test]
fn a_configuration_put_applies_to_all_its_strategies_or_is_refused_whole() {
    let rt = tokio();
    let receiver = switchable_receiver(&rt, Arc::new(AtomicBool::new(false)));
    let dir = scratch("configuration_put");
    let config = shared_config(&receiver.url("/hook"));
    definitions(
        &dir,
        &config,
        &[filtered("First", 1, None), filtered("Second", 1, None)],
    );
    let serve = Serve::start(&dir, &[]);
    // A broken configuration (a relative URL) is refused with its problem, and nothing
    // changes.
    let mut broken = config.clone();
    broken["webhook-url"] = json!("/relative");
    let (status, a) = serve.call(
        "PUT",
        "/configurations/Shared%20CRM",
        broken.to_string().as_bytes(),
    );
    assert_eq!(status, 422, "{a}");
    assert!(
        a["problems"][0]["path"]
            .as_str()
            .unwrap()
            .contains("webhook-url"),
        "{a}"
    );
    // So is one whose header expression does not compile (checked with each strategy
    // bound to it).
    let mut breaks = config.clone();
    breaks["headers"] = json!([{ "key": "X-Configuration", "expression": "[Status] =" }]);
    let (status, a) = serve.call(
        "PUT",
        "/configurations/Shared%20CRM",
        breaks.to_string().as_bytes(),
    );
    assert_eq!(status, 422, "{a}");
    let (_, c) = serve.get("/configurations/Shared%20CRM");
    assert_eq!(c["version"], 1, "{c}");
    // A good one: version 2, and every strategy's next requests carry its new header.
    let mut good = config.clone();
    good["headers"] = json!([{ "key": "X-Configuration", "text": "changed" }]);
    let (status, a) = serve.call(
        "PUT",
        "/configurations/Shared%20CRM",
        good.to_string().as_bytes(),
    );
    assert_eq!((status, a["version"].clone()), (200, json!(2)), "{a}");
    let (status, a) = serve.post("/changes", &json!([change("C1", 1, "n")]));
    assert_eq!(status, 202, "{a}");
    assert!(wait_until(Duration::from_secs(30), || receiver
        .received()
        .len()
        == 2));
    for r in receiver.received() {
        assert_eq!(r.header("x-configuration"), Some("changed"), "{r:?}");
    }
    // The strategies keep their own versions.
    let (_, s) = serve.get("/strategies/First");
    assert_eq!(s["version"], 1, "{s}");
}

/// Every strategy's schedules run on the one timer, and the timer follows the catalog: a
/// strategy defined through the API starts firing, a deleted one stops.
#[test]
fn the_schedules_of_every_strategy_run_on_one_timer_that_follows_the_catalog() {
    let rt = tokio();
    let receiver = switchable_receiver(&rt, Arc::new(AtomicBool::new(false)));
    let dir = scratch("schedules_many");
    let every_second = |name: &str| {
        let mut s = filtered(name, 10, None);
        s["schedules"] = json!([{ "name": "every second", "cron": "* * * * * *" }]);
        s
    };
    let config = shared_config(&receiver.url("/hook"));
    definitions(&dir, &config, &[every_second("Tick"), every_second("Tock")]);
    write_json(
        &dir.join("members.json"),
        &json!([{ "Code": "M1", "Name": "one", "Status": "Active", "Notes": "n" }]),
    );
    let members = dir.join("members.json");
    let serve = Serve::start(&dir, &["--members", members.to_str().unwrap()]);
    let fired = |name: &str| {
        received_by_strategy(&receiver)
            .get(name)
            .map_or(0, Vec::len)
    };
    assert!(
        wait_until(Duration::from_secs(30), || fired("Tick") >= 2
            && fired("Tock") >= 2),
        "{:?}",
        received_by_strategy(&receiver).keys().collect::<Vec<_>>()
    );
    // A third, defined at run time, fires too; a deleted one stops.
    let mut third = every_second("Added");
    third["configuration"] = json!("Shared CRM");
    let (status, _) = serve.call("PUT", "/strategies/Added", third.to_string().as_bytes());
    assert_eq!(status, 201);
    assert!(wait_until(Duration::from_secs(30), || fired("Added") >= 1));
    let (status, _) = serve.call("DELETE", "/strategies/Tock", b"");
    assert_eq!(status, 200);
    // Let a fire already rendered arrive, then count: no more come.
    std::thread::sleep(Duration::from_millis(1500));
    let after_delete = fired("Tock");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        fired("Tock"),
        after_delete,
        "a deleted strategy's schedule fired"
    );
    assert!(fired("Tick") >= 4, "the others go on");
    // Its configuration goes once no strategy uses it.
    for name in ["Tick", "Added"] {
        assert_eq!(
            serve.call("DELETE", &format!("/strategies/{name}"), b"").0,
            200
        );
    }
    assert_eq!(
        serve.call("DELETE", "/configurations/Shared%20CRM", b"").0,
        200
    );
    assert_eq!(serve.get("/configurations/Shared%20CRM").0, 404);
}

/// A configuration's own retry schedule, each attempt kept and readable through the API,
/// the request viewable without its secrets, and every dead delivery of a strategy
/// replayed in one call: the receiver fails three changes' every attempt, then recovers.
#[test]
fn attempts_requests_and_bulk_replay_through_the_api() {
    let rt = tokio();
    let down = Arc::new(AtomicBool::new(true));
    let receiver = switchable_receiver(&rt, down.clone());
    let dir = scratch("history");
    let mut c = config(&receiver.url("/hook"));
    c["headers"] = json!([{ "key": "X-Api-Key", "text": "header-secret-value-123" }]);
    c["delivery"] = json!({ "retry": { "delays": ["50ms", "100ms"] } });
    definitions(&dir, &c, &[strategy(1)]);
    let serve = Serve::start(&dir, &[]);
    let changes: Vec<Json> = (0..3).map(|i| change(&format!("C{i}"), 1, "n")).collect();
    let (status, answer) = serve.post("/changes", &json!(changes));
    assert_eq!(status, 202, "{answer}");
    let ids = ids(&answer);
    assert_eq!(ids.len(), 3);
    // Three attempts each (the schedule's two delays), then dead letters.
    assert!(wait_until(Duration::from_secs(30), || {
        serve.get("/deliveries?status=dead").1["deliveries"]
            .as_array()
            .map_or(0, Vec::len)
            == 3
    }));
    let (status, history) = serve.get(&format!("/deliveries/{}/attempts", ids[0]));
    assert_eq!(status, 200, "{history}");
    let attempts = history["attempts"].as_array().unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "dead-letter"], "{history}");
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], json!(i + 1));
        assert_eq!(a["status"], json!(503));
        assert_eq!(a["response"], json!("down"));
        assert!(a["latency-ms"].is_u64(), "{a}");
        assert!(a["started"].as_str().unwrap().ends_with('Z'), "{a}");
    }
    // The waits are the configuration's: 50 ms, then 100 ms (and not more than a
    // second, where the default schedule would wait 5 s, then 5 min).
    let started: Vec<jiff::Timestamp> = attempts
        .iter()
        .map(|a| a["started"].as_str().unwrap().parse().unwrap())
        .collect();
    let gap = |i: usize| (started[i + 1] - started[i]).get_milliseconds();
    assert!(gap(0) >= 50 && gap(0) < 1000, "{}", gap(0));
    assert!(gap(1) >= 100 && gap(1) < 1000, "{}", gap(1));
    // The request as stored: the body, and no secret.
    let (status, request) = serve.get(&format!("/deliveries/{}/request", ids[0]));
    assert_eq!(status, 200, "{request}");
    assert!(
        request["body"]
            .as_str()
            .unwrap()
            .contains("\"Code\":\"C0\""),
        "{request}"
    );
    let text = request.to_string();
    for secret in [SECRET, "header-secret-value-123"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let header = |name: &str| {
        request["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .map(|h| h["value"].clone())
    };
    assert_eq!(header("X-Api-Key"), Some(json!("[redacted]")));
    assert_eq!(serve.get("/deliveries/nope/attempts").0, 404);
    assert_eq!(serve.get("/deliveries/nope/request").0, 404);
    // Bulk replay: refused without a strategy or endpoint, or with a bad time.
    assert_eq!(serve.post("/deliveries/replay", &json!({})).0, 400);
    let (status, e) = serve.post(
        "/deliveries/replay",
        &json!({"strategy": "Customers out", "since": "yesterday"}),
    );
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("RFC 3339"), "{e}");
    // A time after they died takes none of them.
    let (status, none) = serve.post(
        "/deliveries/replay",
        &json!({"strategy": "Customers out", "since": "9999-01-01T00:00:00Z"}),
    );
    assert_eq!(
        (status, none["replayed"].clone()),
        (202, json!(0)),
        "{none}"
    );
    down.store(false, Ordering::SeqCst);
    let (status, done) = serve.post(
        "/deliveries/replay",
        &json!({"strategy": "Customers out", "endpoint": receiver.url("/hook"), "since": "2000-01-01T00:00:00Z"}),
    );
    assert_eq!(status, 202, "{done}");
    assert_eq!(done["replayed"], json!(3), "{done}");
    assert_eq!(done["left"], json!(0), "{done}");
    assert!(wait_until(Duration::from_secs(30), || {
        serve.get("/deliveries?status=delivered").1["deliveries"]
            .as_array()
            .map_or(0, Vec::len)
            == 3
    }));
    // The history goes on after the replay: the replay's first attempt delivered it.
    let (_, history) = serve.get(&format!("/deliveries/{}/attempts", ids[0]));
    let last = history["attempts"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["attempt"].clone(), last["outcome"].clone()),
        (json!(1), json!("delivered")),
        "{history}"
    );
    // The endpoint is known and its breaker closed (three failures in a row stay below
    // the default threshold).
    let (status, endpoints) = serve.get("/endpoints");
    assert_eq!(status, 200);
    let list = endpoints["endpoints"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{endpoints}");
    assert_eq!(list[0]["breaker"], json!("closed"), "{endpoints}");
    assert_eq!(list[0]["in-flight"], json!(0), "{endpoints}");
}

/// A configuration's `delivery` settings are checked with the rest: a bad one is refused
/// at start and by a PUT, with its key path, and the strategy in force keeps running.
#[test]
fn bad_delivery_settings_are_refused_with_their_path() {
    let rt = tokio();
    let receiver = switchable_receiver(&rt, Arc::new(AtomicBool::new(false)));
    let dir = scratch("settings");
    let mut c = config(&receiver.url("/hook"));
    c["delivery"] = json!({ "retry": { "delays": ["5s", "3 fortnights"] } });
    definitions(&dir, &c, &[strategy(1)]);
    let stderr = serve_fails(&dir, &["--listen", "127.0.0.1:0"], 1);
    assert!(
        stderr.contains("delivery.retry.delays[1]: \"3 fortnights\" is not a duration"),
        "{stderr}"
    );
    c["delivery"] = json!({ "concurrency": 8 });
    definitions(&dir, &c, &[strategy(1)]);
    let serve = Serve::start(&dir, &[]);
    let mut bad = c.clone();
    bad["delivery"] = json!({ "concurrency": 0 });
    let (status, e) = serve.call(
        "PUT",
        "/configurations/serve%20test",
        bad.to_string().as_bytes(),
    );
    assert_eq!(status, 422, "{e}");
    assert!(e.to_string().contains("delivery.concurrency"), "{e}");
    let (status, _) = serve.post("/changes", &json!([change("C1", 1, "n")]));
    assert_eq!(status, 202);
    assert!(wait_until(Duration::from_secs(20), || receiver
        .received()
        .len()
        == 1));
}

// ---- The operations surface: /health, /metrics, API tokens ----

/// An API token for the tests (never printed by the host).
const API_TOKEN: &str = "tok-3f9c1a7e5b2d4c6e8a0b";

/// A scratch directory with `config.json` (to an address that answers nothing) and
/// `strategy.json`.
fn plain(name: &str) -> Scratch {
    let dir = scratch(name);
    write_json(&dir.join("config.json"), &config("http://127.0.0.1:9/hook"));
    write_json(&dir.join("strategy.json"), &strategy(10));
    dir
}

/// Kill `serve`; all it printed, stdout then stderr.
fn printed(serve: Serve) -> String {
    let (lines, errors) = serve.output();
    format!("{}\n{errors}", lines.join("\n"))
}

/// `Authorization` with `token`.
fn bearer(token: &str) -> String {
    format!("authorization: Bearer {token}")
}

/// A metrics text read by a strict line parser: every sample `name{labels} value`, by
/// name and labels (sorted, `k="v"` joined by commas); each family announced by `# TYPE`
/// and `# HELP` before its samples, and the text ending with `# EOF`.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut typed: HashSet<String> = HashSet::new();
    let mut ended = false;
    for line in text.lines() {
        assert!(!ended, "text after # EOF: {line:?}");
        if line == "# EOF" {
            ended = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "{line:?}"
            );
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample is `series value`");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("not a number in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').expect("labels end with }")),
            None => (series, ""),
        };
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line:?}"
        );
        let family = ["_total", "_bucket", "_sum", "_count", "_created"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before its # TYPE: {line:?}");
        let mut pairs = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").expect("label is k=\"v\"");
            let end = after.find('"').expect("label value is closed");
            pairs.push(format!("{key}=\"{}\"", &after[..end]));
            rest = after[end + 1..]
                .strip_prefix(',')
                .unwrap_or(&after[end + 1..]);
        }
        pairs.sort();
        let key = format!("{name}{{{}}}", pairs.join(","));
        assert!(
            samples.insert(key, value).is_none(),
            "sample twice: {line:?}"
        );
    }
    assert!(ended, "the text does not end with # EOF");
    samples
}

/// A definitions directory of one configuration a strategy, each strategy of its own
/// entity: `(name, entity, url)`.
fn endpoints(dir: &Path, each: &[(&str, &str, &str)]) {
    let defs = dir.join("defs");
    std::fs::create_dir_all(&defs).unwrap();
    for (name, entity, url) in each {
        let mut c = config(url);
        c["name"] = json!(name);
        write_json(&defs.join(format!("{name}.config.json")), &c);
        let mut st = named(name, 1);
        st["entity"] = json!(entity);
        st["configuration"] = json!(name);
        write_json(&defs.join(format!("{name}.strategy.json")), &st);
    }
}

/// `change` for another entity.
fn change_of(entity: &str, code: &str, v: usize) -> Json {
    let mut c = change(code, v, "n");
    c["entity"] = json!(entity);
    c
}

/// A known workload read back from `/metrics`: 5 deliveries to an endpoint that takes
/// them, 2 to one that answers 500 until they are given up (3 attempts each), 1 to one
/// that answers 410 and the next one there skipped, 1 to an endpoint whose breaker opens
/// at its first failure, and one render the component refuses.
#[test]
fn metrics_count_a_known_workload_exactly() {
    let rt = tokio();
    let receiver = rt
        .block_on(
            Receiver::builder()
                .secrets(vec![SECRET.into()])
                .respond(|r| match r.target.as_str() {
                    "/ok" => Reply::status(200, "ok"),
                    "/gone" => Reply::status(410, "gone"),
                    _ => Reply::status(500, "broken"),
                })
                .start(),
        )
        .unwrap();
    let dir = scratch("metrics");
    let (ok, fail, gone, down) = (
        receiver.url("/ok"),
        receiver.url("/fail"),
        receiver.url("/gone"),
        receiver.url("/down"),
    );
    endpoints(
        &dir,
        &[
            ("ok", "Customer", &ok),
            ("fail", "Supplier", &fail),
            ("gone", "Product", &gone),
            ("down", "Order", &down),
        ],
    );
    // The breaker of /down opens at its first failure and probes it only in an hour.
    let down_config = dir.join("defs/down.config.json");
    let mut c: Json = serde_json::from_slice(&std::fs::read(&down_config).unwrap()).unwrap();
    c["delivery"] = json!({ "breaker": { "failures": 1, "probe-after": "1h" } });
    write_json(&down_config, &c);
    let serve = Serve::start(
        &dir,
        &[
            "--max-attempts",
            "3",
            "--retry-base-ms",
            "10",
            "--retry-cap-ms",
            "20",
        ],
    );

    // Before any work: every outcome at 0, all endpoints closed.
    let (status, _, text) = serve.call_with("GET", "/metrics", b"", &[]);
    assert_eq!(status, 200, "{text}");
    let m = parse_metrics(&text);
    assert_eq!(m["webhook_deliveries_total{outcome=\"delivered\"}"], 0.0);
    assert_eq!(
        m[&format!("webhook_endpoint_breaker_state{{endpoint=\"{gone}\",state=\"closed\"}}")],
        1.0
    );

    let customers: Vec<Json> = (0..5).map(|i| change(&format!("C{i}"), 1, "n")).collect();
    let suppliers: Vec<Json> = (0..2)
        .map(|i| change_of("Supplier", &format!("S{i}"), 1))
        .collect();
    // The same record twice: the second waits for the first, which disables the endpoint.
    let products = vec![change_of("Product", "P1", 1), change_of("Product", "P1", 2)];
    let all: Vec<Json> = customers
        .into_iter()
        .chain(suppliers)
        .chain(products)
        .chain([change_of("Order", "O1", 1)])
        .collect();
    let (status, a) = serve.post("/changes", &Json::Array(all));
    assert_eq!(status, 202, "{a}");
    assert_eq!(ids(&a).len(), 10, "{a}");
    // A render the component refuses: a record over the configuration's body limit.
    let (status, a) = serve.post("/changes", &json!([change("BIG", 1, &"x".repeat(300_000))]));
    assert_eq!(status, 413, "{a}");

    // Everything finished but the delivery to /down, which waits for its probe.
    let settled = json!({ "pending": 1, "delivered": 5, "dead": 4 });
    assert!(
        wait_until(
            Duration::from_secs(60),
            || serve.get("/deliveries").1["counts"] == settled
        ),
        "{}",
        serve.get("/deliveries").1
    );
    // The readiness probe writes, and leaves the deliveries as they are.
    let before = serve.get("/deliveries").1["counts"].clone();
    assert_eq!(serve.get("/health").0, 200);
    assert_eq!(serve.get("/deliveries").1["counts"], before);

    let (status, head, text) = serve.call_with("GET", "/metrics", b"", &[]);
    assert_eq!(status, 200, "{text}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    let m = parse_metrics(&text);
    let at = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in:\n{text}"));
    // 5 + 2 x 3 + 1 + 1 attempts sent a request; the skipped one sent none. Retries:
    // 2 for each delivery given up, 1 for the one to /down.
    for (series, want) in [
        ("webhook_deliveries_total{outcome=\"delivered\"}", 5.0),
        ("webhook_deliveries_total{outcome=\"dead-letter\"}", 2.0),
        (
            "webhook_deliveries_total{outcome=\"endpoint-disabled\"}",
            1.0,
        ),
        ("webhook_deliveries_total{outcome=\"skipped\"}", 1.0),
        ("webhook_retries_total{}", 5.0),
        ("webhook_attempt_duration_seconds_count{}", 13.0),
        ("webhook_attempt_duration_seconds_bucket{le=\"+Inf\"}", 13.0),
        ("webhook_outbox_deliveries{state=\"pending\"}", 1.0),
        ("webhook_outbox_deliveries{state=\"delivered\"}", 5.0),
        ("webhook_outbox_deliveries{state=\"dead\"}", 4.0),
        ("webhook_render_errors_total{source=\"changes\"}", 1.0),
        ("webhook_render_errors_total{source=\"schedule\"}", 0.0),
    ] {
        assert_eq!(at(series), want, "{series}\n{text}");
    }
    assert!(at("webhook_attempt_duration_seconds_sum{}") > 0.0, "{text}");
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix("webhook_attempt_duration_seconds_bucket{le=\"")?;
            let le = le.strip_suffix("\"}")?;
            Some((
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                },
                *v,
            ))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 10, "{text}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "buckets are cumulative: {buckets:?}"
    );
    for (endpoint, state) in [
        (&ok, "closed"),
        (&fail, "closed"),
        (&gone, "disabled"),
        (&down, "open"),
    ] {
        for s in ["closed", "open", "half-open", "disabled"] {
            let k =
                format!("webhook_endpoint_breaker_state{{endpoint=\"{endpoint}\",state=\"{s}\"}}");
            assert_eq!(at(&k), f64::from(u8::from(s == state)), "{k}\n{text}");
        }
    }
    assert_eq!(serve.post("/metrics", &json!({})).0, 405);
}

#[test]
fn health_is_ready_with_each_check_named_and_public() {
    let dir = plain("health");
    let serve = Serve::try_start_env(&dir, &[], &[("WEBHOOK_API_TOKEN", API_TOKEN)]).unwrap();
    for _ in 0..3 {
        let (status, a) = serve.get("/health");
        assert_eq!(status, 200, "{a}");
        assert_eq!(
            a,
            json!({ "status": "ready", "checks": { "outbox": { "ok": true }, "component": { "ok": true } } })
        );
    }
    let (status, a) = serve.post("/health", &json!({}));
    assert_eq!(status, 405, "{a}");
    assert!(a["error"].as_str().unwrap().contains("takes GET"), "{a}");
}

#[test]
fn api_tokens_from_a_file_guard_every_route_but_the_public_ones() {
    let dir = plain("tokens_file");
    let other = "another-token-0123456789";
    std::fs::write(
        dir.join("tokens"),
        format!("# operators\n{API_TOKEN}\n\n{other}\n"),
    )
    .unwrap();
    let file = dir.join("tokens");
    let serve = Serve::start(&dir, &["--api-tokens", file.to_str().unwrap()]);
    let wrong = "tok-3f9c1a7e5b2d4c6e8a0c";

    for (method, target) in [
        ("GET", "/deliveries"),
        ("GET", "/metrics"),
        ("POST", "/changes"),
        ("GET", "/strategies/Customers%20out"),
        ("GET", "/nowhere"),
    ] {
        let (status, head, body) = serve.call_with(method, target, b"[]", &[]);
        assert_eq!(status, 401, "{method} {target}: {body}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("\r\nwww-authenticate: bearer"), "{head}");
        let a: Json = serde_json::from_str(&body).unwrap();
        assert!(
            a["error"]
                .as_str()
                .unwrap()
                .contains("Authorization: Bearer"),
            "{a}"
        );
        assert_eq!(a["problems"], json!([]), "{a}");

        let (status, head, body) = serve.call_with(method, target, b"[]", &[&bearer(wrong)]);
        assert_eq!(status, 401, "{method} {target}: {body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("error=\"invalid_token\""),
            "{head}"
        );
        assert!(
            !body.contains(wrong) && !head.contains(wrong),
            "{head}{body}"
        );
        // Not a bearer token at all.
        let basic = format!("authorization: Basic {API_TOKEN}");
        assert_eq!(serve.call_with(method, target, b"[]", &[&basic]).0, 401);
    }
    for token in [API_TOKEN, other] {
        let (status, _, body) = serve.call_with("GET", "/deliveries", b"", &[&bearer(token)]);
        assert_eq!(status, 200, "{body}");
        let lower = format!("authorization: bearer {token}");
        assert_eq!(serve.call_with("GET", "/metrics", b"", &[&lower]).0, 200);
        assert_eq!(
            serve
                .call_with("POST", "/changes", b"[]", &[&bearer(token)])
                .0,
            202
        );
        // Authenticated, the answers are the API's own.
        assert_eq!(
            serve.call_with("GET", "/nowhere", b"", &[&bearer(token)]).0,
            404
        );
    }
    // Refused on its head: the 16 MB body it announces is never waited for (the server
    // would wait 60 s for it).
    let mut raw = TcpStream::connect(serve.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"POST /changes HTTP/1.1\r\nhost: x\r\ncontent-length: 16000000\r\n\r\n")
        .unwrap();
    let mut status_line = [0u8; 12];
    raw.read_exact(&mut status_line).unwrap();
    assert_eq!(&status_line, b"HTTP/1.1 401");
    // The public routes need no token.
    assert_eq!(serve.get("/health").0, 200);
    assert_eq!(serve.get("/.well-known/jwks.json").0, 200);

    let printed = printed(serve);
    assert!(printed.contains("2 API token(s)"), "{printed}");
    let mut logs = String::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("log-") {
            logs.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    for t in [API_TOKEN, other, wrong] {
        assert!(!printed.contains(t), "{printed}");
        assert!(!logs.contains(t), "{logs}");
    }
}

#[test]
fn an_api_token_from_the_environment_lets_serve_listen_beyond_loopback() {
    let dir = plain("tokens_env");
    // Without a token: refused, saying how to listen beyond loopback.
    let err = serve_fails(&dir, &["--listen", "0.0.0.0:0"], 2);
    assert!(
        err.contains("loopback only") && err.contains("--api-tokens"),
        "{err}"
    );

    let mut serve = Serve::try_start_env(
        &dir,
        &["--listen", "0.0.0.0:0"],
        &[("WEBHOOK_API_TOKEN", API_TOKEN)],
    )
    .unwrap();
    assert!(serve.addr.ip().is_unspecified(), "{}", serve.addr);
    // Connect through loopback only.
    serve.addr = SocketAddr::from(([127, 0, 0, 1], serve.addr.port()));
    assert_eq!(serve.get("/deliveries").0, 401);
    let (status, _, body) = serve.call_with("GET", "/deliveries", b"", &[&bearer(API_TOKEN)]);
    assert_eq!(status, 200, "{body}");
    let printed = printed(serve);
    assert!(printed.contains("1 API token(s)"), "{printed}");
    assert!(!printed.contains(API_TOKEN), "{printed}");
}

#[test]
fn an_api_token_shorter_than_the_minimum_is_refused_without_being_shown() {
    let dir = plain("tokens_short");
    let min = host_test::limits::MIN_API_TOKEN_LEN;
    let short = "s".repeat(min - 1);
    let out = serve_command(&dir)
        .env("WEBHOOK_API_TOKEN", &short)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "WEBHOOK_API_TOKEN: an API token must be at least {min}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(&short), "{stderr}");
    // A file of tokens of exactly the minimum starts.
    std::fs::write(dir.join("tokens"), "t".repeat(min)).unwrap();
    let file = dir.join("tokens");
    let serve = Serve::start(&dir, &["--api-tokens", file.to_str().unwrap()]);
    let (status, _, body) =
        serve.call_with("GET", "/deliveries", b"", &[&bearer(&"t".repeat(min))]);
    assert_eq!(status, 200, "{body}");
    drop(serve);
    let bad = dir.join("missing-tokens");
    let err = serve_fails(&dir, &["--api-tokens", bad.to_str().unwrap()], 2);
    assert!(err.contains("cannot read the token file"), "{err}");
}
