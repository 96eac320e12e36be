//! The request service: the API a host application calls for SPEC §2–§4 and
//! §6. It validates, prices, authorises, applies the state machine and
//! stores, with optimistic concurrency.

use crate::auth::{Actor, Denied, Operation, Policy};
use crate::backend::{Clock, SystemClock};
use crate::catalog::Catalog;
use crate::cost::{self, RateBook};
use crate::error::ButlerError;
use crate::notify::NotifyHub;
use crate::request::{self, Action, ActionKind, Priced, Request, RequestId, RequestState};
use crate::said::{Said, SaidCode};
use crate::store::{Page, RequestQuery, Store};
use crate::vm_spec::{validate, VmSpec};
use std::sync::{Arc, RwLock};

mod catalog_admin;
mod export;
mod notifications;
mod quota;
mod rules;
mod showback;

pub use showback::ShowbackPage;

/// Requests: create, edit, submit, cancel, review, reject, approve, retry,
/// read and list, each as a given [`Actor`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use butler_core::{auth::{Actor, Role}, demo, service::RequestService, store::MemoryStore};
/// use std::sync::Arc;
/// let svc = RequestService::new(Arc::new(MemoryStore::new()), demo::catalog(), demo::rate_book());
/// let ana = Actor::trusted("ana", [Role::Requester])?;
/// let r = svc.create(&ana, demo::spec("web01")).await?;
/// let r = svc.submit(&ana, r.id, r.version).await?;
/// assert_eq!(r.state, butler_core::request::RequestState::Requested);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct RequestService {
    store: Arc<dyn Store>,
    catalog: RwLock<Arc<Catalog>>,
    /// When the catalog was last refreshed from the platform.
    catalog_refreshed: RwLock<Option<chrono::DateTime<chrono::Utc>>>,
    rates: RwLock<Arc<RateBook>>,
    /// The newest approval rules read from the store.
    rule_books: RwLock<rules::RuleBooks>,
    /// The deployment's rules until they are written: callers wait for
    /// the writing, so none decides by the rules before them.
    rules_pending: tokio::sync::Mutex<Option<crate::rules::Rules>>,
    clock: Arc<dyn Clock>,
    notify: Option<NotifyHub>,
    policy: Policy,
    /// Counts requests handed to the engine (approved, or retried by an
    /// admin): engines on this service look for work when it moves, so the
    /// request reaches an idle engine at once (on a virtual clock its idle
    /// wait would never end alone).
    work_ready: Arc<tokio::sync::watch::Sender<u64>>,
    /// Set once the store's quota holds are known counted.
    holds_counted: tokio::sync::OnceCell<()>,
}

impl std::fmt::Debug for RequestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestService").finish_non_exhaustive()
    }
}

impl RequestService {
    /// A service on `store` with the system clock.
    pub fn new(store: Arc<dyn Store>, catalog: Catalog, rates: RateBook) -> Self {
        Self::with_clock(store, catalog, rates, Arc::new(SystemClock))
    }

    /// A service with an explicit clock (tests, the simulator).
    pub fn with_clock(
        store: Arc<dyn Store>,
        catalog: Catalog,
        rates: RateBook,
        clock: Arc<dyn Clock>,
    ) -> Self {
        store.report_waits_to(clock.clone());
        RequestService {
            store,
            catalog: RwLock::new(Arc::new(catalog)),
            catalog_refreshed: RwLock::new(None),
            rates: RwLock::new(Arc::new(rates)),
            rule_books: RwLock::new(rules::RuleBooks::new(clock.now())),
            rules_pending: tokio::sync::Mutex::new(None),
            holds_counted: tokio::sync::OnceCell::new(),
            clock,
            notify: None,
            policy: Policy::standard(),
            work_ready: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// Uses `policy` instead of SPEC §1 as written (e.g. four eyes off,
    /// which is logged as a warning).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        if !policy.four_eyes() {
            tracing::warn!(
                "four eyes are OFF: approvers may review, approve and reject their own requests"
            );
        }
        self.policy = policy;
        self
    }

    /// The authorization policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Lets `hub` deliver every change's [`Event`](crate::notify::Event)
    /// (the store keeps each in its outbox; the hub is told when this
    /// service writes one, and writes wait for the hub's registration).
    pub fn with_notifications(mut self, hub: NotifyHub) -> Self {
        self.notify = Some(hub);
        self
    }

