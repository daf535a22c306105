//! The delivery engine against real HTTP servers on 127.0.0.1, with the component's
//! decisions answered by a test double (see `common`) and virtual time for backoffs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CLIENT_ID, CLIENT_SECRET, FakeClock, FakePlugin, SECRET, request};
use host_test::delivery::deliver::{Deliverer, Jitter, MAX_ATTEMPTS, Outcome, RetryPolicy};
use host_test::delivery::http::{ClientOptions, HttpClient, MAX_RESPONSE_BODY, Transport};
use host_test::delivery::log::DeliveryLog;
use host_test::delivery::oauth::{TokenCache, TokenKey};
use host_test::reference::receiver::{Received, Receiver, Reply, TokenServer};

fn loopback_client(timeout: Duration) -> Arc<HttpClient> {
    Arc::new(HttpClient::new(ClientOptions {
        timeout,
        allow_http: true,
        allow_hosts: vec!["127.0.0.1".into()],
    }))
}

/// Jitter that always picks the upper bound, so the schedule is visible in tests.
fn upper_jitter() -> Jitter {
    Arc::new(|d| d)
}

struct Rig {
    deliverer: Arc<Deliverer>,
    clock: Arc<FakeClock>,
    log: Arc<DeliveryLog>,
}

fn rig(plugin: FakePlugin, client: Arc<HttpClient>) -> Rig {
    let clock = Arc::new(FakeClock::new());
    let log = Arc::new(DeliveryLog::memory());
    let deliverer = Deliverer::new(Arc::new(plugin), client, clock.clone())
        .jitter(upper_jitter())
        .log(log.clone());
    Rig {
        deliverer: Arc::new(deliverer),
        clock,
        log,
    }
}

/// The URL of `rx`'s `/hook` and a rig delivering to it, with a 5 s timeout.
fn hook(rx: &Receiver) -> (String, Rig) {
    let url = rx.url("/hook");
    let r = rig(
        FakePlugin::new(&url),
        loopback_client(Duration::from_secs(5)),
    );
    (url, r)
}

/// Answer a delivery's first attempt with `first`, every later one with `then`.
fn first_then(first: Reply, then: Reply) -> impl Fn(&Received) -> Reply + Send + Sync + 'static {
    move |req| {
        if req.seen == 1 {
            first.clone()
        } else {
            then.clone()
        }
    }
}

