//! Local wall time in a zone known only through [`Zones::utc_offset`].
//!
//! The host answers one question, the offset of a zone at an instant. Everything else is
//! derived from it by probing: a local time has one instant, none (it is in a
//! spring-forward gap) or two (it is in a fall-back fold). Probes a day either side find
//! the offsets in force around a local time; this assumes a zone changes its offset at
//! most once within two days, which every zone in the IANA database does except for
//! rare historical cases, where the answer is still a real instant, just not always the
//! right one.

use std::cell::Cell;

use crate::model::{Instant, Zones};

use super::MAX_SEARCH_YEARS;
use super::engine::{DAY, Spec};

/// The largest offset believed from the host: real ones are within ±15 hours, and the
/// probes a day either side of a local time rely on offsets under a day.
const MAX_OFFSET: i64 = DAY - 1;

/// Seconds since the epoch of 0001-01-01T00:00:00Z, the first instant.
const FIRST_SECOND: i64 = -62_135_596_800;
/// Seconds since the epoch of 9999-12-31T23:59:59Z, the last instant.
const LAST_SECOND: i64 = 253_402_300_799;

/// How many recent host answers a [`Zone`] remembers. Consecutive fire times probe the
/// same instants (the local time of one fire is where the search for the next starts), so
/// a few remembered answers save about half of the host questions of a preview.
const REMEMBERED: usize = 8;

/// A zone by name, with the host that answers for it and its recent answers (an offset
/// at an instant never changes within one call).
pub(crate) struct Zone<'a> {
    name: &'a str,
    zones: &'a dyn Zones,
    recent: Cell<[Option<(i64, i64)>; REMEMBERED]>,
    next_slot: Cell<usize>,
}

/// The instants of a local wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolved {
    /// Exactly one.
    Unique(i64),
    /// None: the time is skipped by a gap; this is the first instant after it.
    Gap(i64),
    /// Two: the time is repeated by a fold; the first and the second pass.
    Fold(i64, i64),
}

