//! How many bytes a value carries across the boundary: the measure behind the input and
//! output caps. Counts string and list payloads, not the canonical ABI's fixed overhead.

use crate::contract::bindings::{
    Changes, Configuration, Field, FieldValue, Header, HttpRequest, Page, RenderContext, Strategy,
    Value,
};

/// Payload bytes of a value.
pub trait WireSize {
    /// The size in bytes.
    fn wire_size(&self) -> usize;
}

impl WireSize for String {
    fn wire_size(&self) -> usize {
        self.len()
    }
}

impl WireSize for str {
    fn wire_size(&self) -> usize {
        self.len()
    }
}

impl<T: WireSize> WireSize for Vec<T> {
    fn wire_size(&self) -> usize {
        self.iter().map(WireSize::wire_size).sum()
    }
}

impl<T: WireSize> WireSize for [T] {
    fn wire_size(&self) -> usize {
        self.iter().map(WireSize::wire_size).sum()
    }
}

impl<T: WireSize> WireSize for Option<T> {
    fn wire_size(&self) -> usize {
        self.as_ref().map_or(0, WireSize::wire_size)
    }
}

impl WireSize for Value {
    fn wire_size(&self) -> usize {
        match self {
            Value::Text(s) | Value::Decimal(s) => s.len() + 1,
            _ => 16,
        }
    }
}

/// A page: its text and its columns, at their canonical ABI sizes.
impl WireSize for Page {
    fn wire_size(&self) -> usize {
        self.text.len()
            + 4 * (self.names.len() + self.path_names.len() + self.paths.len())
            + 4 * (self.cell_paths.len() + self.rows.len())
            + self.cell_kinds.len()
            + 8 * self.cell_values.len()
            + 16 * self.instants.len()
    }
}

/// Changes over a page: their columns at their canonical ABI sizes (their strings are
/// in the page's text).
impl WireSize for Changes {
    fn wire_size(&self) -> usize {
        4 * (self.event_ids.len() + self.entities.len() + self.codes.len())
            + 4 * (self.changed_by.len() + self.new_states.len() + self.prior_states.len())
            + self.kinds.len()
            + 8 * self.at_seconds.len()
            + 4 * self.at_nanoseconds.len()
    }
}

impl WireSize for RenderContext {
    fn wire_size(&self) -> usize {
        self.access_token.wire_size() + self.platform_token.wire_size() + 24
    }
}

impl WireSize for Header {
    fn wire_size(&self) -> usize {
        self.name.len() + self.value.len()
    }
}

impl WireSize for HttpRequest {
    fn wire_size(&self) -> usize {
        self.url.len()
            + self.headers.wire_size()
            + self.body.len()
            + self.member_codes.wire_size()
            + self.delivery_id.len()
    }
}

impl WireSize for Field {
    fn wire_size(&self) -> usize {
        self.key.len()
            + match &self.value {
                FieldValue::Text(s) | FieldValue::Expression(s) => s.len(),
            }
    }
}

impl WireSize for Configuration {
    fn wire_size(&self) -> usize {
        let o = &self.oauth;
        self.name.len()
            + self.webhook_url.len()
            + o.token_url.wire_size()
            + o.client_id.wire_size()
            + o.client_secret.wire_size()
            + o.scope.wire_size()
            + self.headers.wire_size()
            + self.query.wire_size()
            + self.signing_secrets.wire_size()
    }
}

impl WireSize for Strategy {
    fn wire_size(&self) -> usize {
        let r = &self.run_options;
        self.name.len()
            + self.entity.len()
            + self.headers.wire_size()
            + self.body.wire_size()
            + self.records.wire_size()
            + r.run_as_user.len()
            + r.added.filter.wire_size()
            + r.updated.filter.wire_size()
            + r.deleted.filter.wire_size()
            + self
                .schedules
                .iter()
                .map(|s| {
                    s.name.len() + s.cron.len() + s.filter.wire_size() + s.time_zone.wire_size()
                })
                .sum::<usize>()
    }
}
