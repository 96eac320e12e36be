//! The decommission flow's actions (SPEC §12). Each looks its effect up
//! first, so a repeated step (a lost reply, a crash, an expired lease)
//! finds it done; and each acts on the request's [`Target`] only: a VM of
//! the same name with another platform id, a registration of another VM,
//! are left alone. The order is [`crate::request::flow::DECOMMISSION`].

use super::flow::{permanent, Backends, RecordWrite, StepAction, StepCtx, StepFault, StepOutcome};
use crate::backend::{BillingStop, Capability, PowerState, ShutDown, VmInfo};
use crate::inventory::Lifecycle;
use crate::request::{ProvisioningStep, RequestKind, Target};
use crate::said::{Said, SaidCode};
use std::time::Duration;

/// Each decommission step and its action.
pub(crate) const ACTIONS: [StepAction; 6] = [
    StepAction {
        step: ProvisioningStep::PowerOff,
        run: |b, cx| Box::pin(b.power_off(cx)),
    },
    StepAction {
        step: ProvisioningStep::Unprotect,
        run: |b, cx| Box::pin(b.unprotect(cx)),
    },
    StepAction {
        step: ProvisioningStep::Deregister,
        run: |b, cx| Box::pin(b.deregister(cx)),
    },
    StepAction {
        step: ProvisioningStep::StopBilling,
        run: |b, cx| Box::pin(b.stop_billing(cx)),
    },
    StepAction {
        step: ProvisioningStep::DeleteVm,
        run: |b, cx| Box::pin(b.delete(cx)),
    },
    StepAction {
        step: ProvisioningStep::Retire,
        run: |b, cx| Box::pin(b.retire(cx)),
    },
];

/// What a protection step says on a platform without protection groups.
pub(super) const NO_PROTECTION: SaidCode = SaidCode::NoProtectionGroups;

/// The key of the delete step's output that says until when the VM is kept.
const KEPT_UNTIL: &str = "kept_until";

/// The VM the request retires.
pub(super) fn target<'a>(cx: &'a StepCtx<'a>) -> Result<&'a Target, StepFault> {
    cx.request.kind.target().ok_or_else(|| {
        permanent(format!(
            "request {} is not a decommission request",
            cx.request.id
        ))
    })
}

impl Backends {
    /// The target as the platform reports it; `None` once it is gone (or
    /// the name now belongs to another VM, which is never touched).
    pub(super) async fn target_vm(&self, t: &Target) -> Result<Option<VmInfo>, StepFault> {
        Ok(self
            .cluster
            .find_vm(&t.name)
            .await?
            .filter(|vm| vm.uuid == t.platform_id))
    }

    /// The record moved to `to` (with `power`, when known), to be written
    /// with the step's success; `None` when it is there already.
    async fn lifecycle(
        &self,
        cx: &StepCtx<'_>,
        to: Lifecycle,
        power: Option<PowerState>,
        what: SaidCode,
    ) -> Result<Option<RecordWrite>, StepFault> {
        let t = target(cx)?;
        let note = Said::new(what, [("request", cx.request.id.to_string())]);
        self.plan_record(t.vm, note, |r| {
            if r.lifecycle == to {
                return false;
            }
            r.lifecycle = to;
            if let Some(p) = power {
                r.power = p;
            }
            true
        })
        .await
    }

    /// Powers the VM off (a guest shutdown first, a hard power-off once
    /// `shutdown_wait` has passed: its disks are about to be deleted, so
    /// nothing is lost that the owner kept) and records it retiring with
    /// the step's success, powered off where it is (showback prices its
    /// last days so). The record is read after the platform's work, so a
    /// change made meanwhile rarely sends the step round again.
    async fn power_off(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let (done, power) = self.powered_off(cx).await?;
        let retiring = self
            .lifecycle(cx, Lifecycle::Retiring, power, SaidCode::Retiring)
            .await?;
        Ok(done.recording(retiring))
    }

