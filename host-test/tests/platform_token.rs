//! The platform token a receiver can verify, end to end through `host-test serve` as a
//! process: every token is checked by an independent verifier (jwt-compact over
//! ed25519-compact, neither of which the host uses) against the JWKS that `serve` answers
//! at `GET /.well-known/jwks.json`; across a restart, a rotation, a replay, the synchronous
//! path and `send`; and the key stays in its owner-only file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use host_test::reference::receiver::{Received, Receiver, Reply};
use jwt_compact::alg::Ed25519;
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt as _, TimeOptions, Token, UntrustedToken};
use scratch::Scratch;
use serde::Deserialize;
use serde_json::{Value as Json, json};

mod scratch;
mod serve_process;

use serve_process::{Serve, tokio, write_json};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const USER: &str = "svc-sync";
const STRATEGY: &str = "Customers out";

/// The claims besides `iat` and `exp`, which jwt-compact reads itself.
#[derive(Debug, Deserialize)]
struct Custom {
    iss: String,
    sub: String,
    jti: String,
}

/// What the independent verifier found in a valid token.
#[derive(Debug)]
struct Verified {
    kid: String,
    issued_at: i64,
    jti: String,
}

/// Verify `token` as a receiver would: its header's `kid` picks the key from `jwks`, the
/// key is built from the JWK's `x` alone, the EdDSA signature and the expiry are checked.
/// The `kid` is also checked to be the key's RFC 7638 thumbprint.
fn verify(token: &str, jwks: &Json) -> Result<Verified, String> {
    let untrusted = UntrustedToken::new(token).map_err(|e| format!("not a JWT: {e}"))?;
    let kid = untrusted
        .header()
        .key_id
        .clone()
        .ok_or("the token names no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .ok_or("the JWKS has no keys")?
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or_else(|| format!("the JWKS has no key {kid}: {jwks}"))?
        .to_string();
    let jwk: JsonWebKey<'_> = serde_json::from_str(&jwk).map_err(|e| e.to_string())?;
    let thumbprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jwk.thumbprint::<sha2::Sha256>());
    if thumbprint != kid {
        return Err(format!(
            "kid {kid} is not the key's thumbprint {thumbprint}"
        ));
    }
    let key = <Ed25519 as jwt_compact::Algorithm>::VerifyingKey::try_from(&jwk)
        .map_err(|e| format!("not an Ed25519 JWK: {e}"))?;
    let token: Token<Custom> = Ed25519
        .validator(&key)
        .validate(&untrusted)
        .map_err(|e| format!("the signature does not verify: {e}"))?;
    let claims = token.claims();
    claims
        .validate_expiration(&TimeOptions::default())
        .map_err(|e| format!("expired: {e}"))?;
    let custom = &claims.custom;
    assert_eq!(custom.sub, USER);
    assert_eq!(custom.iss, "webhook-provider-host");
    Ok(Verified {
        kid,
        issued_at: claims.issued_at.map(|t| t.timestamp()).unwrap_or_default(),
        jti: custom.jti.clone(),
    })
}

/// The platform token a request carried.
fn token_of(r: &Received) -> String {
    let body: Json = serde_json::from_slice(&r.body).unwrap();
    body["PlatformToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no PlatformToken in {body}"))
        .to_string()
}

/// Definitions in `dir`: a signed configuration with the platform token, posting to `url`,
/// and a strategy sending each change on its own; a member `C-1` for on-demand runs.
fn definitions(dir: &Path, url: &str) {
    write_json(
        &dir.join("config.json"),
        &json!({
            "name": "platform token test",
            "webhook-url": url,
            "include-platform-token": true,
            "headers": [],
            "query": [],
            "signing-secrets": [SECRET],
        }),
    );
    write_json(
        &dir.join("strategy.json"),
        &json!({
            "name": STRATEGY,
            "entity": "Customer",
            "body": [{ "key": "Entity", "text": "Customer" }],
            "records": [{ "key": "Code", "expression": "[Code]" }],
            "run-options": {
                "run-as-user": USER,
                "batch-size": 1,
                "sync-enabled": true,
                "sync-record-limit": 10,
                "async-enabled": true,
                "added": { "enabled": true },
                "updated": { "enabled": true },
                "deleted": { "enabled": true }
            }
        }),
    );
    write_json(&dir.join("members.json"), &json!([{ "Code": "C-1" }]));
    write_json(&dir.join("changes.json"), &json!([change("C-9")]));
}

