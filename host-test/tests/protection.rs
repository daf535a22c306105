//! The durable dispatcher against real receivers on 127.0.0.1, in virtual time: the
//! default retry schedule outlasting an outage of hours, the breaker pausing a failing
//! endpoint while a healthy one keeps going, and each endpoint's concurrency limit.

mod common;
mod scratch;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{FakeClock, FakePlugin, request};
use host_test::delivery::breaker::Position;
use host_test::delivery::deliver::{Deliverer, RetryPolicy};
use host_test::delivery::http::{ClientOptions, HttpClient};
use host_test::delivery::log::DeliveryLog;
use host_test::formats::DeliveryJson;
use host_test::outbox::dispatch::{Deliverers, Dispatcher};
use host_test::outbox::{Origin, Outbox, State};
use host_test::reference::receiver::{Receiver, Reply};
use scratch::Scratch;

fn client() -> Arc<HttpClient> {
    Arc::new(HttpClient::new(ClientOptions {
        timeout: Duration::from_secs(5),
        allow_http: true,
        allow_hosts: vec!["127.0.0.1".into()],
    }))
}

/// One engine per strategy name.
struct Engines(HashMap<String, Arc<Deliverer>>);

impl Deliverers for Engines {
    fn get(&self, strategy: &str) -> Option<Arc<Deliverer>> {
        self.0.get(strategy).cloned()
    }
    fn all(&self) -> Vec<Arc<Deliverer>> {
        self.0.values().cloned().collect()
    }
}

struct Rig {
    dispatcher: Arc<Dispatcher>,
    clock: Arc<FakeClock>,
    engines: Arc<Engines>,
    _dir: Scratch,
}

/// A dispatcher over a fresh outbox with one engine per `(strategy, url, policy,
/// settings)`, `concurrency` attempts in flight in all.
fn rig(
    name: &str,
    engines: Vec<(&str, &str, RetryPolicy, DeliveryJson)>,
    concurrency: usize,
) -> Rig {
    let dir = Scratch::new("protection", name);
    let clock = Arc::new(FakeClock::new());
    let client = client();
    let map = engines
        .into_iter()
        .map(|(strategy, url, policy, settings)| {
            let d = Deliverer::new(
                Arc::new(FakePlugin::new(url)),
                client.clone(),
                clock.clone(),
            )
            .policy(policy)
            .settings(&settings)
            .without_dead_letter_list();
            (strategy.to_string(), Arc::new(d))
        })
        .collect();
    let outbox = Arc::new(Outbox::open(&dir.join("outbox.sqlite")).unwrap());
    let engines = Arc::new(Engines(map));
    let dispatcher = Dispatcher::new(
        outbox,
        engines.clone(),
        clock.clone(),
        Arc::new(DeliveryLog::discard()),
        concurrency,
    )
    .unwrap();
    tokio::spawn(dispatcher.clone().run());
    Rig {
        dispatcher,
        clock,
        engines,
        _dir: dir,
    }
}

impl Rig {
    /// Stop the dispatcher and start another on the same outbox: a restart.
    async fn restart(&mut self) {
        self.dispatcher.stop(Duration::from_secs(5)).await;
        let outbox = self.dispatcher.outbox().clone();
        self.dispatcher = Dispatcher::new(
            outbox,
            self.engines.clone(),
            self.clock.clone(),
            Arc::new(DeliveryLog::discard()),
            8,
        )
        .unwrap();
        tokio::spawn(self.dispatcher.clone().run());
    }

    fn enqueue(&self, strategy: &str, url: &str, n: usize) {
        // Each of its own record, so none waits behind another in a record's queue.
        let requests: Vec<_> = (0..n)
            .map(|i| {
                let id = format!("{strategy}-{i}");
                let mut r = request(url, &id, b"{}", None);
                r.member_codes = vec![id];
                r
            })
            .collect();
        let origin = Origin {
            source: "changes",
            strategy,
            version: 1,
        };
        self.dispatcher.enqueue(&origin, &requests).unwrap();
    }

