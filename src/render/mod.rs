//! Rendering: record changes, on-demand runs and schedule fires become the exact HTTP
//! requests the customer's webhook receives.
//!
//! Bodies are written straight into byte buffers (no JSON tree is built): each record is
//! rendered once into a shared buffer, batches are cut by record count and by body size,
//! and each request's envelope (Request Body fields, platform token, `Records`) is written
//! around its records. Request-level values (headers, query string, Request Body) are
//! evaluated once per request, so `NEWGUID` differs per request and `NOW` is the call's.
//!
//! Body shape, keys in configured order, dotted keys nested:
//! `{"<body key>": v, ..., "PlatformToken": "<token>", "Records": [{"<record key>": v, ...}]}`.

use std::io::Write as _;

use sha2::{Digest, Sha256};

use crate::expr::{EvalError, Expr, Scope, ValueRef};
use crate::limits::{DEFAULT_MAX_BODY_BYTES, MAX_RECORDS_PER_CALL};
use crate::model::{
    Attribute, ChangeKind, Header, HttpMethod, HttpRequest, Member, OverLimit, Problem,
    RecordChange, RenderContext, RenderError, RunMode, Value,
};
use crate::plan::{Compiled, CompiledField, Plan};
use crate::validate::RECORDS_KEY;

/// The body key under which the platform token travels when include-platform-token is on.
pub const PLATFORM_TOKEN_KEY: &str = "PlatformToken";

/// The `User-Agent` of every request: receivers can tell the sender and its version.
pub const USER_AGENT: &str = concat!("webhook-provider/", env!("CARGO_PKG_VERSION"));

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
    fn write_entries(
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

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An evaluation failure as a located render error naming the member, if any.
fn eval_error(err: EvalError, path: &str, code: &str) -> RenderError {
    let message = if code.is_empty() {
        err.message
    } else {
        format!("for member {code:?}: {}", err.message)
    };
    RenderError::Evaluation(Problem::error(path, message).at(err.span))
}

/// Write `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
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

/// A value as header or query text: `None` for NULL (the header or parameter is left
/// out), booleans as `true`/`false`.
fn value_text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(t) => Some(t),
        Value::Boolean(b) => Some(if b { "true" } else { "false" }.into()),
        other => Some(other.to_string()),
    }
}

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

/// One record to send: its code, its state and (for updates) its prior state.
struct Item<'a> {
    code: &'a str,
    id: &'a str,
    record: &'a [Attribute],
    prior: Option<&'a [Attribute]>,
}

/// A stable 128-bit id, hex, from the parts: the same parts give the same id on every
/// render, so a re-rendered request keeps its delivery id.
fn stable_id(prefix: &str, parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let mut id = String::with_capacity(prefix.len() + 32);
    id.push_str(prefix);
    for b in &digest[..16] {
        let _ = std::fmt::Write::write_fmt(&mut id, format_args!("{b:02x}"));
    }
    id
}

