//! `host-test demo`: the whole product on one machine, with nothing external.
//!
//! Starts a webhook receiver (which checks Standard Webhooks signatures with its own code)
//! and an OAuth token endpoint on 127.0.0.1, loads the example configuration and strategy
//! with their URLs pointed at them, plays a realistic stream of customer changes through
//! the component, delivers what it renders, and checks that exactly the changes that
//! should reach the customer's webhook arrived, signed and authorised.

use std::collections::{BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::contract::bindings::{ChangeKind, Configuration, Member, RecordChange, Strategy};
use crate::delivery::deliver::{Deliverer, DeliveryReport, Outcome};
use crate::delivery::http::{ClientOptions, HttpClient};
use crate::delivery::log::DeliveryLog;
use crate::delivery::oauth::TokenCache;
use crate::delivery::platform_key::PlatformKeys;
use crate::delivery::plugin::SessionPlugin;
use crate::reference::receiver::{Receiver, Reply, TokenServer};
use crate::sandbox::runtime::Runtime;
use crate::time::clock::{Clock, SystemClock};

/// Changes per round: each round is one `on-changes` call, as one poll of the platform's
/// transaction log would be.
pub const CHANGES_PER_ROUND: usize = 8;

/// The lifetime of the demo's OAuth tokens: long enough that the default run needs one.
pub const DEMO_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// What the demo did and found.
#[derive(Clone, Debug, Default)]
pub struct DemoSummary {
    /// Changes played.
    pub changes: usize,
    /// Requests rendered by the component.
    pub requests: usize,
    /// Records in those requests.
    pub records: usize,
    /// Requests delivered.
    pub delivered: usize,
    /// Attempts beyond the first, over all requests.
    pub retries: usize,
    /// Requests the receiver got (attempts included).
    pub received: usize,
    /// Of those, with a valid signature.
    pub verified: usize,
    /// Tokens fetched from the token endpoint.
    pub tokens_fetched: usize,
    /// Member codes expected at the receiver.
    pub expected: BTreeSet<String>,
    /// Member codes that arrived in verified, accepted requests.
    pub arrived: BTreeSet<String>,
    /// Problems found; empty means the demo passed.
    pub problems: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl DemoSummary {
    /// Whether every expected delivery arrived verified and nothing else did.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The summary for people.
    pub fn text(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "changes played     {}\nrequests rendered  {}\nrecords sent       {}\ndelivered          {}/{}\nretries            {}\nsignatures         {}/{} verified by the receiver\ntokens fetched     {}\nexpected records   {} arrived of {}\ntime               {:.2} s\n",
            self.changes,
            self.requests,
            self.records,
            self.delivered,
            self.requests,
            self.retries,
            self.verified,
            self.received,
            self.tokens_fetched,
            self.expected.intersection(&self.arrived).count(),
            self.expected.len(),
            self.elapsed.as_secs_f64(),
        ));
        if self.passed() {
            s.push_str(
                "result             PASS: every expected change arrived, signed and authorised\n",
            );
        } else {
            s.push_str("result             FAIL\n");
            for p in &self.problems {
                s.push_str(&format!("  - {p}\n"));
            }
        }
        s
    }
}

/// The demo's options.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Changes to play (rounded up to whole rounds).
    pub changes: usize,
    /// The example configuration.
    pub config: std::path::PathBuf,
    /// The example strategy.
    pub strategy: std::path::PathBuf,
    /// Show progress on stderr (when it is a terminal).
    pub progress: bool,
    /// Where to write the delivery log, if anywhere.
    pub log: Option<std::path::PathBuf>,
}

impl DemoOptions {
    /// The examples of this repository.
    pub fn examples() -> DemoOptions {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        DemoOptions {
            changes: 48,
            config: dir.join("customer.config.json"),
            strategy: dir.join("customer.strategy.json"),
            progress: true,
            log: None,
        }
    }
}

/// Point a URL at a local server, keeping its path and query.
fn repoint(url: &str, base: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find(['/', '?']).map_or("/", |i| &rest[i..]);
    format!("{base}{path}")
}

fn member(code: &str, v: Json) -> Member {
    Member {
        code: code.to_string(),
        attributes: crate::formats::attributes(&v, code).unwrap_or_default(),
    }
}