impl<'a> Zone<'a> {
    /// The zone `name`, asking `zones`.
    pub(crate) fn new(name: &'a str, zones: &'a dyn Zones) -> Zone<'a> {
        Zone {
            name,
            zones,
            recent: Cell::new([None; REMEMBERED]),
            next_slot: Cell::new(0),
        }
    }

    /// The offset at second `at` (clamped to the instants that exist), checked.
    fn offset(&self, at: i64) -> Result<i64, String> {
        let at = Instant {
            seconds: at.clamp(FIRST_SECOND, LAST_SECOND),
            nanoseconds: 0,
        };
        let mut recent = self.recent.get();
        if let Some((_, offset)) = recent.iter().flatten().find(|(s, _)| *s == at.seconds) {
            return Ok(*offset);
        }
        let offset = i64::from(self.zones.utc_offset(self.name, at)?);
        if offset.abs() > MAX_OFFSET {
            return Err(format!(
                "the time zone {:?} has an offset of {offset} seconds at {}, which is not a real UTC offset",
                self.name,
                at.to_rfc3339()
            ));
        }
        let slot = self.next_slot.get() % REMEMBERED;
        recent[slot] = Some((at.seconds, offset));
        self.recent.set(recent);
        self.next_slot.set(slot + 1);
        Ok(offset)
    }

    /// The local wall time of second `at`.
    fn local(&self, at: i64) -> Result<i64, String> {
        Ok(at + self.offset(at)?)
    }

    /// The first second in `lo..=hi` where `pred` holds, assuming it is false at `lo` and
    /// stays true once true; `hi` if it never holds.
    fn first_where(
        &self,
        mut lo: i64,
        mut hi: i64,
        pred: impl Fn(i64) -> Result<bool, String>,
    ) -> Result<i64, String> {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if pred(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    /// The instants of local wall time `local`.
    fn resolve(&self, local: i64) -> Result<Resolved, String> {
        let before = self.offset(local - DAY)?;
        let after = self.offset(local + DAY)?;
        let mut found = [None, None];
        let mut tried = Vec::with_capacity(4);
        let mut queue = vec![before, after];
        while let Some(offset) = queue.pop() {
            if tried.contains(&offset) || tried.len() >= 4 {
                continue;
            }
            tried.push(offset);
            let at = local - offset;
            let actual = self.offset(at)?;
            if actual == offset {
                match found {
                    [None, _] => found[0] = Some(at),
                    [Some(a), _] if a != at => found[1] = Some(at),
                    _ => {}
                }
            } else {
                queue.push(actual);
            }
        }
        Ok(match found {
            [Some(a), Some(b)] => Resolved::Fold(a.min(b), a.max(b)),
            [Some(a), None] | [None, Some(a)] => Resolved::Unique(a),
            [None, None] => {
                // A gap: the first instant whose local time is at or past `local`.
                let (lo, hi) = (local - before.max(after), local - before.min(after));
                let (lo, hi) = if self.local(lo)? < local && self.local(hi)? >= local {
                    (lo, hi)
                } else {
                    (local - DAY, local + DAY)
                };
                Resolved::Gap(self.first_where(lo, hi, |u| Ok(self.local(u)? >= local))?)
            }
        })
    }

    /// For a fold whose passes include `first` and `second`: the instant the second pass
    /// starts, and the offsets of the first and the second pass.
    fn fold(&self, first: i64, second: i64) -> Result<(i64, i64, i64), String> {
        let (early, late) = (self.offset(first)?, self.offset(second)?);
        let at = self.first_where(first, second, |u| Ok(self.offset(u)? != early))?;
        Ok((at, early, late))
    }
}

/// An instant that exists, or `None` past the last one.
fn instant(seconds: i64) -> Option<Instant> {
    Instant::new(seconds, 0)
}

/// The first fire of `spec` strictly after `after`, in `zone`. See the module
/// documentation of [`super`] for the daylight-saving rules.
pub(crate) fn next_after(
    spec: &Spec,
    after: Instant,
    zone: &Zone,
) -> Result<Option<Instant>, String> {
    if Instant::new(after.seconds, after.nanoseconds).is_none() {
        return Err(format!(
            "the instant {} seconds after 1970 is outside years 1 to 9999",
            after.seconds
        ));
    }
    // Fire times are whole seconds, so "strictly after" a fractional instant is the same
    // as strictly after its whole second.
    let from = after.seconds;
    let local_from = zone.local(from)?;
    let mut search_from = local_from;
    if let Resolved::Fold(first, second) = zone.resolve(local_from)? {
        // `from` is inside a fold: finish the pass it is in, then go past the fold.
        let (change, early, late) = zone.fold(first, second)?;
        let (fold_start, fold_end) = (change + late, change + early);
        let within = |after: i64| spec.next_local(after, 1).filter(|l| *l < fold_end);
        if from < change {
            if let Some(l) = within(local_from) {
                return Ok(instant(l - early));
            }
            if spec.interval
                && let Some(l) = within(fold_start - 1)
            {
                return Ok(instant(l - late));
            }
        } else if spec.interval
            && let Some(l) = within(local_from)
        {
            return Ok(instant(l - late));
        }
        search_from = fold_end - 1;
    }
    let Some(local) = spec.next_local(search_from, MAX_SEARCH_YEARS) else {
        return Ok(None);
    };
    let at = match zone.resolve(local)? {
        Resolved::Unique(at) | Resolved::Gap(at) | Resolved::Fold(at, _) => at,
    };
    if at <= from {
        return Err(format!(
            "the time zone {:?} gave offsets that do not fit together around {}",
            zone.name,
            after.to_rfc3339()
        ));
    }
    Ok(instant(at))
}

/// Format `at` as RFC 3339 with the offset of `zone` at that instant
/// (`2016-03-13T03:00:00-04:00`), for people and for the host CLI. An offset that is not a
/// whole number of minutes (local mean time before 1900) cannot be written in RFC 3339, so
/// such an instant is written in UTC.
pub fn format_in_zone(at: Instant, zone: &str, zones: &dyn Zones) -> Result<String, String> {
    let zone = Zone::new(zone, zones);
    let offset = zone.offset(at.seconds)?;
    let utc = at.to_rfc3339();
    if offset % 60 != 0 {
        return Ok(utc);
    }
    let Some(local) = Instant::new(at.seconds + offset, at.nanoseconds) else {
        return Ok(utc);
    };
    let text = local.to_rfc3339();
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.abs() / 60;
    Ok(format!(
        "{}{sign}{:02}:{:02}",
        text.trim_end_matches('Z'),
        minutes / 60,
        minutes % 60
    ))
}

/// Read an instant given as RFC 3339 with an offset, or as a local wall time without one
/// (`2016-03-13T01:30:00`, seconds optional) read in `zone`: the earlier instant when the
/// time is repeated by a fold, the first instant after the gap when it is skipped.
pub fn parse_local_or_rfc3339(
    text: &str,
    zone: &str,
    zones: &dyn Zones,
) -> Result<Instant, String> {
    let malformed = || {
        format!(
            "{text:?} is not a date and time; write RFC 3339 (2016-03-13T01:30:00-05:00) or a local date and time (2016-03-13T01:30:00)"
        )
    };
    if !text.is_ascii() {
        return Err(malformed());
    }
    if let Some(at) = Instant::parse_rfc3339(text) {
        return Ok(at);
    }
    let local = if text.len() == 16 {
        Instant::parse_rfc3339(&format!("{text}:00Z"))
    } else {
        Instant::parse_rfc3339(&format!("{text}Z"))
    };
    let Some(local) = local else {
        return Err(malformed());
    };
    let at = match Zone::new(zone, zones).resolve(local.seconds)? {
        Resolved::Unique(at) | Resolved::Fold(at, _) => Instant::new(at, local.nanoseconds),
        Resolved::Gap(at) => Instant::new(at, 0),
    };
    at.ok_or_else(|| format!("{text:?} in {zone} is outside years 1 to 9999"))
}
