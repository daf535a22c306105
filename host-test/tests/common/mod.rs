//! Test doubles for the delivery seams: a plugin that answers as the component's rendering
//! operations are specified to, and a clock whose sleeps return at once.
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use host_test::HostError;
use host_test::bindings::{
    AccessToken, Header, HttpMethod, HttpRequest, Instant, OauthError, RecordChange, RenderContext,
    RenderError, Verdict,
};
use host_test::delivery::http::BoxFuture;
use host_test::delivery::plugin::Plugin;
use host_test::time::clock::{Clock, add};
use sha2::Sha256;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const CLIENT_ID: &str = "mdm-connect";
pub const CLIENT_SECRET: &str = "client-secret-must-never-be-logged";

/// Answers like the component: Standard Webhooks signing, the classify table, the
/// client-credentials token request.
pub struct FakePlugin {
    pub webhook_url: String,
    pub token_url: Option<String>,
    pub scope: Option<String>,
}

impl FakePlugin {
    pub fn new(webhook_url: &str) -> FakePlugin {
        FakePlugin {
            webhook_url: webhook_url.into(),
            token_url: None,
            scope: None,
        }
    }
    pub fn with_oauth(mut self, token_url: &str) -> FakePlugin {
        self.token_url = Some(token_url.into());
        self.scope = Some("customers.write".into());
        self
    }
}

pub fn request(url: &str, id: &str, body: &[u8], bearer: Option<&str>) -> HttpRequest {
    let mut headers = vec![Header {
        name: "content-type".into(),
        value: "application/json".into(),
    }];
    if let Some(t) = bearer {
        headers.push(Header {
            name: "authorization".into(),
            value: format!("Bearer {t}"),
        });
    }
    HttpRequest {
        method: HttpMethod::Post,
        url: url.into(),
        headers,
        body: body.to_vec(),
        member_codes: vec!["C1".into()],
        delivery_id: id.into(),
    }
}

fn signature(id: &str, ts: i64, body: &[u8]) -> String {
    let key = STANDARD
        .decode(SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

impl Plugin for FakePlugin {
    fn on_changes(
        &self,
        changes: &[RecordChange],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        if self.token_url.is_some() && context.access_token.is_none() {
            return Err(HostError::Render(RenderError::MissingAccessToken));
        }
        Ok(changes
            .iter()
            .map(|c| {
                let body = format!(r#"{{"Records":[{{"Code":"{}"}}]}}"#, c.code);
                let mut r = request(
                    &self.webhook_url,
                    &format!("msg_{}", c.event_id),
                    body.as_bytes(),
                    context.access_token.as_deref(),
                );
                r.member_codes = vec![c.code.clone()];
                r
            })
            .collect())
    }

    fn token_request(&self) -> Result<HttpRequest, HostError> {
        let url = self
            .token_url
            .clone()
            .ok_or(HostError::Render(RenderError::OauthNotConfigured))?;
        let basic = STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
        Ok(HttpRequest {
            method: HttpMethod::Post,
            url,
            headers: vec![
                Header {
                    name: "content-type".into(),
                    value: "application/x-www-form-urlencoded".into(),
                },
                Header {
                    name: "authorization".into(),
                    value: format!("Basic {basic}"),
                },
            ],
            body: format!(
                "grant_type=client_credentials&scope={}",
                self.scope.clone().unwrap_or_default()
            )
            .into_bytes(),
            member_codes: vec![],
            delivery_id: String::new(),
        })
    }

    fn accept_token(
        &self,
        status: u16,
        body: &[u8],
        now: Instant,
    ) -> Result<Result<AccessToken, OauthError>, HostError> {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        if status != 200 {
            return Ok(Err(OauthError {
                status,
                error: v["error"].as_str().unwrap_or("malformed").into(),
                description: v["error_description"].as_str().map(Into::into),
            }));
        }
        Ok(Ok(AccessToken {
            token: v["access_token"].as_str().unwrap_or_default().into(),
            token_type: v["token_type"].as_str().unwrap_or("Bearer").into(),
            expires_at: v["expires_in"]
                .as_u64()
                .map(|s| add(now, Duration::from_secs(s))),
            scope: v["scope"].as_str().map(Into::into),
        }))
    }

    fn classify(
        &self,
        status: u16,
        headers: &[Header],
        _now: Instant,
    ) -> Result<Verdict, HostError> {
        let retry_after = headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("retry-after"))
            .and_then(|h| h.value.trim().parse::<u32>().ok());
        Ok(match status {
            200..=299 => Verdict::Success,
            410 => Verdict::DisableEndpoint,
            408 | 425 | 429 | 500..=599 => Verdict::Retry(retry_after),
            _ => Verdict::GiveUp,
        })
    }

    fn sign(&self, request: &HttpRequest, now: Instant) -> Result<HttpRequest, HostError> {
        let mut r = request.clone();
        r.headers.retain(|h| {
            !["webhook-id", "webhook-timestamp", "webhook-signature"]
                .contains(&h.name.to_ascii_lowercase().as_str())
        });
        let sig = signature(&r.delivery_id, now.seconds, &r.body);
        for (n, v) in [
            ("webhook-id", r.delivery_id.clone()),
            ("webhook-timestamp", now.seconds.to_string()),
            ("webhook-signature", sig),
        ] {
            r.headers.push(Header {
                name: n.into(),
                value: v,
            });
        }
        Ok(r)
    }
}

/// Virtual time: starts at the machine's clock, advances only when slept on.
pub struct FakeClock {
    start: Instant,
    state: Mutex<(Duration, Vec<Duration>)>,
}

impl FakeClock {
    pub fn new() -> FakeClock {
        FakeClock {
            start: host_test::time::clock::SystemClock.now(),
            state: Mutex::new((Duration::ZERO, Vec::new())),
        }
    }
    pub fn advance(&self, d: Duration) {
        self.state.lock().unwrap().0 += d;
    }
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.lock().unwrap().1.clone()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        add(self.start, self.state.lock().unwrap().0)
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let mut s = self.state.lock().unwrap();
        s.0 += d;
        s.1.push(d);
        Box::pin(async {})
    }
}
