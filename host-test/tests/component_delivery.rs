//! Delivery through the real component: its rendering, token request and parsing,
//! classification and signing, against servers on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use host_test::delivery::deliver::{Deliverer, Outcome};
use host_test::delivery::http::{ClientOptions, HttpClient};
use host_test::delivery::log::DeliveryLog;
use host_test::delivery::oauth::TokenCache;
use host_test::delivery::platform_token::{Claims, PlatformKeys};
use host_test::delivery::plugin::SessionPlugin;
use host_test::reference::demo::{self, DemoOptions};
use host_test::reference::receiver::{Receiver, TokenServer};
use host_test::time::clock::{Clock, SystemClock};
use host_test::{Limits, Runtime, formats};
use scratch::Scratch;

mod scratch;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(Limits::default()).expect("the component loads"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_passes() {
    let options = DemoOptions {
        changes: 16,
        progress: false,
        ..DemoOptions::examples()
    };
    let s = demo::run(runtime(), &options).await.unwrap();
    assert!(s.passed(), "{}", s.text());
    assert_eq!(s.expected.len(), 6);
    assert_eq!(s.retries, 1, "the receiver's one 503");
    assert_eq!(s.tokens_fetched, 1);
    assert_eq!(s.verified, s.received);
    assert_eq!(s.received, s.requests + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_component_renders_signs_and_refreshes_tokens() {
    let mut config = formats::read_configuration(&examples().join("customer.config.json")).unwrap();
    let strategy = formats::read_strategy(&examples().join("customer.strategy.json")).unwrap();
    let secret = config.oauth.client_secret.clone().unwrap();
    let tokens = TokenServer::start("mdm-connect", &secret, Duration::from_secs(3600))
        .await
        .unwrap();
    let rx = Receiver::builder()
        .secrets(config.signing_secrets.clone())
        .require_tokens_from(&tokens)
        .start()
        .await
        .unwrap();
    config.webhook_url = rx.url("/mdm/customers?source=profisee");
    config.oauth.token_url = Some(tokens.url());
    config.include_platform_token = true;
    let session = runtime().session(&config, &strategy).unwrap();
    let log = Arc::new(DeliveryLog::memory());
    let platform = Arc::new(PlatformKeys::generate(SystemClock.now().seconds).unwrap());
    let d = Arc::new(
        Deliverer::new(
            Arc::new(SessionPlugin::new(session)),
            Arc::new(HttpClient::new(ClientOptions {
                allow_http: true,
                allow_hosts: vec!["127.0.0.1".into()],
                ..ClientOptions::default()
            })),
            Arc::new(SystemClock),
        )
        .configure(&config, "svc-crm-sync", Arc::new(TokenCache::default()))
        .platform_keys(platform.clone())
        .log(log.clone()),
    );
    let (changes, expected) = demo::changes(8, "svc-crm-sync", SystemClock.now());
    let first = d.on_changes(&changes).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].outcome, Outcome::Delivered, "{:?}", first[0]);
    assert_eq!(first[0].records, expected.len());
    tokens.revoke_all();
    let second = d.on_changes(&changes).await.unwrap();
    assert_eq!(second[0].outcome, Outcome::Delivered, "{:?}", second[0]);
    assert_eq!(second[0].attempts, 2, "401, new token, success");
    assert_eq!(tokens.fetches(), 2);

    let got = rx.received();
    assert!(got.iter().all(|g| g.verified.is_ok()), "{got:?}");
    let token_of = |i: usize| {
        let body: serde_json::Value = serde_json::from_slice(&got[i].body).unwrap();
        body["PlatformToken"].as_str().unwrap().to_string()
    };
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(platform.jwks(SystemClock.now().seconds)).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    let claims = jsonwebtoken::decode::<Claims>(&token_of(0), &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims.sub, "svc-crm-sync");
    // Each attempt mints its own: the refused attempt and the retry carry different
    // tokens, each valid, in bodies whose signatures verified above.
    assert_ne!(token_of(1), token_of(2));
    jsonwebtoken::decode::<Claims>(&token_of(2), &key, &validation).unwrap();
    // The same delivery id on the refused and the accepted attempt.
    assert_eq!(got[1].header("webhook-id"), got[2].header("webhook-id"));
    let text = log.lines().join("\n");
    for leaked in [secret.as_str(), "tok-", token_of(0).as_str()] {
        assert!(!text.contains(leaked), "{leaked} in the log:\n{text}");
    }
}

/// An embedding host that includes the platform token but gives the engine no key sends
/// nothing with a placeholder in it: the delivery ends at once, saying what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_platform_key_nothing_is_sent_and_the_dead_letter_says_why() {
    let mut config = formats::read_configuration(&examples().join("customer.config.json")).unwrap();
    let strategy = formats::read_strategy(&examples().join("customer.strategy.json")).unwrap();
    let rx = Receiver::builder().start().await.unwrap();
    config.webhook_url = rx.url("/hook");
    (config.oauth.token_url, config.oauth.client_id) = (None, None);
    (config.oauth.client_secret, config.oauth.scope) = (None, None);
    config.include_platform_token = true;
    let session = runtime().session(&config, &strategy).unwrap();
    let d = Arc::new(
        Deliverer::new(
            Arc::new(SessionPlugin::new(session)),
            Arc::new(HttpClient::new(ClientOptions {
                allow_http: true,
                allow_hosts: vec!["127.0.0.1".into()],
                ..ClientOptions::default()
            })),
            Arc::new(SystemClock),
        )
        .configure(&config, "svc-crm-sync", Arc::new(TokenCache::default())),
    );
    let (changes, _) = demo::changes(8, "svc-crm-sync", SystemClock.now());
    let reports = d.on_changes(&changes).await.unwrap();
    assert_eq!(reports.len(), 1);
    let Outcome::DeadLettered(why) = &reports[0].outcome else {
        panic!("{:?}", reports[0]);
    };
    assert!(why.contains("no platform key"), "{why}");
    assert!(rx.received().is_empty(), "nothing was sent");
}

