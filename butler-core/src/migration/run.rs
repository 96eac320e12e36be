//! Executing a migration (SPEC §9): protection groups moved with a
//! concurrency cap and retries until the group deadline, each VM verified
//! on the destination, progress broadcast to any number of observers,
//! cancellation, and a per-VM report.

use super::plan::Unit;
use super::report::{Attempt, RunId, VmOutcome, VmReport};
use crate::backend::{
    BackendError, Clock, ClusterBackend, ErrorKind, ProtectRequest, Schedule, TaskId, VmMove,
};
use crate::resilience::{retry, salt, RetryPolicy};
use crate::said::{Said, SaidCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Semaphore};

/// Migration settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationConfig {
    /// Protection groups migrated at once.
    pub max_parallel: usize,
    /// The whole run's time limit.
    pub deadline: Duration,
    /// Backoff between attempts of one protection group.
    pub retry: RetryPolicy,
    /// Backoff of the reads and fixes that verify each VM afterwards.
    pub verify_retry: RetryPolicy,
    /// Deadline of one backend call ([`crate::resilience::Guarded`]).
    pub call_deadline: Duration,
    /// After a cancel, how long a protection group already migrating may
    /// take to become active on the destination before it is given up.
    pub cancel_grace: Duration,
    /// Interval between checks of a migration's progress.
    pub poll: Duration,
    /// Project on the destination, per source project and destination cluster.
    pub project_map: BTreeMap<String, BTreeMap<String, String>>,
    /// Schedules to create on the destination when the moved protection
    /// group has none there (empty: leave schedules alone).
    pub recreate_schedules: Vec<Schedule>,
    /// How long a guest may take to shut down when the group has Butler
    /// power its VMs off, before the power is cut.
    #[serde(default = "default_shutdown_wait")]
    pub shutdown_wait: Duration,
}

fn default_shutdown_wait() -> Duration {
    Duration::from_secs(5 * 60)
}

impl Default for MigrationConfig {
    fn default() -> Self {
        MigrationConfig {
            max_parallel: 4,
            deadline: Duration::from_secs(2 * 3600),
            retry: RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: Duration::from_secs(5),
                max_delay: Duration::from_secs(300),
                step_deadline: Duration::from_secs(2 * 3600),
            },
            verify_retry: RetryPolicy {
                max_attempts: 8,
                base_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(60),
                step_deadline: Duration::from_secs(10 * 60),
            },
            call_deadline: crate::resilience::DEFAULT_CALL_DEADLINE,
            cancel_grace: Duration::from_secs(10 * 60),
            poll: Duration::from_secs(10),
            project_map: BTreeMap::new(),
            recreate_schedules: Vec::new(),
            shutdown_wait: default_shutdown_wait(),
        }
    }
}

/// The step an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStep {
    /// Powering a VM off before its protection group migrates (the
    /// group's [`power_off`](super::MigrationGroup::power_off)).
    PowerOff,
    /// Asking the platform to migrate the protection group.
    Migrate,
    /// Waiting for it to be active on the destination.
    Wait,
    /// Verifying a VM on the destination (VM, project, group, schedules).
    Verify,
    /// The whole run.
    Run,
    /// Powering a VM Butler powered off on again: at the destination once
    /// verified, or where it is when its protection group did not move.
    PowerOn,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum EventOutcome {
    /// The step started.
    Started,
    /// The step succeeded.
    Succeeded,
    /// The step failed.
    Failed {
        /// Why.
        reason: String,
        /// Whether it will be tried again.
        will_retry: bool,
    },
    /// The step was skipped.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// A progress event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationEvent {
    /// The run.
    pub run: RunId,
    /// When.
    pub at: DateTime<Utc>,
    /// The VM, if about one.
    pub vm: Option<String>,
    /// The protection group, if about one.
    pub protection_group: Option<String>,
    /// The step.
    pub step: MigrationStep,
    /// Attempt number (from 1).
    pub attempt: u32,
    /// What happened.
    pub outcome: EventOutcome,
    /// Share of the group's VMs finished (migrated, failed or skipped), 0–100.
    pub percent: f32,
}

/// A stream of events for one observer. Observers that fall behind by more
/// than the buffer skip the oldest events rather than slowing the run.
#[derive(Debug)]
pub struct EventStream {
    rx: broadcast::Receiver<MigrationEvent>,
}

impl EventStream {
    pub(crate) fn from_receiver(rx: broadcast::Receiver<MigrationEvent>) -> Self {
        EventStream { rx }
    }

