//! The PostgreSQL outbox, through the same methods as the SQLite one, with several hosts
//! (several `Outbox`es, each its own lease owner) on one database: the schema version,
//! leases and their takeover, order per record across hosts, duplicates, fires, and
//! what the hosts share. Each test has a database of its own (`pg::database`).

use std::sync::{Arc, Barrier};
use std::time::Duration;

use host_test::bindings::{Header, HttpMethod, HttpRequest};
use host_test::delivery::breaker::{Breaker, Position};
use host_test::outbox::{
    FireClaim, Kind, Last, Location, Made, Origin, Outbox, ReplayError, ReplayFilter, Sharing,
    State,
};

mod pg;

fn host(url: &str, lease_ms: u64) -> Outbox {
    Outbox::open_at(
        &Location::parse(url),
        Sharing {
            connections: 4,
            lease: Duration::from_millis(lease_ms),
        },
    )
    .unwrap()
}

fn request(id: &str, codes: &[&str]) -> HttpRequest {
    HttpRequest {
        method: HttpMethod::Post,
        url: "https://hooks.example/in?k=v".into(),
        headers: vec![
            Header {
                name: "Content-Type".into(),
                value: "application/json".into(),
            },
            Header {
                name: "Authorization".into(),
                value: "Bearer real-token-do-not-store".into(),
            },
        ],
        body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
        member_codes: codes.iter().map(|c| c.to_string()).collect(),
        delivery_id: id.into(),
    }
}

fn origin(strategy: &str) -> Origin<'_> {
    Origin {
        source: "changes",
        strategy,
        version: 1,
    }
}

fn due_ids(o: &Outbox, now: i64) -> Vec<String> {
    o.due(now, 100, &[], &|_| false)
        .unwrap()
        .into_iter()
        .map(|d| d.request.delivery_id)
        .collect()
}

fn seq(o: &Outbox, id: &str) -> i64 {
    o.get(id).unwrap().unwrap().seq
}

fn deliver(o: &Outbox, id: &str, now: i64) {
    o.finish(
        seq(o, id),
        State::Delivered,
        "delivered",
        1,
        &Last::default(),
        now,
    )
    .unwrap();
}

#[test]
fn the_schema_is_made_once_and_a_newer_one_is_refused() {
    let Some(url) = pg::database("schema") else {
        return;
    };
    // Three hosts starting together: one makes the schema, the others find it.
    let start = Arc::new(Barrier::new(3));
    let hosts: Vec<_> = (0..3)
        .map(|_| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                host(&url, 1_000)
            })
        })
        .collect();
    for h in hosts {
        h.join().unwrap().counts().unwrap();
    }
    // A version-1 database (before the attempt history and the breakers) is migrated.
    pg::admin(
        &url,
        &[
            "DROP TABLE attempts, breakers; UPDATE outbox_meta SET value = 1 WHERE key = 'schema'"
                .to_string(),
        ],
    );
    let o = host(&url, 1_000);
    o.enqueue(&origin("s"), &[request("m1", &["X"])], 0)
        .unwrap();
    assert_eq!(o.attempts_of("m1").unwrap(), Some(Vec::new()));
    assert!(o.breakers().unwrap().is_empty());
    drop(o);
    pg::admin(
        &url,
        &["UPDATE outbox_meta SET value = 99 WHERE key = 'schema'".to_string()],
    );
    let e = Outbox::open_at(
        &Location::parse(&url),
        Sharing {
            connections: 2,
            lease: Duration::from_secs(1),
        },
    )
    .unwrap_err();
    assert!(e.0.contains("schema version 99"), "{e}");
    assert!(e.0.contains("knows versions up to 2"), "{e}");
}

