//! The platform token's signing keys: one Ed25519 key that signs (EdDSA), and the public
//! keys of those it replaced, published for [`PLATFORM_KEY_RETENTION`] after they stopped
//! signing so that tokens signed before a rotation still verify. Every key is named by its
//! RFC 7638 thumbprint (`kid`), which each token carries in its header.
//!
//! The keys live in one JSON file, owner-only (0600), made on first start: `serve
//! --platform-key FILE` (default `platform-key.json` beside the outbox);
//! `--rotate-platform-key` rotates it at start. The public parts are the JWKS that `serve`
//! answers at `GET /.well-known/jwks.json` ([`PlatformKeys::jwks`]). The private key never
//! leaves the file and this value: `Debug` shows only the `kid`.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::delivery::key_file;

pub use crate::limits::PLATFORM_KEY_RETENTION;

/// The `format` of a key file this host reads and writes.
pub const FORMAT: &str = "webhook-provider platform keys 1";

/// The key file: the key that signs, and the public keys it replaced.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct KeyFile {
    format: String,
    /// The private key that signs: PKCS#8 (as ring makes it), base64url.
    signing: String,
    /// When it was made, Unix seconds.
    created: i64,
    /// Keys that signed before, public only, newest first.
    #[serde(default)]
    retired: Vec<Retired>,
}

/// A public key that no longer signs, and since when (Unix seconds).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Retired {
    jwk: Jwk,
    retired: i64,
}

/// The signing key and the published public keys.
pub struct PlatformKeys {
    signing: EncodingKey,
    pkcs8: Vec<u8>,
    created: i64,
    public: Jwk,
    kid: String,
    retired: Vec<Retired>,
}

impl std::fmt::Debug for PlatformKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKeys")
            .field("kid", &self.kid)
            .field("retired", &self.retired.len())
            .finish_non_exhaustive()
    }
}

impl PlatformKeys {
    /// A new key, made at `now` (Unix seconds), held in memory only: for a host that
    /// publishes no JWKS (the demo, tests). `serve` and `send` use [`Self::load_or_create`].
    pub fn generate(now: i64) -> Result<PlatformKeys, String> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| "cannot make a platform key: the random source failed".to_string())?;
        PlatformKeys::from_parts(pkcs8.as_ref().to_vec(), now, Vec::new())
            .map_err(|e| format!("cannot make a platform key: {e}"))
    }

    /// The keys in `path`, made there (owner-only) when the file is missing.
    pub fn load_or_create(path: &Path, now: i64) -> Result<PlatformKeys, String> {
        let at = |what: &str, e: &dyn std::fmt::Display| {
            format!("platform key {}: {what}: {e}", path.display())
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                key_file::check_private(path, "platform key")?;
                PlatformKeys::parse(&bytes).map_err(|e| at("not a platform key file", &e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = PlatformKeys::generate(now)?;
                key_file::write_new(path, &keys.file_bytes())
                    .map_err(|e| at("cannot create it", &e))?;
                Ok(keys)
            }
            Err(e) => Err(at("cannot read it", &e)),
        }
    }

    /// Rotate the keys in `path` at `now`: a new key signs from now on, the one it replaces
    /// stays published (public part only) for [`PLATFORM_KEY_RETENTION`], and keys retired
    /// longer ago than that leave the file. The file is replaced whole.
    pub fn rotate(path: &Path, now: i64) -> Result<PlatformKeys, String> {
        let old = PlatformKeys::load_or_create(path, now)?;
        let new = PlatformKeys::generate(now)?;
        let mut retired = vec![Retired {
            jwk: old.public.clone(),
            retired: now,
        }];
        retired.extend(old.retired.into_iter().filter(|r| alive(r, now)));
        let keys = PlatformKeys { retired, ..new };
        key_file::replace(path, &keys.file_bytes())
            .map_err(|e| format!("platform key {}: cannot rotate it: {e}", path.display()))?;
        Ok(keys)
    }

    fn parse(bytes: &[u8]) -> Result<PlatformKeys, String> {
        let file: KeyFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if file.format != FORMAT {
            return Err(format!(
                "its format is {:?}; this host reads {FORMAT:?}",
                file.format
            ));
        }
        let pkcs8 = URL_SAFE_NO_PAD
            .decode(&file.signing)
            .map_err(|_| "`signing` is not base64url".to_string())?;
        PlatformKeys::from_parts(pkcs8, file.created, file.retired)
    }

    fn from_parts(
        pkcs8: Vec<u8>,
        created: i64,
        retired: Vec<Retired>,
    ) -> Result<PlatformKeys, String> {
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| "`signing` is not an Ed25519 PKCS#8 key".to_string())?;
        let mut public = Jwk::from_decoding_key(
            &DecodingKey::from_ed_der(pair.public_key().as_ref()),
            Some(Algorithm::EdDSA),
        )
        .map_err(|e| format!("its public key has no JWK: {e}"))?;
        let kid = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| format!("its public key has no thumbprint: {e}"))?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        let keys = PlatformKeys {
            signing: EncodingKey::from_ed_der(&pkcs8),
            pkcs8,
            created,
            public,
            kid,
            retired,
        };
        // Fail at start, not at the first attempt.
        keys.sign(&serde_json::json!({}))?;
        Ok(keys)
    }

    fn file_bytes(&self) -> Vec<u8> {
        let file = KeyFile {
            format: FORMAT.into(),
            signing: URL_SAFE_NO_PAD.encode(&self.pkcs8),
            created: self.created,
            retired: self.retired.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).expect("a key file serialises");
        bytes.push(b'\n');
        bytes
    }

    /// The signing key's id: its RFC 7638 thumbprint (SHA-256, base64url).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The ids of the retired keys still published at `now`, newest first.
    pub fn retired_kids(&self, now: i64) -> Vec<String> {
        self.retired
            .iter()
            .filter(|r| alive(r, now))
            .filter_map(|r| r.jwk.common.key_id.clone())
            .collect()
    }

    /// The JWKS at `now` (Unix seconds): the signing key's public part first, then each
    /// retired key retired less than [`PLATFORM_KEY_RETENTION`] ago.
    pub fn jwks(&self, now: i64) -> Json {
        let mut keys = vec![self.public.clone()];
        keys.extend(
            self.retired
                .iter()
                .filter(|r| alive(r, now))
                .map(|r| r.jwk.clone()),
        );
        serde_json::to_value(JwkSet { keys }).expect("a JWK set serialises")
    }

    /// `claims` as a JWT signed with the signing key: EdDSA, `typ` JWT, `kid` in the
    /// header.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing)
            .map_err(|e| format!("the platform token could not be signed: {e}"))
    }
}