fn change(code: &str) -> Json {
    json!({
        "event-id": format!("evt-{code}"),
        "kind": "added",
        "entity": "Customer",
        "code": code,
        "new": { "Code": code },
        "changed-by": "alice",
        "at": "2026-12-01T10:00:00Z"
    })
}

/// `serve` on the definitions, outbox and default key file in `dir`, with its members.
fn start(dir: &Path, extra: &[&str]) -> Serve {
    let members = dir.join("members.json");
    let mut args = vec!["--members", members.to_str().unwrap()];
    args.extend_from_slice(extra);
    Serve::start(dir, &args)
}

/// The JWKS `serve` answers.
fn jwks(serve: &Serve) -> Json {
    let (status, jwks) = serve.get("/.well-known/jwks.json");
    assert_eq!(status, 200, "{jwks}");
    jwks
}

/// What `serve` printed so far.
fn printed(serve: &Serve) -> String {
    serve.lines.lock().unwrap().join("\n")
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Wait until the receiver has `n` requests; them.
fn received(rx: &Receiver, n: usize) -> Vec<Received> {
    let start = Instant::now();
    while rx.received().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} of {n} requests arrived",
            rx.received().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    rx.received()
}

fn kids(jwks: &Json) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// Every file of `dir` whose name starts with `prefix`, read.
fn files(dir: &Path, prefix: &str) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A delivery that fails first, then `serve` killed and started again on the same outbox
/// and key file: the first attempt's token and the retry's both verify against the same
/// published key, and the retry's is minted afresh after the restart. Neither token nor
/// the private key is in the outbox or the logs; the key file is owner-only.
#[test]
fn tokens_verify_against_the_jwks_and_a_retry_after_a_restart_carries_a_fresh_one() {
    let rt = tokio();
    let rx = rt
        .block_on(
            Receiver::builder()
                .secrets(vec![SECRET.into()])
                .respond(|r| {
                    if r.seen == 1 {
                        Reply::status(503, "deploying").header("retry-after", "3")
                    } else {
                        Reply::status(200, "ok")
                    }
                })
                .start(),
        )
        .unwrap();
    let dir = Scratch::new("platform-token", "restart");
    definitions(&dir, &rx.url("/hook"));

    let serve = start(&dir, &[]);
    let before = jwks(&serve);
    assert_eq!(kids(&before).len(), 1, "{before}");
    let (status, a) = serve.post("/changes", &json!([change("C-1")]));
    assert_eq!(status, 202, "{a}");
    let first = received(&rx, 1).remove(0);
    assert!(first.verified.is_ok(), "{:?}", first.verified);
    let t1 = verify(&token_of(&first), &before).unwrap();
    // The 503 is recorded (the retry waits 3 s in the outbox), then the host dies.
    std::thread::sleep(Duration::from_millis(500));
    let first_stdout = printed(&serve);
    drop(serve);

    let restarted_at = nanos() / 1_000_000_000;
    let serve = start(&dir, &[]);
    let after = jwks(&serve);
    assert_eq!(after, before, "the same key is published after the restart");
    let got = received(&rx, 2);
    let retry = &got[1];
    assert_eq!(retry.header("webhook-id"), first.header("webhook-id"));
    assert!(
        retry.verified.is_ok(),
        "re-signed for the new token: {:?}",
        retry.verified
    );
    let t2 = verify(&token_of(retry), &after).unwrap();
    assert_eq!(t2.kid, t1.kid);
    assert_ne!(t2.jti, t1.jti, "minted again for the retry");
    assert!(
        t2.issued_at as u128 >= restarted_at,
        "minted after the restart: iat {} < {restarted_at}",
        t2.issued_at
    );

    // `send` with serve's key file signs tokens the same JWKS verifies.
    let out = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .arg("send")
        .arg("--config")
        .arg(dir.join("config.json"))
        .arg("--strategy")
        .arg(dir.join("strategy.json"))
        .arg("--changes")
        .arg(dir.join("changes.json"))
        .arg("--platform-key")
        .arg(dir.join("platform-key.json"))
        .args(["--allow-http", "--allow-host", "127.0.0.1", "--log"])
        .arg(dir.join("log-send.jsonl"))
        .output()
        .unwrap();
    let send_text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The receiver answers each new delivery id 503 first: send retries it.
    assert!(out.status.success(), "{send_text}");
    let got = received(&rx, 4);
    let t3 = verify(&token_of(&got[3]), &jwks(&serve)).unwrap();
    assert_eq!(t3.kid, t1.kid);
    let stdout = format!("{first_stdout}\n{}\n{send_text}", printed(&serve));
    drop(serve);

    // The key file: owner-only, and its private key nowhere else; no token stored.
    let key_path = dir.join("platform-key.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let key: Json = serde_json::from_slice(&std::fs::read(&key_path).unwrap()).unwrap();
    let private = key["signing"].as_str().unwrap();
    let outbox = files(&dir, "outbox.sqlite");
    assert!(!outbox.is_empty());
    assert!(
        outbox
            .iter()
            .any(|(_, b)| holds(b, "platform-token-added-at-each-attempt")),
        "the outbox keeps the placeholder"
    );
    let tokens: Vec<String> = got.iter().map(token_of).collect();
    for (path, bytes) in outbox.iter().chain(&files(&dir, "log-")) {
        assert!(
            !holds(bytes, private),
            "the private key is in {}",
            path.display()
        );
        for t in &tokens {
            assert!(
                !holds(bytes, t),
                "a platform token is in {}",
                path.display()
            );
        }
    }
    assert!(!stdout.contains(private), "{stdout}");
}

/// A rotation at start: the new key signs (its kid in every new token: a change, the
/// synchronous path and a replay), and the old key stays published, so the token it
/// signed before the rotation still verifies against the JWKS served after it.
#[test]
fn a_rotation_keeps_old_tokens_verifiable_and_signs_new_ones_with_the_new_key() {
    let rt = tokio();
    let rx = rt
        .block_on(
            Receiver::builder()
                .secrets(vec![SECRET.into()])
                .respond(|_| Reply::status(200, "ok"))
                .start(),
        )
        .unwrap();
    let dir = Scratch::new("platform-token", "rotation");
    definitions(&dir, &rx.url("/hook"));

    let serve = start(&dir, &[]);
    let old_jwks = jwks(&serve);
    let (status, a) = serve.post("/changes", &json!([change("C-1")]));
    assert_eq!(status, 202, "{a}");
    let delivery = a["deliveries"][0]["id"].as_str().unwrap().to_string();
    let old_token = token_of(&received(&rx, 1)[0]);
    let old = verify(&old_token, &old_jwks).unwrap();
    let old_private = std::fs::read_to_string(dir.join("platform-key.json")).unwrap();
    // Recorded as delivered before the host goes: else the restart would send it again
    // (at least once), and the arrivals below would hold one more.
    let start_wait = Instant::now();
    while serve.get(&format!("/deliveries/{delivery}")).1["status"] != "delivered" {
        assert!(
            start_wait.elapsed() < Duration::from_secs(60),
            "never recorded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(serve);

    let serve = start(&dir, &["--rotate-platform-key"]);
    let jwks = jwks(&serve);
    let published = kids(&jwks);
    assert_eq!(published.len(), 2, "{jwks}");
    assert_eq!(
        published[1], old.kid,
        "the old key stays, after the new one"
    );
    assert!(
        printed(&serve).contains(&format!(
            "kid {}; still published: {}",
            published[0], old.kid
        )),
        "{}",
        printed(&serve)
    );
    // The token signed before the rotation still verifies with the JWKS served after it.
    assert_eq!(verify(&old_token, &jwks).unwrap().kid, old.kid);

    // New tokens carry the new kid: a change, an immediate run, a replay.
    let (status, a) = serve.post("/changes", &json!([change("C-2")]));
    assert_eq!(status, 202, "{a}");
    received(&rx, 2);
    let target = format!("/strategies/{}/immediate", STRATEGY.replace(' ', "%20"));
    let (status, a) = serve.post(&target, &json!({ "codes": ["C-1"] }));
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["deliveries"][0]["outcome"], "delivered", "{a}");
    let (status, a) = serve.post(&format!("/deliveries/{delivery}/replay"), &json!({}));
    assert_eq!(status, 202, "{a}");
    let got = received(&rx, 4);
    for r in &got[1..] {
        assert!(r.verified.is_ok(), "{:?}", r.verified);
        let t = verify(&token_of(r), &jwks).unwrap();
        assert_eq!(t.kid, published[0], "signed with the new key");
    }
    assert_eq!(got[3].header("webhook-id"), Some(delivery.as_str()));
    // The old private key left the file: only its public part is kept.
    let old_signing: Json = serde_json::from_str(&old_private).unwrap();
    let file = std::fs::read_to_string(dir.join("platform-key.json")).unwrap();
    assert!(!file.contains(old_signing["signing"].as_str().unwrap()));
}