#[test]
fn a_password_never_appears_in_what_is_printed() {
    let bad = "postgres://svc:hunter2-secret@127.0.0.1:1/none";
    let e = Outbox::open_at(
        &Location::parse(bad),
        Sharing {
            connections: 2,
            lease: Duration::from_secs(1),
        },
    )
    .unwrap_err();
    assert!(!e.0.contains("hunter2"), "{e}");
    assert!(e.0.contains("svc:***@127.0.0.1:1"), "{e}");
    assert_eq!(
        Location::parse(bad).to_string(),
        "postgres://svc:***@127.0.0.1:1/none"
    );
}

#[test]
fn a_claim_is_taken_over_after_its_lease_and_not_before() {
    let Some(url) = pg::database("lease") else {
        return;
    };
    let (a, b) = (host(&url, 1_500), host(&url, 1_500));
    a.enqueue(&origin("s"), &[request("d1", &["X"])], 0)
        .unwrap();
    let claimed = a.due(0, 10, &[], &|_| false).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 0);
    // Live lease: nobody else gets it, not by id either.
    assert!(due_ids(&b, 0).is_empty());
    assert!(b.take("d1").unwrap().is_none());
    std::thread::sleep(Duration::from_millis(1_700));
    // A is presumed dead: B takes it over, its attempt counted on top of A's.
    let taken = b.due(0, 10, &[], &|_| false).unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].attempts, 1);
    assert_eq!(
        taken[0]
            .request
            .headers
            .iter()
            .find(|h| h.name == "Authorization")
            .unwrap()
            .value,
        format!("Bearer {}", host_test::outbox::TOKEN_PLACEHOLDER),
        "no access token is stored"
    );
    // A comes back late: its record is refused, B's stands.
    let late = a
        .finish(
            taken[0].seq,
            State::Dead,
            "dead-letter",
            1,
            &Last::default(),
            1,
        )
        .unwrap_err();
    assert!(late.0.contains("claim on it expired"), "{late}");
    b.finish(
        taken[0].seq,
        State::Delivered,
        "delivered",
        2,
        &Last::default(),
        1,
    )
    .unwrap();
    let d = a.get("d1").unwrap().unwrap();
    assert_eq!((d.state, d.attempts), (State::Delivered, 2));
    // An immediate run's deliveries are held for the host that attempts them.
    a.enqueue_held(&[(origin("s"), &[request("now1", &["Z"])][..])], 2)
        .unwrap();
    assert!(due_ids(&b, 2).is_empty());
    assert!(b.take("now1").unwrap().is_none());
    assert_eq!(a.take("now1").unwrap().unwrap().attempts, 0);
}

#[test]
fn a_retry_frees_the_claim_for_any_host_when_due() {
    let Some(url) = pg::database("retry") else {
        return;
    };
    let (a, b) = (host(&url, 60_000), host(&url, 60_000));
    a.enqueue(&origin("s"), &[request("d1", &["X"])], 0)
        .unwrap();
    let d = &a.due(0, 10, &[], &|_| false).unwrap()[0];
    a.retry(d.seq, 1, 8, 5_000, &Last::default()).unwrap();
    assert!(due_ids(&b, 4_999).is_empty());
    assert_eq!(b.next_due_after(0).unwrap(), Some(5_000));
    let again = b.due(5_000, 10, &[], &|_| false).unwrap();
    assert_eq!((again[0].attempts, again[0].budget), (1, Some(8)));
}

