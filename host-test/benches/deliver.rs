//! Deliveries per second to a loopback receiver, beside a plain HTTP load generator
//! (`wrk`, when installed) hitting the same receiver with bodies of the same size.
//!
//! `cargo bench -p host-test --bench deliver`. The receiver runs on its own Tokio runtime
//! (one worker thread); the host's deliveries run on another (one worker thread), and wrk
//! gets one thread: on a two-core machine each side has a core. Each delivery is the whole
//! host path: component `sign`, HTTP exchange over a pooled connection, component
//! `classify`, a delivery-log line (formatted, then discarded). Requests are rendered
//! beforehand, outside the timed part.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_test::bindings::{HttpRequest, RecordChange};
use host_test::delivery::deliver::{Deliverer, Outcome};
use host_test::delivery::http::{ClientOptions, HttpClient};
use host_test::delivery::log::DeliveryLog;
use host_test::delivery::plugin::SessionPlugin;
use host_test::time::clock::{Clock, SystemClock};
use host_test::{Limits, Runtime, formats};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// Connections (deliveries in flight, wrk connections).
const CONNECTIONS: usize = 32;

/// A receiver that reads the body and answers 200: the same for both clients.
fn start_receiver() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
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
                        let _ = req.into_body().collect().await;
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"ok",
                        ))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (addr_from(rx), handle)
}

fn addr_from(rx: std::sync::mpsc::Receiver<SocketAddr>) -> SocketAddr {
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// A session for `batch` records per request, and `batch` changes that all pass the
/// strategy's filters.
fn session(rt: &Runtime, url: &str, batch: u32) -> (host_test::Session, Vec<RecordChange>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut config = formats::read_configuration(&root.join("customer.config.json")).unwrap();
    let mut strategy = formats::read_strategy(&root.join("customer.strategy.json")).unwrap();
    config.webhook_url = url.to_string();
    config.oauth = host_test::bindings::OauthSettings {
        token_url: None,
        client_id: None,
        client_secret: None,
        scope: None,
        client_auth: host_test::bindings::ClientAuth::Basic,
    };
    strategy.run_options.batch_size = batch;
    let session = rt.session(&config, &strategy).unwrap();
    let (all, _) =
        host_test::reference::demo::changes(8 * batch as usize, "svc-crm-sync", SystemClock.now());
    let passing = all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| matches!(i % 8, 0 | 2 | 5))
        .map(|(_, c)| c)
        .take(batch as usize)
        .collect();
    (session, passing)
}

/// Render one page of `requests` requests, each with fresh event ids.
fn render_page(
    session: &mut host_test::Session,
    base: &[RecordChange],
    page: usize,
    requests: usize,
) -> Vec<HttpRequest> {
    let mut changes = Vec::with_capacity(base.len() * requests);
    for r in 0..requests {
        for c in base {
            let mut c = c.clone();
            c.event_id = format!("{}-p{page}-r{r}", c.event_id);
            changes.push(c);
        }
    }
    let context = host_test::bindings::RenderContext {
        now: SystemClock.now(),
        access_token: None,
        platform_token: None,
        id_seed: page as u64,
    };
    let out = session.on_changes(&changes, &context).unwrap();
    assert_eq!(out.len(), requests);
    out
}

/// Deliveries per second: pages are rendered (untimed) and delivered (timed) in turn, so
/// every first attempt carries the render's fresh signature, as in production.
fn host_rate(rt: &Runtime, url: &str, batch: u32, pages: usize, per_page: usize) -> (f64, usize) {
    let (mut session, base) = session(rt, url, batch);
    let body_len = render_page(&mut session, &base, usize::MAX, 1)[0]
        .body
        .len();
    let plugin = Arc::new(SessionPlugin::new(session));
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client = tokio_rt.block_on(async {
        Arc::new(HttpClient::new(ClientOptions {
            allow_http: true,
            allow_hosts: vec!["127.0.0.1".into()],
            ..ClientOptions::default()
        }))
    });
    let d = Arc::new(
        Deliverer::new(plugin.clone(), client, Arc::new(SystemClock))
            .concurrency(CONNECTIONS)
            // Every attempt is logged, to a sink: the formatting is part of the cost.
            .log(Arc::new(DeliveryLog::to_writer(std::io::sink()))),
    );
    let mut timed = Duration::ZERO;
    let mut delivered = 0;
    for page in 0..=pages {
        let requests = plugin_render(&plugin, &base, page, per_page);
        let started = Instant::now();
        let reports = tokio_rt.block_on(d.deliver_all(requests));
        // Page 0 warms the connection pool and is not counted.
        if page > 0 {
            timed += started.elapsed();
            delivered += reports.len();
        }
        assert!(reports.iter().all(|r| r.outcome == Outcome::Delivered));
    }
    let _ = body_len;
    (delivered as f64 / timed.as_secs_f64(), body_len)
}

fn plugin_render(
    plugin: &SessionPlugin,
    base: &[RecordChange],
    page: usize,
    per_page: usize,
) -> Vec<HttpRequest> {
    plugin.with_session(|s| render_page(s, base, page, per_page))
}

/// wrk's requests per second POSTing `body_len` bytes, or `None` without wrk.
fn wrk_rate(addr: SocketAddr, body_len: usize, seconds: u64) -> Option<f64> {
    let dir = std::env::temp_dir().join(format!("deliver-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let script = dir.join(format!("post-{body_len}.lua"));
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = string.rep(\"x\", {body_len})\n"
        ),
    )
    .ok()?;
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{seconds}s"),
            "-s",
        ])
        .arg(&script)
        .arg(format!("http://{addr}/hook"))
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The median of a few figures.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rounds of (host, wrk), alternated, so that load from elsewhere on the machine hits
/// both alike; the table shows medians.
const ROUNDS: usize = 5;

fn main() {
    // `cargo test --benches` runs bench binaries without `--bench`: keep that a smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let (addr, _receiver) = start_receiver();
    let rt = Runtime::new(Limits::default()).unwrap();
    let url = format!("http://{addr}/hook?tenant=bench");
    println!(
        "| batch size | body bytes | host deliveries/s | records/s | wrk requests/s | ratio (median of rounds) | ratio range |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for batch in [1u32, 100] {
        let (rounds, pages, per_page) = match (full, batch) {
            (false, _) => (1, 1, 20),
            (true, 1) => (ROUNDS, 4, 3_000),
            (true, _) => (ROUNDS, 4, 500),
        };
        let (mut host, mut wrk, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let mut body_len = 0;
        for _ in 0..rounds {
            let (rate, len) = host_rate(&rt, &url, batch, pages, per_page);
            body_len = len;
            host.push(rate);
            if full && let Some(w) = wrk_rate(addr, body_len, 2) {
                wrk.push(w);
                ratios.push(rate / w);
            }
        }
        let rate = median(host);
        let (wrk_text, ratio, range) = if wrk.is_empty() {
            ("-".to_string(), "-".to_string(), "-".to_string())
        } else {
            let lo = ratios.iter().copied().fold(f64::MAX, f64::min);
            let hi = ratios.iter().copied().fold(0.0, f64::max);
            (
                format!("{:.0}", median(wrk)),
                format!("{:.0}%", 100.0 * median(ratios)),
                format!("{:.0}-{:.0}%", 100.0 * lo, 100.0 * hi),
            )
        };
        println!(
            "| {batch} | {body_len} | {rate:.0} | {:.0} | {wrk_text} | {ratio} | {range} |",
            rate * batch as f64
        );
    }
}