/// Whether a retired key is still published at `now`.
fn alive(r: &Retired, now: i64) -> bool {
    now < r
        .retired
        .saturating_add(PLATFORM_KEY_RETENTION.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    const T0: i64 = 1_764_640_000;

    fn kids(jwks: &Json) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_key_is_made_once_kept_owner_only_and_published_without_its_private_part() {
        let dir = Scratch::new("platform-key", "made-once");
        let path = dir.join("platform-key.json");
        let a = PlatformKeys::load_or_create(&path, T0).unwrap();
        let b = PlatformKeys::load_or_create(&path, T0 + 60).unwrap();
        assert_eq!(a.kid(), b.kid(), "the second start reads the same key");
        assert_eq!(a.kid().len(), 43, "a base64url SHA-256 thumbprint");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let jwks = a.jwks(T0);
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], a.kid());
        assert!(key.get("d").is_none(), "{jwks}");
        let file: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let private = file["signing"].as_str().unwrap();
        assert!(!jwks.to_string().contains(private));
        assert!(!format!("{a:?}").contains(private), "{a:?}");
    }

    #[test]
    fn a_rotated_out_key_is_published_for_the_retention_and_not_after() {
        let dir = Scratch::new("platform-key", "rotation");
        let path = dir.join("k.json");
        let first = PlatformKeys::load_or_create(&path, T0).unwrap();
        let rotated = PlatformKeys::rotate(&path, T0 + 100).unwrap();
        assert_ne!(rotated.kid(), first.kid());
        let keep = PLATFORM_KEY_RETENTION.as_secs() as i64;
        // Obeyed: until the retention ends, both keys are published, the new one first.
        let both = rotated.jwks(T0 + 100 + keep - 1);
        assert_eq!(
            kids(&both),
            [rotated.kid().to_string(), first.kid().to_string()]
        );
        assert_eq!(rotated.retired_kids(T0 + 100), [first.kid().to_string()]);
        // Violated: at the retention's end the old key is no longer published.
        assert_eq!(
            kids(&rotated.jwks(T0 + 100 + keep)),
            [rotated.kid().to_string()]
        );
        // The file keeps the rotation: a restart publishes the same.
        let again = PlatformKeys::load_or_create(&path, T0 + 200).unwrap();
        assert_eq!(again.kid(), rotated.kid());
        assert_eq!(kids(&again.jwks(T0 + 200)), kids(&both));
        // A later rotation drops keys retired longer ago than the retention.
        let third = PlatformKeys::rotate(&path, T0 + 100 + keep).unwrap();
        assert_eq!(
            third.retired_kids(T0 + 100 + keep),
            [rotated.kid().to_string()]
        );
        let file = std::fs::read_to_string(&path).unwrap();
        assert!(!file.contains(first.kid()), "{file}");
    }

    #[test]
    fn a_file_that_is_not_a_key_file_is_refused_with_what_is_wrong() {
        let dir = Scratch::new("platform-key", "refused");
        let path = dir.join("k.json");
        key_file::write_new(
            &path,
            b"{\"format\": \"something else\", \"signing\": \"\", \"created\": 0}",
        )
        .unwrap();
        let e = PlatformKeys::load_or_create(&path, T0).unwrap_err();
        assert!(e.contains("k.json") && e.contains("this host reads"), "{e}");
        key_file::replace(
            &path,
            format!("{{\"format\": \"{FORMAT}\", \"signing\": \"AAAA\", \"created\": 0}}")
                .as_bytes(),
        )
        .unwrap();
        let e = PlatformKeys::load_or_create(&path, T0).unwrap_err();
        assert!(e.contains("not an Ed25519 PKCS#8 key"), "{e}");
    }
}