#[test]
fn each_records_deliveries_go_in_order_across_hosts() {
    let Some(url) = pg::database("order") else {
        return;
    };
    let hosts = [host(&url, 60_000), host(&url, 60_000), host(&url, 60_000)];
    // Changes of X accepted one after another by different hosts; Y beside them.
    for i in 0..30 {
        let h = &hosts[i % 3];
        h.enqueue(&origin("s"), &[request(&format!("x{i:02}"), &["X"])], 0)
            .unwrap();
        h.enqueue(&origin("s"), &[request(&format!("y{i:02}"), &["Y"])], 0)
            .unwrap();
    }
    let mut delivered = Vec::new();
    for round in 0..60 {
        let h = &hosts[round % 3];
        let due = h.due(0, 10, &[], &|_| false).unwrap();
        // One head per record at a time, whoever asks.
        assert!(due.len() <= 2, "{due:?}");
        for d in due {
            delivered.push(d.request.delivery_id.clone());
            h.finish(d.seq, State::Delivered, "delivered", 1, &Last::default(), 0)
                .unwrap();
        }
    }
    let of = |p: char| -> Vec<String> {
        delivered
            .iter()
            .filter(|id| id.starts_with(p))
            .cloned()
            .collect()
    };
    let want = |p: char| -> Vec<String> { (0..30).map(|i| format!("{p}{i:02}")).collect() };
    assert_eq!(of('x'), want('x'));
    assert_eq!(of('y'), want('y'));
}

#[test]
fn hosts_accepting_one_record_at_once_queue_it_in_acceptance_order() {
    let Some(url) = pg::database("race") else {
        return;
    };
    let a = Arc::new(host(&url, 60_000));
    let b = Arc::new(host(&url, 60_000));
    // Each host accepts its own changes of R in order, at the same time as the other:
    // the queue must keep each host's order (and so any order a client waited for).
    let go = Arc::new(Barrier::new(2));
    let run = |o: Arc<Outbox>, p: &'static str| {
        let go = go.clone();
        std::thread::spawn(move || {
            go.wait();
            for i in 0..100 {
                o.enqueue(&origin("s"), &[request(&format!("{p}{i:03}"), &["R"])], 0)
                    .unwrap();
            }
        })
    };
    let (ta, tb) = (run(a.clone(), "a"), run(b.clone(), "b"));
    ta.join().unwrap();
    tb.join().unwrap();
    let mut order = Vec::new();
    loop {
        let due = a.due(0, 10, &[], &|_| false).unwrap();
        if due.is_empty() {
            break;
        }
        assert_eq!(due.len(), 1, "one head for one record");
        order.push(due[0].request.delivery_id.clone());
        deliver(&a, &due[0].request.delivery_id, 0);
    }
    assert_eq!(order.len(), 200);
    for p in ["a", "b"] {
        let mine: Vec<&String> = order.iter().filter(|id| id.starts_with(p)).collect();
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted, "{p}'s changes went out of order");
    }
}

#[test]
fn a_delivery_id_is_queued_once_across_hosts() {
    let Some(url) = pg::database("dedupe") else {
        return;
    };
    let (a, b) = (host(&url, 60_000), host(&url, 60_000));
    let first = a.enqueue(&origin("s"), &[request("a", &["X"])], 0).unwrap();
    let again = b
        .enqueue(
            &origin("s"),
            &[
                request("a", &["X"]),
                request("b", &["X"]),
                request("b", &["X"]),
            ],
            5,
        )
        .unwrap();
    assert!(first[0].new);
    let new: Vec<bool> = again.iter().map(|e| e.new).collect();
    assert_eq!(new, [false, true, false]);
    assert_eq!(a.counts().unwrap().pending, 2);
    // A paused or full endpoint's backlog is left out of the query.
    let blocked = ["https://hooks.example/in".to_string()];
    assert!(b.due(5, 10, &blocked, &|_| false).unwrap().is_empty());
    assert_eq!(due_ids(&b, 5), ["a"]);
}

