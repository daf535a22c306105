//! The member store `serve` renders on-demand runs and schedules over: a stand-in for the
//! platform's own, in memory, one per entity, following the accepted changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::contract::bindings::{self as b, Member};
use crate::scheduler::MemberStore;

/// Each entity's members, by code.
#[derive(Clone, Default)]
pub struct SharedMembers(Arc<Mutex<BTreeMap<String, BTreeMap<String, Member>>>>);

impl SharedMembers {
    /// A store holding `members` of each entity (a later member with the same code wins).
    pub fn new(members: Vec<(String, Vec<Member>)>) -> SharedMembers {
        let mut all: BTreeMap<String, BTreeMap<String, Member>> = BTreeMap::new();
        for (entity, list) in members {
            let of = all.entry(entity).or_default();
            for m in list {
                of.insert(m.code.clone(), m);
            }
        }
        SharedMembers(Arc::new(Mutex::new(all)))
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, BTreeMap<String, Member>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follow changes: store added and updated members, remove deleted ones.
    pub fn apply(&self, changes: &[b::RecordChange]) {
        let mut all = self.lock();
        for c in changes {
            let of = all.entry(c.entity.clone()).or_default();
            match (&c.kind, &c.new_state) {
                (b::ChangeKind::Deleted, _) => {
                    of.remove(&c.code);
                }
                (_, Some(new)) => {
                    of.insert(c.code.clone(), new.clone());
                }
                (_, None) => {}
            }
        }
    }

    /// Every member of `entity`, in code order.
    pub fn all(&self, entity: &str) -> Vec<Member> {
        self.lock()
            .get(entity)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The member of `entity` with `code`.
    pub fn get(&self, entity: &str, code: &str) -> Option<Member> {
        self.lock().get(entity).and_then(|m| m.get(code)).cloned()
    }
}

impl MemberStore for SharedMembers {
    fn page(&mut self, entity: &str, start: usize, size: usize) -> Result<Vec<Member>, String> {
        Ok(self
            .lock()
            .get(entity)
            .map(|m| m.values().skip(start).take(size).cloned().collect())
            .unwrap_or_default())
    }
}