/// The change stream: eight kinds of change in turn, three of which must reach the
/// webhook. Returns the changes and the codes expected at the receiver.
pub fn changes(
    count: usize,
    run_as: &str,
    now: crate::contract::bindings::Instant,
) -> (Vec<RecordChange>, BTreeSet<String>) {
    const CITIES: [(&str, &str); 6] = [
        ("Amsterdam", "NL"),
        ("Berlin", "DE"),
        ("Lyon", "FR"),
        ("Austin", "US"),
        ("Utrecht", "NL"),
        ("Hamburg", "DE"),
    ];
    let mut out = Vec::new();
    let mut expected = BTreeSet::new();
    for i in 0..count {
        let code = format!("CUST-{:05}", i + 1);
        let (city, country) = CITIES[i % CITIES.len()];
        let record = |status: &str, limit: &str, by: &str, country: &str| {
            json!({
                "Code": code,
                "Name": format!("Customer {} B.V.", i + 1),
                "Status": status,
                "CreditLimit": serde_json::from_str::<Json>(limit).unwrap_or(Json::Null),
                "Segment": {"Name": if i % 3 == 0 { "Enterprise" } else { "SMB" }},
                "City": city,
                "Country": {"Code": country},
                "$LastChgUserName": by,
            })
        };
        let user = if i % 2 == 0 { "alice" } else { "bob" };
        let (kind, new, prior, by, sent) = match i % 8 {
            // Added and active: sent.
            0 => (
                ChangeKind::Added,
                Some(record("Active", "2500.00", user, country)),
                None,
                user,
                true,
            ),
            // Added as a prospect: the added filter drops it.
            1 => (
                ChangeKind::Added,
                Some(record("Prospect", "0", user, country)),
                None,
                user,
                false,
            ),
            // Credit limit raised on an active customer: sent.
            2 => (
                ChangeKind::Updated,
                Some(record("Active", "10000.50", user, country)),
                Some(record("Active", "2294.99", user, country)),
                user,
                true,
            ),
            // Only who last touched it differs: CHANGED(Name, CreditLimit, Status) is false.
            3 => (
                ChangeKind::Updated,
                Some(record("Active", "500", user, country)),
                Some(record("Active", "500", "carol", country)),
                user,
                false,
            ),
            // Deactivated: the updated filter wants Active, dropped.
            4 => (
                ChangeKind::Updated,
                Some(record("Inactive", "500", user, country)),
                Some(record("Active", "500", user, country)),
                user,
                false,
            ),
            // Deleted in the EU: sent.
            5 => (
                ChangeKind::Deleted,
                None,
                Some(record("Active", "750", user, "DE")),
                user,
                true,
            ),
            // Deleted in the US: the deleted filter drops it.
            6 => (
                ChangeKind::Deleted,
                None,
                Some(record("Active", "750", user, "US")),
                user,
                false,
            ),
            // Made by the run-as user itself: loop prevention drops it.
            _ => (
                ChangeKind::Added,
                Some(record("Active", "1", run_as, country)),
                None,
                run_as,
                false,
            ),
        };
        if sent {
            expected.insert(code.clone());
        }
        out.push(RecordChange {
            event_id: format!("evt-{:06}", i + 1),
            kind,
            entity: "Customer".into(),
            code: code.clone(),
            new_state: new.map(|v| member(&code, v)),
            prior_state: prior.map(|v| member(&code, v)),
            changed_by: by.to_string(),
            at: now,
        });
    }
    (out, expected)
}

