//! The platform token: a short-lived JWT (HS256 over a host key) naming the run-as user,
//! which the component places in the payload when `include-platform-token` is on, so the
//! receiver can call the platform back as that user.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::contract::bindings::Instant;

pub use crate::limits::PLATFORM_TOKEN_LIFETIME;

/// The issuer claim of tokens this host mints.
pub const ISSUER: &str = "webhook-provider-host";

/// The bytes of a freshly generated host key.
pub const KEY_BYTES: usize = 32;

/// Mints and checks platform tokens. The key is never printed.
#[derive(Clone)]
pub struct PlatformTokens {
    key: Vec<u8>,
    lifetime: Duration,
}

impl fmt::Debug for PlatformTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformTokens")
            .field("key", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// The claims of a platform token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The run-as user.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// The issuer.
    pub iss: String,
}

impl PlatformTokens {
    /// A minter with a random key from the operating system.
    pub fn generate() -> PlatformTokens {
        let mut key = vec![0u8; KEY_BYTES];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .expect("the operating system's random source works");
        PlatformTokens::with_key(key)
    }

    /// A minter with a given key (at least 32 bytes is advisable for HS256).
    pub fn with_key(key: Vec<u8>) -> PlatformTokens {
        PlatformTokens {
            key,
            lifetime: PLATFORM_TOKEN_LIFETIME,
        }
    }

    fn mac(&self, signing_input: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(signing_input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A token for `user`, valid from `now` for [`PLATFORM_TOKEN_LIFETIME`].
    pub fn mint(&self, user: &str, now: Instant) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "sub": user,
            "iat": now.seconds,
            "exp": now.seconds + self.lifetime.as_secs() as i64,
            "iss": ISSUER,
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let sig = URL_SAFE_NO_PAD.encode(self.mac(&input));
        format!("{input}.{sig}")
    }

    /// Check a token's signature and expiry at `now`; the error says what is wrong
    /// without echoing the token.
    pub fn verify(&self, token: &str, now: Instant) -> Result<Claims, String> {
        let mut parts = token.splitn(3, '.');
        let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("not a JWT (three dot-separated parts)".into());
        };
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "the signature is not base64url".to_string())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{h}.{p}").as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| "the signature does not match".to_string())?;
        let payload = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| "the payload is not base64url".to_string())?;
        let v: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|_| "the payload is not JSON".to_string())?;
        let claims = Claims {
            sub: v["sub"].as_str().unwrap_or_default().to_string(),
            iat: v["iat"].as_i64().unwrap_or_default(),
            exp: v["exp"].as_i64().unwrap_or_default(),
            iss: v["iss"].as_str().unwrap_or_default().to_string(),
        };
        if claims.exp <= now.seconds {
            return Err("the token has expired".into());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Instant {
        Instant {
            seconds: s,
            nanoseconds: 0,
        }
    }

    #[test]
    fn mint_and_verify() {
        let p = PlatformTokens::with_key(vec![7; 32]);
        let t = p.mint("svc-crm-sync", at(1_700_000_000));
        let c = p.verify(&t, at(1_700_000_001)).unwrap();
        assert_eq!(c.sub, "svc-crm-sync");
        assert_eq!(c.iss, ISSUER);
        assert_eq!(c.exp - c.iat, PLATFORM_TOKEN_LIFETIME.as_secs() as i64);
        // Expiry obeyed and violated.
        let limit = 1_700_000_000 + PLATFORM_TOKEN_LIFETIME.as_secs() as i64;
        assert!(p.verify(&t, at(limit - 1)).is_ok());
        assert_eq!(
            p.verify(&t, at(limit)).unwrap_err(),
            "the token has expired"
        );
        // Another key refuses it.
        let other = PlatformTokens::with_key(vec![8; 32]);
        assert!(other.verify(&t, at(1_700_000_001)).is_err());
        assert!(!format!("{p:?}").contains("7, 7"));
    }

    #[test]
    fn generated_keys_differ() {
        let a = PlatformTokens::generate().mint("u", at(0));
        let b = PlatformTokens::generate().mint("u", at(0));
        assert_ne!(a, b);
    }
}
