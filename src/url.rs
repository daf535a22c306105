//! URL text: percent-encoding (RFC 3986), for the query strings of webhook requests and
//! the form bodies of OAuth token requests. Below both `render` and `oauth`, which share it.

/// Percent-encode everything but RFC 3986's unreserved characters.
pub fn percent_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = std::fmt::Write::write_fmt(out, format_args!("%{b:02X}"));
        }
    }
}
