//! The reconfigure flow's actions (SPEC §12). The first step only reads:
//! whether the VM runs and whether the change needs it off are its output,
//! kept in the step log, so the later steps power off and on exactly what
//! the flow decided, across retries and crashes. Every step acts on the
//! request's target id only and looks its effect up first. The order is
//! [`crate::request::flow::RECONFIGURE`].

use super::decommission::target;
use super::flow::{permanent, Backends, StepAction, StepCtx, StepFault, StepOutcome};
use super::provisioning::billed;
use crate::backend::{Capability, PowerChange, PowerState, VmReconfig};
use crate::request::{ProvisioningStep, Request, RequestKind};
use crate::said::{Said, SaidCode};

/// Each reconfigure step and its action.
pub(crate) const ACTIONS: [StepAction; 7] = [
    StepAction {
        step: ProvisioningStep::CheckChange,
        run: |b, cx| Box::pin(b.check_change(cx)),
    },
    StepAction {
        step: ProvisioningStep::PowerOffForChange,
        run: |b, cx| Box::pin(b.power_off_for_change(cx)),
    },
    StepAction {
        step: ProvisioningStep::ApplyChange,
        run: |b, cx| Box::pin(b.apply_change(cx)),
    },
    StepAction {
        step: ProvisioningStep::VerifyChange,
        run: |b, cx| Box::pin(b.verify_change(cx)),
    },
    StepAction {
        step: ProvisioningStep::PowerOnAfterChange,
        run: |b, cx| Box::pin(b.power_on_after_change(cx)),
    },
    StepAction {
        step: ProvisioningStep::UpdateBilling,
        run: |b, cx| Box::pin(b.update_billing(cx)),
    },
    StepAction {
        step: ProvisioningStep::RecordChange,
        run: |b, cx| Box::pin(b.record_change(cx)),
    },
];

/// Keys of check_change's output.
const WAS_ON: &str = "was_on";
const POWER_OFF: &str = "power_off";

/// What the request's spec asks the VM to become.
pub(crate) fn wanted(r: &Request) -> VmReconfig {
    let s = &r.spec;
    VmReconfig {
        cores_per_socket: s.cores_per_socket,
        sockets: s.sockets,
        ram_gib: s.ram_gib,
        disks_gib: s.disks_gib.clone(),
        nics: s.nics.clone(),
    }
}

/// check_change's decision, read back from the step log.
fn decision(cx: &StepCtx<'_>) -> Result<(bool, bool), StepFault> {
    let out = cx
        .outputs
        .get(ProvisioningStep::CheckChange)
        .ok_or_else(|| permanent("the check_change step left no decision".into()))?;
    let flag = |k: &str| out.get(k).and_then(serde_json::Value::as_bool);
    match (flag(WAS_ON), flag(POWER_OFF)) {
        (Some(was_on), Some(power_off)) => Ok((was_on, power_off)),
        _ => Err(permanent(format!(
            "check_change's decision is unreadable: {out}"
        ))),
    }
}

impl Backends {
    async fn check_change(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let RequestKind::Reconfigure(change) = &cx.request.kind else {
            return Err(permanent(format!(
                "request {} is not a reconfigure",
                cx.request.id
            )));
        };
        let caps = self.cluster.capabilities();
        if !caps.has(Capability::Reconfigure) {
            return Err(permanent(
                "the platform cannot change a VM's CPU, RAM, disks or NICs".into(),
            ));
        }
        let Some(vm) = self.target_vm(t).await? else {
            return Err(permanent(format!(
                "VM {} ({}) is gone from the platform",
                t.name, t.platform_id
            )));
        };
        let to = wanted(cx.request);
        let was_on = vm.power == PowerState::On;
        let why = to.needs_power_off(&vm);
        let power_off = was_on && !why.is_empty() && !to.is_done_on(&vm);
        if power_off && !change.accept_downtime {
            return Err(permanent(format!(
                "the change needs {} off ({}) and the request did not accept downtime: \
                 ask again accepting it, or power the VM off first",
                t.name,
                why.join(", ")
            )));
        }
        if power_off && !caps.has(Capability::Power) {
            return Err(permanent(format!(
                "the change needs {} off ({}) and the platform cannot power VMs",
                t.name,
                why.join(", ")
            )));
        }
        let detail = if power_off {
            Said::new(SaidCode::NeedsOff, [("why", why.join(", "))])
        } else {
            Said::just(SaidCode::AppliesAsIs)
        };
        Ok(StepOutcome {
            vm_uuid: None,
            detail,
            output: serde_json::json!({ WAS_ON: was_on, POWER_OFF: power_off }),
            record: None,
        })
    }