#[test]
fn a_fire_instant_is_rendered_by_one_host() {
    let Some(url) = pg::database("fires") else {
        return;
    };
    let hosts = [host(&url, 1_000), host(&url, 1_000), host(&url, 1_000)];
    let claims: Vec<FireClaim> = hosts
        .iter()
        .map(|h| h.claim_fire("S", "nightly", 1_000).unwrap())
        .collect();
    assert_eq!(
        claims,
        [FireClaim::Ours, FireClaim::Held, FireClaim::Held],
        "one host renders it; the others wait for it"
    );
    hosts[0].schedule_fired("S", "nightly", 1_000).unwrap();
    assert_eq!(
        hosts[1].claim_fire("S", "nightly", 1_000).unwrap(),
        FireClaim::Done
    );
    assert_eq!(hosts[2].last_fired("S", "nightly").unwrap(), Some(1_000));
    // The next instant's holder dies before it records the fire: another takes it over
    // after the lease.
    assert_eq!(
        hosts[1].claim_fire("S", "nightly", 2_000).unwrap(),
        FireClaim::Ours
    );
    assert_eq!(
        hosts[2].claim_fire("S", "nightly", 2_000).unwrap(),
        FireClaim::Held
    );
    std::thread::sleep(Duration::from_millis(1_200));
    assert_eq!(
        hosts[2].claim_fire("S", "nightly", 2_000).unwrap(),
        FireClaim::Ours
    );
    hosts[2].schedule_fired("S", "nightly", 2_000).unwrap();
    // An instant at or before the last fire is done for everyone.
    assert_eq!(
        hosts[0].claim_fire("S", "nightly", 1_500).unwrap(),
        FireClaim::Done
    );
}

#[test]
fn endpoints_definitions_and_replays_are_shared() {
    let Some(url) = pg::database("shared") else {
        return;
    };
    let (a, b) = (host(&url, 60_000), host(&url, 60_000));
    a.disable_endpoint("https://gone.example/in", "HTTP 410", 1)
        .unwrap();
    assert_eq!(
        b.disabled_endpoints().unwrap(),
        [(
            "https://gone.example/in".to_string(),
            "HTTP 410".to_string()
        )]
    );
    b.enable_endpoint("https://gone.example/in").unwrap();
    assert!(a.disabled_endpoints().unwrap().is_empty());

    // Two hosts defining one name at once get a version each.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let go = Arc::new(Barrier::new(2));
    let put = |o: Arc<Outbox>, body: &'static str| {
        let go = go.clone();
        std::thread::spawn(move || {
            go.wait();
            (0..10)
                .map(|_| o.put_definition(Kind::Strategy, "s", body, 0).unwrap())
                .collect::<Vec<i64>>()
        })
    };
    let (va, vb) = (put(a.clone(), "{a}"), put(b.clone(), "{b}"));
    let mut versions: Vec<i64> = va.join().unwrap();
    versions.extend(vb.join().unwrap());
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<i64>>());
    b.put_definition(Kind::Configuration, "c", "{c}", 0)
        .unwrap();
    b.delete_definition(Kind::Configuration, "c", 1).unwrap();
    let seen = a.definitions().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].kind, seen[0].version), (Kind::Strategy, 20));

    // A replay goes to the back of its record's queue, whichever host made it.
    a.enqueue(&origin("s"), &[request("r1", &["X"])], 0)
        .unwrap();
    assert_eq!(b.replay("r1", 1), Err(ReplayError::Pending));
    assert_eq!(b.replay("nope", 1), Err(ReplayError::NotFound));
    let d = &a.due(0, 10, &[], &|_| false).unwrap()[0];
    a.finish(d.seq, State::Dead, "dead-letter", 1, &Last::default(), 1)
        .unwrap();
    a.enqueue(&origin("s"), &[request("r2", &["X"])], 2)
        .unwrap();
    assert_eq!(b.replay("r1", 3).unwrap(), "https://hooks.example/in?k=v");
    let r1 = a.get("r1").unwrap().unwrap();
    assert_eq!(
        (r1.state, r1.attempts, r1.waiting),
        (State::Pending, 0, true)
    );
    assert_eq!(due_ids(&b, 3), ["r2"]);
    assert_eq!(a.pending_of("s").unwrap(), 2);
    let listed = a.list(Some(State::Pending), 0, 10).unwrap();
    let ids: Vec<&str> = listed.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["r2", "r1"]);
}