    /// Let virtual time pass in `step`s up to `total`, giving the dispatcher a moment of
    /// real time after each, until `done` holds. Returns the virtual time it took.
    async fn run_until(
        &self,
        step: Duration,
        total: Duration,
        done: impl Fn(&Rig) -> bool,
    ) -> Option<Duration> {
        let mut passed = Duration::ZERO;
        while passed <= total {
            if done(self) {
                return Some(passed);
            }
            self.clock.advance(step);
            passed += step;
            self.dispatcher.wake();
            settle().await;
        }
        done(self).then_some(passed)
    }

    fn counts(&self) -> host_test::outbox::Counts {
        self.dispatcher.outbox().counts().unwrap()
    }

    fn state_of(&self, id: &str) -> State {
        self.dispatcher.outbox().get(id).unwrap().unwrap().state
    }
}

/// Real time for the attempts a wake started to reach the receiver and be recorded.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(15)).await;
}

/// A receiver that answers 503 while `down` is set, 200 otherwise.
async fn flaky(down: Arc<AtomicBool>) -> Receiver {
    Receiver::builder()
        .respond(move |_| {
            if down.load(Ordering::SeqCst) {
                Reply::status(503, "down for maintenance")
            } else {
                Reply::status(200, "ok")
            }
        })
        .start()
        .await
        .unwrap()
}

/// The receiver is down for six hours (today's brief schedule gives up after about four
/// minutes), then back. Without a breaker, the durable default's own schedule outlasts
/// it: every delivery arrives and none is dead-lettered, where the brief schedule, in the
/// same run, loses them all. With the default breaker, everything arrives too, and the
/// receiver gets far fewer requests while it is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_six_hours_loses_nothing_under_the_default_schedule() {
    let outage = Duration::from_secs(6 * 3600);
    let no_breaker: DeliveryJson =
        serde_json::from_value(serde_json::json!({"breaker": {"failures": 10_000}})).unwrap();
    let runs = [
        ("durable", RetryPolicy::durable(), no_breaker.clone()),
        ("brief", RetryPolicy::default(), no_breaker),
        (
            "durable-breaker",
            RetryPolicy::durable(),
            DeliveryJson::default(),
        ),
    ];
    let mut results = Vec::new();
    for (name, policy, settings) in runs {
        let down = Arc::new(AtomicBool::new(true));
        let rx = flaky(down.clone()).await;
        let url = rx.url("/hook");
        let r = rig(name, vec![("s", &url, policy, settings)], 8);
        r.enqueue("s", &url, 20);
        // The outage, in one-minute steps.
        r.run_until(Duration::from_secs(60), outage, |_| false)
            .await;
        let during = r.counts();
        let requests_during = rx.received().len();
        down.store(false, Ordering::SeqCst);
        // Back: the rest of the schedule, up to a day and a half in all.
        let took = r
            .run_until(
                Duration::from_secs(300),
                Duration::from_secs(30 * 3600),
                |r| r.counts().pending == 0,
            )
            .await;
        results.push((during, r.counts(), took, requests_during));
    }
    let [
        (during, after, took, hammered),
        (_, brief, _, _),
        (b_during, b_after, b_took, paused),
    ] = results.try_into().unwrap();
    eprintln!(
        "outage: {hammered} requests during it without a breaker, {paused} with; all back after {:?} and {:?}",
        took, b_took
    );
    assert_eq!(during.dead, 0, "nothing dead during the outage: {during:?}");
    assert_eq!(after.delivered, 20, "every delivery arrives: {after:?}");
    assert_eq!(after.dead, 0, "{after:?}");
    assert!(took.is_some());
    assert_eq!(
        brief.dead, 20,
        "the brief schedule gives up during the outage: {brief:?}"
    );
    assert_eq!(
        (b_during.dead, b_after.delivered, b_after.dead),
        (0, 20, 0),
        "{b_after:?}"
    );
    assert!(b_took.is_some());
    // 20 deliveries times the schedule's attempts within six hours, against the
    // breaker's threshold and a probe at a time.
    assert!(hammered >= 20 * 5, "{hammered} requests without a breaker");
    assert!(
        paused < hammered / 2,
        "{paused} requests with the breaker, {hammered} without"
    );
}