    /// The step's outcome, and the power it leaves the VM in where known.
    async fn powered_off(
        &self,
        cx: &StepCtx<'_>,
    ) -> Result<(StepOutcome, Option<PowerState>), StepFault> {
        let t = target(cx)?;
        let Some(vm) = self.target_vm(t).await? else {
            return Ok((StepOutcome::done(Said::just(SaidCode::AlreadyGone)), None));
        };
        let off = Some(PowerState::Off);
        if vm.power == PowerState::Off {
            return Ok((StepOutcome::done(Said::just(SaidCode::AlreadyOff)), off));
        }
        if !self.cluster.capabilities().has(Capability::Power) {
            return Ok((StepOutcome::done(Said::just(SaidCode::CannotPower)), None));
        }
        let how = self.shut_down(t, cx).await?;
        Ok((StepOutcome::done(how), off))
    }

    /// Powers the target off: a guest shutdown first, a hard power-off
    /// once `shutdown_wait` has passed (or the guest refused). The detail
    /// line says which.
    pub(super) async fn shut_down(&self, t: &Target, cx: &StepCtx<'_>) -> Result<Said, StepFault> {
        let cfg = cx.config;
        let until = crate::backend::after(self.clock.now(), cfg.shutdown_wait).min(cx.deadline);
        let how = crate::backend::shut_down(
            self.cluster.as_ref(),
            self.clock.as_ref(),
            &t.name,
            &t.platform_id,
            until,
            cfg.task_poll,
        )
        .await?;
        Ok(match how {
            ShutDown::Gone => Said::just(SaidCode::GoneFromPlatform),
            ShutDown::Guest => Said::just(SaidCode::GuestShutDown),
            ShutDown::Forced => Said::new(
                SaidCode::PoweredOffAfter,
                [("secs", cfg.shutdown_wait.as_secs().to_string())],
            ),
        })
    }

    /// The protection groups that list the target on its cluster, or
    /// `None` when the platform has no protection groups.
    pub(super) async fn protection_groups_of(
        &self,
        t: &Target,
    ) -> Result<Option<Vec<String>>, StepFault> {
        if !self.cluster.capabilities().has(Capability::Protection) {
            return Ok(None);
        }
        Ok(Some(
            self.cluster
                .protection_groups_of(&t.cluster, &t.name)
                .await?,
        ))
    }

    /// Takes the VM out of every protection group that lists it.
    async fn unprotect(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let Some(holding) = self.protection_groups_of(t).await? else {
            return Ok(StepOutcome::done(Said::just(NO_PROTECTION)));
        };
        if holding.is_empty() {
            return Ok(StepOutcome::done(Said::just(SaidCode::InNoProtectionGroup)));
        }
        for g in &holding {
            self.cluster.unprotect_vm(&t.cluster, g, &t.name).await?;
        }
        Ok(StepOutcome::done(Said::new(
            SaidCode::Unprotected,
            [("groups", holding.join(", "))],
        )))
    }

    async fn deregister(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        if !cx.config.monitoring {
            return Ok(StepOutcome::done(Said::just(
                SaidCode::SkippedByConfiguration,
            )));
        }
        match self.monitor.find(&t.name).await? {
            None => Ok(StepOutcome::done(Said::just(SaidCode::NotRegistered))),
            Some(reg) if reg.vm_uuid != t.platform_id => Ok(StepOutcome::done(Said::new(
                SaidCode::RegistrationOfOther,
                [("vm", t.name.clone()), ("uuid", reg.vm_uuid)],
            ))),
            Some(_) => {
                self.monitor.deregister(&t.name).await?;
                Ok(StepOutcome::done(Said::just(SaidCode::Deregistered)))
            }
        }
    }

