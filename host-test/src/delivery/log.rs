//! The delivery log: one JSON line per attempt, with nothing secret in it.
//!
//! URLs lose their userinfo and the values of query parameters whose names look secret;
//! headers are never logged; response bodies are cut to [`LOG_BODY_BYTES`]; and every line
//! passes through a [`Redactor`] that replaces any known secret (client secret, tokens,
//! signing secrets) that found its way in, for example echoed by a receiver.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Value as Json, json};

pub use crate::limits::LOG_BODY_BYTES;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Query parameter names (lowercase substrings) whose values are never logged.
const SECRET_KEYS: &[&str] = &[
    "token",
    "secret",
    "key",
    "password",
    "passwd",
    "pwd",
    "sig",
    "auth",
    "code",
    "credential",
    "session",
];

/// A URL fit for a log: no userinfo, and secret-looking query values replaced.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut out = String::new();
    if let Some(s) = scheme {
        out.push_str(s);
        out.push_str("://");
    }
    out.push_str(authority);
    out.push_str(path);
    if let Some(q) = query {
        let (q, fragment) = match q.split_once('#') {
            Some((q, _)) => (q, true),
            None => (q, false),
        };
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if looks_secret(k) => format!("{k}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
        if fragment {
            out.push_str("#…");
        }
    }
    out
}

/// Whether a query parameter's name looks like it carries a secret.
pub(crate) fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

/// Replaces known secret texts in log lines.
#[derive(Default)]
pub struct Redactor {
    secrets: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(<secrets redacted>)")
    }
}

use crate::limits::MIN_SECRET_LEN;