/// `host-test send` of the examples' strategy with `config` over `changes`, delivering to
/// 127.0.0.1 and logging to `log`.
async fn send(config: PathBuf, changes: PathBuf, log: PathBuf) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_host-test"))
            .args(["send", "--config"])
            .arg(&config)
            .arg("--strategy")
            .arg(examples().join("customer.strategy.json"))
            .arg("--changes")
            .arg(&changes)
            .args(["--allow-http", "--allow-host", "127.0.0.1", "--log"])
            .arg(&log)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_and_prints_each_outcome() {
    let mut config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("customer.config.json")).unwrap(),
    )
    .unwrap();
    let rx = Receiver::builder()
        .secrets(vec![config["signing-secrets"][0].as_str().unwrap().into()])
        .start()
        .await
        .unwrap();
    config["webhook-url"] = rx.url("/hook").into();
    config["oauth"] = serde_json::json!({});
    let dir = Scratch::new("send", "oauth");
    let (c, ch, log) = (
        dir.join("c.json"),
        dir.join("changes.json"),
        dir.join("log.jsonl"),
    );
    std::fs::write(&c, config.to_string()).unwrap();
    std::fs::write(
        &ch,
        r#"[
          {"event-id": "e1", "kind": "added", "entity": "Customer", "code": "C1",
           "new": {"Code": "C1", "Name": "Acme", "Status": "Active", "CreditLimit": 10,
                   "Segment": {"Name": "SMB"}, "City": "Delft", "Country": {"Code": "NL"}},
           "changed-by": "alice", "at": "2026-01-05T10:00:00Z"}
        ]"#,
    )
    .unwrap();
    let out = send(c, ch, log).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("delivered msg_"), "{text}");
    assert!(
        text.contains("1 record(s), 1 attempt(s), status 200"),
        "{text}"
    );
    // One summary line on stderr, after the report on stdout.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("sent: 1 of 1 deliveries delivered (1 record(s), 1 attempt(s)), 0 not, in "),
        "{stderr}"
    );
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].verified.is_ok());
    let logged = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert!(logged.contains(r#""outcome":"delivered""#), "{logged}");
}

/// A careless token endpoint that refuses the client and echoes every credential it got
/// (the Basic header, the form body) into its `error_description`: `send`'s output, its
/// diagnostics and its log keep the refusal's reason and none of the secret's forms, for
/// both ways of authenticating the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_echoing_the_credentials_leaks_none_of_them() {
    use base64::Engine as _;
    use host_test::reference::receiver::Reply;
    // Characters that form encoding and JSON escaping both change.
    let secret = r#"s3cr%t+&/="q\x"#;
    let form_secret = "s3cr%25t%2B%26%2F%3D%22q%5Cx";
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("mdm-connect:{form_secret}"));
    let endpoint = Receiver::builder()
        .respond(|req| {
            let description = format!(
                "bad client: authorization={:?} body={:?}",
                req.header("authorization").unwrap_or_default(),
                String::from_utf8_lossy(&req.body)
            );
            Reply::status(
                401,
                &serde_json::json!({"error": "invalid_client", "error_description": description})
                    .to_string(),
            )
            .header("content-type", "application/json")
        })
        .start()
        .await
        .unwrap();
    for client_auth in ["basic", "body"] {
        let mut config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(examples().join("customer.config.json")).unwrap(),
        )
        .unwrap();
        config["webhook-url"] = "http://127.0.0.1:9/hook".into();
        config["oauth"]["token-url"] = endpoint.url("/token").into();
        config["oauth"]["client-secret"] = secret.into();
        config["oauth"]["client-auth"] = client_auth.into();
        let dir = Scratch::new("send", &format!("echoed_{client_auth}"));
        let (c, log) = (dir.join("c.json"), dir.join("log.jsonl"));
        std::fs::write(&c, config.to_string()).unwrap();
        let out = send(c, examples().join("customer.changes.json"), log.clone()).await;
        let everything = format!(
            "{}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert!(!out.status.success(), "{client_auth}: {everything}");
        // The reason reaches the operator ...
        assert!(
            everything.contains("invalid_client"),
            "{client_auth}: {everything}"
        );
        assert!(
            everything.contains("bad client"),
            "{client_auth}: {everything}"
        );
        // ... and no form of the secret does: raw, form-encoded, JSON-escaped, or inside
        // the Basic credential.
        let json_escaped = serde_json::to_string(secret).unwrap();
        for form in [
            secret,
            form_secret,
            &json_escaped[1..json_escaped.len() - 1],
            &basic,
        ] {
            assert!(
                !everything.contains(form),
                "{client_auth}: {form:?} leaked into:\n{everything}"
            );
        }
    }
    // The endpoint really did get the credentials it echoed.
    let got = endpoint.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[0].header("authorization"),
        Some(&*format!("Basic {basic}"))
    );
    assert!(String::from_utf8_lossy(&got[1].body).contains(form_secret));
}
