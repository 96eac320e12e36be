//! The restore flow's actions (SPEC §12): a VM kept powered off in its
//! retirement's grace period is brought back: powered on, protected,
//! registered with monitoring and billed again, and recorded active. Each
//! looks its effect up first, as the decommission's steps do, and acts on
//! the request's [`Target`](crate::request::Target) only. The order is
//! [`crate::request::flow::RESTORE`].

use super::decommission::target;
use super::flow::{permanent, Backends, StepAction, StepCtx, StepFault, StepOutcome};
use crate::backend::{PowerChange, PowerState};
use crate::inventory::Lifecycle;
use crate::request::ProvisioningStep;
use crate::said::{Said, SaidCode};

/// Each restore step and its action.
pub(crate) const ACTIONS: [StepAction; 5] = [
    StepAction {
        step: ProvisioningStep::RestorePower,
        run: |b, cx| Box::pin(b.restore_power(cx)),
    },
    StepAction {
        step: ProvisioningStep::Reprotect,
        run: |b, cx| Box::pin(b.reprotect(cx)),
    },
    StepAction {
        step: ProvisioningStep::Reregister,
        run: |b, cx| Box::pin(b.reregister(cx)),
    },
    StepAction {
        step: ProvisioningStep::ResumeBilling,
        run: |b, cx| Box::pin(b.resume_billing(cx)),
    },
    StepAction {
        step: ProvisioningStep::Reactivate,
        run: |b, cx| Box::pin(b.reactivate(cx)),
    },
];

impl Backends {
    /// Powers the kept VM on; one gone from the platform cannot come back.
    async fn restore_power(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let Some(vm) = self.target_vm(t).await? else {
            return Err(permanent(format!(
                "VM {} ({}) is gone from the platform: it cannot be restored",
                t.name, t.platform_id
            )));
        };
        if vm.power == PowerState::On {
            return Ok(StepOutcome::done(Said::just(SaidCode::AlreadyOn)));
        }
        self.cluster
            .set_power(&t.platform_id, PowerChange::On)
            .await?;
        Ok(StepOutcome::done(Said::just(SaidCode::PoweredOn)))
    }

    /// Protects it again as its request asked (its backups).
    async fn reprotect(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let Some(holding) = self.protection_groups_of(t).await? else {
            return Ok(StepOutcome::done(Said::just(
                super::decommission::NO_PROTECTION,
            )));
        };
        if let Some(g) = holding.first() {
            return Ok(StepOutcome::done(Said::new(
                SaidCode::AlreadyProtected,
                [("group", g.to_string())],
            )));
        }
        self.protect_vm_named(cx.config, cx.request, &t.name, &t.cluster)
            .await
    }

    /// Registers it with monitoring again.
    async fn reregister(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let (t, r, cfg) = (target(cx)?, cx.request, cx.config);
        if !cfg.monitoring {
            return Ok(StepOutcome::done(Said::just(
                SaidCode::SkippedByConfiguration,
            )));
        }
        if self.monitor.find(&t.name).await?.is_some() {
            return Ok(StepOutcome::done(Said::just(SaidCode::AlreadyRegistered)));
        }
        let (vm_uuid, address) = self.address(cfg, &t.name, cx.deadline).await?;
        let reg =
            super::provisioning::registration(r, t.name.clone(), &t.cluster, vm_uuid, address);
        self.monitor.register(&reg).await?;
        Ok(StepOutcome::done(Said::new(
            SaidCode::RegisteredAgain,
            [("address", reg.address.to_string())],
        )))
    }

    /// Bills it again from today, at its monthly cost as approved.
    async fn resume_billing(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        if !cx.config.billing {
            return Ok(StepOutcome::done(Said::just(
                SaidCode::SkippedByConfiguration,
            )));
        }
        if self.billing.is_active(&t.name).await? {
            return Ok(StepOutcome::done(Said::just(SaidCode::AlreadyBilled)));
        }
        let act = crate::backend::BillingActivation {
            // A life of its own: billing keeps it apart from the earlier.
            restores: t.restores + 1,
            ..super::provisioning::billed(
                cx.request,
                t.name.clone(),
                t.platform_id.clone(),
                self.clock.now(),
            )
        };
        self.billing.activate(&act).await?;
        Ok(StepOutcome::done(Said::new(
            SaidCode::BilledAgain,
            [("cost_center", act.cost_center.clone())],
        )))
    }

    /// Records the VM active again: no grace period, no deletion pending.
    async fn reactivate(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let note = Said::new(SaidCode::Restored, [("request", cx.request.id.to_string())]);
        let moved = self
            .plan_record(t.vm, note, |r| {
                if r.lifecycle != Lifecycle::Retiring {
                    return false;
                }
                r.lifecycle = Lifecycle::Active;
                r.power = PowerState::On;
                r.kept_until = None;
                r.restore = None;
                r.restores += 1;
                true
            })
            .await?;
        let code = match moved {
            Some(_) => SaidCode::RecordedActive,
            None => SaidCode::AlreadyRecordedActive,
        };
        Ok(StepOutcome::done(Said::just(code)).recording(moved))
    }
}