impl Redactor {
    /// Remember a secret to redact, in the forms it may take in a log line or a stored
    /// response: as it is, escaped inside a JSON string (the log lines are JSON, and
    /// receivers echo JSON), with `/` escaped as `\/`, and form-encoded.
    pub fn add(&self, secret: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped
            .strip_prefix('"')
            .and_then(|e| e.strip_suffix('"'))
            .unwrap_or(secret)
            .to_string();
        let forms = [
            secret.to_string(),
            escaped.replace('/', "\\/"),
            escaped,
            form_encode(secret),
        ];
        let mut s = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        for form in forms {
            if !s.contains(&form) {
                s.push(form);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        s.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }

    /// A response body for a log line or the outbox: every known secret replaced first,
    /// then cut to [`LOG_BODY_BYTES`], so that a cut never leaves half a secret behind.
    pub fn snippet(&self, body: &[u8]) -> String {
        body_snippet_of(&self.apply(&String::from_utf8_lossy(body)), body.len())
    }

    /// Register every secret of this redactor with `other` too.
    pub fn copy_into(&self, other: &Redactor) {
        let s = self
            .secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for secret in s {
            other.add(&secret);
        }
    }

    /// `text` with every known secret replaced.
    pub fn apply(&self, text: &str) -> String {
        let s = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = text.to_string();
        for secret in s.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

/// A response body for a log line: lossy UTF-8, cut to [`LOG_BODY_BYTES`] on a character
/// boundary, with a marker when cut.
/// Only for bodies that cannot hold a secret: anything from a receiver goes through
/// [`Redactor::snippet`].
pub fn body_snippet(body: &[u8]) -> String {
    body_snippet_of(&String::from_utf8_lossy(body), body.len())
}

/// `text` cut to [`LOG_BODY_BYTES`] on a character boundary, saying how long the whole
/// body (`len` bytes) was when cut.
fn body_snippet_of(text: &str, len: usize) -> String {
    if text.len() <= LOG_BODY_BYTES {
        return text.to_string();
    }
    let mut end = LOG_BODY_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({len} bytes)", &text[..end])
}

/// `s` as `application/x-www-form-urlencoded` writes it (a client secret in a token
/// request body): unreserved characters as they are, a space as `+`, the rest escaped.
pub fn form_encode(s: &str) -> String {
    encode(s, true)
}

/// Percent-encoding as the component writes query keys and values: RFC 3986's
/// unreserved characters as they are, every other byte `%XX`.
pub fn percent_encode(s: &str) -> String {
    encode(s, false)
}

/// RFC 3986's unreserved characters as they are, a space as `+` when `space_as_plus`,
/// every other byte `%XX`.
fn encode(s: &str, space_as_plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if space_as_plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where log lines go: a writer, memory, or both.
pub struct DeliveryLog {
    writer: Mutex<Option<Box<dyn Write + Send>>>,
    memory: Option<Mutex<Vec<String>>>,
    redactor: Redactor,
}

impl std::fmt::Debug for DeliveryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryLog")
    }
}

impl DeliveryLog {
    /// Lines go to `writer`.
    pub fn to_writer(writer: impl Write + Send + 'static) -> DeliveryLog {
        DeliveryLog {
            writer: Mutex::new(Some(Box::new(writer))),
            memory: None,
            redactor: Redactor::default(),
        }
    }

    /// Lines are kept in memory ([`DeliveryLog::lines`]).
    pub fn memory() -> DeliveryLog {
        DeliveryLog {
            writer: Mutex::new(None),
            memory: Some(Mutex::new(Vec::new())),
            redactor: Redactor::default(),
        }
    }

    /// Lines are dropped.
    pub fn discard() -> DeliveryLog {
        DeliveryLog {
            writer: Mutex::new(None),
            memory: None,
            redactor: Redactor::default(),
        }
    }

    /// The redactor every line passes through.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Write one entry as one line.
    pub fn write(&self, entry: &Json) {
        let line = self.redactor.apply(&entry.to_string());
        if let Some(w) = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            let _ = writeln!(w, "{line}");
            let _ = w.flush();
        }
        if let Some(m) = &self.memory {
            m.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    }

    /// The lines kept in memory.
    pub fn lines(&self) -> Vec<String> {
        self.memory.as_ref().map_or_else(Vec::new, |m| {
            m.lock().unwrap_or_else(|p| p.into_inner()).clone()
        })
    }
}

/// An empty entry object, for building a line.
pub fn entry() -> Json {
    json!({})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_and_secret_query_values() {
        assert_eq!(
            redact_url("https://user:pw@hooks.example/a/b?tenant=acme&api_key=XYZ&sig=1#frag"),
            "https://hooks.example/a/b?tenant=acme&api_key=[redacted]&sig=[redacted]#…"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/hook"
        );
        assert_eq!(
            redact_url("https://h.example?access_token=abc&x=1"),
            "https://h.example?access_token=[redacted]&x=1"
        );
    }

    #[test]
    fn redactor_replaces_known_secrets() {
        let r = Redactor::default();
        r.add("tok-123456789");
        r.add("abc"); // too short to search for
        assert_eq!(
            r.apply(r#"{"body":"Bearer tok-123456789 abc"}"#),
            r#"{"body":"Bearer [redacted] abc"}"#
        );
    }

    #[test]
    fn a_secret_is_redacted_before_the_cut_and_in_its_escaped_forms() {
        let r = Redactor::default();
        let token = "tok/en\"with-quote-0123456789";
        r.add(token);
        // A secret straddling the cut: nothing of it survives.
        let mut body = "x".repeat(LOG_BODY_BYTES - 8).into_bytes();
        body.extend_from_slice(format!("Bearer {token} tail").as_bytes());
        let s = r.snippet(&body);
        assert!(!s.contains("tok/en") && !s.contains("with-quote"), "{s}");
        // Echoed inside JSON (escaped), with `/` escaped too, and form-encoded.
        let json = serde_json::to_string(&serde_json::json!({ "echo": token })).unwrap();
        assert!(!r.apply(&json).contains("with-quote"), "{}", r.apply(&json));
        let slashed = json.replace('/', "\\/");
        assert!(
            !r.apply(&slashed).contains("with-quote"),
            "{}",
            r.apply(&slashed)
        );
        let form = format!("client_secret={}", form_encode(token));
        assert!(!r.apply(&form).contains("with-quote"), "{}", r.apply(&form));
    }

    #[test]
    fn body_snippet_obeys_and_cuts_at_the_limit() {
        let exact = vec![b'a'; LOG_BODY_BYTES];
        assert_eq!(body_snippet(&exact).len(), LOG_BODY_BYTES);
        let over = "é".repeat(LOG_BODY_BYTES); // 2 bytes each
        let s = body_snippet(over.as_bytes());
        assert!(s.ends_with(&format!("… ({} bytes)", over.len())));
        assert!(s.len() < LOG_BODY_BYTES + 32);
    }
}
