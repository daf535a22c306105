//! Members as one flat page per call, read in place.
//!
//! A [`Page`] holds every member of a call: one text buffer, attribute names and paths
//! interned once, and each value a fixed-size [`Cell`] pointing into the text. It is
//! checked once when it arrives ([`Page::check`]), so reading it afterwards never fails.
//! Expressions resolve their attribute references against the page's paths once per page
//! ([`Bound`]): reading `[Name]` of a member is then a slot lookup and, usually, one
//! comparison at the position where the previous member had it.
//!
//! [`PageBuilder`] writes pages for native hosts, tests and benches.

use crate::limits::MAX_PATH_NAMES;
use crate::model::{Attribute, ChangeKind, Member, Problem, RecordChange};
use crate::value::{Date, Decimal, Instant, Value};

/// The bytes `text[offset .. offset + len]` of a page's text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextRef {
    /// Byte offset.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// An attribute path: `len` name ids from `path_names[first]` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRef {
    /// Index of the first name id.
    pub first: u32,
    /// How many names.
    pub len: u32,
}

/// A typed value in a page; text is a run of the page's text, decimals are parsed when
/// the page is checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CellValue {
    /// No value.
    Null,
    /// Text.
    Text(TextRef),
    /// An exact decimal.
    Decimal(Decimal),
    /// A boolean.
    Boolean(bool),
    /// A date.
    Date(Date),
    /// An instant.
    DateTime(Instant),
}

/// One attribute of one member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// The attribute's path, an index into the page's paths.
    pub path: u32,
    /// The value.
    pub value: CellValue,
}

/// One member: a run of consecutive cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The member's code.
    pub code: TextRef,
    /// Its first cell.
    pub first_cell: u32,
    /// How many cells it has.
    pub cell_count: u32,
}

/// The members of one call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// Every string of the page.
    pub text: String,
    /// Attribute names.
    pub names: Vec<TextRef>,
    /// Name ids referred to by `paths`.
    pub path_names: Vec<u32>,
    /// Attribute paths.
    pub paths: Vec<PathRef>,
    /// Every attribute of every member.
    pub cells: Vec<Cell>,
    /// The members.
    pub rows: Vec<Row>,
}

/// One record change over a page: strings are runs of its text, states are its rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Change {
    /// The platform's event id.
    pub event_id: TextRef,
    /// What happened.
    pub kind: ChangeKind,
    /// The entity.
    pub entity: TextRef,
    /// The member's code.
    pub code: TextRef,
    /// The row after the change.
    pub new_state: Option<u32>,
    /// The row before the change.
    pub prior_state: Option<u32>,
    /// Who made the change.
    pub changed_by: TextRef,
    /// When.
    pub at: Instant,
}

impl Page {
    /// The text at `r`. Total: a checked page's references are all in bounds, and any
    /// other reference reads as empty text.
    #[inline]
    pub fn str(&self, r: TextRef) -> &str {
        let start = r.offset as usize;
        self.text
            .get(start..start + r.len as usize)
            .unwrap_or_default()
    }

