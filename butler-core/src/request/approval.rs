//! A request's approval levels (SPEC §13): the levels its rules demand and
//! who has approved at each so far.

use crate::rules::Level;
use serde::{Deserialize, Serialize};

/// The levels a request must be approved at, first to last, and who
/// approved the ones passed. A request without one needs one approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The levels, first to last.
    pub levels: Vec<Level>,
    /// Who approved each level passed so far, in order.
    #[serde(default)]
    pub approved_by: Vec<String>,
    /// Whether an approver's edit after a level was passed sends the
    /// request back to level 1.
    #[serde(default)]
    pub restart_on_edit: bool,
}

impl Approval {
    /// The level the request waits for (from 0), and it; `None` once
    /// every level is passed.
    pub fn next_level(&self) -> Option<(usize, &Level)> {
        let i = self.approved_by.len();
        self.levels.get(i).map(|l| (i, l))
    }

    /// Whether `name` approved at an earlier level.
    pub fn approved_by(&self, name: &str) -> bool {
        self.approved_by
            .iter()
            .any(|a| crate::auth::same_user(a, name))
    }
}
