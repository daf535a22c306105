//! Bearer-token authentication of the API (RFC 6750): the tokens come from a file
//! (`--api-tokens FILE`, one a line) and the environment ([`TOKEN_ENV`]); a request
//! carries one as `Authorization: Bearer <token>`. With no token the API is open, as it
//! always was, and `serve` listens on loopback only.
//!
//! A presented token is compared with each accepted one in constant time, over their
//! SHA-256 digests (so neither a token's bytes nor its length leak through timing).
//! Only the digests are kept; no token is ever printed, logged or answered.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::limits::MIN_API_TOKEN_LEN;

/// The environment variable holding an API token (one; the file holds more).
pub const TOKEN_ENV: &str = "WEBHOOK_API_TOKEN";

/// The routes anyone may call, token or not: a load balancer's or an orchestrator's
/// probe has no token, and the platform token's public keys are public by nature.
/// `/metrics` is not among them: its labels name the customers' endpoints.
pub const PUBLIC_ROUTES: [&str; 2] = ["/health", "/.well-known/jwks.json"];

/// The API tokens `serve` accepts, as digests.
#[derive(Clone, Default)]
pub struct ApiTokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiTokens({} token(s))", self.digests.len())
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl ApiTokens {
    /// The tokens of the file `path` (if given) and the value of the environment variable
    /// [`TOKEN_ENV`] (if set and not empty).
    pub fn load(file: Option<&Path>, env: Option<&str>) -> Result<ApiTokens, String> {
        let mut tokens = ApiTokens::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "--api-tokens {}: cannot read the token file: {e}; give a readable file with one token a line",
                    path.display()
                )
            })?;
            tokens.add_lines(&text, &format!("--api-tokens {}", path.display()))?;
            if tokens.is_empty() {
                return Err(format!(
                    "--api-tokens {}: the file holds no token; write one token a line",
                    path.display()
                ));
            }
        }
        if let Some(value) = env.filter(|v| !v.is_empty()) {
            tokens.add(value, TOKEN_ENV)?;
        }
        Ok(tokens)
    }

    /// Add one token a line of `text`; blank lines and lines starting with `#` are
    /// skipped, and spaces around a token are not part of it.
    pub fn add_lines(&mut self, text: &str, source: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.add(line, &format!("{source} line {}", i + 1))?;
        }
        Ok(())
    }

    /// Accept `token`, which must be at least [`MIN_API_TOKEN_LEN`] characters of visible
    /// ASCII (what an `Authorization` header carries as is). The error names `source`,
    /// never the token.
    pub fn add(&mut self, token: &str, source: &str) -> Result<(), String> {
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "{source}: an API token is visible ASCII only (letters, digits, punctuation); this one holds a space, a control or a non-ASCII character"
            ));
        }
        if token.len() < MIN_API_TOKEN_LEN {
            return Err(format!(
                "{source}: an API token must be at least {MIN_API_TOKEN_LEN} characters long; this one is shorter (make one with `openssl rand -hex 32`)"
            ));
        }
        self.digests.push(digest(token.as_bytes()));
        Ok(())
    }

    /// No token is set: the API is open (and on loopback only).
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// How many tokens are accepted.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether `presented` is one of the tokens: every one is compared, in constant time.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let p = digest(presented);
        let mut found = subtle::Choice::from(0);
        for d in &self.digests {
            found |= d.ct_eq(&p);
        }
        found.into()
    }
}

/// The token an `Authorization` header value carries, if it is a bearer one (the scheme
/// is case-insensitive).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether `path` is one of the [`PUBLIC_ROUTES`].
pub fn is_public(path: &str) -> bool {
    PUBLIC_ROUTES.contains(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef-good";

    #[test]
    fn a_token_of_the_minimum_length_is_accepted_and_a_shorter_one_refused() {
        let at = "x".repeat(MIN_API_TOKEN_LEN);
        let mut t = ApiTokens::default();
        t.add(&at, "test").unwrap();
        assert!(t.accepts(at.as_bytes()));
        let short = "y".repeat(MIN_API_TOKEN_LEN - 1);
        let e = t.add(&short, "test").unwrap_err();
        assert!(e.contains(&format!("at least {MIN_API_TOKEN_LEN}")), "{e}");
        assert!(!e.contains(&short), "the error shows the token: {e}");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn only_the_tokens_given_are_accepted() {
        let mut t = ApiTokens::default();
        t.add_lines(
            &format!("# ops\n\n  {GOOD}  \nsecond-token-0123456789\n"),
            "f",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.accepts(GOOD.as_bytes()));
        assert!(t.accepts(b"second-token-0123456789"));
        assert!(!t.accepts(b"0123456789abcdef-goo"));
        assert!(!t.accepts(b""));
        assert!(!ApiTokens::default().accepts(b""));
    }

    #[test]
    fn a_token_with_a_space_is_refused_by_line_without_showing_it() {
        let mut t = ApiTokens::default();
        let e = t
            .add_lines(
                "fine-token-0123456789\nbad token 0123456789\n",
                "--api-tokens f",
            )
            .unwrap_err();
        assert!(e.starts_with("--api-tokens f line 2:"), "{e}");
        assert!(!e.contains("bad token"), "{e}");
    }

    #[test]
    fn no_token_is_in_the_debug_form() {
        let mut t = ApiTokens::default();
        t.add(GOOD, "test").unwrap();
        let d = format!("{t:?}");
        assert_eq!(d, "ApiTokens(1 token(s))");
    }

    #[test]
    fn bearer_reads_the_scheme_case_insensitively() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