    /// The names of path `id`.
    pub fn path(&self, id: u32) -> impl Iterator<Item = &str> + '_ {
        let p = self.paths[id as usize];
        self.path_names[p.first as usize..(p.first + p.len) as usize]
            .iter()
            .map(|&n| self.str(self.names[n as usize]))
    }

    /// The cells of row `row`.
    #[inline]
    pub fn cells_of(&self, row: u32) -> &[Cell] {
        let r = self.rows[row as usize];
        &self.cells[r.first_cell as usize..(r.first_cell + r.cell_count) as usize]
    }

    /// The value of a cell as an owned [`Value`].
    pub fn value(&self, v: &CellValue) -> Value {
        match *v {
            CellValue::Null => Value::Null,
            CellValue::Text(t) => Value::Text(self.str(t).to_string()),
            CellValue::Decimal(d) => Value::Decimal(d),
            CellValue::Boolean(b) => Value::Boolean(b),
            CellValue::Date(d) => Value::Date(d),
            CellValue::DateTime(i) => Value::DateTime(i),
        }
    }

    /// Check every reference once, so that reading the page never fails: text runs in
    /// bounds and on character boundaries, name, path and cell indexes in range, paths of
    /// one to [`MAX_PATH_NAMES`] names. The problem's path is under `at` (`page`).
    pub fn check(&self, at: &str) -> Result<(), Problem> {
        for (i, n) in self.names.iter().enumerate() {
            self.check_text(*n, &|| format!("{at}.names[{i}]"))?;
            if n.len == 0 {
                return Err(Problem::error(
                    format!("{at}.names[{i}]"),
                    "the attribute name is empty; give the attribute's name",
                ));
            }
        }
        for (i, p) in self.paths.iter().enumerate() {
            let here = || format!("{at}.paths[{i}]");
            if p.len == 0 || p.len as usize > MAX_PATH_NAMES {
                return Err(Problem::error(
                    here(),
                    format!(
                        "the path has {} names; a path has 1 to {MAX_PATH_NAMES} (the attribute's name, after the related entities it goes through)",
                        p.len
                    ),
                ));
            }
            let end = p.first as u64 + p.len as u64;
            if end > self.path_names.len() as u64 {
                return Err(Problem::error(
                    here(),
                    format!(
                        "the path's names run to {end}, past the {} entries of path-names",
                        self.path_names.len()
                    ),
                ));
            }
        }
        for (i, &n) in self.path_names.iter().enumerate() {
            if n as usize >= self.names.len() {
                return Err(Problem::error(
                    format!("{at}.path-names[{i}]"),
                    format!(
                        "name id {n} is out of range: the page has {} names",
                        self.names.len()
                    ),
                ));
            }
        }
        for (i, c) in self.cells.iter().enumerate() {
            if c.path as usize >= self.paths.len() {
                return Err(Problem::error(
                    format!("{at}.cells[{i}].path"),
                    format!(
                        "path id {} is out of range: the page has {} paths",
                        c.path,
                        self.paths.len()
                    ),
                ));
            }
            if let CellValue::Text(t) = c.value {
                self.check_text(t, &|| format!("{at}.cells[{i}].value"))?;
            }
        }
        for (i, r) in self.rows.iter().enumerate() {
            self.check_text(r.code, &|| format!("{at}.rows[{i}].code"))?;
            let end = r.first_cell as u64 + r.cell_count as u64;
            if end > self.cells.len() as u64 {
                return Err(Problem::error(
                    format!("{at}.rows[{i}]"),
                    format!(
                        "the member's cells run to {end}, past the {} cells of the page",
                        self.cells.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Check that `r` lies inside the text, on character boundaries.
    pub fn check_text(&self, r: TextRef, at: &dyn Fn() -> String) -> Result<(), Problem> {
        let (start, end) = (r.offset as usize, r.offset as usize + r.len as usize);
        if end > self.text.len() {
            return Err(Problem::error(
                at(),
                format!(
                    "the text run {start}..{end} ends past the page's {} bytes of text",
                    self.text.len()
                ),
            ));
        }
        if !self.text.is_char_boundary(start) || !self.text.is_char_boundary(end) {
            return Err(Problem::error(
                at(),
                format!(
                    "the text run {start}..{end} cuts a character in two; runs start and end on character boundaries"
                ),
            ));
        }
        Ok(())
    }

    /// The row `row` of a call's input, checked to exist.
    pub fn check_row(&self, row: u32, at: &dyn Fn() -> String) -> Result<(), Problem> {
        if row as usize >= self.rows.len() {
            return Err(Problem::error(
                at(),
                format!(
                    "row {row} is out of range: the page has {} rows",
                    self.rows.len()
                ),
            ));
        }
        Ok(())
    }

    /// A page of `members`, in order: row `i` is `members[i]`.
    pub fn of_members(members: &[Member]) -> Page {
        let mut b = PageBuilder::default();
        for m in members {
            b.member(&m.code, &m.attributes);
        }
        b.finish()
    }

    /// A page of the changes' states and the changes over it.
    pub fn of_changes(changes: &[RecordChange]) -> (Page, Vec<Change>) {
        let mut b = PageBuilder::default();
        let out = changes
            .iter()
            .map(|c| Change {
                event_id: b.text(&c.event_id),
                kind: c.kind,
                entity: b.text(&c.entity),
                code: b.text(&c.code),
                new_state: c
                    .new_state
                    .as_ref()
                    .map(|m| b.member(&m.code, &m.attributes)),
                prior_state: c
                    .prior_state
                    .as_ref()
                    .map(|m| b.member(&m.code, &m.attributes)),
                changed_by: b.text(&c.changed_by),
                at: c.at,
            })
            .collect();
        (b.finish(), out)
    }
}

/// Writes a page: names and paths interned, values appended.
#[derive(Default)]
pub struct PageBuilder {
    page: Page,
    names: std::collections::HashMap<String, u32>,
    paths: std::collections::HashMap<Vec<u32>, u32>,
    scratch: Vec<u32>,
}

impl PageBuilder {
    /// Append `s` to the text.
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
        let id = self.page.names.len() as u32;
        self.page.names.push(r);
        self.names.insert(s.to_string(), id);
        id
    }

    /// The id of the path `names`, interned.
    pub fn path<S: AsRef<str>>(&mut self, names: &[S]) -> u32 {
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        ids.extend(names.iter().map(|n| self.name(n.as_ref())));
        let id = match self.paths.get(&ids) {
            Some(&id) => id,
            None => {
                let id = self.page.paths.len() as u32;
                self.page.paths.push(PathRef {
                    first: self.page.path_names.len() as u32,
                    len: ids.len() as u32,
                });
                self.page.path_names.extend_from_slice(&ids);
                self.paths.insert(ids.clone(), id);
                id
            }
        };
        self.scratch = ids;
        id
    }

    /// Append one cell to the member being written.
    pub fn cell(&mut self, path: u32, value: &Value) {
        let value = match value {
            Value::Null => CellValue::Null,
            Value::Text(t) => CellValue::Text(self.text(t)),
            Value::Decimal(d) => CellValue::Decimal(*d),
            Value::Boolean(b) => CellValue::Boolean(*b),
            Value::Date(d) => CellValue::Date(*d),
            Value::DateTime(i) => CellValue::DateTime(*i),
        };
        self.page.cells.push(Cell { path, value });
    }

    /// Append a member with `attributes`; its row id.
    pub fn member(&mut self, code: &str, attributes: &[Attribute]) -> u32 {
        let code = self.text(code);
        let first_cell = self.page.cells.len() as u32;
        for a in attributes {
            let path = self.path(&a.path);
            self.cell(path, &a.value);
        }
        let row = self.page.rows.len() as u32;
        self.page.rows.push(Row {
            code,
            first_cell,
            cell_count: self.page.cells.len() as u32 - first_cell,
        });
        row
    }

    /// The page.
    pub fn finish(self) -> Page {
        self.page
    }
}

/// How an attribute reference reads a page: the page's paths that match it, by the
/// lookup rule's precedence (exact names; names in any letter case; the related entity's
/// `Code` with exact names; the same in any case). The first class that a member has
/// decides, and within it the member's first such cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Candidates {
    /// Path ids, class by class.
    ids: Vec<u32>,
    /// Where each class ends in `ids`.
    ends: [u8; 4],
}

impl Candidates {
    /// The candidates for `path` among the page's paths.
    pub(crate) fn resolve(page: &Page, path: &[Box<str>]) -> Candidates {
        let mut c = Candidates::default();
        let exact: fn(&str, &str) -> bool = |a, b| a == b;
        let any_case: fn(&str, &str) -> bool = |a, b| a.eq_ignore_ascii_case(b);
        for (class, (code, same)) in [
            (false, exact),
            (false, any_case),
            (true, exact),
            (true, any_case),
        ]
        .into_iter()
        .enumerate()
        {
            let len = path.len() + usize::from(code);
            for id in 0..page.paths.len() as u32 {
                if page.paths[id as usize].len as usize != len {
                    continue;
                }
                let mut names = page.path(id);
                let prefix = path
                    .iter()
                    .all(|want| names.next().is_some_and(|n| same(n, want)));
                let tail = !code || names.next().is_some_and(|n| same(n, "Code"));
                // A path found in an earlier class is not repeated (exact names also
                // match in any case).
                if prefix && tail && !c.ids.contains(&id) {
                    c.ids.push(id);
                }
            }
            c.ends[class] = c.ids.len().min(u8::MAX as usize) as u8;
        }
        c
    }

    /// The cell of `cells` this reference reads, trying position `hint` first.
    #[inline]
    pub fn find<'c>(&self, cells: &'c [Cell], hint: &mut usize) -> Option<&'c Cell> {
        match self.ids.as_slice() {
            [] => None,
            [one] => {
                if let Some(c) = cells.get(*hint)
                    && c.path == *one
                {
                    return Some(c);
                }
                let i = cells.iter().position(|c| c.path == *one)?;
                *hint = i;
                cells.get(i)
            }
            _ => {
                let mut start = 0;
                for &end in &self.ends {
                    let class = &self.ids[start..end as usize];
                    if let Some(i) = cells.iter().position(|c| class.contains(&c.path)) {
                        *hint = i;
                        return cells.get(i);
                    }
                    start = end as usize;
                }
                None
            }
        }
    }
}

/// A plan's attribute references resolved against one page: slot `i` is the plan's
/// `i`-th distinct attribute path.
#[derive(Clone, Debug, Default)]
pub struct Bound {
    slots: Vec<Candidates>,
}

impl Bound {
    /// Resolve each of `slots` (attribute paths) against `page`.
    pub fn new(page: &Page, slots: &[Box<[Box<str>]>]) -> Bound {
        Bound {
            slots: slots.iter().map(|p| Candidates::resolve(page, p)).collect(),
        }
    }

    /// The candidates of slot `slot`.
    #[inline]
    pub fn slot(&self, slot: u32) -> Option<&Candidates> {
        self.slots.get(slot as usize)
    }
}

/// One member of a page, with the page's resolution: what an expression reads.
#[derive(Clone, Copy, Debug)]
pub struct RowRef<'a> {
    /// The page.
    pub page: &'a Page,
    /// The plan's references resolved against it.
    pub bound: &'a Bound,
    /// The member's cells.
    pub cells: &'a [Cell],
}

