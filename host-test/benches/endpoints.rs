//! Deliveries per second to a fast endpoint, alone and beside a slow or a failing one,
//! through the durable dispatcher (outbox, per-endpoint slots, breaker): what one bad
//! endpoint costs the others.
//!
//! `cargo bench -p host-test --bench endpoints`. One receiver process-thread serves
//! `/fast` (answers at once), `/slow` (answers after [`SLOW`]) and `/failing` (503). Each
//! round enqueues [`FAST`] deliveries to `/fast` (and as many to the other endpoint), and
//! times until the last fast one is delivered. The four cases run paired, round by
//! round (A, B, C, D, A, B, ...), and the medians and ranges are printed. Each delivery is
//! the whole host path: handed out of the outbox, signed and classified by the
//! component, sent over a pooled connection, recorded with its attempt.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_test::bindings::{Header, HttpMethod, HttpRequest};
use host_test::delivery::deliver::{Deliverer, RetryPolicy};
use host_test::delivery::http::{ClientOptions, HttpClient};
use host_test::delivery::log::DeliveryLog;
use host_test::delivery::plugin::SessionPlugin;
use host_test::formats::{self, DeliveryJson};
use host_test::outbox::dispatch::{Deliverers, Dispatcher};
use host_test::outbox::{Origin, Outbox};
use host_test::time::clock::SystemClock;
use host_test::{Limits, Runtime};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// The host's slots in all (`--concurrency`).
const SLOTS: usize = 16;
/// Deliveries to the fast endpoint per round.
const FAST: usize = 2_000;
/// The slow endpoint's answer time.
const SLOW: Duration = Duration::from_millis(250);
/// Rounds of the four cases (`BENCH_ROUNDS` sets another number).
const ROUNDS: usize = 5;

fn start_receiver() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|req: hyper::Request<Incoming>| async move {
                        let path = req.uri().path().to_string();
                        let _ = req.into_body().collect().await;
                        let status = match path.as_str() {
                            "/slow" => {
                                tokio::time::sleep(SLOW).await;
                                200
                            }
                            "/failing" => 503,
                            _ => 200,
                        };
                        let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"ok")));
                        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(r)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

struct Engines(Vec<(String, Arc<Deliverer>)>);

impl Deliverers for Engines {
    fn get(&self, strategy: &str) -> Option<Arc<Deliverer>> {
        self.0
            .iter()
            .find(|(n, _)| n == strategy)
            .map(|(_, d)| d.clone())
    }
    fn all(&self) -> Vec<Arc<Deliverer>> {
        self.0.iter().map(|(_, d)| d.clone()).collect()
    }
}

fn request(url: &str, id: &str) -> HttpRequest {
    HttpRequest {
        method: HttpMethod::Post,
        url: url.to_string(),
        headers: vec![Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body: format!(r#"{{"Entity":"Customer","Records":[{{"Code":"{id}"}}]}}"#).into_bytes(),
        member_codes: vec![id.to_string()],
        delivery_id: id.to_string(),
    }
}

/// One round: `FAST` deliveries to `/fast` and as many to `other` (if any), the other
/// endpoint held to `other_slots` (`None`: the default half). Seconds until the last fast
/// delivery arrived.
fn round(
    rt: &Runtime,
    addr: SocketAddr,
    other: Option<&str>,
    other_slots: Option<u32>,
    n: usize,
) -> f64 {
    let dir = std::env::temp_dir().join(format!("endpoints-bench-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut config = formats::read_configuration(&root.join("customer.config.json")).unwrap();
    let strategy = formats::read_strategy(&root.join("customer.strategy.json")).unwrap();
    config.oauth.token_url = None;
    config.oauth.client_id = None;
    config.oauth.client_secret = None;
    config.oauth.scope = None;
    let fast_url = format!("http://{addr}/fast");
    let other_url = other.map(|p| format!("http://{addr}{p}"));
    let elapsed = tokio_rt.block_on(async {
        let client = Arc::new(HttpClient::new(ClientOptions {
            allow_http: true,
            allow_hosts: vec!["127.0.0.1".into()],
            ..ClientOptions::default()
        }));
        let engine = |url: &str, slots: Option<u32>| {
            let mut c = config.clone();
            c.webhook_url = url.to_string();
            let plugin = Arc::new(SessionPlugin::new(rt.session(&c, &strategy).unwrap()));
            let settings = DeliveryJson {
                concurrency: slots,
                ..DeliveryJson::default()
            };
            Arc::new(
                Deliverer::new(plugin, client.clone(), Arc::new(SystemClock))
                    .policy(RetryPolicy::durable())
                    .settings(&settings)
                    .log(Arc::new(DeliveryLog::to_writer(std::io::sink())))
                    .without_dead_letter_list(),
            )
        };
        let mut engines = vec![("fast".to_string(), engine(&fast_url, None))];
        if let Some(u) = &other_url {
            engines.push(("other".to_string(), engine(u, other_slots)));
        }
        let outbox = Arc::new(Outbox::open(&dir.join("outbox.sqlite")).unwrap());
        let d = Dispatcher::new(
            outbox.clone(),
            Arc::new(Engines(engines)),
            Arc::new(SystemClock),
            Arc::new(DeliveryLog::discard()),
            SLOTS,
        )
        .unwrap();
        // The other endpoint's work is queued first, so it is due first.
        if let Some(u) = &other_url {
            let reqs: Vec<_> = (0..FAST).map(|i| request(u, &format!("o{i}"))).collect();
            let origin = Origin {
                source: "changes",
                strategy: "other",
                version: 1,
            };
            d.enqueue(&origin, &reqs).unwrap();
        }
        let reqs: Vec<_> = (0..FAST)
            .map(|i| request(&fast_url, &format!("f{i}")))
            .collect();
        let origin = Origin {
            source: "changes",
            strategy: "fast",
            version: 1,
        };
        let started = Instant::now();
        d.enqueue(&origin, &reqs).unwrap();
        tokio::spawn(d.clone().run());
        while outbox.pending_of("fast").unwrap() > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "the fast deliveries never ended"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(outbox.counts().unwrap().dead, 0);
        started.elapsed()
    });
    drop(tokio_rt);
    let _ = std::fs::remove_dir_all(&dir);
    elapsed.as_secs_f64()
}

fn main() {
    let rt = Runtime::new(Limits::default()).unwrap();
    let addr = start_receiver();
    let cases: [(&str, Option<&str>, Option<u32>); 4] = [
        ("fast alone", None, None),
        (
            "beside a slow endpoint (default: half the slots)",
            Some("/slow"),
            None,
        ),
        (
            "beside a slow endpoint allowed every slot",
            Some("/slow"),
            Some(SLOTS as u32),
        ),
        (
            "beside a failing endpoint (503, breaker)",
            Some("/failing"),
            None,
        ),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    // A warm-up round, not counted.
    round(&rt, addr, None, None, 0);
    let mut n = 1;
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    for _ in 0..rounds {
        for (i, (_, other, slots)) in cases.iter().enumerate() {
            let secs = round(&rt, addr, *other, *slots, n);
            n += 1;
            rates[i].push(FAST as f64 / secs);
        }
    }
    println!("{FAST} deliveries to the fast endpoint, {SLOTS} slots, {rounds} paired rounds");
    for (i, (name, _, _)) in cases.iter().enumerate() {
        let mut r = rates[i].clone();
        r.sort_by(f64::total_cmp);
        println!(
            "{name:52} median {:7.0}/s  range {:.0}-{:.0}",
            r[r.len() / 2],
            r[0],
            r[r.len() - 1]
        );
    }
}
