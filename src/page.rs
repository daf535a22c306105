//! Members as one flat page per call, read in place.
//!
//! A [`Page`] holds every member of a call, column by column: one text buffer, attribute
//! names and paths interned once, and each value a fixed-size cell pointing into the text.
//! It is checked once when it arrives ([`Page::check`], which gives a [`Checked`] page),
//! so reading it afterwards never fails.
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

impl TextRef {
    /// The run a text or decimal cell's value word holds (`offset << 32 | len`).
    #[inline]
    pub fn from_word(w: u64) -> TextRef {
        TextRef {
            offset: (w >> 32) as u32,
            len: w as u32,
        }
    }

    /// The value word of a text or decimal cell.
    #[inline]
    pub fn word(self) -> u64 {
        (self.offset as u64) << 32 | self.len as u64
    }
}

/// The kinds of a cell, as the WIT `cell-kind` numbers them.
pub mod kind {
    /// No value.
    pub const NULL: u8 = 0;
    /// Text: the value word is a text run.
    pub const TEXT: u8 = 1;
    /// An exact decimal: a text run when the page arrives; after [`super::Page::check`],
    /// an index of the checked page's decimals.
    pub const DECIMAL: u8 = 2;
    /// A boolean: 0 or 1.
    pub const BOOLEAN: u8 = 3;
    /// A date: `year << 16 | month << 8 | day`.
    pub const DATE: u8 = 4;
    /// An instant: an index of the page's instants.
    pub const DATETIME: u8 = 5;
}

/// A typed value in a page, as a cell is read.
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

/// The members of one call, column by column, as the WIT `page` carries them: cell `i`
/// is (`cell_paths[i]`, `cell_kinds[i]`, `cell_values[i]`), row `r` is
/// `rows[4r..4r + 4]` (code offset, code length, first cell, cell count).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// Every string of the page.
    pub text: String,
    /// Attribute names as (offset, length) pairs.
    pub names: Vec<u32>,
    /// Name ids referred to by `paths`.
    pub path_names: Vec<u32>,
    /// Paths as (first name id, length) pairs.
    pub paths: Vec<u32>,
    /// Each cell's path.
    pub cell_paths: Vec<u32>,
    /// Each cell's kind ([`kind`]).
    pub cell_kinds: Vec<u8>,
    /// Each cell's value word.
    pub cell_values: Vec<u64>,
    /// The instants of datetime cells.
    pub instants: Vec<Instant>,
    /// Rows as (code offset, code length, first cell, cell count).
    pub rows: Vec<u32>,
}

/// A page whose every reference has been checked, with its decimals parsed: what the
/// renderer reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checked {
    page: Page,
    /// The decimals (decimal cells index this).
    decimals: Vec<Decimal>,
}

impl std::ops::Deref for Checked {
    type Target = Page;
    fn deref(&self) -> &Page {
        &self.page
    }
}

impl Checked {
    /// Cell `i`'s value.
    #[inline(always)]
    pub fn cell(&self, i: usize) -> CellValue {
        let w = self.page.cell_values[i];
        match self.page.cell_kinds[i] {
            kind::TEXT => CellValue::Text(TextRef::from_word(w)),
            kind::DECIMAL => self
                .decimals
                .get(w as usize)
                .map_or(CellValue::Null, |d| CellValue::Decimal(*d)),
            kind::BOOLEAN => CellValue::Boolean(w != 0),
            kind::DATE => unpack_date(w).map_or(CellValue::Null, CellValue::Date),
            kind::DATETIME => self
                .page
                .instants
                .get(w as usize)
                .map_or(CellValue::Null, |i| CellValue::DateTime(*i)),
            _ => CellValue::Null,
        }
    }
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

    /// How many members the page holds.
    #[inline]
    pub fn row_count(&self) -> usize {
        self.rows.len() / 4
    }

    /// Member `row`'s code.
    #[inline]
    pub fn code(&self, row: u32) -> &str {
        let r = row as usize * 4;
        self.str(TextRef {
            offset: self.rows[r],
            len: self.rows[r + 1],
        })
    }