    async fn stop_billing(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        if !cx.config.billing {
            return Ok(StepOutcome::done(Said::just(
                SaidCode::SkippedByConfiguration,
            )));
        }
        if self.billing.looks_up() && !self.billing.is_active(&t.name).await? {
            return Ok(StepOutcome::done(Said::just(SaidCode::NotBilled)));
        }
        let stop = BillingStop {
            vm_name: t.name.clone(),
            vm_uuid: t.platform_id.clone(),
            cost_center: cx.request.spec.derived().cost_center.clone(),
            request: cx.request.id.0,
            end_date: self.clock.now().date_naive(),
            restores: t.restores,
        };
        self.billing.stop(&stop).await?;
        Ok(StepOutcome::done(Said::new(
            SaidCode::BillingStopped,
            [
                ("cost_center", stop.cost_center.clone()),
                ("end", stop.end_date.to_string()),
            ],
        )))
    }

    async fn delete(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let grace = cx.config.retirement_grace;
        if !grace.is_zero() && matches!(cx.request.kind, RequestKind::Decommission(_)) {
            return self.keep(cx, grace).await;
        }
        if self.target_vm(t).await?.is_none() {
            return self.retired(cx, Said::just(SaidCode::AlreadyGone)).await;
        }
        if !self.cluster.capabilities().has(Capability::Delete) {
            return Err(permanent(format!(
                "the platform cannot delete VMs: delete {} there, then retry",
                t.name
            )));
        }
        let task = self.cluster.delete_vm(&t.platform_id).await?;
        self.task_succeeds(cx.config, &task, cx.deadline).await?;
        if self.target_vm(t).await?.is_some() {
            return Err(StepFault {
                retryable: true,
                reason: format!("VM {} still listed after its delete task succeeded", t.name),
            });
        }
        let deleted = Said::new(
            SaidCode::VmDeleted,
            [("vm", t.name.clone()), ("uuid", t.platform_id.clone())],
        );
        self.retired(cx, deleted).await
    }

    /// Records the VM retired once it is gone, with the delete step's
    /// success (a repeated step finds the VM gone and the record retired
    /// already).
    async fn retired(&self, cx: &StepCtx<'_>, gone: Said) -> Result<StepOutcome, StepFault> {
        let moved = self
            .lifecycle(
                cx,
                Lifecycle::Retired,
                Some(PowerState::Off),
                SaidCode::Retired,
            )
            .await?;
        let code = match moved {
            Some(_) => SaidCode::RecordedRetired,
            None => SaidCode::AlreadyRecordedRetired,
        };
        let detail = Said::just(code).with_parts(vec![gone]);
        Ok(StepOutcome::done(detail).recording(moved))
    }

    /// Keeps the VM powered off for the grace period instead of deleting
    /// it: the record says until when (the first date written stands, so
    /// a repeated step does not move it), for a restore until then and
    /// Butler's deletion after.
    async fn keep(&self, cx: &StepCtx<'_>, grace: Duration) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let now = self.clock.now();
        let until = crate::backend::after(now, grace);
        let what = Said::new(
            SaidCode::KeptOff,
            [("until", until.format("%Y-%m-%d %H:%M UTC").to_string())],
        );
        // The first date written stands, so a repeated step does not move it.
        let mut kept = until;
        let write = self
            .plan_record(t.vm, what, |r| {
                if let Some(first) = r.kept_until {
                    kept = first;
                    return false;
                }
                if r.lifecycle != Lifecycle::Retiring {
                    return false;
                }
                r.kept_until = Some(until);
                r.power = PowerState::Off;
                true
            })
            .await?;
        Ok(StepOutcome {
            vm_uuid: None,
            detail: Said::new(
                SaidCode::KeptUntil,
                [("until", kept.format("%Y-%m-%d %H:%M UTC").to_string())],
            ),
            output: serde_json::json!({ KEPT_UNTIL: kept }),
            record: write,
        })
    }

    /// The step that followed the delete before the delete recorded the
    /// VM retired itself: kept for requests an earlier version left at it.
    async fn retire(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        if let Some(until) = cx.outputs.text(ProvisioningStep::DeleteVm, KEPT_UNTIL) {
            return Ok(StepOutcome::done(Said::new(
                SaidCode::RetiringKept,
                [("until", until.to_string())],
            )));
        }
        self.retired(cx, Said::just(SaidCode::Gone)).await
    }
}
