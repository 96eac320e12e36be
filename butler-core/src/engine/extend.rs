//! The lease extension's one action (SPEC §12): the inventory record's
//! lease end becomes the request's, and its notices start afresh. Setting
//! a value is its own look-up: a repeated step finds it set. The order is
//! [`crate::request::flow::EXTEND_LEASE`].

use super::decommission::target;
use super::flow::{permanent, Backends, StepAction, StepCtx, StepFault, StepOutcome};
use crate::request::{ProvisioningStep, RequestKind};
use crate::said::{Said, SaidCode};

/// The lease extension's step and its action.
pub(crate) const ACTIONS: [StepAction; 1] = [StepAction {
    step: ProvisioningStep::ExtendLease,
    run: |b, cx| Box::pin(b.extend_lease(cx)),
}];

impl Backends {
    async fn extend_lease(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let RequestKind::ExtendLease(e) = &cx.request.kind else {
            return Err(permanent(format!(
                "request {} is no lease extension",
                cx.request.id
            )));
        };
        let t = target(cx)?;
        let until = e.until;
        let what = Said::new(
            SaidCode::LeaseExtended,
            [
                ("until", until.to_string()),
                ("request", cx.request.id.to_string()),
            ],
        );
        let moved = self
            .plan_record(t.vm, what, |rec| {
                // Set already, or retired meanwhile: nothing to move.
                if rec.lease_end == Some(until)
                    || rec.lifecycle == crate::inventory::Lifecycle::Retired
                {
                    return false;
                }
                rec.lease_end = Some(until);
                rec.lease_noticed = None;
                if rec.lease_extension == Some(cx.request.id) {
                    rec.lease_extension = None;
                }
                true
            })
            .await?;
        let code = match moved {
            Some(_) => SaidCode::LeaseNowEnds,
            None => SaidCode::LeaseAlreadyEnds,
        };
        let detail = Said::new(code, [("until", until.to_string())]);
        Ok(StepOutcome::done(detail).recording(moved))
    }
}
