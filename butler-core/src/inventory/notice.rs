//! Notices about an inventory VM, pure: what its owner hears of that is
//! no request's change (delivered by [`super::VmNotices`]).

use super::record::VmId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Something an inventory VM's owner must hear of that is no request's
/// change: its lease ending ([`crate::inventory::LeaseWatch`]), its power
/// changed. Notices wait in the VM's outbox, written with the change they
/// announce, until every notifier has delivered them
/// ([`crate::inventory::VmNotices`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmNotice {
    /// The inventory record.
    pub vm: VmId,
    /// Its platform-wide name.
    pub name: String,
    /// The name its owner gave it.
    pub display_name: String,
    /// Its owner (the recipient).
    pub owner: String,
    /// What happens.
    pub kind: VmNoticeKind,
    /// When the notice was made.
    pub at: DateTime<Utc>,
}

/// What a [`VmNotice`] announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum VmNoticeKind {
    /// The lease ends on `ends`, `days_left` days from now.
    LeaseEnding {
        /// The lease's last day.
        ends: chrono::NaiveDate,
        /// Days from today.
        days_left: u32,
        /// Whether Butler retires the VM then by itself (else it is kept
        /// until someone asks to retire or extend it).
        retired_then: bool,
    },
    /// The lease ended on `ended` and Butler does not retire VMs by itself:
    /// the VM runs on until its owner extends or retires it.
    LeaseEnded {
        /// The lease's last day.
        ended: chrono::NaiveDate,
    },
    /// Someone changed the VM's power.
    Power {
        /// What was asked.
        change: crate::backend::PowerChange,
        /// How it ended (the history line).
        outcome: String,
        /// Who asked.
        by: String,
    },
    /// A migration run powered the VM off to move it (`on` false), or on
    /// again once it was verified on the destination (`on` true).
    MigrationPower {
        /// The run (its report's id).
        run: u64,
        /// The cluster it leaves.
        from: String,
        /// The cluster it moves to.
        to: String,
        /// Powered on again (else powered off).
        on: bool,
        /// The Operator who started the run.
        by: String,
    },
}

impl VmNotice {
    /// A line for people.
    pub fn summary(&self) -> String {
        match &self.kind {
            VmNoticeKind::LeaseEnding {
                ends,
                days_left,
                retired_then,
            } => format!(
                "the lease of VM {} ({}) ends on {ends}, in {days_left} day(s){}",
                self.display_name,
                self.name,
                if *retired_then {
                    ": it will then be retired (powered off and deleted) unless its lease is extended"
                } else {
                    ": extend it or ask to retire the VM"
                }
            ),
            VmNoticeKind::LeaseEnded { ended } => format!(
                "the lease of VM {} ({}) ended on {ended}: extend it or ask to retire the VM",
                self.display_name, self.name
            ),
            VmNoticeKind::Power { outcome, by, .. } => format!(
                "VM {} ({}): {outcome} (asked by {by})",
                self.display_name, self.name
            ),
            VmNoticeKind::MigrationPower {
                run,
                from,
                to,
                on: false,
                by,
            } => format!(
                "VM {} ({}) is powered off to migrate it from {from} to {to} (migration run m{run}, started by {by}); Butler powers it on again on {to} once it is verified there",
                self.display_name, self.name
            ),
            VmNoticeKind::MigrationPower {
                run, from, to, ..
            } => format!(
                "VM {} ({}) was migrated from {from} to {to} (migration run m{run}) and is powered on again",
                self.display_name, self.name
            ),
        }
    }
}
