//! A migration on a platform that moves VMs one by one, having no
//! protection groups ([`Capability::VmMigration`]): each selected VM is
//! powered off first when its group has Butler do it, moved cold, or
//! live when the group asks and the platform can (`migrate_vm`, retried
//! on passing failures until the deadline), its
//! task followed, then verified on the destination (its project remapped)
//! and powered on again, as a protection group's VMs are.
//!
//! [`Capability::VmMigration`]: crate::backend::Capability::VmMigration

use super::report::{Attempt, VmOutcome};
use super::run::{EventOutcome, MigrationStep, Runner};
use crate::backend::{BackendError, TaskId, TaskState, VmMove};
use crate::resilience::{retry, salt};
use crate::said::{Said, SaidCode};
use chrono::{DateTime, Utc};

impl Runner {
    /// Moves `vm` on its own (`after_move`: it is on the destination
    /// already, from an earlier run: its post-move steps only).
    pub(super) async fn move_one(&self, vm: &str, after_move: bool, deadline: DateTime<Utc>) {
        if after_move {
            let verified = self.verify(vm, "", false).await;
            let verified = self.power_on_verified(vm, None, verified).await;
            let note = Said::just(SaidCode::PostMoveOnly);
            let (outcome, notes) = verified.outcome(vec![note]);
            return self.finish(vm, None, outcome, &[], notes);
        }
        self.read_cancel().await;
        if self.cancelled() || self.clock.now() >= deadline {
            let reason = if self.cancelled() {
                "migration cancelled"
            } else {
                "deadline passed before it started"
            };
            let outcome = VmOutcome::Skipped {
                reason: reason.into(),
            };
            return self.finish(vm, None, outcome, &[], Vec::new());
        }
        let one = [vm.to_string()];
        let off = match self.power_off_unit(None, &one, deadline).await {
            Ok(off) => off,
            Err((reason, off)) => {
                self.restore_power(&off, None).await;
                let reason = format!("not migrated: {reason}");
                return self.finish(vm, None, VmOutcome::Failed { reason }, &[], Vec::new());
            }
        };
        let mut attempts = Vec::new();
        if let Err((reason, running)) = self.move_vm(vm, deadline, &mut attempts).await {
            if running {
                self.note(vm, Said::just(SaidCode::LeftOffWhileMoved));
            } else {
                self.restore_power(&off, None).await;
            }
            return self.settle(vm, None, &reason, &attempts, running).await;
        }
        let verified = self.verify(vm, "", false).await;
        let verified = self.power_on_verified(vm, None, verified).await;
        let (outcome, notes) = verified.outcome(Vec::new());
        self.finish(vm, None, outcome, &attempts, notes);
    }

    /// Asks the platform to move `vm` (retried on passing failures while
    /// the deadline allows) and follows its task. `Err`: why not, and
    /// whether the platform was still at it at the deadline.
    async fn move_vm(
        &self,
        vm: &str,
        deadline: DateTime<Utc>,
        attempts: &mut Vec<Attempt>,
    ) -> Result<(), (String, bool)> {
        let (clock, policy, key) = (self.clock.as_ref(), &self.config.verify_retry, salt(vm));
        let info = retry(clock, policy, key, "find_vm", || self.backend.find_vm(vm))
            .await
            .map_err(|e| (format!("cannot look the VM up: {e}"), false))?
            .ok_or_else(|| ("the VM is not on the platform".to_string(), false))?;
        if info.cluster == self.destination {
            return Ok(());
        }
        let to = VmMove {
            destination: self.destination.clone(),
            live: self.live,
        };
        let task = loop {
            let n = attempts.len() as u32 + 1;
            self.emit(
                Some(vm),
                None,
                MigrationStep::Migrate,
                n,
                EventOutcome::Started,
            );
            let started = self.clock.now();
            let result = self.backend.migrate_vm(&info.uuid, &to).await;
            attempts.push(Attempt {
                number: n,
                started,
                ended: self.clock.now(),
                error: result.as_ref().err().map(BackendError::to_string),
            });
            let e = match result {
                Ok(task) => {
                    self.emit(
                        Some(vm),
                        None,
                        MigrationStep::Migrate,
                        n,
                        EventOutcome::Succeeded,
                    );
                    break task;
                }
                Err(e) => e,
            };
            let delay = self.config.retry.delay(n, key);
            let wake = crate::backend::after(self.clock.now(), delay);
            let will_retry = e.is_retryable()
                && wake < deadline
                && !self.cancelled()
                && n < self.config.retry.max_attempts;
            let failed = EventOutcome::Failed {
                reason: e.to_string(),
                will_retry,
            };
            self.emit(Some(vm), None, MigrationStep::Migrate, n, failed);
            if !will_retry {
                let e = if e.is_retryable() && !self.cancelled() {
                    e.exhausted_after(n)
                } else {
                    e
                };
                return Err((e.to_string(), false));
            }
            self.pause(delay).await;
        };
        // The move is the platform's now: its task says when it is done.
        self.follow_move(&task, key, deadline, "the VM").await
    }

    /// Follows the platform's task for a move of `what` (a VM, a
    /// protection group) until it ends or the deadline passes. `Err`: why
    /// not, and whether the platform was still at it at the deadline.
    pub(super) async fn follow_move(
        &self,
        task: &TaskId,
        key: u64,
        deadline: DateTime<Utc>,
        what: &str,
    ) -> Result<(), (String, bool)> {
        let (clock, policy) = (self.clock.as_ref(), &self.config.verify_retry);
        loop {
            let status = retry(clock, policy, key, "task", || self.backend.task(task))
                .await
                .map_err(|e| {
                    (
                        format!("cannot follow the move's task {}: {e}", task.0),
                        true,
                    )
                })?;
            match status.state {
                TaskState::Succeeded => return Ok(()),
                TaskState::Failed(why) => {
                    return Err((format!("the platform's move failed: {why}"), false))
                }
                TaskState::Aborted => {
                    return Err(("the platform's move was aborted".into(), false))
                }
                TaskState::Queued | TaskState::Running => {}
            }
            if self.clock.now() >= deadline {
                return Err((
                    format!("the platform was still moving {what} at the deadline"),
                    true,
                ));
            }
            self.clock.sleep(self.config.poll).await;
        }
    }
}