/// One endpoint fails every request, the other is healthy. The failing one's breaker
/// opens after its failures in a row and its deliveries wait, none dead; the healthy
/// one delivers everything meanwhile. When the failing one recovers, one probe resumes
/// it and its deliveries arrive. The breaker's state is in the outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_paused_and_probed_while_a_healthy_one_keeps_going() {
    let down = Arc::new(AtomicBool::new(true));
    let failing = flaky(down.clone()).await;
    let healthy = Receiver::builder().start().await.unwrap();
    let (f, h) = (failing.url("/hook"), healthy.url("/hook"));
    let settings: DeliveryJson = serde_json::from_value(serde_json::json!({
        "breaker": {"failures": 5, "probe-after": "30s"}
    }))
    .unwrap();
    let r = rig(
        "breaker",
        vec![
            ("failing", &f, RetryPolicy::durable(), settings.clone()),
            ("healthy", &h, RetryPolicy::durable(), settings),
        ],
        8,
    );
    r.enqueue("failing", &f, 40);
    r.enqueue("healthy", &h, 40);
    // The healthy endpoint finishes while the failing one is paused; a few minutes of
    // virtual time, in 10 s steps.
    let healthy_done =
        |r: &Rig| (0..40).all(|i| r.state_of(&format!("healthy-{i}")) == State::Delivered);
    let took = r
        .run_until(
            Duration::from_secs(10),
            Duration::from_secs(600),
            healthy_done,
        )
        .await;
    assert!(took.is_some(), "the healthy endpoint delivered everything");
    let views = r.dispatcher.endpoints();
    let view = views.iter().find(|v| f.starts_with(&v.endpoint)).unwrap();
    assert_ne!(view.breaker.position, Position::Closed, "{view:?}");
    let stored = r.dispatcher.outbox().breakers().unwrap();
    assert!(
        stored
            .iter()
            .any(|(e, b)| f.starts_with(e.as_str()) && b.position != Position::Closed),
        "{stored:?}"
    );
    // Paused, not dropped: every failing delivery is still pending.
    assert!((0..40).all(|i| r.state_of(&format!("failing-{i}")) == State::Pending));
    // It was not hammered: the failures that opened it (up to a slot's worth in flight)
    // and one probe at a time since.
    let seen = failing.received().len();
    assert!(
        seen <= 5 + 4 + 20,
        "{seen} requests to the failing endpoint"
    );
    // It recovers: a probe succeeds, the breaker closes and everything arrives.
    down.store(false, Ordering::SeqCst);
    let all = r
        .run_until(Duration::from_secs(30), Duration::from_secs(7200), |r| {
            r.counts().pending == 0
        })
        .await;
    assert!(all.is_some(), "{:?}", r.counts());
    assert_eq!(r.counts().dead, 0);
    let view = r
        .dispatcher
        .endpoints()
        .into_iter()
        .find(|v| f.starts_with(&v.endpoint))
        .unwrap();
    assert_eq!(view.breaker.position, Position::Closed);
}

