//! Members and record changes as the host holds them, and the flat page the component
//! receives them in.
//!
//! The host's file formats and its outbox speak in whole members ([`Member`], a code and
//! its attributes); the contract carries one [`Page`] per call, with names and paths
//! interned and every string in one buffer. [`PageBuilder`] writes that page; one call
//! lowers it with a handful of allocations however many members it holds.

use std::collections::HashMap;

use crate::contract::bindings::{
    CellKind, ChangeKind, Changes, Date, Instant, Page, TextRef, Value,
};

/// One attribute of a member; related-entity attributes have paths longer than one
/// (`["Class", "Name"]` for `[Class].[Name]`).
#[derive(Clone, Debug)]
pub struct Attribute {
    /// Attribute names from the member down through related entities; at least one.
    pub path: Vec<String>,
    /// The value.
    pub value: Value,
}

/// A member (a record) of an entity, with its attributes.
#[derive(Clone, Debug)]
pub struct Member {
    /// The member's code.
    pub code: String,
    /// Its attributes, including system attributes such as `$LastChgDTM`.
    pub attributes: Vec<Attribute>,
}

/// One record change, as the platform's transaction log reports it.
#[derive(Clone, Debug)]
pub struct RecordChange {
    /// The platform's unique id of this event; delivery ids derive from it.
    pub event_id: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The entity the member belongs to.
    pub entity: String,
    /// The member's code.
    pub code: String,
    /// The state after the change (added and updated).
    pub new_state: Option<Member>,
    /// The state before the change (updated and deleted).
    pub prior_state: Option<Member>,
    /// The user who made the change.
    pub changed_by: String,
    /// When the change was made.
    pub at: Instant,
}

/// A sample for previewing an expression.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The record's state.
    pub state: Vec<Attribute>,
    /// Its prior state, for `PRIOR` and `CHANGED*`.
    pub prior: Option<Vec<Attribute>>,
}

/// The row that stands for none in `new-states` and `prior-states`.
pub const NO_ROW: u32 = u32::MAX;

/// A date cell's value word: `year << 16 | month << 8 | day`. A year out of range keeps its
/// bits, so the component reports the date rather than reading another one.
fn pack_date(d: &Date) -> u64 {
    (d.year as u32 as u64) << 16 | (d.month as u64) << 8 | d.day as u64
}

/// Writes a [`Page`]: each distinct name and path once, values appended.
pub struct PageBuilder {
    page: Page,
    names: HashMap<String, u32>,
    paths: HashMap<Vec<u32>, u32>,
    ids: Vec<u32>,
}

impl Default for PageBuilder {
    fn default() -> PageBuilder {
        PageBuilder {
            page: Page {
                text: String::new(),
                names: Vec::new(),
                path_names: Vec::new(),
                paths: Vec::new(),
                cell_paths: Vec::new(),
                cell_kinds: Vec::new(),
                cell_values: Vec::new(),
                instants: Vec::new(),
                rows: Vec::new(),
            },
            names: HashMap::new(),
            paths: HashMap::new(),
            ids: Vec::new(),
        }
    }
}

impl PageBuilder {
    /// Append `s` to the page's text.
    pub fn text(&mut self, s: &str) -> TextRef {
        let r = TextRef {
            offset: self.page.text.len() as u32,
            len: s.len() as u32,
        };
        self.page.text.push_str(s);
        r
    }

    fn name(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.names.get(s) {
            return id;
        }
        let r = self.text(s);
        let id = (self.page.names.len() / 2) as u32;
        self.page.names.extend([r.offset, r.len]);
        self.names.insert(s.to_string(), id);
        id
    }

    /// The id of the path `names`, interned.
    pub fn path<S: AsRef<str>>(&mut self, names: &[S]) -> u32 {
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        for n in names {
            let id = self.name(n.as_ref());
            ids.push(id);
        }
        let id = match self.paths.get(&ids) {
            Some(&id) => id,
            None => {
                let id = (self.page.paths.len() / 2) as u32;
                self.page
                    .paths
                    .extend([self.page.path_names.len() as u32, ids.len() as u32]);
                self.page.path_names.extend_from_slice(&ids);
                self.paths.insert(ids.clone(), id);
                id
            }
        };
        self.ids = ids;
        id
    }

