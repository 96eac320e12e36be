//! What each request and VM holds, and the holds the engine's writes
//! change: the one place that says when a share is taken and freed.

use super::{Hold, HoldChange, Holder, Share};
use crate::inventory::{Lifecycle, VmRecord};
use crate::request::{Request, RequestKind, RequestState};
use crate::store::Store;
use rust_decimal::Decimal;

/// Whether a request in `state` holds its share: from submit until it is
/// rejected or cancelled (a completed new VM's share passes to its VM,
/// which holds it under the same [`Holder`]).
fn holds_in(state: RequestState) -> bool {
    matches!(
        state,
        RequestState::Requested
            | RequestState::Reviewed
            | RequestState::Approved
            | RequestState::Provisioning
            | RequestState::Error
            | RequestState::Completed
    )
}

/// What holds request `r`'s share, if it ever holds one (a new VM, a
/// reconfigure).
pub fn holder_of(r: &Request) -> Option<Holder> {
    match r.kind {
        RequestKind::NewVm => Some(Holder::Request(r.id)),
        RequestKind::Reconfigure(_) => Some(Holder::Change(r.id)),
        _ => None,
    }
}

/// What `r` holds as it stands: a new VM its size and cost; a
/// reconfigure what it adds to `current` (the VM as approved now) until
/// it completes. `None`: nothing.
pub fn hold_of(r: &Request, current: Option<&Share>) -> Option<Hold> {
    let holder = holder_of(r)?;
    if !holds_in(r.state) {
        return None;
    }
    let s = r.spec.spec();
    let full = Share::vm(s, r.estimate.total);
    let share = match r.kind {
        RequestKind::Reconfigure(_) if r.state == RequestState::Completed => return None,
        RequestKind::Reconfigure(_) => full.beyond(current?),
        _ => full,
    };
    Some(Hold::new(holder, &s.division, &s.unit, &r.owner, share))
}

/// What a VM holds while not retired: its size as built, one VM, and
/// `monthly_cost` (the estimate it was last approved at; an adopted VM
/// was never priced: zero).
pub fn vm_hold(rec: &VmRecord, monthly_cost: Decimal) -> Option<Hold> {
    if rec.lifecycle == Lifecycle::Retired {
        return None;
    }
    let b = &rec.spec;
    let share = Share {
        vcpus: u64::from(b.vcpus),
        ram_gib: u64::from(b.ram_gib),
        storage_gib: b.disks_gib.iter().map(|&d| u64::from(d)).sum(),
        vms: 1,
        monthly_cost,
    };
    Some(Hold::new(
        Holder::of_vm(rec),
        &rec.division,
        &rec.unit,
        &rec.owner,
        share,
    ))
}

/// The release a record written as `vm` over `before` makes: a VM
/// retired frees its share. Every store applies it in the same write as
/// the record ([`crate::store::Store::update_request_with_vm`]).
pub fn freed_by(vm: &VmRecord, before: &VmRecord) -> Option<HoldChange> {
    (vm.lifecycle == Lifecycle::Retired && before.lifecycle != Lifecycle::Retired)
        .then(|| HoldChange::Release(Holder::of_vm(vm)))
}

/// The holds an engine write from `r` to `next` changes beside the
/// store's own (a retirement's, [`freed_by`]): a reconfigure completed
/// gives the VM its new size and frees what the request held. Written
/// after the engine's own write: a crash between the two leaves a share
/// held too long, never too short (a recount mends it).
pub(crate) async fn after_engine_write(store: &dyn Store, r: &Request, next: &Request) {
    let mut changes = Vec::new();
    if let RequestKind::Reconfigure(c) = &next.kind {
        if next.state == RequestState::Completed && r.state != RequestState::Completed {
            match store.get_vm(c.target.vm).await {
                Ok(rec) => {
                    if let Some(h) = vm_hold(&rec, next.estimate.total) {
                        changes.push(HoldChange::Set(h));
                    }
                }
                Err(e) => {
                    tracing::warn!(request = %next.id, error = %e, "quota: the reconfigured VM could not be read; its share is mended by a recount");
                }
            }
            changes.push(HoldChange::Release(Holder::Change(next.id)));
        }
    }
    if changes.is_empty() {
        return;
    }
    if let Err(e) = store.hold(&changes, &[]).await {
        tracing::warn!(request = %next.id, error = %e, "quota: a share was not updated; a recount mends it");
    }
}
