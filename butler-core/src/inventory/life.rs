//! A VM's priced life: the moments its billable state changed (powered
//! off or on, resized by a request, retired), kept on its record so
//! showback can price every day as the VM stood
//! ([`crate::showback`]).

use super::record::{Lifecycle, VmRecord};
use crate::backend::PowerState;
use crate::request::RequestId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a VM's price depends on at a moment, apart from the rate card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifeState {
    /// Standing powered off (a VM whose power is unknown is priced on).
    #[serde(default, skip_serializing_if = "is_false")]
    pub off: bool,
    /// Retired: deleted, no longer billed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retired: bool,
    /// The reconfigure whose spec it has now (`None`: the request that
    /// made it, or, adopted, what the platform reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<RequestId>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl LifeState {
    /// The state a record stands in.
    pub fn of(r: &VmRecord) -> LifeState {
        LifeState {
            off: r.power == PowerState::Off,
            retired: r.lifecycle == Lifecycle::Retired,
            change: r.last_change,
        }
    }

    /// Where every record's life starts: on, with the spec it was made with.
    pub const START: LifeState = LifeState {
        off: false,
        retired: false,
        change: None,
    };
}

/// One change of a VM's billable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifeMark {
    /// When.
    pub at: DateTime<Utc>,
    /// The state from then on.
    #[serde(flatten)]
    pub state: LifeState,
}

impl VmRecord {
    /// Adds a mark when this record, the next version of `before`, stands
    /// in another billable state, dated by the history line of the change.
    /// Every write of a changed record passes here (the engine's record
    /// writes and the inventory's `amend`), so no caller has to remember.
    pub(crate) fn note_life(&mut self, before: &VmRecord) {
        let now = LifeState::of(self);
        if now == LifeState::of(before) {
            return;
        }
        let at = self.history.last().map_or(self.created_at, |e| e.at);
        self.life.push(LifeMark { at, state: now });
    }

    /// The marks of its life, the first at its making; where the record
    /// was last changed before marks were kept and so stands otherwise
    /// than its marks say, one more at its last history line.
    pub fn life_marks(&self) -> Vec<LifeMark> {
        let mut marks = Vec::with_capacity(self.life.len() + 2);
        marks.push(LifeMark {
            at: self.created_at,
            state: LifeState::START,
        });
        marks.extend(self.life.iter().copied());
        let now = LifeState::of(self);
        if marks.last().map(|m| m.state) != Some(now) {
            let at = self.history.last().map_or(self.created_at, |e| e.at);
            marks.push(LifeMark { at, state: now });
        }
        marks
    }
}
