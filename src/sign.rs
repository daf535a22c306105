//! Standard Webhooks signing (specification 1.0.0): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, with several
//! secrets at once during a rotation.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The shortest secret key accepted, in bytes: the specification asks for 24 to 64 random
/// bytes; fewer than 24 would make the HMAC key guessable.
pub const MIN_SECRET_BYTES: usize = 24;

/// The longest secret key accepted, in bytes: SHA-256's block is 64 bytes, a longer key is
/// hashed down and adds nothing.
pub const MAX_SECRET_BYTES: usize = 64;

/// A decoded signing secret. Never printed: `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// Why a text is not a usable secret. Describes the form only, never the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretError {
    /// No `whsec_` prefix.
    NoPrefix,
    /// The rest is not standard base64.
    NotBase64,
    /// Decoded length outside [`MIN_SECRET_BYTES`]..=[`MAX_SECRET_BYTES`].
    Length(usize),
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::NoPrefix => write!(
                f,
                "a signing secret must start with {SECRET_PREFIX} followed by base64 (as Standard Webhooks secrets do)"
            ),
            SecretError::NotBase64 => write!(
                f,
                "the part after {SECRET_PREFIX} is not valid standard base64"
            ),
            SecretError::Length(n) => write!(
                f,
                "the secret decodes to {n} bytes; it must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes"
            ),
        }
    }
}

impl Secret {
    /// Parse `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::NoPrefix)?;
        let key = base64_decode(b64).ok_or(SecretError::NotBase64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Secret(key))
    }

    /// `v1,<base64 signature>` of `id.timestamp.body`.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", base64_encode(&mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header value: one `v1,...` per secret, space separated, so a
/// receiver holding either the old or the new secret verifies during a rotation.
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut out = String::new();
    for s in secrets {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&s.signature(id, timestamp, body));
    }
    out
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padding optional; `None` on any other character.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // A single leftover character (6 bits) cannot come from any byte sequence.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for n in 0..70u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)), Some(bytes));
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("Zm8"), Some(b"fo".to_vec()));
        assert_eq!(base64_decode("Z"), None);
        assert_eq!(base64_decode("Zm8*"), None);
    }

    #[test]
    fn secret_length_limit_obeyed_and_violated() {
        for (n, ok) in [
            (MIN_SECRET_BYTES - 1, false),
            (MIN_SECRET_BYTES, true),
            (MAX_SECRET_BYTES, true),
            (MAX_SECRET_BYTES + 1, false),
        ] {
            let text = format!("{SECRET_PREFIX}{}", base64_encode(&vec![7u8; n]));
            assert_eq!(Secret::parse(&text).is_ok(), ok, "{n} bytes");
        }
        assert_eq!(Secret::parse("MfKQ9r8G"), Err(SecretError::NoPrefix));
        assert_eq!(Secret::parse("whsec_!!!!"), Err(SecretError::NotBase64));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<24 bytes redacted>)");
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let a = Secret::parse(&format!("{SECRET_PREFIX}{}", base64_encode(&[1u8; 32]))).unwrap();
        let b = Secret::parse(&format!("{SECRET_PREFIX}{}", base64_encode(&[2u8; 32]))).unwrap();
        let h = signature_header(&[a.clone(), b.clone()], "msg_1", 1, b"{}");
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(
            parts,
            vec![
                a.signature("msg_1", 1, b"{}"),
                b.signature("msg_1", 1, b"{}")
            ]
        );
        assert_ne!(parts[0], parts[1]);
    }
}

#[cfg(test)]
mod conformance {
    use super::*;

    /// The Standard Webhooks shared test vector, from the repo's copy of the conformance file.
    #[test]
    fn standard_webhooks_vector_reproduces() {
        let case: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/data/conformance/standard-webhooks.json"
        ))
        .unwrap();
        let secret = Secret::parse(case["secret"].as_str().unwrap()).unwrap();
        let got = secret.signature(
            case["webhook-id"].as_str().unwrap(),
            case["webhook-timestamp"].as_i64().unwrap(),
            case["body"].as_str().unwrap().as_bytes(),
        );
        assert_eq!(got, case["webhook-signature"].as_str().unwrap());
    }
}
