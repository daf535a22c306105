//! Secrets at rest: the definitions `serve` stores in the outbox carry their secrets
//! sealed (ChaCha20-Poly1305, `ring`), under a key kept in a file of its own beside the
//! outbox, readable by its owner only. The outbox file alone gives away no client secret,
//! signing secret or secret-looking header or query value; the key file alone holds no
//! secret of any customer.
//!
//! The same walk over a definition's secret places also writes the form the API shows
//! ([`redacted`]): every secret replaced by [`REDACTED`].

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::aead::{CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value as Json;

use crate::delivery::log::looks_secret;
use crate::outbox::Kind;

/// What a sealed value starts with, so that a stored definition says which of its
/// strings are ciphertext (and a plain value can never be mistaken for one).
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// What the API shows in place of a secret: the log's mark.
pub use crate::delivery::log::REDACTED;

/// Bytes of key: ChaCha20-Poly1305 takes 256 bits.
const KEY_BYTES: usize = 32;

/// The sealing key.
pub struct SealKey {
    key: LessSafeKey,
    path: PathBuf,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SealKey {
    /// The key in `path`, made (32 random bytes, owner-only) when the file is missing.
    pub fn load_or_create(path: &Path) -> Result<SealKey, String> {
        let at = |what: &str, e: &dyn std::fmt::Display| {
            format!("secrets key {}: {what}: {e}", path.display())
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_BYTES];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| at("cannot make a key", &"the random source failed"))?;
                crate::delivery::key_file::write_new(path, &key)
                    .map_err(|e| at("cannot create it", &e))?;
                key.to_vec()
            }
            Err(e) => return Err(at("cannot read it", &e)),
        };
        if bytes.len() != KEY_BYTES {
            return Err(at(
                "not a key",
                &format!(
                    "it holds {} bytes, a key is {KEY_BYTES}; give the file this host made, or a new path",
                    bytes.len()
                ),
            ));
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| at("not a key", &"rejected by the cipher"))?;
        Ok(SealKey {
            key: LessSafeKey::new(key),
            path: path.to_path_buf(),
        })
    }

    /// `plain` sealed: the prefix, then base64 of a fresh nonce and the ciphertext.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the operating system's random source works");
        let mut data = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                &mut data,
            )
            .expect("sealing a short text cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// A value [`SealKey::seal`] made, opened; an error when it was sealed under another
    /// key or altered.
    pub fn open(&self, sealed: &str) -> Result<String, String> {
        let wrong = || {
            format!(
                "a sealed secret in the outbox does not open with the key in {}: it was sealed with another key (give --secrets-key the key this outbox was written with)",
                self.path.display()
            )
        };
        let b64 = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(wrong)?;
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| wrong())?;
        if bytes.len() < NONCE_LEN {
            return Err(wrong());
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| wrong())?;
        let plain = self
            .key
            .open_in_place(nonce, ring::aead::Aad::empty(), &mut data)
            .map_err(|_| wrong())?;
        String::from_utf8(plain.to_vec()).map_err(|_| wrong())
    }

    /// `definition` with every secret sealed, for the outbox.
    pub fn sealed(&self, kind: Kind, definition: &Json) -> Json {
        let mut out = definition.clone();
        each_secret(kind, &mut out, &mut |v| *v = self.seal(v));
        out
    }

    /// A stored definition with its secrets opened.
    pub fn opened(&self, kind: Kind, stored: &Json) -> Result<Json, String> {
        let mut out = stored.clone();
        let mut error = None;
        each_secret(kind, &mut out, &mut |v| match self.open(v) {
            Ok(plain) => *v = plain,
            Err(e) => error = Some(e),
        });
        match error {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

/// `definition` as the API shows it: every secret replaced by [`REDACTED`].
pub fn redacted(kind: Kind, definition: &Json) -> Json {
    let mut out = definition.clone();
    each_secret(kind, &mut out, &mut |v| *v = REDACTED.to_string());
    out
}

/// Visit every secret string of a definition in the file format: a configuration's OAuth
/// client secret and signing secrets, and the text values of headers and query
/// parameters (a strategy's headers too) whose names look secret
/// ([`looks_secret`]: `Authorization`, `api_key`, `token`, ...).
fn each_secret(kind: Kind, definition: &mut Json, f: &mut dyn FnMut(&mut String)) {
    let mut string = |v: Option<&mut Json>| {
        if let Some(Json::String(s)) = v {
            f(s);
        }
    };
    if kind == Kind::Configuration {
        string(definition.pointer_mut("/oauth/client-secret"));
        if let Some(Json::Array(secrets)) = definition.get_mut("signing-secrets") {
            for s in secrets {
                string(Some(s));
            }
        }
    }
    for list in ["headers", "query"] {
        if let Some(Json::Array(fields)) = definition.get_mut(list) {
            for field in fields {
                let secret = field
                    .get("key")
                    .and_then(Json::as_str)
                    .is_some_and(looks_secret);
                if secret {
                    string(field.get_mut("text"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use serde_json::json;

    fn config() -> Json {
        json!({
            "name": "c",
            "webhook-url": "https://h.example/",
            "oauth": {"client-id": "id", "client-secret": "the-client-secret"},
            "headers": [
                {"key": "Authorization", "text": "Bearer header-secret"},
                {"key": "X-Plain", "text": "plain"},
                {"key": "X-Api-Key", "expression": "TEXT(1)"}
            ],
            "query": [{"key": "api_key", "text": "query-secret"}, {"key": "tenant", "text": "t"}],
            "signing-secrets": ["whsec_one", "whsec_two"]
        })
    }

    const SECRETS: [&str; 5] = [
        "the-client-secret",
        "header-secret",
        "query-secret",
        "whsec_one",
        "whsec_two",
    ];

    #[test]
    fn sealed_definitions_hold_no_secret_and_open_again() {
        let d = Scratch::new("seal", "round_trip");
        let key = SealKey::load_or_create(&d.join("k")).unwrap();
        let sealed = key.sealed(Kind::Configuration, &config());
        let text = sealed.to_string();
        for s in SECRETS {
            assert!(!text.contains(s), "{s} in {text}");
        }
        // What is not secret stays readable.
        assert!(text.contains("plain") && text.contains("TEXT(1)") && text.contains("\"t\""));
        assert_eq!(key.opened(Kind::Configuration, &sealed).unwrap(), config());
        // The same key from its file opens it after a restart; another key does not.
        let again = SealKey::load_or_create(&d.join("k")).unwrap();
        assert_eq!(
            again.opened(Kind::Configuration, &sealed).unwrap(),
            config()
        );
        let other = SealKey::load_or_create(&d.join("other")).unwrap();
        let e = other.opened(Kind::Configuration, &sealed).unwrap_err();
        assert!(e.contains("another key"), "{e}");
        for s in SECRETS {
            assert!(!e.contains(s));
        }
    }

    #[test]
    fn the_api_form_shows_no_secret() {
        let shown = redacted(Kind::Configuration, &config()).to_string();
        for s in SECRETS {
            assert!(!shown.contains(s), "{s} in {shown}");
        }
        assert_eq!(shown.matches(REDACTED).count(), 5);
        // A strategy's secret-looking headers too.
        let strategy = json!({"headers": [{"key": "X-Token", "text": "strategy-secret"}]});
        assert!(
            !redacted(Kind::Strategy, &strategy)
                .to_string()
                .contains("strategy-secret")
        );
    }

    #[test]
    fn a_key_file_of_the_wrong_size_is_refused() {
        let d = Scratch::new("seal", "wrong_size");
        std::fs::write(d.join("k"), b"short").unwrap();
        let e = SealKey::load_or_create(&d.join("k")).unwrap_err();
        assert!(e.contains("holds 5 bytes, a key is 32"), "{e}");
        let made = d.join("new/k");
        SealKey::load_or_create(&made).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&made).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