fn lines(log: &DeliveryLog) -> Vec<serde_json::Value> {
    log.lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_the_exact_body_bytes_signed() {
    let rx = Receiver::builder()
        .secrets(vec![SECRET.into()])
        .start()
        .await
        .unwrap();
    let url = rx.url("/hook?tenant=acme");
    let r = rig(
        FakePlugin::new(&url),
        loopback_client(Duration::from_secs(5)),
    );
    // Bytes a JSON re-encoder would change: key order, spacing, an exact decimal, UTF-8.
    let body = "{\"b\":1, \"a\":2294.990,\"name\":\"Zoë\"}".as_bytes();
    let report = r
        .deliverer
        .deliver(request(&url, "msg_exact", body, None))
        .await;
    assert_eq!(report.outcome, Outcome::Delivered);
    assert_eq!(report.attempts, 1);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, body);
    assert_eq!(got[0].target, "/hook?tenant=acme");
    assert_eq!(got[0].header("webhook-id"), Some("msg_exact"));
    assert_eq!(got[0].verified, Ok(()), "independent signature check");
    let l = lines(&r.log);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["outcome"], "delivered");
    assert_eq!(l[0]["status"], 200);
    assert_eq!(l[0]["delivery-id"], "msg_exact");
    assert_eq!(l[0]["attempt"], 1);
    assert!(l[0]["latency-ms"].as_f64().unwrap() >= 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_with_the_same_id_and_a_fresh_signature() {
    let rx = Receiver::builder()
        .secrets(vec![SECRET.into()])
        .respond(first_then(
            Reply::status(503, "busy").header("retry-after", "1"),
            Reply::status(204, ""),
        ))
        .start()
        .await
        .unwrap();
    let (url, r) = hook(&rx);
    let report = r
        .deliverer
        .deliver(request(&url, "msg_1", b"{}", None))
        .await;
    assert_eq!(report.outcome, Outcome::Delivered);
    assert_eq!(report.attempts, 2);
    assert_eq!(r.clock.sleeps(), [Duration::from_secs(1)]);
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_ne!(
        got[0].header("webhook-timestamp"),
        got[1].header("webhook-timestamp")
    );
    assert_ne!(
        got[0].header("webhook-signature"),
        got[1].header("webhook-signature")
    );
    assert!(got.iter().all(|g| g.verified.is_ok()));
    let l = lines(&r.log);
    assert_eq!(l[0]["outcome"], "retry");
    assert_eq!(l[0]["retry-in-ms"], 1000);
    assert_eq!(l[0]["status"], 503);
    assert_eq!(l[0]["response-body"], "busy");
    assert_eq!(l[1]["outcome"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_capped() {
    let rx = Receiver::builder()
        .respond(first_then(
            Reply::status(429, "").header("retry-after", "86400"),
            Reply::status(200, ""),
        ))
        .start()
        .await
        .unwrap();
    let (url, r) = hook(&rx);
    r.deliverer
        .deliver(request(&url, "msg_cap", b"{}", None))
        .await;
    assert_eq!(
        r.clock.sleeps(),
        [host_test::delivery::deliver::RETRY_AFTER_CAP],
        "a day is cut to the cap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_follows_the_schedule_then_dead_letters_with_the_last_response() {
    let rx = Receiver::builder()
        .check_timestamps(false)
        .respond(|req| Reply::status(500, &format!("failure {}", req.seen)))
        .start()
        .await
        .unwrap();
    let (url, r) = hook(&rx);
    let report = r
        .deliverer
        .deliver(request(&url, "msg_dead", b"{}", None))
        .await;
    assert_eq!(report.attempts, MAX_ATTEMPTS);
    assert!(
        matches!(&report.outcome, Outcome::DeadLettered(why) if why.contains("attempts exhausted")),
        "{:?}",
        report.outcome
    );
    let uppers: Vec<u64> = r.clock.sleeps().iter().map(|d| d.as_secs()).collect();
    assert_eq!(uppers, [2, 4, 8, 16, 32, 64, 120]);
    let last = report.last_response.unwrap();
    assert_eq!(last.status, 500);
    assert_eq!(last.body, format!("failure {MAX_ATTEMPTS}").as_bytes());
    let dead = r.deliverer.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].request.delivery_id, "msg_dead");
    assert_eq!(rx.received().len(), MAX_ATTEMPTS as usize);
    let l = lines(&r.log);
    assert_eq!(l.len(), MAX_ATTEMPTS as usize);
    assert_eq!(l.last().unwrap()["outcome"], "dead-letter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint_for_later_deliveries() {
    let rx = Receiver::builder()
        .respond(|_| Reply::status(410, "gone"))
        .start()
        .await
        .unwrap();
    let url = rx.url("/hook?batch=1");
    let r = rig(
        FakePlugin::new(&url),
        loopback_client(Duration::from_secs(5)),
    );
    let first = r
        .deliverer
        .deliver(request(&url, "msg_a", b"{}", None))
        .await;
    assert!(matches!(first.outcome, Outcome::EndpointDisabled(_)));
    assert_eq!(first.attempts, 1);
    let other_query = rx.url("/hook?batch=2");
    let second = r
        .deliverer
        .deliver(request(&other_query, "msg_b", b"{}", None))
        .await;
    match &second.outcome {
        Outcome::Skipped(why) => {
            assert!(why.contains("disabled"), "{why}");
            assert!(why.contains("410"), "{why}");
            assert!(why.contains("msg_a"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(second.attempts, 0);
    assert_eq!(rx.received().len(), 1, "the second was not attempted");
    let l = lines(&r.log);
    assert_eq!(l[1]["outcome"], "skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let rx = Receiver::builder()
        .respond(|req| {
            if req.target.starts_with("/hook") {
                Reply::status(302, "").header("location", "/elsewhere")
            } else {
                Reply::status(200, "")
            }
        })
        .start()
        .await
        .unwrap();
    let (url, r) = hook(&rx);
    let report = r
        .deliverer
        .deliver(request(&url, "msg_r", b"{}", None))
        .await;
    assert!(
        matches!(&report.outcome, Outcome::DeadLettered(why) if why.contains("302")),
        "{:?}",
        report.outcome
    );
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].target, "/hook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ssrf_guard_refuses_loopback_unless_allowed() {
    let rx = Receiver::builder().start().await.unwrap();
    let strict = Arc::new(HttpClient::new(ClientOptions {
        timeout: Duration::from_secs(5),
        allow_http: true,
        allow_hosts: vec![],
    }));
    for url in [
        rx.url("/hook"),
        format!("http://localhost:{}/hook", rx.addr().port()),
        format!("http://[::ffff:127.0.0.1]:{}/hook", rx.addr().port()),
    ] {
        let r = rig(FakePlugin::new(&url), strict.clone());
        let report = r
            .deliverer
            .deliver(request(&url, "msg_s", b"{}", None))
            .await;
        match &report.outcome {
            Outcome::DeadLettered(why) => {
                assert!(why.contains("refused by the SSRF guard"), "{why}");
                assert!(why.contains("loopback"), "{why}");
            }
            other => panic!("{url}: {other:?}"),
        }
        assert_eq!(report.attempts, 1, "a refusal is not retried");
        let l = lines(&r.log);
        assert!(l[0]["error"].as_str().unwrap().contains("SSRF"));
    }
    assert!(rx.received().is_empty(), "nothing reached the receiver");
    // The same host on the allowlist goes through.
    let url = format!("http://localhost:{}/hook", rx.addr().port());
    let allowed = Arc::new(HttpClient::new(ClientOptions {
        timeout: Duration::from_secs(5),
        allow_http: true,
        allow_hosts: vec!["localhost".into()],
    }));
    let report = allowed.send(&request(&url, "msg_ok", b"{}", None)).await;
    // localhost may resolve to ::1 first where the receiver is not listening; the guard
    // let it through either way, which is what this checks.
    if let Err(e) = report {
        assert!(!e.to_string().contains("SSRF"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_needs_allow_http() {
    let rx = Receiver::builder().start().await.unwrap();
    let client = Arc::new(HttpClient::new(ClientOptions {
        allow_hosts: vec!["127.0.0.1".into()],
        ..ClientOptions::default()
    }));
    let url = rx.url("/hook");
    let err = client
        .send(&request(&url, "msg_h", b"{}", None))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not encrypted"), "{err}");
    assert!(!err.retryable());
    assert!(rx.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_times_out_and_is_retried() {
    let rx = Receiver::builder()
        .respond(first_then(
            Reply::status(200, "").after(Duration::from_secs(2)),
            Reply::status(200, ""),
        ))
        .start()
        .await
        .unwrap();
    let url = rx.url("/hook");
    let r = rig(
        FakePlugin::new(&url),
        loopback_client(Duration::from_millis(200)),
    );
    let started = std::time::Instant::now();
    let report = r
        .deliverer
        .deliver(request(&url, "msg_t", b"{}", None))
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report.outcome, Outcome::Delivered);
    assert_eq!(report.attempts, 2);
    let l = lines(&r.log);
    assert_eq!(l[0]["outcome"], "retry");
    assert!(
        l[0]["error"]
            .as_str()
            .unwrap()
            .contains("no response within 200 ms")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_retried_then_dead_lettered() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let r = rig(
        FakePlugin::new(&url),
        loopback_client(Duration::from_secs(2)),
    );
    let d = Deliverer::new(
        Arc::new(FakePlugin::new(&url)),
        loopback_client(Duration::from_secs(2)),
        r.clock.clone(),
    )
    .policy(RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    })
    .jitter(Arc::new(|_| Duration::ZERO));
    let report = d.deliver(request(&url, "msg_c", b"{}", None)).await;
    assert_eq!(report.attempts, 3);
    assert!(
        matches!(&report.outcome, Outcome::DeadLettered(why) if why.contains("no response after 3 attempt(s)")),
        "{:?}",
        report.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_are_cut_at_the_limit() {
    let rx = Receiver::builder()
        .respond(|req| {
            let n = if req.target == "/big" {
                MAX_RESPONSE_BODY + 1
            } else {
                MAX_RESPONSE_BODY
            };
            Reply::status(200, &"x".repeat(n))
        })
        .start()
        .await
        .unwrap();
    let client = loopback_client(Duration::from_secs(5));
    let fits = client
        .send(&request(&rx.url("/fits"), "m", b"", None))
        .await
        .unwrap();
    assert_eq!(
        (fits.body.len(), fits.truncated),
        (MAX_RESPONSE_BODY, false)
    );
    let big = client
        .send(&request(&rx.url("/big"), "m", b"", None))
        .await
        .unwrap();
    assert_eq!((big.body.len(), big.truncated), (MAX_RESPONSE_BODY, true));
}

async fn oauth_rig(lifetime: Duration) -> (Receiver, TokenServer, Rig, Arc<TokenCache>, String) {
    let tokens = TokenServer::start(CLIENT_ID, CLIENT_SECRET, lifetime)
        .await
        .unwrap();
    let rx = Receiver::builder()
        .secrets(vec![SECRET.into()])
        .require_tokens_from(&tokens)
        // Virtual time runs ahead of the machine's clock here.
        .check_timestamps(false)
        // A careless receiver that echoes the credentials it got.
        .respond(|req| {
            Reply::status(
                200,
                &format!("got {}", req.header("authorization").unwrap_or_default()),
            )
        })
        .start()
        .await
        .unwrap();
    let url = rx.url("/hook");
    let plugin = FakePlugin::new(&url).with_oauth(&tokens.url());
    let cache = Arc::new(TokenCache::default());
    let key = TokenKey {
        token_url: tokens.url(),
        client_id: CLIENT_ID.into(),
        scope: Some("customers.write".into()),
    };
    let clock = Arc::new(FakeClock::new());
    let log = Arc::new(DeliveryLog::memory());
    log.redactor().add(CLIENT_SECRET);
    let deliverer = Deliverer::new(
        Arc::new(plugin),
        loopback_client(Duration::from_secs(5)),
        clock.clone(),
    )
    .oauth(key, cache.clone())
    .jitter(upper_jitter())
    .log(log.clone());
    let rig = Rig {
        deliverer: Arc::new(deliverer),
        clock,
        log,
    };
    (rx, tokens, rig, cache, url)
}

fn change(n: usize) -> host_test::bindings::RecordChange {
    use host_test::bindings::{ChangeKind, Instant, Member, RecordChange};
    RecordChange {
        event_id: format!("e{n}"),
        kind: ChangeKind::Added,
        entity: "Customer".into(),
        code: format!("C{n}"),
        new_state: Some(Member {
            code: format!("C{n}"),
            attributes: vec![],
        }),
        prior_state: None,
        changed_by: "alice".into(),
        at: Instant {
            seconds: 0,
            nanoseconds: 0,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_are_cached_refreshed_before_expiry_and_after_a_401() {
    let (rx, tokens, r, cache, _) = oauth_rig(Duration::from_secs(3600)).await;
    let reports = r.deliverer.on_changes(&[change(1)]).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Delivered);
    let reports = r.deliverer.on_changes(&[change(2)]).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Delivered);
    assert_eq!((tokens.fetches(), cache.fetches()), (1, 1), "cached");

    // Just before the refresh point: still cached. Past it: a new token.
    r.clock.advance(
        Duration::from_secs(3600)
            - host_test::delivery::oauth::REFRESH_MARGIN
            - Duration::from_secs(1),
    );
    r.deliverer.on_changes(&[change(3)]).await.unwrap();
    assert_eq!(tokens.fetches(), 1);
    r.clock.advance(Duration::from_secs(2));
    r.deliverer.on_changes(&[change(4)]).await.unwrap();
    assert_eq!(tokens.fetches(), 2, "refreshed before expiry");

    // The server forgets its tokens: the webhook answers 401, the host refreshes once.
    tokens.revoke_all();
    let reports = r.deliverer.on_changes(&[change(5)]).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{:?}", reports[0]);
    assert_eq!(reports[0].attempts, 2);
    assert_eq!(tokens.fetches(), 3);
    assert!(
        r.clock.sleeps().is_empty(),
        "a 401 refresh does not back off"
    );
    let l = lines(&r.log);
    assert!(
        l.iter()
            .any(|e| e["outcome"] == "token-refresh" && e["status"] == 401)
    );
    let got = rx.received();
    assert!(got.iter().all(|g| g.verified.is_ok()));
    assert_eq!(
        got.iter().filter(|g| g.authorized == Some(false)).count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_401_is_not_refreshed_again() {
    let tokens = TokenServer::start(CLIENT_ID, CLIENT_SECRET, Duration::from_secs(3600))
        .await
        .unwrap();
    let rx = Receiver::builder()
        .respond(|_| Reply::status(401, "no"))
        .start()
        .await
        .unwrap();
    let url = rx.url("/hook");
    let cache = Arc::new(TokenCache::default());
    let d = Arc::new(
        Deliverer::new(
            Arc::new(FakePlugin::new(&url).with_oauth(&tokens.url())),
            loopback_client(Duration::from_secs(5)),
            Arc::new(FakeClock::new()),
        )
        .oauth(
            TokenKey {
                token_url: tokens.url(),
                client_id: CLIENT_ID.into(),
                scope: None,
            },
            cache,
        ),
    );
    let reports = d.on_changes(&[change(1)]).await.unwrap();
    assert_eq!(reports[0].attempts, 2);
    assert!(matches!(&reports[0].outcome, Outcome::DeadLettered(w) if w.contains("401")));
    assert_eq!(tokens.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_share_one_token_fetch() {
    let (rx, tokens, r, cache, url) = oauth_rig(Duration::from_secs(3600)).await;
    tokens.set_delay(Duration::from_millis(150));
    let d = Arc::new(
        Deliverer::new(
            Arc::new(FakePlugin::new(&url).with_oauth(&tokens.url())),
            loopback_client(Duration::from_secs(5)),
            r.clock.clone(),
        )
        .oauth(
            TokenKey {
                token_url: tokens.url(),
                client_id: CLIENT_ID.into(),
                scope: Some("customers.write".into()),
            },
            cache.clone(),
        )
        .concurrency(16),
    );
    // Sixteen deliveries at once, each asking for the token before it sends.
    let requests: Vec<_> = (0..16)
        .map(|i| request(&url, &format!("msg_{i}"), b"{}", Some("placeholder")))
        .collect();
    let reports = d.deliver_all(requests).await;
    assert_eq!(reports.len(), 16);
    assert!(reports.iter().all(|r| r.outcome == Outcome::Delivered));
    assert_eq!(tokens.fetches(), 1, "single flight");
    assert_eq!(cache.fetches(), 1);
    assert_eq!(rx.received().len(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_request_is_reported_without_the_secret() {
    let tokens = TokenServer::start(CLIENT_ID, "a-different-secret", Duration::from_secs(60))
        .await
        .unwrap();
    let url = "http://127.0.0.1:9/hook";
    let d = Arc::new(
        Deliverer::new(
            Arc::new(FakePlugin::new(url).with_oauth(&tokens.url())),
            loopback_client(Duration::from_secs(5)),
            Arc::new(FakeClock::new()),
        )
        .oauth(
            TokenKey {
                token_url: tokens.url(),
                client_id: CLIENT_ID.into(),
                scope: None,
            },
            Arc::new(TokenCache::default()),
        ),
    );
    let err = d.on_changes(&[change(1)]).await.unwrap_err().to_string();
    assert!(err.contains("invalid_client"), "{err}");
    assert!(!err.contains(CLIENT_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_log() {
    let (_rx, tokens, r, _cache, _url) = oauth_rig(Duration::from_secs(3600)).await;
    let reports = r.deliverer.on_changes(&[change(1)]).await.unwrap();
    tokens.revoke_all();
    r.deliverer.on_changes(&[change(2)]).await.unwrap();
    assert!(reports.iter().all(|r| r.outcome == Outcome::Delivered));
    let text = r.log.lines().join("\n");
    // The receiver echoed "Bearer tok-…" into its response bodies.
    assert!(text.contains("got Bearer [redacted]"), "{text}");
    for secret in [
        CLIENT_SECRET,
        SECRET,
        SECRET.trim_start_matches("whsec_"),
        "tok-",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
    }
    let debug = format!("{:?} {:?}", r.deliverer, r.deliverer.dead_letters());
    assert!(!debug.contains("tok-"), "{debug}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_render_signature_is_kept_and_a_stale_one_renewed() {
    use host_test::delivery::plugin::Plugin;
    use host_test::time::clock::Clock;
    let rx = Receiver::builder()
        .secrets(vec![SECRET.into()])
        .check_timestamps(false)
        .start()
        .await
        .unwrap();
    let url = rx.url("/hook");
    let plugin = FakePlugin::new(&url);
    let r = rig(
        FakePlugin::new(&url),
        loopback_client(Duration::from_secs(5)),
    );
    let now = r.clock.now();
    let limit = host_test::delivery::deliver::FRESH_SIGNATURE_AGE.as_secs() as i64;
    for (id, age, kept) in [("msg_fresh", limit, true), ("msg_stale", limit + 1, false)] {
        let at = host_test::bindings::Instant {
            seconds: now.seconds - age,
            nanoseconds: 0,
        };
        let rendered = plugin.sign(&request(&url, id, b"{}", None), at).unwrap();
        let report = r.deliverer.deliver(rendered).await;
        assert_eq!(report.outcome, Outcome::Delivered);
        let got = rx.received();
        let last = got.last().unwrap();
        assert!(last.verified.is_ok());
        let ts = last
            .header("webhook-timestamp")
            .unwrap()
            .parse::<i64>()
            .unwrap();
        assert_eq!(
            ts == at.seconds,
            kept,
            "{id}: sent {ts}, rendered {}",
            at.seconds
        );
    }
}