    /// The engine's write port over this service's store, clock and notifiers.
    pub(crate) fn engine_ledger(&self) -> crate::ledger::EngineLedger {
        crate::ledger::EngineLedger {
            store: self.store.clone(),
            clock: self.clock.clone(),
            notify: self.notify.clone(),
            work_ready: self.work_ready.clone(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Validates `spec` and estimates its cost today, without storing
    /// anything (for a live form).
    pub fn price(&self, spec: &VmSpec) -> Result<Priced, ButlerError> {
        let valid = validate(spec, &self.catalog())?;
        let estimate = cost::estimate(&valid, &self.rate_book(), self.clock.now().date_naive())?;
        Ok(Priced {
            spec: valid,
            estimate,
        })
    }

    /// Creates a request owned by `actor` (Requester or Approver).
    pub async fn create(&self, actor: &Actor, spec: VmSpec) -> Result<Request, ButlerError> {
        // Authorise before any work, so a denied actor learns nothing else.
        self.policy.check_request(actor, None, ActionKind::Create)?;
        let priced = self.price(&spec)?;
        let id = self.store.next_request_id().await?;
        let r = request::create(&self.policy, id, actor, priced, self.clock.now())?;
        self.notifiers_ready().await;
        self.store.insert_request(&r).await?;
        self.written();
        tracing::info!(request = %r.id, actor = %actor.name(), "request created");
        Ok(r)
    }

    /// Asks to retire the inventory VM `vm`: a decommission request,
    /// submitted at once for an approver (SPEC §12). The VM's owner may
    /// ask, and Admins for any VM; a VM already retiring or retired is
    /// refused. The request carries the VM's spec and monthly cost as
    /// approved (from the request that made it; an adopted VM's as found,
    /// priced when the catalog knows it, else at zero), so approvers see
    /// what stops.
    pub async fn decommission(
        &self,
        actor: &Actor,
        vm: crate::inventory::VmId,
    ) -> Result<Request, ButlerError> {
        let (rec, target) = self.active_vm(actor, vm, "retire").await?;
        let priced = self.priced_as_built(&rec).await?;
        let kind = request::RequestKind::Decommission(target);
        self.ask_change(actor, &rec, kind, None, priced).await
    }

    /// Stores the day-2 request of `kind` that `actor` asks for the VM of
    /// `rec` ([`request::create_change`]), submitted at once. One at a
    /// time per VM: the record is marked with the request's number first
    /// (optimistic concurrency, so of two asking at once one wins), and a
    /// VM whose marked request still waits or runs is refused, naming it.
    /// A mark whose request never got stored (a crash between the two
    /// writes) or has ended is taken over.
    async fn ask_change(
        &self,
        actor: &Actor,
        rec: &crate::inventory::VmRecord,
        kind: request::RequestKind,
        before: Option<&Priced>,
        priced: Priced,
    ) -> Result<Request, ButlerError> {
        self.change_may_start(rec).await?;
        let id = self.store.next_request_id().await?;
        let now = self.clock.now();
        let r = request::create_change(
            &self.policy,
            id,
            actor,
            &rec.owner,
            kind,
            before,
            priced,
            now,
        )?;
        let book = self.rules().await?;
        let r = request::decided(r.clone(), &Self::decide(&book, &r, actor), now);
        // What a reconfigure adds is held (and checked) before the VM is
        // marked, so a refusal leaves the VM free.
        let step = self
            .quota_step(
                &request::Request {
                    state: RequestState::Created,
                    ..r.clone()
                },
                &r,
                true,
                Some(&book),
            )
            .await?;
        let undo = match &step {
            Some(s) if !s.frees() => {
                self.take_holds(std::slice::from_ref(&s.change), &s.limits)
                    .await?;
                Some(s.undo.clone())
            }
            _ => None,
        };
        let stored = self.mark_and_insert(actor, rec, &r, now).await;
        if let (Err(_), Some(undo)) = (&stored, undo) {
            if let Err(e) = self.store.hold(&[undo], &[]).await {
                tracing::warn!(request = %r.id, error = %e, "quota: a share taken for a request not stored stays held; a recount mends it");
            }
        }
        stored?;
        if r.state == RequestState::Approved {
            self.work_ready.send_modify(|n| *n = n.wrapping_add(1));
        }
        tracing::info!(request = %r.id, vm = %rec.id, kind = r.kind.as_str(), actor = %actor.name(), "day-2 request asked");
        Ok(r)
    }

    /// Marks `rec` with the change `r` and stores `r`.
    async fn mark_and_insert(
        &self,
        actor: &Actor,
        rec: &crate::inventory::VmRecord,
        r: &Request,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ButlerError> {
        let id = r.id;
        let seen = rec.open_change;
        let marked = crate::inventory::amend(
            self.store.as_ref(),
            rec.id,
            actor.name(),
            now,
            &Said::new(
                SaidCode::Asked,
                [
                    ("kind", r.kind.as_str().into()),
                    ("request", id.to_string()),
                ],
            ),
            |v| {
                let free = v.open_change == seen;
                if free {
                    v.open_change = Some(id);
                }
                free
            },
        )
        .await?;
        if marked.is_none() {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::JustAsked,
                [("vm", rec.name.clone())],
            )));
        }
        self.notifiers_ready().await;
        self.store.insert_request(r).await?;
        self.written();
        Ok(())
    }

    /// Refuses a change of `rec` while the one a person asked for it, or
    /// the retirement Butler asked at its lease end, waits or runs.
    async fn change_may_start(&self, rec: &crate::inventory::VmRecord) -> Result<(), ButlerError> {
        for open in [rec.open_change, rec.lease_retirement]
            .into_iter()
            .flatten()
        {
            if let Some(r) = self.still_open(open).await? {
                return Err(ButlerError::Refused(Said::new(
                    SaidCode::ChangeOpen,
                    [
                        ("vm", rec.name.clone()),
                        ("request", open.to_string()),
                        ("kind", r.kind.as_str().into()),
                        ("state", r.state.as_str().into()),
                    ],
                )));
            }
        }
        Ok(())
    }

    /// Request `id` if it still waits or runs (`Error` has ended the
    /// workflow; a number never stored is not open).
    async fn still_open(&self, id: RequestId) -> Result<Option<Request>, ButlerError> {
        match self.store.get_request(id).await {
            Ok(r) if !r.state.is_final() && r.state != RequestState::Error => Ok(Some(r)),
            Ok(_) | Err(crate::store::StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Asks to move the lease end of the inventory VM `vm` to `until`: a
    /// lease extension request, submitted at once for an approver, carrying
    /// the VM's spec and cost as approved. `until` must be later than the
    /// current end and within the environment's cap (or Butler's ten years)
    /// from today; a VM without a lease, or whose retirement Butler already
    /// asked at its lease end, has none to extend. Once approved the engine
    /// records the new end and the notices start afresh.
    pub async fn extend_lease(
        &self,
        actor: &Actor,
        vm: crate::inventory::VmId,
        until: chrono::NaiveDate,
    ) -> Result<Request, ButlerError> {
        let (rec, target) = self.active_vm(actor, vm, "extend").await?;
        let Some(end) = rec.lease_end else {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::NoLeaseEnd,
                [("vm", rec.name.clone())],
            )));
        };
        if let Some(r) = rec.lease_retirement {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::RetiringAtLeaseEnd,
                [("vm", rec.name.clone()), ("request", r.to_string())],
            )));
        }
        let today = self.clock.now().date_naive();
        let cap = self
            .catalog()
            .environment(&rec.environment)
            .and_then(|e| e.max_lease_days)
            .unwrap_or(crate::limits::MAX_LEASE_DAYS)
            .min(crate::limits::MAX_LEASE_DAYS);
        let out_of_range = |message: String, values: [(&str, String); 4]| {
            ButlerError::Validation(crate::vm_spec::SpecErrors(vec![
                crate::vm_spec::SpecError {
                    field: "until".into(),
                    code: crate::vm_spec::SpecErrorCode::LeaseOutOfRange,
                    message,
                    values: values
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                },
            ]))
        };
        if until <= end {
            return Err(out_of_range(
                format!("{until} is not after the lease's current end, {end}"),
                [
                    ("case", "not_after_end".into()),
                    ("until", until.to_string()),
                    ("end", end.to_string()),
                    ("environment", crate::limits::cut(&rec.environment)),
                ],
            ));
        }
        if (until - today).num_days() > i64::from(cap) {
            return Err(out_of_range(
                format!(
                    "{until} is more than {cap} days from today, the longest lease of environment {:?}",
                    rec.environment
                ),
                [
                    ("case", "too_far".into()),
                    ("until", until.to_string()),
                    ("max", cap.to_string()),
                    ("environment", crate::limits::cut(&rec.environment)),
                ],
            ));
        }
        let priced = self.priced_as_built(&rec).await?;
        let kind = request::RequestKind::ExtendLease(request::ExtendLease { target, until });
        let r = self.ask_change(actor, &rec, kind, None, priced).await?;
        // Named on the record, so the lease watch holds off a retirement at
        // the end while it waits (a crash before this line leaves it
        // unnamed: the retirement then goes ahead, as without it).
        crate::inventory::amend(
            self.store.as_ref(),
            vm,
            actor.name(),
            self.clock.now(),
            &Said::new(
                SaidCode::LeaseExtensionAsked,
                [("until", until.to_string()), ("request", r.id.to_string())],
            ),
            |rec| {
                rec.lease_extension = Some(r.id);
                true
            },
        )
        .await?;
        Ok(r)
    }

    /// The decommission of VM `vm`, whose lease ended on `ended`, made and
    /// approved by Butler ([`request::retirement_at_lease_end`]) for the
    /// lease watch where the deployment retires VMs at lease end. At most
    /// one per VM: its number is written on the record
    /// ([`VmRecord::lease_retirement`](crate::inventory::VmRecord::lease_retirement))
    /// before the request is stored, and a request so numbered but never
    /// stored (a crash between the two writes) is stored on the next call.
    /// `Ok(None)`: the VM is no longer active, its request exists, or a
    /// lease extension asked for it still waits for approval or runs
    /// ([`VmRecord::lease_extension`](crate::inventory::VmRecord::lease_extension);
    /// one rejected, cancelled, done or failed no longer holds it off).
    pub(crate) async fn retire_at_lease_end(
        &self,
        vm: crate::inventory::VmId,
        ended: chrono::NaiveDate,
    ) -> Result<Option<Request>, ButlerError> {
        let rec = self.store.get_vm(vm).await?;
        if rec.lifecycle != crate::inventory::Lifecycle::Active {
            return Ok(None);
        }
        // A change a person asked (an extension, a reconfigure, their own
        // decommission) goes first; the next pass looks again.
        for open in [rec.lease_extension, rec.open_change].into_iter().flatten() {
            if let Some(r) = self.still_open(open).await? {
                tracing::debug!(vm = %rec.id, request = %open, kind = r.kind.as_str(), "lease ended, a change is open: not retired yet");
                return Ok(None);
            }
        }
        let owner = rec.owner.clone();
        let now = self.clock.now();
        let asked = self
            .approved_by_butler(
                &rec,
                rec.lease_retirement,
                crate::auth::ENGINE_NAME,
                |r, id| {
                    let first = r.lease_retirement.is_none()
                        && r.lifecycle == crate::inventory::Lifecycle::Active;
                    r.lease_retirement = r.lease_retirement.or(Some(id));
                    first
                },
                |id| {
                    Said::new(
                        SaidCode::LeaseOver,
                        [("ended", ended.to_string()), ("request", id.to_string())],
                    )
                },
                |id, target, priced| {
                    request::retirement_at_lease_end(id, &owner, target, priced, ended, now)
                },
            )
            .await?;
        if let Some(r) = &asked {
            tracing::info!(request = %r.id, vm = %rec.id, %ended, "lease ended: retirement requested");
        }
        Ok(asked)
    }

    /// Asks the deletion of the inventory VM `vm` once the grace period of
    /// its retirement is over ([`crate::engine::EngineConfig::retirement_grace`]):
    /// a request Butler asks and approves itself, once (the lease watch's
    /// pass calls it). `None`: not due, being restored, or asked already.
    pub(crate) async fn delete_after_grace(
        &self,
        vm: crate::inventory::VmId,
    ) -> Result<Option<Request>, ButlerError> {
        let rec = self.store.get_vm(vm).await?;
        let now = self.clock.now();
        let due = |r: &crate::inventory::VmRecord| {
            r.lifecycle == crate::inventory::Lifecycle::Retiring
                && r.kept_until.is_some_and(|k| k <= now)
                && r.restore.is_none()
        };
        let Some(until) = rec.kept_until.filter(|_| due(&rec)) else {
            return Ok(None);
        };
        let owner = rec.owner.clone();
        let asked = self
            .approved_by_butler(
                &rec,
                rec.deletion,
                crate::auth::ENGINE_NAME,
                |r, id| {
                    let first = due(r) && r.deletion.is_none();
                    if first {
                        r.deletion = Some(id);
                    }
                    first
                },
                |id| Said::new(SaidCode::GraceOver, [("request", id.to_string())]),
                |id, target, priced| {
                    let why = Said::new(
                        SaidCode::DeleteAfterGrace,
                        [
                            ("vm", target.name.clone()),
                            ("record", target.vm.to_string()),
                            ("until", until.format("%Y-%m-%d %H:%M UTC").to_string()),
                        ],
                    );
                    let kind = request::RequestKind::DeleteAfterGrace(target);
                    let because = Said::just(SaidCode::GracePeriodOver);
                    request::approved_by_butler(
                        id,
                        &owner,
                        crate::auth::ENGINE_NAME,
                        kind,
                        priced,
                        why,
                        because,
                        now,
                    )
                },
            )
            .await?;
        if let Some(r) = &asked {
            tracing::info!(request = %r.id, vm = %rec.id, "grace period over: deletion requested");
        }
        Ok(asked)
    }

    /// Brings back the inventory VM `vm` while its retirement keeps it
    /// powered off for the grace period
    /// ([`crate::engine::EngineConfig::retirement_grace`]): a restore
    /// request asked by `actor` (its owner, or one who may change any VM)
    /// and approved by Butler at once, since an undo needs no approval.
    /// The engine powers the VM on, protects it, registers it with
    /// monitoring, bills it again and records it active. Refused for a VM
    /// not in its grace period (or past it), one whose deletion Butler has
    /// asked already, or one being restored.
    pub async fn restore(
        &self,
        actor: &Actor,
        vm: crate::inventory::VmId,
    ) -> Result<Request, ButlerError> {
        let rec = self.store.get_vm(vm).await?;
        if !crate::auth::same_user(&rec.owner, actor.name()) {
            if let Err(denied) = self.policy.check(actor, Operation::ChangeVms) {
                return Err(if self.policy.sees_all_requests(actor) {
                    denied.into()
                } else {
                    ButlerError::NotFound(format!("VM record {vm}"))
                });
            }
        }
        let now = self.clock.now();
        let name = &rec.name;
        let Some(until) = rec
            .kept_until
            .filter(|_| rec.lifecycle == crate::inventory::Lifecycle::Retiring)
        else {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::NotRestorable,
                [
                    ("vm", name.to_string()),
                    ("lifecycle", rec.lifecycle.as_str().into()),
                ],
            )));
        };
        if let Some(d) = rec.deletion {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::DeletionAsked,
                [("vm", name.to_string()), ("request", d.to_string())],
            )));
        }
        if until <= now {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::GraceEnded,
                [
                    ("vm", name.to_string()),
                    ("until", until.format("%Y-%m-%d %H:%M UTC").to_string()),
                ],
            )));
        }
        let owner = rec.owner.clone();
        let by = actor.name().to_string();
        let asked = self
            .approved_by_butler(
                &rec,
                rec.restore,
                &by,
                |r, id| {
                    let first = r.restore.is_none()
                        && r.deletion.is_none()
                        && r.lifecycle == crate::inventory::Lifecycle::Retiring;
                    if first {
                        r.restore = Some(id);
                    }
                    first
                },
                |id| {
                    Said::new(
                        SaidCode::Asked,
                        [("kind", "restore".into()), ("request", id.to_string())],
                    )
                },
                |id, target, priced| {
                    let why = Said::new(
                        SaidCode::RestoreInGrace,
                        [
                            ("vm", target.name.clone()),
                            ("record", target.vm.to_string()),
                        ],
                    );
                    let kind = request::RequestKind::Restore(target);
                    let because = Said::just(SaidCode::UndoNeedsNoApproval);
                    request::approved_by_butler(id, &owner, &by, kind, priced, why, because, now)
                },
            )
            .await?;
        let Some(r) = asked else {
            let pending = self.store.get_vm(vm).await?;
            let vm = ("vm", name.to_string());
            return Err(ButlerError::Refused(
                match (pending.restore, pending.deletion) {
                    (Some(x), _) => {
                        Said::new(SaidCode::BeingRestored, [vm, ("request", x.to_string())])
                    }
                    (_, Some(d)) => {
                        Said::new(SaidCode::DeletionAsked, [vm, ("request", d.to_string())])
                    }
                    _ => Said::new(SaidCode::ChangedMeanwhile, [vm]),
                },
            ));
        };
        tracing::info!(request = %r.id, vm = %rec.id, actor = %actor.name(), "restore asked");
        Ok(r)
    }

    /// Stores, once, a request Butler approves itself for the VM of `rec`:
    /// its id is written on the record first (by `mark`, which says whether
    /// the record still calls for it; `marked` is the id written before),
    /// so a second pass, a racing caller or a crash between the two writes
    /// never asks a second one. `None`: no longer called for, or asked
    /// already.
    #[allow(clippy::too_many_arguments)]
    async fn approved_by_butler(
        &self,
        rec: &crate::inventory::VmRecord,
        marked: Option<request::RequestId>,
        by: &str,
        mark: impl Fn(&mut crate::inventory::VmRecord, request::RequestId) -> bool,
        what: impl Fn(request::RequestId) -> Said,
        make: impl FnOnce(request::RequestId, request::Target, Priced) -> Request,
    ) -> Result<Option<Request>, ButlerError> {
        let id = match marked {
            Some(id) => match self.store.get_request(id).await {
                Ok(_) => return Ok(None),
                Err(crate::store::StoreError::NotFound(_)) => id,
                Err(e) => return Err(e.into()),
            },
            None => {
                let id = self.store.next_request_id().await?;
                let marked = crate::inventory::amend(
                    self.store.as_ref(),
                    rec.id,
                    by,
                    self.clock.now(),
                    &what(id),
                    |r| mark(r, id),
                )
                .await?;
                if marked.is_none() {
                    return Ok(None);
                }
                id
            }
        };
        let priced = self.priced_as_built(rec).await?;
        let target = request::Target {
            vm: rec.id,
            name: rec.name.clone(),
            platform_id: rec.platform_id.clone(),
            cluster: rec.cluster.clone(),
            restores: rec.restores,
        };
        let r = make(id, target, priced);
        self.notifiers_ready().await;
        match self.store.insert_request(&r).await {
            Ok(()) => {}
            // Stored meanwhile by another pass.
            Err(crate::store::StoreError::AlreadyExists(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        self.written();
        Ok(Some(r))
    }

    /// Asks to change the inventory VM `vm`'s CPU, RAM, disks and NICs to
    /// `spec`: a reconfigure request, submitted at once for an approver
    /// (who may edit it, as any request). `spec` is the VM's spec as
    /// approved ([`Request::spec`] of the request that made or last changed
    /// it) with the changes; what names or places the VM may not change,
    /// disks only grow, and every problem is reported at once
    /// ([`change_problems`](crate::vm_spec::change_problems)). The first
    /// history entry holds the fields changed and the monthly cost before
    /// and after. With `accept_downtime` the flow may power the VM off
    /// (and on again) when the platform cannot make the change while it
    /// runs; without it such a change stops in `Error`, saying why.
    pub async fn reconfigure(
        &self,
        actor: &Actor,
        vm: crate::inventory::VmId,
        spec: VmSpec,
        accept_downtime: bool,
    ) -> Result<Request, ButlerError> {
        let (rec, target) = self.active_vm(actor, vm, "reconfigure").await?;
        let before = self.priced_as_built(&rec).await?;
        let after = self.price_change(&before, &spec)?;
        let kind = request::RequestKind::Reconfigure(request::Reconfigure {
            target,
            accept_downtime,
        });
        self.ask_change(actor, &rec, kind, Some(&before), after)
            .await
    }

    /// `spec` validated and priced as a change of `before`: every problem
    /// of the spec and of the change at once.
    fn price_change(&self, before: &Priced, spec: &VmSpec) -> Result<Priced, ButlerError> {
        // The lease is the VM's, changed by an extension, never by a
        // reconfigure: whatever the caller's copy says, it stays.
        let spec = &VmSpec {
            lease_days: before.spec.lease_days,
            ..spec.clone()
        };
        let priced = self.price(spec);
        let normalised = match &priced {
            Ok(p) => p.spec.spec().clone(),
            Err(_) => spec.clone(),
        };
        let mut problems = crate::vm_spec::change_problems(before.spec.spec(), &normalised);
        match priced {
            Ok(p) if problems.is_empty() => Ok(p),
            Ok(_) => Err(crate::vm_spec::SpecErrors(problems).into()),
            Err(ButlerError::Validation(mut e)) => {
                e.0.append(&mut problems);
                Err(ButlerError::Validation(e))
            }
            Err(e) => Err(e),
        }
    }

    /// The inventory VM `vm` for a day-2 request by `actor`, and its
    /// target: it must be active; those who may not see it learn nothing.
    async fn active_vm(
        &self,
        actor: &Actor,
        vm: crate::inventory::VmId,
        change: &str,
    ) -> Result<(crate::inventory::VmRecord, request::Target), ButlerError> {
        let rec = self.store.get_vm(vm).await?;
        if !crate::auth::same_user(&rec.owner, actor.name())
            && self.policy.check(actor, Operation::ChangeVms).is_err()
            && !self.policy.sees_all_requests(actor)
            && self.policy.check(actor, Operation::PowerVms).is_err()
        {
            return Err(ButlerError::NotFound(format!("VM record {vm}")));
        }
        if rec.lifecycle != crate::inventory::Lifecycle::Active {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::NotActive,
                [
                    ("vm", rec.name.clone()),
                    ("lifecycle", rec.lifecycle.as_str().into()),
                    ("change", change.into()),
                ],
            )));
        }
        let target = request::Target {
            vm: rec.id,
            name: rec.name.clone(),
            platform_id: rec.platform_id.clone(),
            cluster: rec.cluster.clone(),
            restores: rec.restores,
        };
        Ok((rec, target))
    }

    /// The spec and monthly cost of an inventory VM as approved: its
    /// request's, or (adopted) as found.
    async fn priced_as_built(
        &self,
        rec: &crate::inventory::VmRecord,
    ) -> Result<Priced, ButlerError> {
        if let Some(origin) = rec.last_change.or(rec.request) {
            match self.store.get_request(origin).await {
                Ok(o) => {
                    return Ok(Priced {
                        spec: o.spec,
                        estimate: o.estimate,
                    })
                }
                Err(crate::store::StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let b = &rec.spec;
        let spec = VmSpec {
            name: rec.display_name.clone(),
            cores_per_socket: 1,
            sockets: b.vcpus.max(1),
            ram_gib: b.ram_gib,
            division: rec.division.clone(),
            unit: rec.unit.clone(),
            environment: rec.environment.clone(),
            cluster: rec.cluster.clone(),
            disks_gib: b.disks_gib.clone(),
            nics: b.nics.clone(),
            image: b.image.clone(),
            backup_local: false,
            backup_remote: false,
            cdrom: false,
            ..VmSpec::default()
        };
        if let Ok(p) = self.price(&spec) {
            return Ok(p);
        }
        let derived = crate::vm_spec::Derived {
            project: String::new(),
            category: String::new(),
            cost_center: rec.cost_center.clone(),
            storage_container: None,
        };
        let currency = self
            .rate_book()
            .in_force(self.clock.now().date_naive())
            .map(|c| c.currency.clone())
            .unwrap_or_default();
        Ok(Priced {
            spec: crate::vm_spec::ValidSpec::from_stored(spec, derived),
            estimate: cost::Estimate {
                card_version: "none (adopted VM, not priced)".into(),
                currency,
                cost_center: rec.cost_center.clone(),
                lines: Vec::new(),
                subtotal: rust_decimal::Decimal::ZERO,
                margin: None,
                margin_amount: rust_decimal::Decimal::ZERO,
                total: rust_decimal::Decimal::ZERO,
            },
        })
    }

    /// Reads a request visible to `actor`.
    pub async fn get(&self, actor: &Actor, id: RequestId) -> Result<Request, ButlerError> {
        let r = self.store.get_request(id).await?;
        if !self.policy.can_view(actor, &r.owner) {
            // Same answer as a missing request: do not reveal that it exists.
            return Err(ButlerError::NotFound(format!("request {id}")));
        }
        Ok(r)
    }

    /// Lists requests visible to `actor`: a Requester only ever sees their
    /// own, whatever `query.owner` says. A page has at most
    /// [`MAX_PAGE_SIZE`](crate::limits::MAX_PAGE_SIZE) rows (`limit: None`
    /// is refused too: [`export_rows`](Self::export_rows) reads them all).
    pub async fn list(
        &self,
        actor: &Actor,
        query: &RequestQuery,
    ) -> Result<Page<Request>, ButlerError> {
        let rows = query.limit.unwrap_or(usize::MAX);
        crate::limits::check("limit", rows, crate::limits::MAX_PAGE_SIZE, "rows")?;
        let mut q = query.clone();
        if !self.policy.sees_all_requests(actor) {
            q.owner = Some(actor.name().to_string());
        }
        Ok(self.store.list_requests(&q).await?)
    }

    /// The owner edits a draft.
    pub async fn save(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
        spec: VmSpec,
    ) -> Result<Request, ButlerError> {
        self.apply_spec(actor, id, version, spec, ActionKind::Save)
            .await
    }

    /// The owner submits a draft for approval. The spec is checked again
    /// against the current catalog.
    pub async fn submit(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
    ) -> Result<Request, ButlerError> {
        let r = self.load(actor, id, version).await?;
        self.check(&r, actor, ActionKind::Submit)?;
        validate(&r.spec, &self.catalog())?;
        let book = self.rules().await?;
        let now = self.clock.now();
        self.commit_then(&r, actor, Action::Submit, Some(&book), |next| {
            let decision = Self::decide(&book, &next, actor);
            request::decided(next, &decision, now)
        })
        .await
    }

    /// The owner cancels.
    pub async fn cancel(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
        reason: Option<String>,
    ) -> Result<Request, ButlerError> {
        let reason = match reason {
            Some(text) => Some(clean_reason("reason", &text)?).filter(|r| !r.is_empty()),
            None => None,
        };
        let r = self.load(actor, id, version).await?;
        self.commit(&r, actor, Action::Cancel { reason }).await
    }

    /// An approver edits (→ `Reviewed`); history shows fields and cost before/after.
    pub async fn review(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
        spec: VmSpec,
    ) -> Result<Request, ButlerError> {
        self.apply_spec(actor, id, version, spec, ActionKind::Review)
            .await
    }

    /// An approver rejects; a reason is required.
    pub async fn reject(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
        reason: &str,
    ) -> Result<Request, ButlerError> {
        let reason = clean_reason("reason", reason)?;
        if reason.is_empty() {
            return Err(ButlerError::Invalid("a rejection needs a reason".into()));
        }
        let r = self.load(actor, id, version).await?;
        self.commit(&r, actor, Action::Reject { reason }).await
    }

    /// An approver approves; the spec is checked again against the current catalog.
    pub async fn approve(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
    ) -> Result<Request, ButlerError> {
        let r = self.load(actor, id, version).await?;
        self.check(&r, actor, ActionKind::Approve)?;
        validate(&r.spec, &self.catalog())?;
        self.commit(&r, actor, Action::Approve).await
    }

    /// An admin (or approver) retries a request in `Error` at its failed step.
    pub async fn retry(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
    ) -> Result<Request, ButlerError> {
        let r = self.load(actor, id, version).await?;
        self.commit(&r, actor, Action::Retry).await
    }

    async fn apply_spec(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
        spec: VmSpec,
        kind: ActionKind,
    ) -> Result<Request, ButlerError> {
        let r = self.load(actor, id, version).await?;
        self.check(&r, actor, kind)?;
        let priced = match &r.kind {
            // The request's spec keeps what names and places the VM as it
            // was: an edit may change what a reconfigure may.
            request::RequestKind::Reconfigure(_) => {
                let current = Priced {
                    spec: r.spec.clone(),
                    estimate: r.estimate.clone(),
                };
                let p = self.price_change(&current, &spec);
                match p {
                    Err(ButlerError::Validation(e))
                        if e.codes() == [crate::vm_spec::SpecErrorCode::NothingChanged] =>
                    {
                        self.price(&spec)?
                    }
                    other => other?,
                }
            }
            _ => self.price(&spec)?,
        };
        let priced = Box::new(priced);
        let action = if kind == ActionKind::Save {
            Action::Save(priced)
        } else {
            Action::Review(priced)
        };
        self.commit(&r, actor, action).await
    }

    async fn load(
        &self,
        actor: &Actor,
        id: RequestId,
        version: u64,
    ) -> Result<Request, ButlerError> {
        let r = self.get(actor, id).await?;
        if r.version != version {
            return Err(ButlerError::Conflict(crate::store::StoreError::Conflict {
                what: format!("request {id}"),
                expected: version,
                found: r.version,
            }));
        }
        Ok(r)
    }

    async fn commit(
        &self,
        r: &Request,
        actor: &Actor,
        action: Action,
    ) -> Result<Request, ButlerError> {
        self.commit_then(r, actor, action, None, |next| next).await
    }

    /// [`commit`](Self::commit), with `then` applied to the request before
    /// it is written (a submit's rule decision, in the same write).
    async fn commit_then(
        &self,
        r: &Request,
        actor: &Actor,
        action: Action,
        book: Option<&crate::rules::RuleBook>,
        then: impl FnOnce(Request) -> Request,
    ) -> Result<Request, ButlerError> {
        let checked = matches!(action, Action::Submit | Action::Approve | Action::Review(_));
        let (next, entry) = request::transition(&self.policy, r, actor, action, self.clock.now())?;
        let next = then(next);
        let step = self.quota_step(r, &next, checked, book).await?;
        self.write_with_hold(&next, Some(r.version), step).await?;
        self.written();
        if matches!(
            next.state,
            RequestState::Approved | RequestState::Provisioning
        ) {
            self.work_ready.send_modify(|n| *n = n.wrapping_add(1));
        }
        tracing::info!(request = %next.id, actor = %actor.name(), action = %entry.action, to = %next.state, "request changed");
        Ok(next)
    }

    fn check(&self, r: &Request, actor: &Actor, kind: ActionKind) -> Result<(), Denied> {
        self.policy
            .check_request(actor, Some((r.id, &r.owner, r.state)), kind)
    }
}

pub use crate::limits::MAX_REASON_CHARS;

/// A reason as history keeps it: trimmed, at most [`MAX_REASON_CHARS`],
/// control characters (line breaks included) turned into spaces so it can
/// never forge a line in a log or a report.
pub fn clean_reason(field: &str, text: &str) -> Result<String, ButlerError> {
    let n = text.chars().count();
    if n > MAX_REASON_CHARS {
        return Err(ButlerError::Invalid(format!(
            "{field} has {n} characters; at most {MAX_REASON_CHARS}"
        )));
    }
    Ok(text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect())
}
