//! What a migration did, per VM and for the group (SPEC §9). Stored and
//! readable later.

use super::group::GroupId;
use crate::said::Said;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A migration run's id, assigned by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId(pub u64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

/// How one VM ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum VmOutcome {
    /// On the destination and verified.
    Migrated,
    /// Not migrated (or not verified), with the last reason.
    Failed {
        /// Why.
        reason: String,
    },
    /// Never started (cancelled, or the deadline passed first).
    Skipped {
        /// Why.
        reason: String,
    },
    /// Unknown: the platform accepted the migration but had not finished
    /// it by the deadline, and the VM was not yet on the destination. It
    /// may still arrive: a later validation reads where it is, and
    /// retrying the failed VMs takes it (or says it moved meanwhile).
    StillRunning {
        /// What was seen last.
        reason: String,
    },
    /// On the destination, but a step that must follow the move (the
    /// project remap, the schedules) failed or was never run (the process
    /// stopped first). Neither migrated nor failed: retrying the failed
    /// VMs ([`MigrationService::validate_failed`](super::MigrationService::validate_failed))
    /// redoes only those steps.
    PostMovePending {
        /// Which step failed, and why.
        reason: String,
    },
}

/// One attempt at moving a VM's protection group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// From 1.
    pub number: u32,
    /// Started.
    pub started: DateTime<Utc>,
    /// Ended.
    pub ended: DateTime<Utc>,
    /// `None` when it succeeded; else the reason.
    pub error: Option<String>,
}

/// One VM's line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmReport {
    /// VM name.
    pub vm: String,
    /// Its protection group.
    pub protection_group: Option<String>,
    /// How it ended.
    pub outcome: VmOutcome,
    /// Every attempt of its protection group's migration.
    pub attempts: Vec<Attempt>,
    /// Verification notes (project remapped, schedules recreated, …),
    /// in English.
    pub notes: Vec<String>,
    /// The same notes as codes and values, for a user interface to word
    /// in its language (empty in reports written before Butler kept
    /// them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub said: Vec<Said>,
}

impl VmReport {
    /// The notes as codes and values (text as it is for lines written
    /// before Butler kept them).
    pub fn said_notes(&self) -> Vec<Said> {
        if self.said.len() == self.notes.len() {
            self.said.clone()
        } else {
            self.notes.iter().map(|n| Said::text(n.clone())).collect()
        }
    }
}

/// The report of one migration run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationReport {
    /// Run id.
    pub id: RunId,
    /// Group migrated.
    pub group: GroupId,
    /// Group name at the time.
    pub group_name: String,
    /// Source cluster.
    pub source: String,
    /// Destination cluster.
    pub destination: String,
    /// Who started it.
    pub started_by: String,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it ended (`None` while running).
    pub ended: Option<DateTime<Utc>>,
    /// Whether it was cancelled.
    pub cancelled: bool,
    /// Whether the process running it stopped before the end (closed by
    /// [`MigrationService::recover_interrupted`](super::MigrationService::recover_interrupted));
    /// the lines are what was known then.
    #[serde(default)]
    pub interrupted: bool,
    /// The VMs the run set out to migrate, so that a run a crash stopped
    /// still accounts for each of them (see
    /// [`MigrationService::recover_interrupted`](super::MigrationService::recover_interrupted)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<String>,
    /// The VMs Butler powers off before migrating them and on again once
    /// verified (the group's [`power_off`](super::MigrationGroup::power_off)),
    /// stored before the first is touched, so a retry after a crash still
    /// powers them on. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub power_cycle: Vec<String>,
    /// Per VM.
    pub vms: Vec<VmReport>,
}

impl MigrationReport {
    /// (migrated, failed, skipped); VMs [still running](VmOutcome::StillRunning)
    /// or [waiting for their post-move steps](VmOutcome::PostMovePending)
    /// are in none of them: see [`still_running`](Self::still_running) and
    /// [`post_move_pending`](Self::post_move_pending).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for v in &self.vms {
            match v.outcome {
                VmOutcome::Migrated => c.0 += 1,
                VmOutcome::Failed { .. } => c.1 += 1,
                VmOutcome::Skipped { .. } => c.2 += 1,
                VmOutcome::StillRunning { .. } | VmOutcome::PostMovePending { .. } => {}
            }
        }
        c
    }

    /// VMs whose migration was still running at the deadline.
    pub fn still_running(&self) -> usize {
        self.vms
            .iter()
            .filter(|v| matches!(v.outcome, VmOutcome::StillRunning { .. }))
            .count()
    }

    /// VMs on the destination whose post-move steps are still to do.
    pub fn post_move_pending(&self) -> usize {
        self.vms
            .iter()
            .filter(|v| matches!(v.outcome, VmOutcome::PostMovePending { .. }))
            .count()
    }

    /// Names of the VMs a retry takes: failed, still running at the
    /// deadline, or moved with post-move steps pending (the retry validates
    /// where each is, and redoes only the post-move steps of those on the
    /// destination).
    pub fn failed_vms(&self) -> Vec<String> {
        self.vms
            .iter()
            .filter(|v| {
                matches!(
                    v.outcome,
                    VmOutcome::Failed { .. }
                        | VmOutcome::StillRunning { .. }
                        | VmOutcome::PostMovePending { .. }
                )
            })
            .map(|v| v.vm.clone())
            .collect()
    }
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (m, fl, s) = self.counts();
        let mut running = match self.still_running() {
            0 => String::new(),
            n => format!(", {n} still running"),
        };
        if let n @ 1.. = self.post_move_pending() {
            running.push_str(&format!(", {n} moved with post-move steps pending"));
        }
        writeln!(
            f,
            "migration {} of group {:?} ({} → {}) by {}: {m} migrated, {fl} failed, {s} skipped{running}{}",
            self.id,
            self.group_name,
            self.source,
            self.destination,
            self.started_by,
            if self.cancelled { " (cancelled)" } else { "" }
        )?;
        for v in &self.vms {
            let outcome = match &v.outcome {
                VmOutcome::Migrated => "migrated".to_string(),
                VmOutcome::Failed { reason } => format!("FAILED: {reason}"),
                VmOutcome::Skipped { reason } => format!("skipped: {reason}"),
                VmOutcome::StillRunning { reason } => format!("STILL RUNNING: {reason}"),
                VmOutcome::PostMovePending { reason } => {
                    format!("MOVED, POST-MOVE STEPS PENDING: {reason}")
                }
            };
            write!(
                f,
                "  {:<24} {:<28} {} attempt(s)  {outcome}",
                v.vm,
                v.protection_group.as_deref().unwrap_or("-"),
                v.attempts.len()
            )?;
            for n in &v.notes {
                write!(f, "; {n}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