/// A slow endpoint holds at most its own slots: with 8 in all and 2 for it, the fast
/// endpoint's deliveries are never stuck behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_holds_at_most_its_own_slots() {
    let slow = Receiver::builder()
        .respond(|_| Reply::status(200, "ok").after(Duration::from_millis(200)))
        .start()
        .await
        .unwrap();
    let fast = Receiver::builder().start().await.unwrap();
    let (s, f) = (slow.url("/hook"), fast.url("/hook"));
    let slow_settings: DeliveryJson =
        serde_json::from_value(serde_json::json!({"concurrency": 2})).unwrap();
    let r = rig(
        "slots",
        vec![
            ("slow", &s, RetryPolicy::durable(), slow_settings),
            ("fast", &f, RetryPolicy::durable(), DeliveryJson::default()),
        ],
        8,
    );
    r.enqueue("slow", &s, 20);
    r.enqueue("fast", &f, 100);
    let delivered = |r: &Rig, who: &str, n: usize| {
        (0..n)
            .filter(|i| r.state_of(&format!("{who}-{i}")) == State::Delivered)
            .count()
    };
    let (mut most_slow, mut most_fast) = (0, 0);
    let started = std::time::Instant::now();
    while delivered(&r, "fast", 100) < 100 && started.elapsed() < Duration::from_secs(20) {
        for v in r.dispatcher.endpoints() {
            if s.starts_with(&v.endpoint) {
                most_slow = most_slow.max(v.in_flight);
            } else {
                most_fast = most_fast.max(v.in_flight);
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(delivered(&r, "fast", 100), 100);
    // The slow endpoint's 20 need ten rounds of 200 ms at 2 in flight: the fast
    // endpoint's 100 are done well before.
    let slow_done = delivered(&r, "slow", 20);
    assert!(
        slow_done < 20,
        "the slow endpoint should still be going ({slow_done} done)"
    );
    assert!(
        most_slow <= 2,
        "at most 2 in flight to the slow endpoint, saw {most_slow}"
    );
    assert!(
        most_fast <= 4,
        "by default an endpoint takes half of the 8 slots, saw {most_fast}"
    );
}

/// A rate limit of 20 a second: a burst of one second's worth goes at once, the rest
/// waits for virtual time to pass, 20 more per second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_endpoint_gets_no_more_than_its_rate() {
    let rx = Receiver::builder().start().await.unwrap();
    let url = rx.url("/hook");
    let settings: DeliveryJson =
        serde_json::from_value(serde_json::json!({"rate-per-second": 20, "concurrency": 50}))
            .unwrap();
    let r = rig(
        "rate",
        vec![("s", &url, RetryPolicy::durable(), settings)],
        50,
    );
    r.enqueue("s", &url, 50);
    // Virtual time stands still: only the burst goes, however long we wait.
    for _ in 0..20 {
        r.dispatcher.wake();
        settle().await;
    }
    assert_eq!(rx.received().len(), 20);
    // Half a second: ten more tokens.
    r.clock.advance(Duration::from_millis(500));
    for _ in 0..10 {
        r.dispatcher.wake();
        settle().await;
    }
    assert_eq!(rx.received().len(), 30);
    r.clock.advance(Duration::from_secs(1));
    let done = r
        .run_until(Duration::from_millis(100), Duration::from_secs(2), |r| {
            r.counts().delivered == 50
        })
        .await;
    assert!(done.is_some(), "{:?}", r.counts());
    assert_eq!(rx.received().len(), 50);
}

/// An open breaker survives a restart: the new dispatcher finds the endpoint paused, sends
/// nothing to it until the probe time, then probes once and resumes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_endpoint_stays_paused_across_a_restart() {
    let down = Arc::new(AtomicBool::new(true));
    let rx = flaky(down.clone()).await;
    let url = rx.url("/hook");
    let settings: DeliveryJson = serde_json::from_value(
        serde_json::json!({"breaker": {"failures": 3, "probe-after": "10m"}}),
    )
    .unwrap();
    let mut r = rig(
        "restart",
        vec![("s", &url, RetryPolicy::durable(), settings)],
        8,
    );
    r.enqueue("s", &url, 10);
    let opened = r
        .run_until(Duration::from_secs(1), Duration::from_secs(60), |r| {
            r.dispatcher
                .endpoints()
                .iter()
                .any(|v| v.breaker.position == Position::Open)
        })
        .await;
    assert!(opened.is_some());
    r.restart().await;
    down.store(false, Ordering::SeqCst);
    let seen = rx.received().len();
    let view = r.dispatcher.endpoints().into_iter().next().unwrap();
    assert_eq!(view.breaker.position, Position::Open, "{view:?}");
    // Well before the probe time (ten minutes after it opened) nothing goes.
    r.run_until(Duration::from_secs(60), Duration::from_secs(300), |_| false)
        .await;
    assert_eq!(rx.received().len(), seen, "nothing sent while paused");
    assert_eq!(r.counts().dead, 0);
    // After it: one probe, then everything.
    let done = r
        .run_until(Duration::from_secs(30), Duration::from_secs(3600), |r| {
            r.counts().pending == 0
        })
        .await;
    assert!(done.is_some(), "{:?}", r.counts());
    assert_eq!(r.counts().delivered, 10);
}