    /// Append one cell (one attribute) to the member being written.
    pub fn cell(&mut self, path: u32, value: &Value) {
        let word = |r: TextRef| (r.offset as u64) << 32 | r.len as u64;
        // The WIT's `cell-kind` numbers, as `cell-kinds` holds them.
        let (kind, value) = match value {
            Value::Null => (CellKind::Null, 0),
            Value::Text(t) => (CellKind::Text, word(self.text(t))),
            Value::Decimal(d) => (CellKind::Decimal, word(self.text(d))),
            Value::Boolean(b) => (CellKind::Boolean, u64::from(*b)),
            Value::Date(d) => (CellKind::Date, pack_date(d)),
            Value::Datetime(i) => {
                self.page.instants.push(*i);
                (CellKind::Datetime, self.page.instants.len() as u64 - 1)
            }
        };
        self.page.cell_paths.push(path);
        self.page.cell_kinds.push(kind as u8);
        self.page.cell_values.push(value);
    }

    /// Append a member; its row.
    pub fn member(&mut self, code: &str, attributes: &[Attribute]) -> u32 {
        let code = self.text(code);
        let first_cell = self.page.cell_paths.len() as u32;
        for a in attributes {
            let path = self.path(&a.path);
            self.cell(path, &a.value);
        }
        let row = (self.page.rows.len() / 4) as u32;
        let count = self.page.cell_paths.len() as u32 - first_cell;
        self.page
            .rows
            .extend([code.offset, code.len, first_cell, count]);
        row
    }

    /// Append a change and its states to `changes`.
    pub fn change(&mut self, c: &RecordChange, changes: &mut Changes) {
        let mut run = |s: &str, column: &mut Vec<u32>| {
            let r = self.text(s);
            column.extend([r.offset, r.len]);
        };
        run(&c.event_id, &mut changes.event_ids);
        run(&c.entity, &mut changes.entities);
        run(&c.code, &mut changes.codes);
        run(&c.changed_by, &mut changes.changed_by);
        changes.kinds.push(match c.kind {
            ChangeKind::Added => 0,
            ChangeKind::Updated => 1,
            ChangeKind::Deleted => 2,
        });
        let new = c
            .new_state
            .as_ref()
            .map(|m| self.member(&m.code, &m.attributes));
        let prior = c
            .prior_state
            .as_ref()
            .map(|m| self.member(&m.code, &m.attributes));
        changes.new_states.push(new.unwrap_or(NO_ROW));
        changes.prior_states.push(prior.unwrap_or(NO_ROW));
        changes.at_seconds.push(c.at.seconds);
        changes.at_nanoseconds.push(c.at.nanoseconds);
    }

    /// The page written so far.
    pub fn finish(self) -> Page {
        self.page
    }
}

/// The page of `members`: row `i` is `members[i]`.
pub fn page_of_members(members: &[Member]) -> Page {
    let mut b = PageBuilder::default();
    for m in members {
        b.member(&m.code, &m.attributes);
    }
    b.finish()
}

/// The page of the changes' states, and the changes over it.
pub fn page_of_changes(changes: &[RecordChange]) -> (Page, Changes) {
    let mut b = PageBuilder::default();
    let mut out = Changes {
        event_ids: Vec::with_capacity(changes.len() * 2),
        entities: Vec::with_capacity(changes.len() * 2),
        codes: Vec::with_capacity(changes.len() * 2),
        changed_by: Vec::with_capacity(changes.len() * 2),
        kinds: Vec::with_capacity(changes.len()),
        new_states: Vec::with_capacity(changes.len()),
        prior_states: Vec::with_capacity(changes.len()),
        at_seconds: Vec::with_capacity(changes.len()),
        at_nanoseconds: Vec::with_capacity(changes.len()),
    };
    for c in changes {
        b.change(c, &mut out);
    }
    (b.finish(), out)
}