/// A seed for `NEWGUID` from a delivery id.
fn seed_of(ctx_seed: u64, id: &str) -> u64 {
    id.bytes().fold(ctx_seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Plan {
    fn max_body(&self) -> usize {
        self.configuration()
            .max_body_bytes
            .unwrap_or(DEFAULT_MAX_BODY_BYTES) as usize
    }

    fn check_count(&self, n: usize) -> Result<(), RenderError> {
        if n > MAX_RECORDS_PER_CALL {
            return Err(RenderError::LimitExceeded(OverLimit {
                what: "records in one call".into(),
                limit: MAX_RECORDS_PER_CALL as u64,
                actual: n as u64,
            }));
        }
        Ok(())
    }

    /// Record changes to requests; see the WIT `on-changes`.
    pub fn on_changes(
        &self,
        changes: &[RecordChange],
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        self.check_count(changes.len())?;
        let run_as = &self.strategy().run_options.run_as_user;
        let entity = &self.strategy().entity;
        let mut items = Vec::with_capacity(changes.len());
        for (i, ch) in changes.iter().enumerate() {
            if ch.changed_by.eq_ignore_ascii_case(run_as) || !ch.entity.eq_ignore_ascii_case(entity)
            {
                continue; // loop prevention; other entities' changes are not for this strategy
            }
            let (trigger, state, prior) = match ch.kind {
                ChangeKind::Added => (&self.added, ch.new_state.as_ref(), None),
                ChangeKind::Updated => (
                    &self.updated,
                    ch.new_state.as_ref(),
                    ch.prior_state.as_ref(),
                ),
                ChangeKind::Deleted => (&self.deleted, ch.prior_state.as_ref(), None),
            };
            let Some(filter) = trigger else { continue };
            let missing = |what: &str| {
                RenderError::InvalidInput(Problem::error(
                    format!("changes[{i}].{what}"),
                    format!(
                        "the change {:?} of member {:?} has no {what}; a {} change needs it",
                        ch.event_id,
                        ch.code,
                        match ch.kind {
                            ChangeKind::Added => "added",
                            ChangeKind::Updated => "updated",
                            ChangeKind::Deleted => "deleted",
                        }
                    ),
                ))
            };
            let record = match state {
                Some(m) => m.attributes.as_slice(),
                None if ch.kind == ChangeKind::Deleted => return Err(missing("prior-state")),
                None => return Err(missing("new-state")),
            };
            let prior = match (ch.kind, prior) {
                (ChangeKind::Updated, None) => return Err(missing("prior-state")),
                (_, p) => p.map(|m| m.attributes.as_slice()),
            };
            if let Some(f) = filter {
                let scope = Scope::new(record, prior, ctx.now, ctx.id_seed);
                let kind = match ch.kind {
                    ChangeKind::Added => "added",
                    ChangeKind::Updated => "updated",
                    ChangeKind::Deleted => "deleted",
                };
                let pass = f.matches(&scope).map_err(|e| {
                    eval_error(e, &format!("strategy.run-options.{kind}.filter"), &ch.code)
                })?;
                if !pass {
                    continue;
                }
            }
            items.push(Item {
                code: &ch.code,
                id: &ch.event_id,
                record,
                prior,
            });
        }
        self.render(&items, "changes", ctx)
    }

    /// An on-demand run; see the WIT `on-demand`.
    pub fn on_demand(
        &self,
        mode: RunMode,
        members: &[Member],
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        let r = &self.strategy().run_options;
        match mode {
            RunMode::Synchronous if !r.sync_enabled => return Err(RenderError::SyncDisabled),
            RunMode::Synchronous if members.len() > r.sync_record_limit as usize => {
                return Err(RenderError::SyncLimitExceeded(OverLimit {
                    what: "members".into(),
                    limit: r.sync_record_limit as u64,
                    actual: members.len() as u64,
                }));
            }
            RunMode::Asynchronous if !r.async_enabled => return Err(RenderError::AsyncDisabled),
            _ => {}
        }
        self.check_count(members.len())?;
        let items: Vec<Item> = members.iter().map(member_item).collect();
        let run = match mode {
            RunMode::Synchronous => "on-demand-sync",
            RunMode::Asynchronous => "on-demand-async",
        };
        self.render(&items, run, ctx)
    }

    /// A scheduled run over one page of members; see the WIT `on-schedule`.
    pub fn on_schedule(
        &self,
        schedule: &str,
        members: &[Member],
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        let s = self.schedule(schedule)?;
        self.check_count(members.len())?;
        let index = self
            .schedules
            .iter()
            .position(|x| x.name == s.name)
            .unwrap_or(0);
        let mut items = Vec::with_capacity(members.len());
        for m in members {
            if let Some(f) = &s.filter {
                let scope = Scope::new(&m.attributes, None, ctx.now, ctx.id_seed);
                let pass = f.matches(&scope).map_err(|e| {
                    eval_error(e, &format!("strategy.schedules[{index}].filter"), &m.code)
                })?;
                if !pass {
                    continue;
                }
            }
            items.push(member_item(m));
        }
        self.render(&items, &format!("schedule:{}", s.name), ctx)
    }

    /// Batch and render the items: by batch size and by body size, in input order.
    fn render(
        &self,
        items: &[Item],
        run: &str,
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let oauth = self.configuration().oauth.token_url.is_some();
        if oauth && ctx.access_token.is_none() {
            return Err(RenderError::MissingAccessToken);
        }
        if self.configuration().include_platform_token && ctx.platform_token.is_none() {
            return Err(RenderError::MissingPlatformToken);
        }
        // Every record rendered once into one buffer; `ends[i]` is where record i ends.
        let mut records = Vec::with_capacity(items.len() * 64);
        let mut ends = Vec::with_capacity(items.len());
        for item in items {
            let scope = Scope::new(
                item.record,
                item.prior,
                ctx.now,
                seed_of(ctx.id_seed, item.id),
            );
            records.push(b'{');
            self.record_layout
                .write_entries(&mut records, &scope, item.code)?;
            records.push(b'}');
            ends.push(records.len());
        }
        // The envelope's size, measured with a first evaluation: request-level values
        // differ between requests only through NEWGUID, whose length is fixed.
        let probe = Scope::new(&[], None, ctx.now, ctx.id_seed);
        let envelope = self.envelope(&probe, ctx)?.len() + 2; // "[" and "]}"
        let max = self.max_body();
        let batch_size = self.strategy().run_options.batch_size.max(1) as usize;

        let mut out = Vec::new();
        let mut start = 0;
        while start < items.len() {
            let mut end = start;
            let mut size = envelope;
            while end < items.len() && end - start < batch_size {
                let len = ends[end] - if end == 0 { 0 } else { ends[end - 1] };
                let add = len + usize::from(end > start);
                if size + add > max {
                    if end == start {
                        return Err(RenderError::RecordTooLarge {
                            code: items[end].code.to_string(),
                            size: (envelope + len) as u64,
                            limit: max as u64,
                        });
                    }
                    break;
                }
                size += add;
                end += 1;
            }
            out.push(self.request(&items[start..end], &records, &ends, start, run, ctx)?);
            start = end;
        }
        Ok(out)
    }

    /// The body up to and including `"Records":` for one request.
    fn envelope(&self, scope: &Scope, ctx: &RenderContext) -> Result<Vec<u8>, RenderError> {
        let mut body = Vec::with_capacity(256);
        body.push(b'{');
        self.body_layout.write_entries(&mut body, scope, "")?;
        if let Some(token) = ctx
            .platform_token
            .as_deref()
            .filter(|_| self.configuration().include_platform_token)
        {
            if !self.body_layout.is_empty() {
                body.push(b',');
            }
            write_str(&mut body, PLATFORM_TOKEN_KEY);
            body.push(b':');
            write_str(&mut body, token);
        }
        if body.len() > 1 {
            body.push(b',');
        }
        write_str(&mut body, RECORDS_KEY);
        body.push(b':');
        Ok(body)
    }

    /// One request carrying `batch` (records `first..` of the shared buffer).
    fn request(
        &self,
        batch: &[Item],
        records: &[u8],
        ends: &[usize],
        first: usize,
        run: &str,
        ctx: &RenderContext,
    ) -> Result<HttpRequest, RenderError> {
        let ids: Vec<&[u8]> = std::iter::once(self.strategy().name.as_bytes())
            .chain(std::iter::once(run.as_bytes()))
            .chain(batch.iter().map(|i| i.id.as_bytes()))
            .collect();
        // Runs that are not driven by event ids (on-demand, schedules) mix in the
        // context's seed, so two runs over the same members stay distinct deliveries.
        let seed = ctx.id_seed.to_le_bytes();
        let mut parts = ids;
        if run != "changes" {
            parts.push(&seed);
        }
        let delivery_id = stable_id("msg_", &parts);
        let scope = Scope::new(&[], None, ctx.now, seed_of(ctx.id_seed, &delivery_id));

        let mut headers = vec![
            Header {
                name: "Content-Type".into(),
                value: "application/json".into(),
            },
            Header {
                name: "User-Agent".into(),
                value: USER_AGENT.into(),
            },
        ];
        if let Some(token) = ctx
            .access_token
            .as_deref()
            .filter(|_| self.configuration().oauth.token_url.is_some())
        {
            headers.push(Header {
                name: "Authorization".into(),
                value: format!("Bearer {token}"),
            });
        }
        for h in &self.headers {
            let value = match &h.value {
                Compiled::Text(t) => Some(t.clone()),
                Compiled::Expr(e) => {
                    let v = e.eval(&scope).map_err(|err| eval_error(err, &h.path, ""))?;
                    let text = value_text(v);
                    if let Some(t) = &text
                        && t.chars().any(|c| c == '\r' || c == '\n' || c == '\0')
                    {
                        return Err(RenderError::Evaluation(Problem::error(
                            &h.path,
                            "the header value contains a line break or NUL character, which HTTP does not allow",
                        )));
                    }
                    text
                }
            };
            if let Some(value) = value {
                headers.push(Header {
                    name: h.key.clone(),
                    value,
                });
            }
        }

        let mut url = self.configuration().webhook_url.clone();
        let mut first_param = true;
        for q in &self.query {
            let value = match &q.value {
                Compiled::Text(t) => Some(t.clone()),
                Compiled::Expr(e) => {
                    value_text(e.eval(&scope).map_err(|err| eval_error(err, &q.path, ""))?)
                }
            };
            let Some(value) = value else { continue };
            if first_param {
                if !url.contains('?') {
                    url.push('?');
                } else if !url.ends_with('?') && !url.ends_with('&') {
                    url.push('&');
                }
                first_param = false;
            } else {
                url.push('&');
            }
            percent_encode(&mut url, &q.key);
            url.push('=');
            percent_encode(&mut url, &value);
        }

        let mut body = self.envelope(&scope, ctx)?;
        let from = if first == 0 { 0 } else { ends[first - 1] };
        body.reserve(ends[first + batch.len() - 1] - from + 3);
        body.push(b'[');
        for k in 0..batch.len() {
            if k > 0 {
                body.push(b',');
            }
            let s = if first + k == 0 {
                0
            } else {
                ends[first + k - 1]
            };
            body.extend_from_slice(&records[s..ends[first + k]]);
        }
        body.extend_from_slice(b"]}");
        if body.len() > self.max_body() {
            return Err(RenderError::LimitExceeded(OverLimit {
                what: "body bytes".into(),
                limit: self.max_body() as u64,
                actual: body.len() as u64,
            }));
        }

        let mut request = HttpRequest {
            method: HttpMethod::Post,
            url,
            headers,
            body,
            member_codes: batch.iter().map(|i| i.code.to_string()).collect(),
            delivery_id,
        };
        self.sign_in_place(&mut request, ctx.now.seconds);
        Ok(request)
    }

    /// Set the Standard Webhooks headers for `timestamp` (replacing earlier ones); a
    /// configuration without secrets sends unsigned requests.
    pub(crate) fn sign_in_place(&self, request: &mut HttpRequest, timestamp: i64) {
        if self.secrets.is_empty() {
            return;
        }
        request.headers.retain(|h| {
            !["webhook-id", "webhook-timestamp", "webhook-signature"]
                .iter()
                .any(|n| h.name.eq_ignore_ascii_case(n))
        });
        let signature = crate::sign::signature_header(
            &self.secrets,
            &request.delivery_id,
            timestamp,
            &request.body,
        );
        for (name, value) in [
            ("webhook-id", request.delivery_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ] {
            request.headers.push(Header {
                name: name.into(),
                value,
            });
        }
    }
}

fn member_item(m: &Member) -> Item<'_> {
    Item {
        code: &m.code,
        id: &m.code,
        record: &m.attributes,
        prior: None,
    }
}

#[cfg(test)]
mod tests;
