//! OAuth 2.0 client credentials (RFC 6749 section 4.4): the token request, rendered byte
//! for byte, and the token response, parsed into a typed result.

use crate::model::{
    AccessToken, ClientAuth, Header, HttpMethod, HttpRequest, Instant, OauthError, OauthSettings,
    RenderError,
};
use crate::sign::base64_encode;
use crate::url::percent_encode;

/// The delivery id of token requests: they are not deliveries, but the field is required.
pub const TOKEN_REQUEST_ID: &str = "oauth-token";

/// The longest `expires_in` honoured, in seconds: a year. A larger value is almost
/// certainly a server bug, and an absurd expiry would keep a revoked token cached.
pub const MAX_EXPIRES_IN: u64 = 365 * 24 * 3600;

/// `application/x-www-form-urlencoded` per RFC 6749 appendix B: unreserved characters
/// verbatim, space as `+`, everything else percent-encoded.
fn form_encode(out: &mut String, s: &str) {
    for part in s.split(' ').enumerate() {
        if part.0 > 0 {
            out.push('+');
        }
        percent_encode(out, part.1);
    }
}

/// The token request for `oauth`, or `oauth-not-configured`.
pub fn token_request(oauth: &OauthSettings) -> Result<HttpRequest, RenderError> {
    let (Some(url), Some(id), Some(secret)) = (
        oauth.token_url.as_deref(),
        oauth.client_id.as_deref(),
        oauth.client_secret.as_deref(),
    ) else {
        return Err(RenderError::OauthNotConfigured);
    };
    let mut body = String::from("grant_type=client_credentials");
    if let Some(scope) = oauth.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        body.push_str("&scope=");
        form_encode(&mut body, scope);
    }
    let mut headers = vec![
        Header {
            name: "Content-Type".into(),
            value: "application/x-www-form-urlencoded".into(),
        },
        Header {
            name: "Accept".into(),
            value: "application/json".into(),
        },
    ];
    match oauth.client_auth {
        ClientAuth::Basic => {
            // Section 2.3.1: the id and secret are form-encoded before Basic encoding.
            let mut pair = String::new();
            form_encode(&mut pair, id);
            pair.push(':');
            form_encode(&mut pair, secret);
            headers.push(Header {
                name: "Authorization".into(),
                value: format!("Basic {}", base64_encode(pair.as_bytes())),
            });
        }
        ClientAuth::Body => {
            body.push_str("&client_id=");
            form_encode(&mut body, id);
            body.push_str("&client_secret=");
            form_encode(&mut body, secret);
        }
    }
    Ok(HttpRequest {
        method: HttpMethod::Post,
        url: url.to_string(),
        headers,
        body: body.into_bytes(),
        member_codes: Vec::new(),
        delivery_id: TOKEN_REQUEST_ID.into(),
    })
}

/// The deepest nesting (objects and arrays) a token response may have: 127, the most
/// serde_json's recursion limit lets through, which bounds the parser's stack. A token
/// response nests one or two levels.
pub const MAX_JSON_DEPTH: usize = 127;

/// The members of a JSON object; `None` when the text is not exactly one JSON object
/// (trailing bytes included). serde_json reads it: the hand-written reader it replaced was
/// smaller, but a token response is read once per token, so its speed does not matter and
/// a well-kept parser is the safer choice for bytes from the network.
fn parse_object(text: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    serde_json::from_slice(text).ok()
}

fn invalid(status: u16, why: impl Into<String>) -> OauthError {
    OauthError {
        status,
        error: "invalid_response".into(),
        description: Some(why.into()),
    }
}