/// Run the demo. `runtime` is the loaded component.
pub async fn run(runtime: &Runtime, options: &DemoOptions) -> Result<DemoSummary, String> {
    let started = std::time::Instant::now();
    let mut config: Configuration =
        crate::formats::read_configuration(&options.config).map_err(|e| e.to_string())?;
    let strategy: Strategy =
        crate::formats::read_strategy(&options.strategy).map_err(|e| e.to_string())?;

    let client_id = config
        .oauth
        .client_id
        .clone()
        .unwrap_or_else(|| "demo".into());
    let client_secret = config
        .oauth
        .client_secret
        .clone()
        .unwrap_or_else(|| "demo-secret".into());
    let tokens = TokenServer::start(&client_id, &client_secret, DEMO_TOKEN_LIFETIME)
        .await
        .map_err(|e| format!("cannot start the token endpoint: {e}"))?;
    let failed_once = Arc::new(AtomicBool::new(false));
    let flag = failed_once.clone();
    let receiver = Receiver::builder()
        .secrets(config.signing_secrets.clone())
        .require_tokens_from(&tokens)
        .respond(move |req| {
            if req.verified.is_err() {
                return Reply::status(400, "signature did not verify");
            }
            // Once, the receiver is busy: the host must wait a second and try again.
            if !flag.swap(true, Ordering::SeqCst) {
                return Reply::status(503, "busy, come back in a second")
                    .header("retry-after", "1");
            }
            Reply::status(202, "accepted")
        })
        .start()
        .await
        .map_err(|e| format!("cannot start the receiver: {e}"))?;

    config.webhook_url = repoint(&config.webhook_url, &receiver.url(""));
    if config.oauth.token_url.is_some() {
        config.oauth.token_url = Some(tokens.url());
    }
    let session = runtime
        .session(&config, &strategy)
        .map_err(|e| e.to_string())?;
    let client = Arc::new(HttpClient::new(ClientOptions {
        allow_http: true,
        allow_hosts: vec!["127.0.0.1".into()],
        ..ClientOptions::default()
    }));
    let log = Arc::new(match &options.log {
        Some(p) => DeliveryLog::to_writer(
            std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        ),
        None => DeliveryLog::discard(),
    });
    let rounds = options.changes.div_ceil(CHANGES_PER_ROUND).max(1);
    let done = Arc::new(AtomicUsize::new(0));
    let show = options.progress && std::io::stderr().is_terminal();
    let counter = done.clone();
    let cache = Arc::new(TokenCache::default());
    let deliverer = Arc::new(
        Deliverer::new(
            Arc::new(SessionPlugin::new(session)),
            client,
            Arc::new(SystemClock),
        )
        .configure(&config, &strategy.run_options.run_as_user, cache.clone())
        // The demo's receiver is in this process: a key in memory signs its platform
        // tokens (`serve` keeps its key in a file and publishes it).
        .platform_keys(Arc::new(PlatformKeys::generate(SystemClock.now().seconds)?))
        .log(log)
        .on_report(Arc::new(move |_r: &DeliveryReport| {
            counter.fetch_add(1, Ordering::Relaxed);
        })),
    );

    let (all, expected) = changes(
        rounds * CHANGES_PER_ROUND,
        &strategy.run_options.run_as_user,
        SystemClock.now(),
    );
    let mut reports = Vec::new();
    for (round, chunk) in all.chunks(CHANGES_PER_ROUND).enumerate() {
        let r = deliverer
            .on_changes(chunk)
            .await
            .map_err(|e| e.to_string())?;
        reports.extend(r);
        if show {
            let width = 30;
            let filled = (round + 1) * width / rounds;
            eprint!(
                "\r  [{}{}] round {}/{} · {} requests delivered",
                "#".repeat(filled),
                ".".repeat(width - filled),
                round + 1,
                rounds,
                done.load(Ordering::Relaxed)
            );
            let _ = std::io::stderr().flush();
        }
    }
    if show {
        eprintln!();
    }

    let received = receiver.received();
    let mut arrived = BTreeSet::new();
    let mut problems = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for r in &received {
        if let Err(why) = &r.verified {
            problems.push(format!(
                "request {:?} failed the signature check: {why}",
                r.header("webhook-id")
            ));
        }
        if r.authorized == Some(false) {
            problems.push(format!(
                "request {:?} carried no valid OAuth token",
                r.header("webhook-id")
            ));
        }
        *by_id
            .entry(r.header("webhook-id").unwrap_or_default().to_string())
            .or_default() += 1;
        if r.verified.is_ok() && r.authorized != Some(false) {
            let body: Json = serde_json::from_slice(&r.body).unwrap_or(Json::Null);
            for rec in body["Records"].as_array().into_iter().flatten() {
                if let Some(c) = rec["Code"].as_str() {
                    arrived.insert(c.to_string());
                }
            }
        }
    }
    for r in &reports {
        if r.outcome != Outcome::Delivered {
            problems.push(format!(
                "{} was not delivered: {:?}",
                r.delivery_id, r.outcome
            ));
        }
    }
    for missing in expected.difference(&arrived) {
        problems.push(format!("{missing} should have arrived and did not"));
    }
    for extra in arrived.difference(&expected) {
        problems.push(format!(
            "{extra} arrived although its change should have been filtered out"
        ));
    }
    if !failed_once.load(Ordering::SeqCst) && !reports.is_empty() {
        problems.push("the receiver never asked for a retry".into());
    }
    Ok(DemoSummary {
        changes: all.len(),
        requests: reports.len(),
        records: reports.iter().map(|r| r.records).sum(),
        delivered: reports
            .iter()
            .filter(|r| r.outcome == Outcome::Delivered)
            .count(),
        retries: reports
            .iter()
            .map(|r| r.attempts.saturating_sub(1) as usize)
            .sum(),
        received: received.len(),
        verified: received.iter().filter(|r| r.verified.is_ok()).count(),
        tokens_fetched: tokens.fetches(),
        expected,
        arrived,
        problems,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repoint_keeps_path_and_query() {
        assert_eq!(
            repoint(
                "https://hooks.acme.example/mdm/customers?source=profisee",
                "http://127.0.0.1:9"
            ),
            "http://127.0.0.1:9/mdm/customers?source=profisee"
        );
        assert_eq!(
            repoint("https://h.example", "http://127.0.0.1:9"),
            "http://127.0.0.1:9/"
        );
    }

    #[test]
    fn three_of_every_eight_changes_are_expected() {
        let now = crate::contract::bindings::Instant {
            seconds: 0,
            nanoseconds: 0,
        };
        let (c, e) = changes(16, "svc", now);
        assert_eq!((c.len(), e.len()), (16, 6));
    }
}
