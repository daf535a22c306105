//! The platform token: a short-lived JWT (EdDSA, signed by [`PlatformKeys`]) naming the
//! run-as user, which the component places in the payload when `include-platform-token` is
//! on, so the receiver can call the platform back as that user. It verifies against the
//! JWKS `serve` publishes.
//!
//! A token is minted for each attempt and never stored: requests are rendered (and kept in
//! the outbox) with a placeholder of the same length ([`placeholder`]), and each attempt
//! puts a fresh token in its place ([`fill`]) and re-signs the request. So a retry, a replay
//! or an attempt after a restart carries a token that is valid when it is sent.

use serde::{Deserialize, Serialize};

use crate::contract::bindings::Instant;
use crate::delivery::placeholders::PLATFORM_TOKEN_PLACEHOLDER;

pub use crate::delivery::platform_key::PlatformKeys;
pub use crate::limits::PLATFORM_TOKEN_LIFETIME;

/// The issuer claim of tokens this host mints.
pub const ISSUER: &str = "webhook-provider-host";

/// The claims of a platform token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer.
    pub iss: String,
    /// The run-as user.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds: [`PLATFORM_TOKEN_LIFETIME`] after `iat`.
    pub exp: i64,
    /// This token's id (128 random bits, hex), for a receiver that refuses a token twice.
    pub jti: String,
}

/// A token for `user`, valid from `now` for [`PLATFORM_TOKEN_LIFETIME`].
pub fn mint(keys: &PlatformKeys, user: &str, now: Instant) -> Result<String, String> {
    let mut id = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| "the platform token could not be minted: the random source failed")?;
    let claims = Claims {
        iss: ISSUER.into(),
        sub: user.into(),
        iat: now.seconds,
        exp: now.seconds + PLATFORM_TOKEN_LIFETIME.as_secs() as i64,
        jti: id.iter().map(|b| format!("{b:02x}")).collect(),
    };
    keys.sign(&claims)
}

/// What a render carries in place of the token: [`PLATFORM_TOKEN_PLACEHOLDER`] padded
/// with `-` to `len` bytes (the length of a token minted for the same user and key), so a
/// batch the component sized against `max-body-bytes` keeps its size when the token goes
/// in.
pub fn placeholder(len: usize) -> String {
    let mut p = PLATFORM_TOKEN_PLACEHOLDER.to_string();
    while p.len() < len {
        p.push('-');
    }
    p
}

/// `body` with every placeholder the component wrote as the platform token's value
/// (`"PlatformToken":"<placeholder>"`) replaced by `token`; `None` when it holds none.
/// The pattern's unescaped quotes cannot occur inside a JSON string, so a record's text
/// that happens to contain the placeholder is left alone.
pub fn fill(body: &[u8], token: &str) -> Option<Vec<u8>> {
    let key = format!(
        "\"{}\":\"{PLATFORM_TOKEN_PLACEHOLDER}",
        crate::delivery::placeholders::PLATFORM_TOKEN_KEY
    );
    let start_of_value = key.len() - PLATFORM_TOKEN_PLACEHOLDER.len();
    let mut out = Vec::with_capacity(body.len() + token.len());
    let mut rest = body;
    let mut found = false;
    while let Some(i) = find(rest, key.as_bytes()) {
        let value = i + start_of_value;
        let Some(len) = rest[value..].iter().position(|&b| b == b'"') else {
            break;
        };
        out.extend_from_slice(&rest[..value]);
        out.extend_from_slice(token.as_bytes());
        rest = &rest[value + len..];
        found = true;
    }
    out.extend_from_slice(rest);
    found.then_some(out)
}

/// Whether `body` holds a platform-token placeholder.
pub fn holds_placeholder(body: &[u8]) -> bool {
    find(body, PLATFORM_TOKEN_PLACEHOLDER.as_bytes()).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

    fn at(s: i64) -> Instant {
        Instant {
            seconds: s,
            nanoseconds: 0,
        }
    }

    fn decoding_key(keys: &PlatformKeys) -> DecodingKey {
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(keys.jwks(1_700_000_000)).unwrap();
        DecodingKey::from_jwk(&jwks.keys[0]).unwrap()
    }

    #[test]
    fn a_token_names_the_user_and_key_and_expires_after_its_lifetime() {
        let keys = PlatformKeys::generate(1_700_000_000).unwrap();
        let t = mint(&keys, "svc-crm-sync", at(1_700_000_000)).unwrap();
        let header = decode_header(&t).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(keys.kid()));
        let mut v = Validation::new(Algorithm::EdDSA);
        v.validate_exp = false;
        let c = decode::<Claims>(&t, &decoding_key(&keys), &v)
            .unwrap()
            .claims;
        assert_eq!(c.sub, "svc-crm-sync");
        assert_eq!(c.iss, ISSUER);
        assert_eq!(c.exp - c.iat, PLATFORM_TOKEN_LIFETIME.as_secs() as i64);
        assert_eq!(c.jti.len(), 32);
        // Another key refuses it.
        let other = PlatformKeys::generate(1_700_000_000).unwrap();
        assert!(decode::<Claims>(&t, &decoding_key(&other), &v).is_err());
        // Two tokens for the same user and instant differ (their ids), and have one length.
        let u = mint(&keys, "svc-crm-sync", at(1_700_000_000)).unwrap();
        assert_ne!(t, u);
        assert_eq!(t.len(), u.len());
    }

    #[test]
    fn the_placeholder_is_filled_where_the_component_wrote_it_and_nowhere_else() {
        let p = placeholder(64);
        assert_eq!(p.len(), 64);
        assert!(p.starts_with(PLATFORM_TOKEN_PLACEHOLDER));
        let body = format!(
            r#"{{"Note":"\"PlatformToken\":\"{p}\"","PlatformToken":"{p}","Records":[{{"Code":"C-1"}}]}}"#
        );
        assert!(holds_placeholder(body.as_bytes()));
        let filled = String::from_utf8(fill(body.as_bytes(), "eyJ.a.b").unwrap()).unwrap();
        assert_eq!(
            filled,
            format!(
                r#"{{"Note":"\"PlatformToken\":\"{p}\"","PlatformToken":"eyJ.a.b","Records":[{{"Code":"C-1"}}]}}"#
            )
        );
        assert_eq!(fill(br#"{"Records":[]}"#, "eyJ.a.b"), None);
    }
}