impl<'a> RowRef<'a> {
    /// Row `row` of `page`.
    pub fn new(page: &'a Page, bound: &'a Bound, row: u32) -> RowRef<'a> {
        RowRef {
            page,
            bound,
            cells: page.cells_of(row),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(path: &[&str], v: Value) -> Attribute {
        Attribute {
            path: path.iter().map(|s| s.to_string()).collect(),
            value: v,
        }
    }

    #[test]
    fn names_and_paths_are_interned_once_per_page() {
        let m = |code: &str| Member {
            code: code.into(),
            attributes: vec![
                attr(&["Name"], Value::Text(format!("n {code}"))),
                attr(&["Class", "Code"], Value::Text("H".into())),
                attr(&["Class", "Name"], Value::Text("High".into())),
            ],
        };
        let page = Page::of_members(&[m("A"), m("B"), m("C")]);
        assert_eq!(page.names.len(), 3); // Name, Class, Code: each once
        assert_eq!(page.paths.len(), 3);
        assert_eq!(page.rows.len(), 3);
        assert_eq!(page.cells.len(), 9);
        assert_eq!(page.check("page"), Ok(()));
        assert_eq!(page.path(1).collect::<Vec<_>>(), ["Class", "Code"]);
        assert_eq!(page.str(page.rows[2].code), "C");
    }

    #[test]
    fn resolution_follows_the_lookup_rule() {
        let page = Page::of_members(&[Member {
            code: "A".into(),
            attributes: vec![
                attr(&["NAME"], Value::Text("upper".into())),
                attr(&["Name"], Value::Text("exact".into())),
                attr(&["Class", "code"], Value::Text("H".into())),
            ],
        }]);
        let slots: Vec<Box<[Box<str>]>> = vec![
            vec!["Name".into()].into(),
            vec!["name".into()].into(),
            vec!["Class".into()].into(),
            vec!["Missing".into()].into(),
        ];
        let bound = Bound::new(&page, &slots);
        let row = RowRef::new(&page, &bound, 0);
        let read = |slot: u32| {
            let mut hint = 0;
            bound
                .slot(slot)
                .unwrap()
                .find(row.cells, &mut hint)
                .map(|c| page.value(&c.value))
        };
        assert_eq!(read(0), Some(Value::Text("exact".into())));
        // No exact "name": the first cell in any case, in member order.
        assert_eq!(read(1), Some(Value::Text("upper".into())));
        assert_eq!(read(2), Some(Value::Text("H".into())));
        assert_eq!(read(3), None);
    }

    #[test]
    fn a_bad_reference_is_a_located_problem_never_a_panic() {
        let good = Page::of_members(&[Member {
            code: "é".into(),
            attributes: vec![attr(&["N"], Value::Text("ü".into()))],
        }]);
        let cases: Vec<(Page, &str)> = vec![
            (
                Page {
                    cells: vec![Cell {
                        path: 9,
                        value: CellValue::Null,
                    }],
                    ..good.clone()
                },
                "page.cells[0].path",
            ),
            (
                Page {
                    rows: vec![Row {
                        code: TextRef { offset: 1, len: 1 },
                        first_cell: 0,
                        cell_count: 1,
                    }],
                    ..good.clone()
                },
                "page.rows[0].code",
            ),
            (
                Page {
                    rows: vec![Row {
                        code: TextRef::default(),
                        first_cell: 0,
                        cell_count: u32::MAX,
                    }],
                    ..good.clone()
                },
                "page.rows[0]",
            ),
            (
                Page {
                    path_names: vec![7],
                    ..good.clone()
                },
                "page.path-names[0]",
            ),
            (
                Page {
                    paths: vec![PathRef { first: 0, len: 0 }],
                    ..good.clone()
                },
                "page.paths[0]",
            ),
            (
                Page {
                    names: vec![TextRef {
                        offset: 0,
                        len: 1000,
                    }],
                    ..good.clone()
                },
                "page.names[0]",
            ),
        ];
        assert_eq!(good.check("page"), Ok(()));
        for (page, path) in cases {
            assert_eq!(page.check("page").unwrap_err().path, path);
        }
    }

    #[test]
    fn path_depth_limit_obeyed_and_violated() {
        let names: Vec<String> = (0..MAX_PATH_NAMES).map(|i| format!("N{i}")).collect();
        let member = |names: &[String]| Member {
            code: "A".into(),
            attributes: vec![Attribute {
                path: names.to_vec(),
                value: Value::Null,
            }],
        };
        assert_eq!(Page::of_members(&[member(&names)]).check("page"), Ok(()));
        let mut deeper = names.clone();
        deeper.push("Deeper".into());
        let p = Page::of_members(&[member(&deeper)])
            .check("page")
            .unwrap_err();
        assert_eq!(p.path, "page.paths[0]");
        assert!(p.message.contains(&format!("1 to {MAX_PATH_NAMES}")), "{p}");
    }
}
