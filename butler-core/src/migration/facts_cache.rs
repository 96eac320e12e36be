//! The facts the migration service holds per group: the last good snapshot,
//! the last refresh error, and re-alignment when the group changed since.

use super::facts::{FactsSnapshot, GroupIndex};
use super::group::{GroupId, MigrationGroup};
use super::inventory::{Inventory, MoveVerdicts};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The facts the service holds for a group, and how fresh they are.
#[derive(Debug, Clone)]
pub struct FactsStatus {
    /// The last good snapshot.
    pub snapshot: Arc<FactsSnapshot>,
    /// Its age at the time asked.
    pub age: chrono::Duration,
    /// The last refresh failure since that snapshot, if any (when, why).
    pub last_error: Option<(DateTime<Utc>, String)>,
}

struct Entry {
    snapshot: Arc<FactsSnapshot>,
    last_error: Option<(DateTime<Utc>, String)>,
}

/// Snapshots by group; a failed refresh keeps the last good one.
#[derive(Default)]
pub(crate) struct FactsCache {
    entries: Mutex<HashMap<GroupId, Entry>>,
    snapshots: AtomicU64,
}

impl FactsCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<GroupId, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Builds and keeps the snapshot of `group` from `inv` (with the
    /// group's index when the caller has one) and the platform's dry run
    /// of its moves.
    pub(crate) fn install(
        &self,
        group: &MigrationGroup,
        index: Option<&GroupIndex>,
        inv: &Inventory,
        moves: Option<MoveVerdicts>,
    ) -> Arc<FactsSnapshot> {
        let id = self.snapshots.fetch_add(1, Ordering::SeqCst) + 1;
        let snap = match index {
            Some(index) => FactsSnapshot::build_indexed(group, index, inv, id),
            None => FactsSnapshot::build(group, inv, id),
        };
        let snap = Arc::new(snap.with_moves(moves));
        self.lock().insert(
            group.id,
            Entry {
                snapshot: snap.clone(),
                last_error: None,
            },
        );
        snap
    }

    /// Records a failed refresh of one group (its last good facts stay).
    pub(crate) fn failed(&self, id: GroupId, at: DateTime<Utc>, why: &str) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.last_error = Some((at, why.to_string()));
        }
    }

    /// Records a failed refresh of every group.
    pub(crate) fn all_failed(&self, at: DateTime<Utc>, why: &str) {
        for e in self.lock().values_mut() {
            e.last_error = Some((at, why.to_string()));
        }
    }

    /// Forgets a deleted group.
    pub(crate) fn remove(&self, id: GroupId) {
        self.lock().remove(&id);
    }

    /// The facts held for `id` at `now`.
    pub(crate) fn status(&self, id: GroupId, now: DateTime<Utc>) -> Option<FactsStatus> {
        self.lock().get(&id).map(|e| FactsStatus {
            snapshot: e.snapshot.clone(),
            age: e.snapshot.age(now),
            last_error: e.last_error.clone(),
        })
    }

    /// The facts aligned with `group` as it stands (re-aligned and kept when
    /// the group changed since the refresh), or `None` before any refresh.
    pub(crate) fn current(&self, group: &MigrationGroup) -> Option<Arc<FactsSnapshot>> {
        let snap = self.lock().get(&group.id).map(|e| e.snapshot.clone())?;
        if snap.group_version == group.version {
            return Some(snap);
        }
        let realigned = Arc::new(snap.realign(group));
        self.lock().insert(
            group.id,
            Entry {
                snapshot: realigned.clone(),
                last_error: None,
            },
        );
        Some(realigned)
    }
}
