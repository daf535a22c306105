//! The JSON of a request body, written straight into byte buffers (no JSON tree is
//! built): strings escaped eight bytes at a time, values keeping their types, and the
//! layouts of the Request Body and Records fields, built once when a plan is compiled.
//! Below the plan, which keeps the layouts, and rendering, which writes each body with them.

use std::io::Write as _;

use crate::expr::{EvalError, Expr, Scope, ValueRef};
use crate::field::{Compiled, CompiledField};
use crate::model::{Problem, RenderError};

/// A JSON object layout: each key pre-escaped (`"Name":`), in first-seen order, with its
/// value a field or a nested object. Built once at compile time.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    entries: Vec<(Vec<u8>, Slot)>,
}

#[derive(Clone, Debug)]
enum Slot {
    /// Pre-rendered JSON of a text value.
    Json(Vec<u8>),
    /// An expression, with the path it was configured at.
    Expr(Expr, String),
    /// A nested object (from dotted keys).
    Object(Layout),
}

impl Layout {
    /// The layout of `fields`; dotted keys nest (`Address.City`). Validation has already
    /// refused clashes such as `A` beside `A.B`.
    pub fn new(fields: &[CompiledField]) -> Layout {
        let mut root = Layout::default();
        for f in fields {
            let parts: Vec<&str> = f.key.split('.').collect();
            let slot = match &f.value {
                Compiled::Text(t) => {
                    let mut json = Vec::with_capacity(t.len() + 2);
                    write_str(&mut json, t);
                    Slot::Json(json)
                }
                Compiled::Expr(e) => Slot::Expr(e.clone(), f.path.clone()),
            };
            root.insert(&parts, slot);
        }
        root
    }

    fn insert(&mut self, parts: &[&str], slot: Slot) {
        let mut key = Vec::with_capacity(parts[0].len() + 3);
        write_str(&mut key, parts[0]);
        key.push(b':');
        if parts.len() == 1 {
            self.entries.push((key, slot));
            return;
        }
        let pos = match self.entries.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                self.entries.push((key, Slot::Object(Layout::default())));
                self.entries.len() - 1
            }
        };
        if let Slot::Object(inner) = &mut self.entries[pos].1 {
            inner.insert(&parts[1..], slot);
        }
    }

    /// Write the entries (without braces) evaluated over `scope`.
    pub(crate) fn write_entries(
        &self,
        out: &mut Vec<u8>,
        scope: &Scope,
        code: &str,
    ) -> Result<(), RenderError> {
        for (i, (key, slot)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            match slot {
                Slot::Json(j) => out.extend_from_slice(j),
                Slot::Expr(e, path) => e
                    .eval_with(scope, |v| write_value_ref(out, v))
                    .map_err(|err| eval_error(err, path, code))?,
                Slot::Object(inner) => {
                    out.push(b'{');
                    inner.write_entries(out, scope, code)?;
                    out.push(b'}');
                }
            }
        }
        Ok(())
    }

    /// Whether the layout has no entries (the body has no Request Body fields).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An evaluation failure as a located render error naming the member, if any.
pub(crate) fn eval_error(err: EvalError, path: &str, code: &str) -> RenderError {
    let message = if code.is_empty() {
        err.message
    } else {
        format!("for member {code:?}: {}", err.message)
    };
    RenderError::Evaluation(Problem::error(path, message).at(err.span))
}

/// Whether any of the eight bytes of `w` needs escaping in a JSON string (a control
/// character, `"` or `\`): the zero-byte test of "Bit Twiddling Hacks", one word at a
/// time. Exact for the yes-or-no question, which is all it answers.
#[inline]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * n as u64) & !x & HIGH;
    let control = below(w, 0x20);
    let quote = below(w ^ (ONES * b'"' as u64), 1);
    let backslash = below(w ^ (ONES * b'\\' as u64), 1);
    (control | quote | backslash) != 0
}

/// Write `s` as a JSON string. Text without anything to escape (nearly all of it) is
/// scanned eight bytes at a time, its last few bytes as one word padded with spaces, and
/// copied in one piece.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        if needs_escape(u64::from_le_bytes(word.try_into().unwrap_or_default())) {
            return escape_from(out, bytes, i);
        }
        i += 8;
    }
    let mut tail = [b' '; 8];
    tail[..bytes.len() - i].copy_from_slice(&bytes[i..]);
    if needs_escape(u64::from_le_bytes(tail)) {
        return escape_from(out, bytes, i);
    }
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// The rest of [`write_str`] from byte `from`, where something may need escaping: byte by
/// byte, copying the runs between escapes whole.
#[cold]
fn escape_from(out: &mut Vec<u8>, bytes: &[u8], from: usize) {
    out.extend_from_slice(&bytes[..from]);
    let mut start = from;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Write a value as JSON, keeping its type: decimals as exact numbers, dates as
/// `YYYY-MM-DD`, datetimes as RFC 3339 UTC.
pub fn write_value_ref(out: &mut Vec<u8>, v: ValueRef) {
    match v {
        ValueRef::Null => out.extend_from_slice(b"null"),
        ValueRef::Text(t) => write_str(out, t),
        ValueRef::Decimal(d) => {
            let _ = write!(out, "{d}");
        }
        ValueRef::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        ValueRef::Date(d) => {
            let _ = write!(out, "\"{d}\"");
        }
        ValueRef::DateTime(i) => write_str(out, &i.to_rfc3339()),
    }
}