/// Parse a token endpoint's response (section 5.1 success, 5.2 error). The body is never
/// echoed into an error: it may hold a token.
pub fn accept_token(status: u16, body: &[u8], now: Instant) -> Result<AccessToken, OauthError> {
    let json = parse_object(body).ok_or_else(|| {
        invalid(
            status,
            format!(
                "the token endpoint answered HTTP {status} with {} bytes that are not a JSON object",
                body.len()
            ),
        )
    })?;
    let get = |k: &str| json.get(k);
    let text = |k: &str| get(k).and_then(|v| v.as_str()).map(str::to_string);
    if !(200..300).contains(&status) {
        return Err(OauthError {
            status,
            error: text("error").unwrap_or_else(|| "invalid_response".into()),
            description: text("error_description").or_else(|| {
                Some(format!(
                    "the token endpoint answered HTTP {status} without an OAuth error code"
                ))
            }),
        });
    }
    let token = text("access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid(status, "the token response has no access_token"))?;
    // The token goes into an Authorization header as it is: a control character there
    // would end the header or smuggle another one.
    if token.chars().any(|c| c.is_control()) {
        return Err(invalid(
            status,
            "the access_token contains a control character, which an Authorization header cannot carry",
        ));
    }
    let token_type = text("token_type")
        .ok_or_else(|| invalid(status, "the token response has no token_type"))?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(OauthError {
            status,
            error: "unsupported_token_type".into(),
            description: Some(format!(
                "the token type is {token_type:?}; only Bearer tokens are supported"
            )),
        });
    }
    // Some servers send expires_in as a string; both forms are accepted.
    let whole = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| invalid(status, "expires_in is not a whole number of seconds"))
    };
    let expires_in = match get("expires_in") {
        Some(serde_json::Value::Number(n)) => Some(whole(&n.to_string())?.min(MAX_EXPIRES_IN)),
        Some(serde_json::Value::String(s)) => Some(whole(s)?.min(MAX_EXPIRES_IN)),
        _ => None,
    };
    Ok(AccessToken {
        token,
        token_type,
        expires_at: expires_in.map(|s| Instant {
            seconds: now.seconds.saturating_add(s as i64),
            nanoseconds: now.nanoseconds,
        }),
        scope: text("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(auth: ClientAuth) -> OauthSettings {
        OauthSettings {
            token_url: Some("https://login.example.com/oauth2/token".into()),
            client_id: Some("my client".into()),
            client_secret: Some("s3cr:t&+".into()),
            scope: Some("customers.write audit".into()),
            client_auth: auth,
        }
    }

    #[test]
    fn token_request_bytes_with_basic_auth() {
        let r = token_request(&settings(ClientAuth::Basic)).unwrap();
        assert_eq!(r.method, HttpMethod::Post);
        assert_eq!(r.url, "https://login.example.com/oauth2/token");
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "grant_type=client_credentials&scope=customers.write+audit"
        );
        // base64("my+client:s3cr%3At%26%2B")
        assert_eq!(
            r.headers,
            vec![
                Header {
                    name: "Content-Type".into(),
                    value: "application/x-www-form-urlencoded".into()
                },
                Header {
                    name: "Accept".into(),
                    value: "application/json".into()
                },
                Header {
                    name: "Authorization".into(),
                    value: format!("Basic {}", base64_encode(b"my+client:s3cr%3At%26%2B")),
                },
            ]
        );
    }

    #[test]
    fn token_request_with_body_credentials() {
        let r = token_request(&settings(ClientAuth::Body)).unwrap();
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "grant_type=client_credentials&scope=customers.write+audit&client_id=my+client&client_secret=s3cr%3At%26%2B"
        );
        assert!(!r.headers.iter().any(|h| h.name == "Authorization"));
    }

    #[test]
    fn no_oauth_no_token_request() {
        assert_eq!(
            token_request(&OauthSettings::default()),
            Err(RenderError::OauthNotConfigured)
        );
    }

    const NOW: Instant = Instant {
        seconds: 1_700_000_000,
        nanoseconds: 0,
    };

    #[test]
    fn accepts_a_bearer_token_with_expiry() {
        let t = accept_token(
            200,
            br#"{"access_token":"abc","token_type":"bearer","expires_in":3600,"scope":"x"}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(t.token, "abc");
        assert_eq!(
            t.expires_at,
            Some(Instant {
                seconds: 1_700_003_600,
                nanoseconds: 0
            })
        );
        assert_eq!(t.scope.as_deref(), Some("x"));
        let s = accept_token(
            200,
            br#"{"access_token":"abc","token_type":"Bearer","expires_in":"60"}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(s.expires_at.unwrap().seconds, NOW.seconds + 60);
    }

    #[test]
    fn expires_in_limit_obeyed_and_violated() {
        let body =
            |n: u64| format!(r#"{{"access_token":"a","token_type":"Bearer","expires_in":{n}}}"#);
        let at = |n| {
            accept_token(200, body(n).as_bytes(), NOW)
                .unwrap()
                .expires_at
                .unwrap()
                .seconds
        };
        assert_eq!(at(MAX_EXPIRES_IN), NOW.seconds + MAX_EXPIRES_IN as i64);
        assert_eq!(at(MAX_EXPIRES_IN * 10), NOW.seconds + MAX_EXPIRES_IN as i64);
    }

    #[test]
    fn the_object_parser_reads_escapes_and_refuses_anything_but_one_object() {
        let obj = parse_object(
            br#" { "a" : "x\"y\u00e9\ud83d\ude00" , "n": -1.5e3, "o": {"k": [1, {"z": null}], "t": true}, "b": false } "#,
        )
        .unwrap();
        assert_eq!(obj["a"], "x\"y\u{e9}\u{1f600}");
        assert_eq!(obj.len(), 4);
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"a\"}",
            b"{\"a\":1,}",
            b"{\"a\":1} x",
            b"{\"a\":\"\\ud800\"}",
        ] {
            assert_eq!(
                parse_object(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn json_depth_limit_obeyed_and_violated() {
        // The object itself is one level; `n` arrays inside it make `n + 1` levels.
        let nest = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        assert!(parse_object(nest(MAX_JSON_DEPTH - 1).as_bytes()).is_some());
        assert!(parse_object(nest(MAX_JSON_DEPTH).as_bytes()).is_none());
    }

    #[test]
    fn an_access_token_with_a_control_character_is_refused() {
        for token in ["abc\\r\\nX-Injected: 1", "abc\\u0000", "tab\\there"] {
            let body = format!(r#"{{"access_token":"{token}","token_type":"Bearer"}}"#);
            let e = accept_token(200, body.as_bytes(), NOW).unwrap_err();
            assert_eq!(e.error, "invalid_response");
            let d = e.description.unwrap();
            assert!(d.contains("control character"), "{d}");
            assert!(!d.contains("abc"), "the token leaked into {d}");
        }
        let ok = br#"{"access_token":"abc-._~+/=","token_type":"Bearer"}"#;
        assert_eq!(accept_token(200, ok, NOW).unwrap().token, "abc-._~+/=");
    }

    #[test]
    fn oauth_errors_are_typed_and_bodies_never_echoed() {
        let e = accept_token(
            401,
            br#"{"error":"invalid_client","error_description":"bad secret"}"#,
            NOW,
        )
        .unwrap_err();
        assert_eq!(
            (e.status, e.error.as_str(), e.description.as_deref()),
            (401, "invalid_client", Some("bad secret"))
        );
        let e = accept_token(200, b"<html>token=leaked</html>", NOW).unwrap_err();
        assert_eq!(e.error, "invalid_response");
        assert!(!e.description.unwrap().contains("leaked"));
        let e = accept_token(200, br#"{"token_type":"Bearer"}"#, NOW).unwrap_err();
        assert!(e.description.unwrap().contains("access_token"));
        let e = accept_token(200, br#"{"access_token":"a","token_type":"mac"}"#, NOW).unwrap_err();
        assert_eq!(e.error, "unsupported_token_type");
        let e = accept_token(
            200,
            br#"{"access_token":"a","token_type":"Bearer","expires_in":-5}"#,
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.error, "invalid_response");
    }
}