    async fn power_off_for_change(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let (_, power_off) = decision(cx)?;
        if !power_off {
            return Ok(StepOutcome::done(Said::just(SaidCode::NotNeeded)));
        }
        let t = target(cx)?;
        match self.target_vm(t).await? {
            None => Err(permanent(format!(
                "VM {} is gone from the platform",
                t.name
            ))),
            Some(vm) if vm.power == PowerState::Off => {
                Ok(StepOutcome::done(Said::just(SaidCode::AlreadyOff)))
            }
            Some(_) => self.shut_down(t, cx).await.map(StepOutcome::done),
        }
    }

    async fn apply_change(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let to = wanted(cx.request);
        let Some(vm) = self.target_vm(t).await? else {
            return Err(permanent(format!(
                "VM {} is gone from the platform",
                t.name
            )));
        };
        if to.is_done_on(&vm) {
            return Ok(StepOutcome::done(Said::just(SaidCode::AlreadyApplied)));
        }
        self.cluster.reconfigure_vm(&t.platform_id, &to).await?;
        Ok(StepOutcome::done(Said::new(
            SaidCode::Applied,
            [
                ("vcpus", to.vcpus().to_string()),
                ("ram", to.ram_gib.to_string()),
                ("disks", format!("{:?}", to.disks_gib)),
                ("nics", format!("{:?}", to.nics)),
                ("was_vcpus", vm.vcpus.to_string()),
                ("was_ram", vm.ram_gib.to_string()),
                ("was_disks", format!("{:?}", vm.disks_gib)),
                ("was_nics", format!("{:?}", vm.nics)),
            ],
        )))
    }

    async fn verify_change(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let t = target(cx)?;
        let to = wanted(cx.request);
        match self.target_vm(t).await? {
            Some(vm) if to.is_done_on(&vm) => {
                Ok(StepOutcome::done(Said::just(SaidCode::ChangeShown)))
            }
            Some(vm) => Err(StepFault {
                retryable: true,
                reason: format!(
                    "the platform shows {} vCPU, {} GiB, disks {:?}, NICs {:?}: not the change yet",
                    vm.vcpus, vm.ram_gib, vm.disks_gib, vm.nics
                ),
            }),
            None => Err(permanent(format!(
                "VM {} is gone from the platform",
                t.name
            ))),
        }
    }

    async fn power_on_after_change(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let (was_on, power_off) = decision(cx)?;
        if !(was_on && power_off) {
            return Ok(StepOutcome::done(Said::just(SaidCode::NotPoweredOff)));
        }
        let t = target(cx)?;
        match self.target_vm(t).await? {
            None => Err(permanent(format!(
                "VM {} is gone from the platform",
                t.name
            ))),
            Some(vm) if vm.power == PowerState::On => {
                Ok(StepOutcome::done(Said::just(SaidCode::AlreadyOn)))
            }
            Some(_) => {
                self.cluster
                    .set_power(&t.platform_id, PowerChange::On)
                    .await?;
                Ok(StepOutcome::done(Said::just(SaidCode::PoweredBackOn)))
            }
        }
    }

    async fn update_billing(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        if !cx.config.billing {
            return Ok(StepOutcome::done(Said::just(
                SaidCode::SkippedByConfiguration,
            )));
        }
        let (t, r) = (target(cx)?, cx.request);
        let act = billed(r, t.name.clone(), t.platform_id.clone(), self.clock.now());
        self.billing.change(&act).await?;
        Ok(StepOutcome::done(Said::new(
            SaidCode::BillingChanged,
            [
                ("total", act.estimate.total.to_string()),
                ("currency", act.estimate.currency.clone()),
                ("from", act.effective_date.to_string()),
            ],
        )))
    }

    async fn record_change(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let (t, r) = (target(cx)?, cx.request);
        let to = wanted(r);
        let what = Said::new(SaidCode::Reconfigured, [("request", r.id.to_string())]);
        let changed = self
            .plan_record(t.vm, what, |rec| {
                if rec.last_change == Some(r.id) {
                    return false;
                }
                rec.spec.vcpus = to.vcpus();
                rec.spec.ram_gib = to.ram_gib;
                rec.spec.disks_gib = to.disks_gib.clone();
                rec.spec.nics = to.nics.clone();
                rec.last_change = Some(r.id);
                // What a reconcile flagged as resized is what was asked now.
                rec.drift
                    .retain(|d| !matches!(d, crate::inventory::Drift::Resized { .. }));
                true
            })
            .await?;
        let code = match changed {
            Some(_) => SaidCode::RecordedChange,
            None => SaidCode::AlreadyRecordedChange,
        };
        Ok(StepOutcome::done(Said::just(code)).recording(changed))
    }
}