fn attempt(number: u32, at: i64, status: u16, error: Option<&str>) -> Last {
    Last {
        status: Some(status),
        error: error.map(str::to_string),
        response: Some("body".into()),
        attempt: Some(Made {
            number,
            started_ms: at,
            latency_ms: Some(7),
        }),
    }
}

#[test]
fn the_attempt_history_bulk_replays_and_breakers_are_shared() {
    let Some(url) = pg::database("history") else {
        return;
    };
    let (a, b) = (host(&url, 60_000), host(&url, 60_000));
    a.enqueue(
        &origin("s"),
        &[request("h1", &["X"]), request("h2", &["Y"])],
        0,
    )
    .unwrap();
    let due = a.due(0, 10, &[], &|_| false).unwrap();
    let (h1, h2) = (&due[0], &due[1]);
    assert_eq!(h1.created_ms, 0);
    a.retry(h1.seq, 1, 3, 10, &attempt(1, 1, 503, Some("HTTP 503")))
        .unwrap();
    let again = b.due(10, 10, &[], &|_| false).unwrap();
    assert_eq!(again.len(), 1);
    b.finish(
        again[0].seq,
        State::Dead,
        "dead-letter",
        2,
        &attempt(2, 11, 500, Some("gave up")),
        12,
    )
    .unwrap();
    a.finish(h2.seq, State::Dead, "skipped", 0, &Last::default(), 12)
        .unwrap();
    // Both hosts' attempts, in order, on whichever host reads them.
    let history = a.attempts_of("h1").unwrap().unwrap();
    let got: Vec<_> = history
        .iter()
        .map(|a| (a.number, a.status, a.outcome.as_str(), a.latency_ms))
        .collect();
    assert_eq!(
        got,
        [
            (1, Some(503), "retry", Some(7)),
            (2, Some(500), "dead-letter", Some(7))
        ]
    );
    assert_eq!(b.attempts_of("h2").unwrap().unwrap(), Vec::new());
    assert_eq!(b.attempts_of("nope").unwrap(), None);
    let stored = b.request_of("h1").unwrap().unwrap().0;
    assert_eq!(stored.body, b"{\"id\":\"h1\"}");
    assert!(
        stored
            .headers
            .iter()
            .all(|h| !h.value.contains("real-token")),
        "no access token is stored"
    );
    // A bulk replay by one host: both dead ones, at the back of their queues, counted again
    // from their replay.
    let none = ReplayFilter {
        strategy: Some("s".into()),
        since_ms: Some(13),
        ..ReplayFilter::default()
    };
    assert_eq!(b.replay_dead(&none, 20).unwrap().count, 0);
    let all = ReplayFilter {
        strategy: Some("s".into()),
        ..ReplayFilter::default()
    };
    let done = b.replay_dead(&all, 20).unwrap();
    assert_eq!((done.count, done.left), (2, 0));
    assert_eq!(done.endpoints, ["https://hooks.example/in"]);
    let replayed = a.due(20, 10, &[], &|_| false).unwrap();
    assert_eq!(replayed.len(), 2);
    assert!(
        replayed
            .iter()
            .all(|d| d.created_ms == 20 && d.attempts == 0)
    );
    // A breaker one host moves, the other reads.
    let open = Breaker {
        position: Position::Open,
        failures: 5,
        opened_ms: Some(30),
        probe_ms: Some(60),
        probe_wait: Duration::from_millis(30),
    };
    a.save_breaker("https://hooks.example/in", &open, 30)
        .unwrap();
    assert_eq!(
        b.breakers().unwrap(),
        [("https://hooks.example/in".to_string(), open.clone())]
    );
    let closed = Breaker::default();
    b.save_breaker("https://hooks.example/in", &closed, 40)
        .unwrap();
    assert_eq!(a.breakers().unwrap()[0].1, closed);
}