    /// The range of member `row`'s cells.
    #[inline]
    pub fn cells_of(&self, row: u32) -> std::ops::Range<usize> {
        let r = row as usize * 4;
        let first = self.rows[r + 2] as usize;
        first..first + self.rows[r + 3] as usize
    }

    /// The names of path `id`.
    pub fn path(&self, id: u32) -> impl Iterator<Item = &str> + '_ {
        let (first, len) = (
            self.paths[id as usize * 2] as usize,
            self.paths[id as usize * 2 + 1] as usize,
        );
        self.path_names[first..first + len].iter().map(|&n| {
            self.str(TextRef {
                offset: self.names[n as usize * 2],
                len: self.names[n as usize * 2 + 1],
            })
        })
    }

    /// How many paths the page holds.
    pub fn path_count(&self) -> usize {
        self.paths.len() / 2
    }

    /// The length of path `id`.
    #[inline]
    pub fn path_len(&self, id: u32) -> usize {
        self.paths[id as usize * 2 + 1] as usize
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

    /// Check every reference once, so that reading the page never fails: the columns
    /// of equal length, text runs in bounds and on character boundaries, name, path,
    /// cell and instant indexes in range, paths of one to [`MAX_PATH_NAMES`] names, kinds
    /// known, dates real, decimals well formed (parsed here, once). The problem's path is
    /// under `at` (`page`); cell `i` is `page.cells[i]`.
    pub fn check(mut self, at: &str) -> Result<Checked, Problem> {
        let pairs = |name: &str, v: &[u32], by: usize| {
            if !v.len().is_multiple_of(by) {
                return Err(Problem::error(
                    format!("{at}.{name}"),
                    format!(
                        "the list has {} numbers; it holds groups of {by}, so its length is a multiple of {by}",
                        v.len()
                    ),
                ));
            }
            Ok(())
        };
        pairs("names", &self.names, 2)?;
        pairs("paths", &self.paths, 2)?;
        pairs("rows", &self.rows, 4)?;
        let cells = self.cell_paths.len();
        if self.cell_kinds.len() != cells || self.cell_values.len() != cells {
            return Err(Problem::error(
                format!("{at}.cells"),
                format!(
                    "the cell columns differ in length: {cells} paths, {} kinds, {} values; each cell has one of each",
                    self.cell_kinds.len(),
                    self.cell_values.len()
                ),
            ));
        }
        for n in 0..self.names.len() / 2 {
            let r = TextRef {
                offset: self.names[n * 2],
                len: self.names[n * 2 + 1],
            };
            self.check_text(r, &|| format!("{at}.names[{n}]"))?;
            if r.len == 0 {
                return Err(Problem::error(
                    format!("{at}.names[{n}]"),
                    "the attribute name is empty; give the attribute's name",
                ));
            }
        }
        for p in 0..self.path_count() {
            let here = || format!("{at}.paths[{p}]");
            let (first, len) = (self.paths[p * 2] as u64, self.paths[p * 2 + 1] as u64);
            if len == 0 || len as usize > MAX_PATH_NAMES {
                return Err(Problem::error(
                    here(),
                    format!(
                        "the path has {len} names; a path has 1 to {MAX_PATH_NAMES} (the attribute's name, after the related entities it goes through)"
                    ),
                ));
            }
            if first + len > self.path_names.len() as u64 {
                return Err(Problem::error(
                    here(),
                    format!(
                        "the path's names run to {}, past the {} entries of path-names",
                        first + len,
                        self.path_names.len()
                    ),
                ));
            }
        }
        let names = (self.names.len() / 2) as u32;
        if let Some(i) = self.path_names.iter().position(|&n| n >= names) {
            return Err(Problem::error(
                format!("{at}.path-names[{i}]"),
                format!(
                    "name id {} is out of range: the page has {names} names",
                    self.path_names[i]
                ),
            ));
        }
        let paths = self.path_count() as u32;
        if let Some(i) = self.cell_paths.iter().position(|&p| p >= paths) {
            return Err(Problem::error(
                format!("{at}.cells[{i}].path"),
                format!(
                    "path id {} is out of range: the page has {paths} paths",
                    self.cell_paths[i]
                ),
            ));
        }
        let mut decimals = Vec::new();
        for i in 0..cells {
            let here = || format!("{at}.cells[{i}].value");
            let w = self.cell_values[i];
            match self.cell_kinds[i] {
                kind::NULL | kind::BOOLEAN => {}
                kind::TEXT => {
                    let r = TextRef::from_word(w);
                    if !run_ok(self.text.as_bytes(), r) {
                        return Err(self.text_problem(r, &here));
                    }
                }
                kind::DECIMAL => {
                    let r = TextRef::from_word(w);
                    self.check_text(r, &here)?;
                    let s = self.str(r);
                    let d = Decimal::parse(s).map_err(|e| {
                        Problem::error(here(), format!("the decimal {s:?} is invalid: {e}"))
                    })?;
                    self.cell_values[i] = decimals.len() as u64;
                    decimals.push(d);
                }
                kind::DATE => {
                    if unpack_date(w).is_none() {
                        return Err(Problem::error(
                            here(),
                            format!(
                                "{:04}-{:02}-{:02} is not a calendar date between years 1 and 9999",
                                (w >> 16) as i64,
                                (w >> 8) as u8,
                                w as u8
                            ),
                        ));
                    }
                }
                kind::DATETIME => {
                    if w >= self.instants.len() as u64 {
                        return Err(Problem::error(
                            here(),
                            format!(
                                "instant {w} is out of range: the page has {} instants",
                                self.instants.len()
                            ),
                        ));
                    }
                }
                other => {
                    return Err(Problem::error(
                        format!("{at}.cells[{i}].kind"),
                        format!(
                            "{other} is not a cell kind; the kinds are 0 (null) to 5 (datetime)"
                        ),
                    ));
                }
            }
        }
        for r in 0..self.row_count() {
            let code = TextRef {
                offset: self.rows[r * 4],
                len: self.rows[r * 4 + 1],
            };
            self.check_text(code, &|| format!("{at}.rows[{r}].code"))?;
            let end = self.rows[r * 4 + 2] as u64 + self.rows[r * 4 + 3] as u64;
            if end > cells as u64 {
                return Err(Problem::error(
                    format!("{at}.rows[{r}]"),
                    format!("the member's cells run to {end}, past the {cells} cells of the page"),
                ));
            }
        }
        Ok(Checked {
            page: self,
            decimals,
        })
    }

    /// Check that `r` lies inside the text, on character boundaries.
    #[inline]
    pub fn check_text(&self, r: TextRef, at: &dyn Fn() -> String) -> Result<(), Problem> {
        if run_ok(self.text.as_bytes(), r) {
            Ok(())
        } else {
            Err(self.text_problem(r, at))
        }
    }

    /// What is wrong with a text run that [`run_ok`] refused.
    #[cold]
    fn text_problem(&self, r: TextRef, at: &dyn Fn() -> String) -> Problem {
        let (start, end) = (r.offset as usize, r.offset as usize + r.len as usize);
        if end > self.text.len() {
            return Problem::error(
                at(),
                format!(
                    "the text run {start}..{end} ends past the page's {} bytes of text",
                    self.text.len()
                ),
            );
        }
        Problem::error(
            at(),
            format!(
                "the text run {start}..{end} cuts a character in two; runs start and end on character boundaries"
            ),
        )
    }

    /// The row `row` of a call's input, checked to exist.
    pub fn check_row(&self, row: u32, at: &dyn Fn() -> String) -> Result<(), Problem> {
        if row as usize >= self.row_count() {
            return Err(Problem::error(
                at(),
                format!(
                    "row {row} is out of range: the page has {} rows",
                    self.row_count()
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

/// Whether the run `r` lies inside `text` and starts and ends on character boundaries
/// (a boundary is the end, or a byte that does not continue a UTF-8 sequence).
#[inline(always)]
fn run_ok(text: &[u8], r: TextRef) -> bool {
    let (start, end) = (r.offset as usize, r.offset as usize + r.len as usize);
    let boundary = |i: usize| text.get(i).is_none_or(|&b| (b as i8) >= -0x40);
    end <= text.len() && boundary(start) && boundary(end)
}

/// A date cell's value word; `None` when it is not a calendar date.
#[inline]
fn unpack_date(w: u64) -> Option<Date> {
    let year = i32::try_from(w >> 16).ok()?;
    Date::new(year, (w >> 8) as u8, w as u8)
}

/// The value word of a date cell.
pub fn pack_date(d: Date) -> u64 {
    (d.year() as u64) << 16 | (d.month() as u64) << 8 | d.day() as u64
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
        let id = (self.page.names.len() / 2) as u32;
        self.page.names.extend([r.offset, r.len]);
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
                let id = (self.page.paths.len() / 2) as u32;
                self.page
                    .paths
                    .extend([self.page.path_names.len() as u32, ids.len() as u32]);
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
        let (k, w) = match value {
            Value::Null => (kind::NULL, 0),
            Value::Text(t) => (kind::TEXT, self.text(t).word()),
            Value::Decimal(d) => (kind::DECIMAL, self.text(&d.to_string()).word()),
            Value::Boolean(b) => (kind::BOOLEAN, u64::from(*b)),
            Value::Date(d) => (kind::DATE, pack_date(*d)),
            Value::DateTime(i) => {
                self.page.instants.push(*i);
                (kind::DATETIME, self.page.instants.len() as u64 - 1)
            }
        };
        self.page.cell_paths.push(path);
        self.page.cell_kinds.push(k);
        self.page.cell_values.push(w);
    }

    /// Append a member with `attributes`; its row id.
    pub fn member(&mut self, code: &str, attributes: &[Attribute]) -> u32 {
        let code = self.text(code);
        let first_cell = self.page.cell_paths.len() as u32;
        for a in attributes {
            let path = self.path(&a.path);
            self.cell(path, &a.value);
        }
        let row = self.page.row_count() as u32;
        let count = self.page.cell_paths.len() as u32 - first_cell;
        self.page
            .rows
            .extend([code.offset, code.len, first_cell, count]);
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
            for id in 0..page.path_count() as u32 {
                if page.path_len(id) != len {
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

    /// The position among a member's cell paths (`paths`) of the cell this reference
    /// reads, trying position `hint` first: one comparison when the member has its cells
    /// in the order of the one before, as the members of one page usually do.
    #[inline(always)]
    pub fn find(&self, paths: &[u32], hint: &mut usize) -> Option<usize> {
        if let [one] = self.ids.as_slice()
            && paths.get(*hint) == Some(one)
        {
            return Some(*hint);
        }
        self.search(paths, hint)
    }

    /// [`Candidates::find`] when the hint missed.
    fn search(&self, paths: &[u32], hint: &mut usize) -> Option<usize> {
        match self.ids.as_slice() {
            [] => None,
            [one] => {
                let i = paths.iter().position(|p| p == one)?;
                *hint = i;
                Some(i)
            }
            _ => {
                let mut start = 0;
                for &end in &self.ends {
                    let class = &self.ids[start..end as usize];
                    if let Some(i) = paths.iter().position(|p| class.contains(p)) {
                        *hint = i;
                        return Some(i);
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
    pub page: &'a Checked,
    /// The plan's references resolved against it.
    pub bound: &'a Bound,
    /// The member's first cell.
    pub first: usize,
    /// The member's cell paths.
    pub paths: &'a [u32],
}

impl<'a> RowRef<'a> {
    /// Row `row` of `page`.
    #[inline]
    pub fn new(page: &'a Checked, bound: &'a Bound, row: u32) -> RowRef<'a> {
        let cells = page.cells_of(row);
        RowRef {
            page,
            bound,
            first: cells.start,
            paths: &page.cell_paths[cells],
        }
    }

    /// The value of the member's `i`-th cell.
    #[inline]
    pub fn cell(&self, i: usize) -> CellValue {
        self.page.cell(self.first + i)
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
        assert_eq!(page.names.len() / 2, 3); // Name, Class, Code: each once
        assert_eq!(page.path_count(), 3);
        assert_eq!(page.row_count(), 3);
        assert_eq!(page.cell_paths.len(), 9);
        let page = page.check("page").unwrap();
        assert_eq!(page.path(1).collect::<Vec<_>>(), ["Class", "Code"]);
        assert_eq!(page.code(2), "C");
    }

    #[test]
    fn every_kind_of_value_reads_back_after_the_check() {
        let d = |y, m, day| Date::new(y, m, day).unwrap();
        let values = [
            Value::Null,
            Value::Text("héllo".into()),
            Value::Decimal(Decimal::parse("-1043.01").unwrap()),
            Value::Boolean(true),
            Value::Date(d(9999, 12, 31)),
            Value::Date(d(1, 1, 1)),
            Value::DateTime(Instant::parse_rfc3339("2024-06-15T10:30:00.5Z").unwrap()),
        ];
        let attrs: Vec<Attribute> = values
            .iter()
            .enumerate()
            .map(|(i, v)| attr(&[&format!("A{i}")], v.clone()))
            .collect();
        let page = Page::of_members(&[Member {
            code: "M".into(),
            attributes: attrs,
        }])
        .check("page")
        .unwrap();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(&page.value(&page.cell(i)), v);
        }
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
        }])
        .check("page")
        .unwrap();
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
                .find(row.paths, &mut hint)
                .map(|i| page.value(&row.cell(i)))
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
            attributes: vec![
                attr(&["N"], Value::Text("ü".into())),
                attr(&["D"], Value::Decimal(Decimal::parse("1.5").unwrap())),
            ],
        }]);
        let with = |f: &dyn Fn(&mut Page)| {
            let mut p = good.clone();
            f(&mut p);
            p
        };
        let cases: Vec<(Page, &str)> = vec![
            (with(&|p| p.cell_paths[0] = 9), "page.cells[0].path"),
            (with(&|p| p.cell_kinds[0] = 6), "page.cells[0].kind"),
            (
                with(&|p| p.cell_values[0] = TextRef { offset: 0, len: 99 }.word()),
                "page.cells[0].value",
            ),
            (
                with(&|p| p.cell_values[1] = TextRef { offset: 1, len: 1 }.word()),
                "page.cells[1].value",
            ),
            (
                with(&|p| {
                    p.cell_kinds[1] = kind::DECIMAL;
                    p.cell_values[1] = TextRef { offset: 0, len: 2 }.word(); // "é"
                }),
                "page.cells[1].value",
            ),
            (
                with(&|p| {
                    p.cell_kinds[0] = kind::DATE;
                    p.cell_values[0] = 2024 << 16 | 2 << 8 | 30;
                }),
                "page.cells[0].value",
            ),
            (
                with(&|p| {
                    p.cell_kinds[0] = kind::DATETIME;
                    p.cell_values[0] = 0;
                }),
                "page.cells[0].value",
            ),
            (
                with(&|p| {
                    p.cell_kinds.pop();
                }),
                "page.cells",
            ),
            (with(&|p| p.rows[0] = 1), "page.rows[0].code"),
            (with(&|p| p.rows[3] = u32::MAX), "page.rows[0]"),
            (with(&|p| p.rows.push(0)), "page.rows"),
            (with(&|p| p.path_names[0] = 7), "page.path-names[0]"),
            (with(&|p| p.paths[1] = 0), "page.paths[0]"),
            (with(&|p| p.names[1] = 1000), "page.names[0]"),
        ];
        assert!(good.clone().check("page").is_ok());
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
        assert!(Page::of_members(&[member(&names)]).check("page").is_ok());
        let mut deeper = names.clone();
        deeper.push("Deeper".into());
        let p = Page::of_members(&[member(&deeper)])
            .check("page")
            .unwrap_err();
        assert_eq!(p.path, "page.paths[0]");
        assert!(p.message.contains(&format!("1 to {MAX_PATH_NAMES}")), "{p}");
    }
}