/// Where cell `cell` of [`page_of_changes`]'s page came from, as a path into `changes`
/// (`changes[0].new-state.attributes[3]`): a problem the component finds in the page reads
/// back into the input the host was given.
pub fn locate_cell(changes: &[RecordChange], cell: usize) -> Option<String> {
    let mut seen = 0;
    for (i, c) in changes.iter().enumerate() {
        for (what, state) in [("new-state", &c.new_state), ("prior-state", &c.prior_state)] {
            let Some(m) = state else { continue };
            if cell < seen + m.attributes.len() {
                return Some(format!("changes[{i}].{what}.attributes[{}]", cell - seen));
            }
            seen += m.attributes.len();
        }
    }
    None
}

/// Where cell `cell` of [`page_of_members`]'s page came from (`members[2].attributes[0]`).
pub fn locate_member_cell(members: &[Member], cell: usize) -> Option<String> {
    let mut seen = 0;
    for (i, m) in members.iter().enumerate() {
        if cell < seen + m.attributes.len() {
            return Some(format!("members[{i}].attributes[{}]", cell - seen));
        }
        seen += m.attributes.len();
    }
    None
}

/// `path` with a leading `page.cells[N]` replaced by what `locate` says cell `N` is.
pub fn relocate(path: &str, locate: impl Fn(usize) -> Option<String>) -> Option<String> {
    let rest = path.strip_prefix("page.cells[")?;
    let (n, tail) = rest.split_once(']')?;
    let at = locate(n.parse().ok()?)?;
    // `.value` names the cell's value; the attribute itself is what the host knows.
    Some(format!(
        "{at}{}",
        tail.strip_prefix(".value").unwrap_or(tail)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_interns_names_and_paths_and_keeps_member_order() {
        let m = |code: &str, class: &str| Member {
            code: code.into(),
            attributes: vec![
                Attribute {
                    path: vec!["Name".into()],
                    value: Value::Text(format!("{code} name")),
                },
                Attribute {
                    path: vec!["Class".into(), "Code".into()],
                    value: Value::Text(class.into()),
                },
            ],
        };
        let page = page_of_members(&[m("A", "H"), m("B", "M")]);
        assert_eq!(page.names.len(), 3 * 2);
        assert_eq!(page.paths.len(), 2 * 2);
        assert_eq!(page.cell_paths.len(), 4);
        let text = |offset: u32, len: u32| &page.text[offset as usize..(offset + len) as usize];
        assert_eq!(text(page.rows[4], page.rows[5]), "B");
        assert_eq!(page.cell_kinds[3], CellKind::Text as u8);
        let w = page.cell_values[3];
        assert_eq!(text((w >> 32) as u32, w as u32), "M");
        assert_eq!(page.cell_paths[1], page.cell_paths[3]);
    }

    #[test]
    fn a_cell_reads_back_into_the_changes_it_came_from() {
        let m = |n: usize| Member {
            code: "A".into(),
            attributes: (0..n)
                .map(|i| Attribute {
                    path: vec![format!("F{i}")],
                    value: Value::Null,
                })
                .collect(),
        };
        let change = |new: Option<Member>, prior: Option<Member>| RecordChange {
            event_id: "e".into(),
            kind: ChangeKind::Updated,
            entity: "E".into(),
            code: "A".into(),
            new_state: new,
            prior_state: prior,
            changed_by: "u".into(),
            at: Instant {
                seconds: 0,
                nanoseconds: 0,
            },
        };
        let changes = [change(Some(m(2)), Some(m(3))), change(None, Some(m(1)))];
        let (page, _) = page_of_changes(&changes);
        assert_eq!(page.cell_paths.len(), 6);
        let at = |n| locate_cell(&changes, n);
        assert_eq!(at(1).as_deref(), Some("changes[0].new-state.attributes[1]"));
        assert_eq!(
            at(4).as_deref(),
            Some("changes[0].prior-state.attributes[2]")
        );
        assert_eq!(
            at(5).as_deref(),
            Some("changes[1].prior-state.attributes[0]")
        );
        assert_eq!(at(6), None);
        assert_eq!(
            relocate("page.cells[4].value", at).as_deref(),
            Some("changes[0].prior-state.attributes[2]")
        );
        assert_eq!(relocate("page.rows[1]", at), None);
    }
}