    /// The next event, or `None` once the run is over and all are read.
    pub async fn next(&mut self) -> Option<MigrationEvent> {
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("progress observer skipped {n} events")
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

pub(crate) struct Runner {
    pub(crate) id: RunId,
    pub(crate) backend: Arc<dyn ClusterBackend>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: MigrationConfig,
    pub(crate) source: String,
    pub(crate) destination: String,
    pub(crate) events: broadcast::Sender<MigrationEvent>,
    pub(crate) cancel: watch::Receiver<bool>,
    /// Passes on a cancel asked through the store (from any process).
    pub(crate) cancel_tx: Arc<watch::Sender<bool>>,
    pub(crate) total: usize,
    pub(crate) done: AtomicUsize,
    pub(crate) lines: Mutex<Vec<VmReport>>,
    /// Where each finished line is appended as it happens (crash safety).
    pub(crate) store: Arc<dyn crate::store::Store>,
    /// Lines finished and not yet appended to the store.
    pub(crate) unsaved: Mutex<Vec<VmReport>>,
    /// The VMs the run powers off and on again (the report's
    /// [`power_cycle`](super::MigrationReport::power_cycle)).
    pub(crate) power_cycle: std::collections::HashSet<String>,
    /// Notes of the power changes per VM, put first on its line.
    pub(crate) power_notes: Mutex<std::collections::HashMap<String, Vec<Said>>>,
    /// Who started the run (for the VMs' history and their owners' notices).
    pub(crate) started_by: String,
    /// Wakes the deliverer of the VMs' notices (`None`: nobody delivers
    /// them, so none are written).
    pub(crate) notices: Option<Arc<tokio::sync::Notify>>,
    /// The platform moves VMs one by one (each unit is one VM).
    pub(crate) vm_moves: bool,
    /// Those VMs move live (the group asks it, the platform can).
    pub(crate) live: bool,
}

impl Runner {
    pub(super) fn percent(&self) -> f32 {
        if self.total == 0 {
            return 100.0;
        }
        self.done.load(Ordering::SeqCst) as f32 * 100.0 / self.total as f32
    }

    pub(super) fn emit(
        &self,
        vm: Option<&str>,
        group: Option<&str>,
        step: MigrationStep,
        attempt: u32,
        outcome: EventOutcome,
    ) {
        let _ = self.events.send(MigrationEvent {
            run: self.id,
            at: self.clock.now(),
            vm: vm.map(str::to_string),
            protection_group: group.map(str::to_string),
            step,
            attempt,
            outcome,
            percent: self.percent(),
        });
    }

    pub(super) fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Whether someone asked the run to stop through the store (from any
    /// process), read before each protection group starts; passed on.
    pub(super) async fn read_cancel(&self) {
        match self.store.cancel_requested(self.id).await {
            Ok(true) => {
                self.cancel_tx.send_replace(true);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(run = %self.id, error = ?e, "cannot read whether the run was cancelled")
            }
        }
    }

    /// Sleeps `d` on the clock, or less when the run is cancelled meanwhile.
    pub(super) async fn pause(&self, d: Duration) {
        let mut cancel = self.cancel.clone();
        tokio::select! {
            _ = self.clock.sleep(d) => {}
            _ = cancel.wait_for(|c| *c) => {}
        }
    }

    /// Keeps `note` for the line of `vm`, before its other notes.
    pub(super) fn note(&self, vm: &str, note: Said) {
        self.power_notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(vm.to_string())
            .or_default()
            .push(note);
    }

    pub(super) fn finish(
        &self,
        vm: &str,
        group: Option<&str>,
        outcome: VmOutcome,
        attempts: &[Attempt],
        notes: Vec<Said>,
    ) {
        let power = self
            .power_notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(vm);
        let notes = match power {
            Some(mut first) => {
                first.extend(notes);
                first
            }
            None => notes,
        };
        self.done.fetch_add(1, Ordering::SeqCst);
        let event = match &outcome {
            VmOutcome::Migrated => EventOutcome::Succeeded,
            VmOutcome::Failed { reason } => EventOutcome::Failed {
                reason: reason.clone(),
                will_retry: false,
            },
            VmOutcome::Skipped { reason } => EventOutcome::Skipped {
                reason: reason.clone(),
            },
            VmOutcome::StillRunning { reason } => EventOutcome::Failed {
                reason: format!("still running at the deadline: {reason}"),
                will_retry: false,
            },
            VmOutcome::PostMovePending { reason } => EventOutcome::Failed {
                reason: format!("on the destination, post-move steps pending: {reason}"),
                will_retry: false,
            },
        };
        self.emit(
            Some(vm),
            group,
            MigrationStep::Verify,
            attempts.len() as u32,
            event,
        );
        let line = VmReport {
            vm: vm.to_string(),
            protection_group: group.map(str::to_string),
            outcome,
            attempts: attempts.to_vec(),
            notes: notes.iter().map(ToString::to_string).collect(),
            said: notes,
        };
        self.unsaved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.clone());
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    /// Appends the lines finished so far to the stored report, so a crash
    /// loses nothing already known. A store failure is logged; the lines
    /// stay queued for the next try and for the final report.
    async fn save_progress(&self) {
        let batch = std::mem::take(&mut *self.unsaved.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return;
        }
        if let Err(e) = self.store.append_report_lines(self.id, &batch).await {
            tracing::warn!(run = %self.id, error = ?e, "could not save migration progress");
            let mut unsaved = self.unsaved.lock().unwrap_or_else(|e| e.into_inner());
            let newer = std::mem::replace(&mut *unsaved, batch);
            unsaved.extend(newer);
        }
    }

    /// Runs every unit, at most `max_parallel` at once, and returns the lines.
    #[tracing::instrument(name = "migration", skip_all, fields(run = %self.id, source = %self.source, destination = %self.destination))]
    pub(crate) async fn run(
        self: Arc<Self>,
        units: Vec<Unit>,
        deadline: DateTime<Utc>,
    ) -> Vec<VmReport> {
        self.emit(None, None, MigrationStep::Run, 1, EventOutcome::Started);
        let sem = Arc::new(Semaphore::new(self.config.max_parallel.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for unit in units {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            let me = self.clone();
            set.spawn(async move {
                me.unit(unit, deadline).await;
                me.save_progress().await;
                drop(permit);
            });
        }
        while let Some(r) = set.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = ?e, "a migration unit ended abnormally");
            }
        }
        self.emit(None, None, MigrationStep::Run, 1, EventOutcome::Succeeded);
        let mut lines = std::mem::take(&mut *self.lines.lock().unwrap_or_else(|e| e.into_inner()));
        lines.sort_by(|a, b| a.vm.cmp(&b.vm));
        lines
    }

    #[tracing::instrument(name = "protection_group", skip_all, fields(group = unit.group.as_deref().unwrap_or("-"), vms = unit.vms.len()))]
    async fn unit(&self, unit: Unit, deadline: DateTime<Utc>) {
        let Some(group) = unit.group.clone() else {
            if self.vm_moves {
                for vm in &unit.vms {
                    self.move_one(vm, unit.after_move, deadline).await;
                }
                return;
            }
            for vm in &unit.vms {
                let reason = "the VM is in no protection domain".to_string();
                self.finish(vm, None, VmOutcome::Failed { reason }, &[], Vec::new());
            }
            return;
        };
        if unit.after_move {
            return self.after_move(&group, &unit.vms).await;
        }
        self.read_cancel().await;
        let g = Some(group.as_str());
        if self.cancelled() || self.clock.now() >= deadline {
            let reason = if self.cancelled() {
                "migration cancelled"
            } else {
                "deadline passed before it started"
            };
            for vm in &unit.vms {
                self.finish(
                    vm,
                    g,
                    VmOutcome::Skipped {
                        reason: reason.into(),
                    },
                    &[],
                    Vec::new(),
                );
            }
            return;
        }
        let off = match self.power_off_unit(Some(&group), &unit.vms, deadline).await {
            Ok(off) => off,
            Err((reason, off)) => {
                self.restore_power(&off, Some(&group)).await;
                for vm in &unit.vms {
                    let reason = format!("not migrated: {reason}");
                    self.finish(vm, g, VmOutcome::Failed { reason }, &[], Vec::new());
                }
                return;
            }
        };
        let mut attempts = Vec::new();
        let task = match self.migrate(&group, deadline, &mut attempts).await {
            Ok(task) => task,
            Err(reason) => {
                self.restore_power(&off, Some(&group)).await;
                for vm in &unit.vms {
                    self.settle(vm, Some(&group), &reason, &attempts, false)
                        .await;
                }
                return;
            }
        };
        // Where the platform names a task for the move, its end and its
        // reasons are the platform's word, not inferred from listings.
        let followed = match &task {
            Some(task) => {
                let what = format!("protection group {group:?}");
                self.follow_move(task, salt(&group), deadline, &what).await
            }
            None => Ok(()),
        };
        let arrived = match followed {
            Ok(()) => self.wait_active(&group, &unit.vms, deadline).await,
            Err(e) => Err(e),
        };
        let dst_group = match arrived {
            Ok(pg) => pg,
            Err((reason, running)) => {
                if running {
                    // The platform may still be moving them: powering them
                    // on now could break that; a retry powers them on.
                    for vm in &off {
                        self.note(vm, Said::just(SaidCode::LeftOffWhileMigrated));
                    }
                } else {
                    self.restore_power(&off, Some(&group)).await;
                }
                for vm in &unit.vms {
                    self.settle(vm, Some(&group), &reason, &attempts, running)
                        .await;
                }
                return;
            }
        };
        for vm in &unit.vms {
            let verified = self
                .verify(vm, &group, dst_group.schedules.is_empty())
                .await;
            let verified = self.power_on_verified(vm, g, verified).await;
            let (outcome, notes) = verified.outcome(Vec::new());
            self.finish(vm, g, outcome, &attempts, notes);
        }
    }

    /// Powers on again, on the destination, a VM the run cycles once it is
    /// verified there; a VM that cannot be is left with its post-move
    /// steps pending, the reason given.
    pub(super) async fn power_on_verified(
        &self,
        vm: &str,
        group: Option<&str>,
        v: Verified,
    ) -> Verified {
        if !self.cycles(vm) {
            return v;
        }
        match v {
            Verified::NotThere(_) => v,
            Verified::Done(mut notes) => match self.power_on(vm, group).await {
                Ok(note) => {
                    notes.push(note);
                    Verified::Done(notes)
                }
                Err(reason) => Verified::StepsPending(reason),
            },
            Verified::StepsPending(reason) => match self.power_on(vm, group).await {
                Ok(_) => Verified::StepsPending(reason),
                Err(more) => Verified::StepsPending(format!("{reason}; {more}")),
            },
        }
    }

    /// A retry's VMs found on the destination already: only the steps that
    /// follow a move (project remap, schedules) are (re)done. Both are
    /// idempotent, so redoing a step an earlier run did changes nothing.
    async fn after_move(&self, group: &str, vms: &[String]) {
        let g = Some(group);
        let (clock, policy, key) = (self.clock.as_ref(), &self.config.verify_retry, salt(group));
        let groups = retry(clock, policy, key, "list_protection_groups", || {
            self.backend.list_protection_groups(&self.destination)
        })
        .await;
        let needs_schedules = match groups {
            Ok(list) => list
                .iter()
                .find(|p| p.name == group)
                .is_none_or(|p| p.schedules.is_empty()),
            Err(e) => {
                let reason = format!(
                    "cannot read protection domains on {}: {e}",
                    self.destination
                );
                for vm in vms {
                    let outcome = VmOutcome::PostMovePending {
                        reason: reason.clone(),
                    };
                    self.finish(vm, g, outcome, &[], Vec::new());
                }
                return;
            }
        };
        for vm in vms {
            if self.cancelled() {
                let reason = "the run was cancelled before its post-move steps".to_string();
                self.finish(
                    vm,
                    g,
                    VmOutcome::PostMovePending { reason },
                    &[],
                    Vec::new(),
                );
                continue;
            }
            let verified = self.verify(vm, group, needs_schedules).await;
            let verified = self.power_on_verified(vm, g, verified).await;
            let note = Said::just(SaidCode::PostMoveOnly);
            let (outcome, notes) = verified.outcome(vec![note]);
            self.finish(vm, g, outcome, &[], notes);
        }
    }

    /// After a failed migrate or wait: a VM that is on the destination all
    /// the same (a lost reply, a slow platform) is verified and reported for
    /// what it is, never "failed"; one not there fails with `reason`, or is
    /// [still running](VmOutcome::StillRunning) when the platform accepted
    /// the migration and was still at it when the deadline came.
    pub(super) async fn settle(
        &self,
        vm: &str,
        group: Option<&str>,
        reason: &str,
        attempts: &[Attempt],
        running: bool,
    ) {
        let g = group;
        let (clock, policy, key) = (self.clock.as_ref(), &self.config.verify_retry, salt(vm));
        let found = retry(clock, policy, key, "find_vm", || self.backend.find_vm(vm)).await;
        match found {
            Ok(Some(info)) if info.cluster == self.destination => {
                let verified = self.verify(vm, group.unwrap_or_default(), false).await;
                let note = Said::new(
                    SaidCode::OnDestinationAlthough,
                    [("reason", reason.to_string())],
                );
                let (outcome, notes) = verified.outcome(vec![note]);
                self.finish(vm, g, outcome, attempts, notes)
            }
            _ if running => self.finish(
                vm,
                g,
                VmOutcome::StillRunning {
                    reason: reason.to_string(),
                },
                attempts,
                Vec::new(),
            ),
            _ => self.finish(
                vm,
                g,
                VmOutcome::Failed {
                    reason: reason.to_string(),
                },
                attempts,
                Vec::new(),
            ),
        }
    }

    /// Asks the platform to move `group` (retried on passing failures
    /// while the deadline allows): the platform's task for it, if it
    /// names one.
    async fn migrate(
        &self,
        group: &str,
        deadline: DateTime<Utc>,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Option<TaskId>, String> {
        let g = Some(group);
        let to = VmMove {
            destination: self.destination.clone(),
            live: self.live,
        };
        loop {
            let n = attempts.len() as u32 + 1;
            self.emit(None, g, MigrationStep::Migrate, n, EventOutcome::Started);
            let started = self.clock.now();
            let result = self
                .backend
                .move_protection_group(&self.source, group, &to)
                .await;
            let ended = self.clock.now();
            let mut task = None;
            let error = match result {
                Ok(t) => {
                    task = t;
                    None
                }
                // A conflict ("already migrating" / "not active here") means
                // the migration was started before: by this run's earlier
                // call whose reply was lost, or by a run a crash stopped.
                // Waiting and verifying settles it; verification, not this
                // answer, decides whether the VMs are on the destination.
                Err(e) if e.kind == ErrorKind::Conflict => None,
                Err(e) => Some(e),
            };
            attempts.push(Attempt {
                number: n,
                started,
                ended,
                error: error.as_ref().map(BackendError::to_string),
            });
            let Some(e) = error else {
                self.emit(None, g, MigrationStep::Migrate, n, EventOutcome::Succeeded);
                return Ok(task);
            };
            let delay = self.config.retry.delay(n, salt(group));
            let wake = crate::backend::after(self.clock.now(), delay);
            let will_retry = e.is_retryable()
                && wake < deadline
                && !self.cancelled()
                && n < self.config.retry.max_attempts;
            self.emit(
                None,
                g,
                MigrationStep::Migrate,
                n,
                EventOutcome::Failed {
                    reason: e.to_string(),
                    will_retry,
                },
            );
            if !will_retry {
                let why = if self.cancelled() { " (cancelled)" } else { "" };
                if e.is_retryable() && !self.cancelled() {
                    tracing::warn!(
                        group,
                        attempts = n,
                        error = ?e,
                        "giving up on migrating the protection group"
                    );
                }
                // A passing failure the policy ran out on says so.
                let e = if e.is_retryable() && !self.cancelled() {
                    e.exhausted_after(n)
                } else {
                    e
                };
                return Err(format!("{e}{why}"));
            }
            self.pause(delay).await;
        }
    }

    async fn wait_active(
        &self,
        group: &str,
        vms: &[String],
        deadline: DateTime<Utc>,
    ) -> Result<crate::backend::ProtectionGroup, (String, bool)> {
        self.emit(
            None,
            Some(group),
            MigrationStep::Wait,
            1,
            EventOutcome::Started,
        );
        let mut cancel_seen = None;
        loop {
            match self.backend.list_protection_groups(&self.destination).await {
                Ok(list) => {
                    if let Some(pg) = list.into_iter().find(|p| {
                        p.name == group
                            && p.active
                            && vms.iter().all(|v| p.vms.iter().any(|m| **m == **v))
                    }) {
                        self.emit(
                            None,
                            Some(group),
                            MigrationStep::Wait,
                            1,
                            EventOutcome::Succeeded,
                        );
                        return Ok(pg);
                    }
                }
                Err(e) if e.is_retryable() => {}
                Err(e) => {
                    return Err((
                        format!(
                            "cannot read protection domains on {}: {e}",
                            self.destination
                        ),
                        false,
                    ))
                }
            }
            if self.clock.now() >= deadline {
                // Accepted and not finished: unknown, not failed.
                return Err((
                    format!(
                        "protection domain {group:?} not active on {} before the deadline",
                        self.destination
                    ),
                    true,
                ));
            }
            // A cancel stops new work; a migration already asked for gets
            // `cancel_grace` to finish, so it is verified, not abandoned.
            if self.cancelled() {
                let since = *cancel_seen.get_or_insert_with(|| self.clock.now());
                if self.clock.now() >= crate::backend::after(since, self.config.cancel_grace) {
                    return Err((
                        format!(
                            "the run was cancelled and protection domain {group:?} was still not active on {} {:?} later",
                            self.destination, self.config.cancel_grace
                        ),
                        true,
                    ));
                }
            }
            self.clock.sleep(self.config.poll).await;
        }
    }

    /// Checks the VM on the destination, remaps its project and recreates
    /// schedules when configured. Returns notes for the report.
    pub(super) async fn verify(&self, vm: &str, group: &str, needs_schedules: bool) -> Verified {
        let (clock, policy, key) = (self.clock.as_ref(), &self.config.verify_retry, salt(vm));
        let info = match retry(clock, policy, key, "find_vm", || self.backend.find_vm(vm)).await {
            Err(e) => return Verified::NotThere(format!("cannot look the VM up: {e}")),
            Ok(None) => {
                return Verified::NotThere(
                    "the VM is not on the platform after the migration".into(),
                )
            }
            Ok(Some(info)) => info,
        };
        if info.cluster != self.destination {
            return Verified::NotThere(format!(
                "the VM is on {:?}, not on {:?}",
                info.cluster, self.destination
            ));
        }
        let mut notes = vec![Said::new(
            SaidCode::OnDestination,
            [("cluster", self.destination.clone())],
        )];
        match self
            .after_move_steps(vm, &info, group, needs_schedules, &mut notes)
            .await
        {
            Ok(()) => Verified::Done(notes),
            Err(reason) => Verified::StepsPending(reason),
        }
    }

    /// The steps that follow a move: the project remap and, when the
    /// destination's protection group has none, the schedules.
    async fn after_move_steps(
        &self,
        vm: &str,
        info: &crate::backend::VmInfo,
        group: &str,
        needs_schedules: bool,
        notes: &mut Vec<Said>,
    ) -> Result<(), String> {
        let (clock, policy, key) = (self.clock.as_ref(), &self.config.verify_retry, salt(vm));
        let target = info
            .project
            .as_ref()
            .and_then(|p| self.config.project_map.get(p))
            .and_then(|m| m.get(&self.destination));
        match (info.project.as_deref(), target) {
            (Some(p), Some(t)) if p != t => {
                retry(clock, policy, key, "set_vm_project", || {
                    self.backend.set_vm_project(&info.uuid, t)
                })
                .await
                .map_err(|e| format!("cannot move the VM to project {t:?}: {e}"))?;
                notes.push(Said::new(
                    SaidCode::ProjectRemapped,
                    [("from", p.to_string()), ("to", t.to_string())],
                ));
            }
            (Some(p), _) => notes.push(Said::new(SaidCode::ProjectKept, [("project", p.into())])),
            (None, _) => notes.push(Said::just(SaidCode::NoProject)),
        }
        if needs_schedules && !self.config.recreate_schedules.is_empty() {
            let req = ProtectRequest {
                group: group.to_string(),
                vm_name: vm.to_string(),
                schedules: self.config.recreate_schedules.clone(),
            };
            retry(clock, policy, key, "protect_vm", || {
                self.backend.protect_vm(&self.destination, &req)
            })
            .await
            .map_err(|e| format!("cannot recreate schedules: {e}"))?;
            notes.push(Said::new(
                SaidCode::SchedulesRecreated,
                [("count", req.schedules.len().to_string())],
            ));
        }
        Ok(())
    }
}

/// What verifying a VM on the destination found.
pub(super) enum Verified {
    /// There, and every post-move step done (notes for the report).
    Done(Vec<Said>),
    /// Not on the destination (or it could not be looked up).
    NotThere(String),
    /// On the destination, with a post-move step failed.
    StepsPending(String),
}

impl Verified {
    /// The VM's outcome, and its notes after `first`.
    pub(super) fn outcome(self, mut first: Vec<Said>) -> (VmOutcome, Vec<Said>) {
        match self {
            Verified::Done(notes) => {
                first.extend(notes);
                (VmOutcome::Migrated, first)
            }
            Verified::NotThere(reason) => (VmOutcome::Failed { reason }, Vec::new()),
            Verified::StepsPending(reason) => (VmOutcome::PostMovePending { reason }, first),
        }
    }
}
