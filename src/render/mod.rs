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
//! The JSON itself is written by [`crate::body`], which also lays out the fields.

use sha2::{Digest, Sha256};

use crate::body::{eval_error, write_str};
use crate::expr::Scope;
use crate::field::Compiled;
use crate::limits::{DEFAULT_MAX_BODY_BYTES, MAX_RECORDS_PER_CALL};
use crate::model::{
    ChangeKind, Header, HttpMethod, HttpRequest, Member, OverLimit, Problem, RecordChange,
    RenderContext, RenderError, RunMode, Value,
};
use crate::page::{Bound, Change, Checked, Page, RowRef};
use crate::plan::Plan;
use crate::url::percent_encode;
use crate::validate::{PLATFORM_TOKEN_KEY, RECORDS_KEY};

/// The `User-Agent` of every request: receivers can tell the sender and its version.
pub const USER_AGENT: &str = concat!("webhook-provider/", env!("CARGO_PKG_VERSION"));

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

/// One record to send: its code, its delivery-id part, its row and (for updates) its
/// prior state's row.
struct Item<'a> {
    code: &'a str,
    id: &'a str,
    row: u32,
    prior: Option<u32>,
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

fn kind_name(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "added",
        ChangeKind::Updated => "updated",
        ChangeKind::Deleted => "deleted",
    }
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

    /// Resolve the plan's attribute references against `page`.
    fn bind(&self, page: &Checked) -> Bound {
        Bound::new(page, &self.slots)
    }

    /// Record changes to requests: the owned form of [`Plan::render_changes`], for native
    /// hosts and tests. It writes the page the WIT `on-changes` receives.
    pub fn on_changes(
        &self,
        changes: &[RecordChange],
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        self.check_count(changes.len())?;
        let (page, changes) = Page::of_changes(changes);
        self.render_changes(&checked(page)?, &changes, ctx)
    }

    /// Record changes over `page` to requests; see the WIT `on-changes`.
    pub fn render_changes(
        &self,
        page: &Checked,
        changes: &[Change],
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        self.check_count(changes.len())?;
        let bound = self.bind(page);
        let run_as = self.strategy().run_options.run_as_user.trim();
        let entity = &self.strategy().entity;
        let mut items = Vec::with_capacity(changes.len());
        for (i, ch) in changes.iter().enumerate() {
            let at = |what: &str| format!("changes[{i}].{what}");
            for (what, r) in [
                ("event-id", ch.event_id),
                ("entity", ch.entity),
                ("code", ch.code),
                ("changed-by", ch.changed_by),
            ] {
                page.check_text(r, &|| at(what))
                    .map_err(RenderError::InvalidInput)?;
            }
            for (what, row) in [("new-state", ch.new_state), ("prior-state", ch.prior_state)] {
                if let Some(row) = row {
                    page.check_row(row, &|| at(what))
                        .map_err(RenderError::InvalidInput)?;
                }
            }
            let (code, event_id) = (page.str(ch.code), page.str(ch.event_id));
            // User names compare as the platform compares them: surrounding spaces
            // trimmed, letter case ignored.
            if page.str(ch.changed_by).trim().eq_ignore_ascii_case(run_as)
                || !page.str(ch.entity).eq_ignore_ascii_case(entity)
            {
                continue; // loop prevention; other entities' changes are not for this strategy
            }
            let (trigger, state, prior) = match ch.kind {
                ChangeKind::Added => (&self.added, ch.new_state, None),
                ChangeKind::Updated => (&self.updated, ch.new_state, ch.prior_state),
                ChangeKind::Deleted => (&self.deleted, ch.prior_state, None),
            };
            let Some(filter) = trigger else { continue };
            let missing = |what: &str| {
                RenderError::InvalidInput(Problem::error(
                    at(what),
                    format!(
                        "the change {event_id:?} of member {code:?} has no {what}; a {} change needs it",
                        kind_name(ch.kind)
                    ),
                ))
            };
            let row = match state {
                Some(r) => r,
                None if ch.kind == ChangeKind::Deleted => return Err(missing("prior-state")),
                None => return Err(missing("new-state")),
            };
            if ch.kind == ChangeKind::Updated && prior.is_none() {
                return Err(missing("prior-state"));
            }
            if let Some(f) = filter {
                let scope = Scope::row(
                    RowRef::new(page, &bound, row),
                    prior.map(|p| RowRef::new(page, &bound, p)),
                    ctx.now,
                    ctx.id_seed,
                );
                let pass = f.matches(&scope).map_err(|e| {
                    eval_error(
                        e,
                        &format!("strategy.run-options.{}.filter", kind_name(ch.kind)),
                        code,
                    )
                })?;
                if !pass {
                    continue;
                }
            }
            items.push(Item {
                code,
                id: event_id,
                row,
                prior,
            });
        }
        self.render(page, &bound, &items, "changes", ctx)
    }

    /// An on-demand run: the owned form of [`Plan::render_demand`].
    pub fn on_demand(
        &self,
        mode: RunMode,
        members: &[Member],
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        self.check_count(members.len())?;
        self.render_demand(mode, &checked(Page::of_members(members))?, ctx)
    }

    /// An on-demand run over the members of `page`; see the WIT `on-demand`.
    pub fn render_demand(
        &self,
        mode: RunMode,
        page: &Checked,
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        let r = &self.strategy().run_options;
        let members = page.row_count();
        match mode {
            RunMode::Synchronous if !r.sync_enabled => return Err(RenderError::SyncDisabled),
            RunMode::Synchronous if members > r.sync_record_limit as usize => {
                return Err(RenderError::SyncLimitExceeded(OverLimit {
                    what: "members".into(),
                    limit: r.sync_record_limit as u64,
                    actual: members as u64,
                }));
            }
            RunMode::Asynchronous if !r.async_enabled => return Err(RenderError::AsyncDisabled),
            _ => {}
        }
        self.check_count(members)?;
        let bound = self.bind(page);
        let items: Vec<Item> = (0..members as u32).map(|i| member_item(page, i)).collect();
        let run = match mode {
            RunMode::Synchronous => "on-demand-sync",
            RunMode::Asynchronous => "on-demand-async",
        };
        self.render(page, &bound, &items, run, ctx)
    }

    /// A scheduled run: the owned form of [`Plan::render_schedule`].
    pub fn on_schedule(
        &self,
        schedule: &str,
        members: &[Member],
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        self.schedule(schedule)?;
        self.check_count(members.len())?;
        self.render_schedule(schedule, &checked(Page::of_members(members))?, ctx)
    }

    /// A scheduled run over one page of members; see the WIT `on-schedule`.
    pub fn render_schedule(
        &self,
        schedule: &str,
        page: &Checked,
        ctx: &RenderContext,
    ) -> Result<Vec<HttpRequest>, RenderError> {
        let s = self.schedule(schedule)?;
        self.check_count(page.row_count())?;
        let bound = self.bind(page);
        let index = self
            .schedules
            .iter()
            .position(|x| x.name == s.name)
            .unwrap_or(0);
        let mut items = Vec::with_capacity(page.row_count());
        for row in 0..page.row_count() as u32 {
            let item = member_item(page, row);
            if let Some(f) = &s.filter {
                let scope = Scope::row(RowRef::new(page, &bound, row), None, ctx.now, ctx.id_seed);
                let pass = f.matches(&scope).map_err(|e| {
                    eval_error(e, &format!("strategy.schedules[{index}].filter"), item.code)
                })?;
                if !pass {
                    continue;
                }
            }
            items.push(item);
        }
        self.render(page, &bound, &items, &format!("schedule:{}", s.name), ctx)
    }

    /// Batch and render the items, by batch size and by body size, in input order. Each
    /// record is written once, straight into the body of the request that carries it; the
    /// envelope's bytes are reserved at the body's start and written when the batch (and
    /// so its delivery id) is known.
    fn render(
        &self,
        page: &Checked,
        bound: &Bound,
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
        // The envelope's size, measured with a first evaluation: request-level values
        // differ between requests only through NEWGUID, whose length is fixed.
        let probe = Scope::new(&[], None, ctx.now, ctx.id_seed);
        let envelope = self.envelope(&probe, ctx)?.len();
        let max = self.max_body();
        let batch_size = self.strategy().run_options.batch_size.max(1) as usize;
        let fresh = |capacity: usize| {
            let mut body = Vec::with_capacity(capacity);
            body.resize(envelope, b' ');
            body.push(b'[');
            body
        };
        let too_large = |item: &Item, len: usize| RenderError::RecordTooLarge {
            code: item.code.to_string(),
            size: (envelope + len + 3) as u64,
            limit: max as u64,
        };

        let mut out = Vec::new();
        let mut body = fresh(max.min(64 * 1024));
        let mut first = 0; // the first item of the batch being written
        for (i, item) in items.iter().enumerate() {
            if i - first == batch_size {
                let capacity = body.len();
                let done = std::mem::replace(&mut body, fresh(capacity));
                out.push(self.request(done, envelope, &items[first..i], run, ctx)?);
                first = i;
            }
            let start = body.len();
            if i > first {
                body.push(b',');
            }
            let scope = Scope::row(
                RowRef::new(page, bound, item.row),
                item.prior.map(|p| RowRef::new(page, bound, p)),
                ctx.now,
                seed_of(ctx.id_seed, item.id),
            );
            body.push(b'{');
            self.record_layout
                .write_entries(&mut body, &scope, item.code)?;
            body.push(b'}');
            if body.len() + 2 > max {
                let len = body.len() - start - usize::from(i > first);
                if i == first {
                    return Err(too_large(item, len));
                }
                // The batch is full by size: it ends before this record, which opens the
                // next one (its bytes move; nothing is rendered twice).
                let mut next = fresh(body.capacity());
                next.extend_from_slice(&body[start + 1..]);
                body.truncate(start);
                let done = std::mem::replace(&mut body, next);
                out.push(self.request(done, envelope, &items[first..i], run, ctx)?);
                first = i;
                if body.len() + 2 > max {
                    return Err(too_large(item, len));
                }
            }
        }
        out.push(self.request(body, envelope, &items[first..], run, ctx)?);
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

    /// One request carrying `batch`, whose `body` holds `envelope` reserved bytes and then
    /// `[` and the batch's records.
    fn request(
        &self,
        mut body: Vec<u8>,
        envelope: usize,
        batch: &[Item],
        run: &str,
        ctx: &RenderContext,
    ) -> Result<HttpRequest, RenderError> {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(batch.len() + 3);
        parts.push(self.strategy().name.as_bytes());
        parts.push(run.as_bytes());
        parts.extend(batch.iter().map(|i| i.id.as_bytes()));
        // Runs that are not driven by event ids (on-demand, schedules) mix in the
        // context's seed, so two runs over the same members stay distinct deliveries.
        let seed = ctx.id_seed.to_le_bytes();
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

        let head = self.envelope(&scope, ctx)?;
        if head.len() == envelope {
            body[..envelope].copy_from_slice(&head);
        } else {
            // Only if a request-level value's length depended on the delivery id.
            body.splice(..envelope, head);
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

    /// The Standard Webhooks headers for one attempt at `timestamp`: `webhook-id` and
    /// `webhook-timestamp` on every request, so any receiver can deduplicate, and
    /// `webhook-signature` when the configuration has signing secrets.
    pub fn signature_headers(&self, delivery_id: &str, body: &[u8], timestamp: i64) -> Vec<Header> {
        let mut headers = vec![
            Header {
                name: "webhook-id".into(),
                value: delivery_id.to_string(),
            },
            Header {
                name: "webhook-timestamp".into(),
                value: timestamp.to_string(),
            },
        ];
        if !self.secrets.is_empty() {
            headers.push(Header {
                name: "webhook-signature".into(),
                value: crate::sign::signature_header(&self.secrets, delivery_id, timestamp, body),
            });
        }
        headers
    }

    /// Set the Standard Webhooks headers for `timestamp` (replacing earlier ones).
    pub(crate) fn sign_in_place(&self, request: &mut HttpRequest, timestamp: i64) {
        let fresh = self.signature_headers(&request.delivery_id, &request.body, timestamp);
        request.headers.retain(|h| {
            !["webhook-id", "webhook-timestamp", "webhook-signature"]
                .iter()
                .any(|n| h.name.eq_ignore_ascii_case(n))
        });
        request.headers.extend(fresh);
    }
}

/// A checked page of the owned forms' input, its problems as invalid input.
fn checked(page: Page) -> Result<Checked, RenderError> {
    page.check("page").map_err(RenderError::InvalidInput)
}

fn member_item(page: &Page, row: u32) -> Item<'_> {
    let code = page.code(row);
    Item {
        code,
        id: code,
        row,
        prior: None,
    }
}

#[cfg(test)]
mod tests;
