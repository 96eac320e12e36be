//! The inventory as a service: lists and pages by the request visibility
//! rules, power with the owner's or an Operator's or Admin's say-so,
//! adoption of VMs that predate Butler, and the reconcile with the
//! platform. Every change goes through the store's version check and into
//! the VM's history.

use super::record::{drift_from, Drift, Lifecycle, PowerRequest, VmId, VmQuery, VmRecord, VmShape};
use crate::auth::{Actor, Operation, Policy};
use crate::backend::{Clock, ClusterBackend, PowerChange, PowerState, VmInfo, VmSize};
use crate::error::ButlerError;
use crate::said::{Said, SaidCode};
use crate::store::{Page, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How a power request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "power", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PowerOutcome {
    /// Done: the VM is now in this state.
    Done(PowerState),
    /// Nothing to do: the VM already was in this state (nothing was asked
    /// of the platform).
    Already(PowerState),
    /// The guest did not shut down in time and the power was cut, as asked.
    ForcedOff,
    /// The guest did not shut down in time; the VM still runs.
    StillOn,
}

impl PowerOutcome {
    /// Its name (`done`, `already`, `forced_off`, `still_on`), as the
    /// REST answer and Python give it.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerOutcome::Done(_) => "done",
            PowerOutcome::Already(_) => "already",
            PowerOutcome::ForcedOff => "forced_off",
            PowerOutcome::StillOn => "still_on",
        }
    }

    /// The VM's power once the request is over.
    pub fn power(self) -> PowerState {
        match self {
            PowerOutcome::Done(p) | PowerOutcome::Already(p) => p,
            PowerOutcome::ForcedOff => PowerState::Off,
            PowerOutcome::StillOn => PowerState::On,
        }
    }
}

/// What one reconcile pass saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileSummary {
    /// Records compared with the platform.
    pub checked: usize,
    /// Records whose drift changed (newly flagged, or cleared).
    pub changed: usize,
    /// Records now flagged with drift.
    pub drifted: usize,
}

/// Settings of the inventory service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryConfig {
    /// How long a guest shutdown may take before it counts as not done.
    pub shutdown_wait: Duration,
    /// How often the power state is read while waiting.
    pub poll: Duration,
    /// Records read per page by the reconcile.
    pub reconcile_page: usize,
    /// How often [`VmService::start_reconciler`] reconciles.
    pub reconcile_every: Duration,
    /// Lease notices and retirement ([`super::LeaseWatch`]).
    pub leases: super::LeaseConfig,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            shutdown_wait: Duration::from_secs(5 * 60),
            poll: Duration::from_secs(5),
            reconcile_page: 1000,
            reconcile_every: Duration::from_secs(15 * 60),
            leases: super::LeaseConfig::default(),
        }
    }
}

/// The inventory service.
pub struct VmService {
    store: Arc<dyn Store>,
    cluster: Arc<dyn ClusterBackend>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    config: InventoryConfig,
    /// Wakes the deliverer of the VMs' outboxes after a notice is written;
    /// `None`: nobody delivers them, so none is written.
    notices: Option<Arc<tokio::sync::Notify>>,
}

impl std::fmt::Debug for VmService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Tries of a record update that lost a race before giving up.
const UPDATE_TRIES: u32 = 5;

impl VmService {
    /// A service over `store`, acting on `cluster` (each call under its
    /// deadline, through [`crate::resilience::Guarded`]) on `clock`'s time.
    pub fn new(
        store: Arc<dyn Store>,
        cluster: Arc<dyn ClusterBackend>,
        clock: Arc<dyn Clock>,
        policy: Policy,
        config: InventoryConfig,
    ) -> VmService {
        store.report_waits_to(clock.clone());
        let cluster = Arc::new(crate::resilience::Guarded::cluster(
            cluster,
            clock.clone(),
            crate::resilience::DEFAULT_CALL_DEADLINE,
        ));
        VmService {
            store,
            cluster,
            clock,
            policy,
            config,
            notices: None,
        }
    }

    /// Writes a notice of every power change into the VM's outbox, for a
    /// [`super::VmNotices`] woken by [`Self::notice_waker`] to deliver.
    /// Off by default: without a deliverer the outboxes would only grow.
    /// The `butler` crate's builder turns it on when it is given notifiers.
    pub fn with_notices(mut self) -> Self {
        self.notices = Some(Arc::default());
        self
    }

    /// What wakes the deliverer of the VMs' outboxes when this service
    /// writes a notice (`None`: it writes none).
    pub fn notice_waker(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.notices.clone()
    }

    /// The records `actor` may see that `query` selects: a Requester only
    /// ever sees their own, whatever `query.owner` says; Approvers,
    /// Viewers, Admins and Operators (who power and reconcile VMs) see
    /// every one. A page has at most
    /// [`MAX_PAGE_SIZE`](crate::limits::MAX_PAGE_SIZE) rows.
    pub async fn list(
        &self,
        actor: &Actor,
        query: &VmQuery,
    ) -> Result<Page<VmRecord>, ButlerError> {
        let rows = query.limit.unwrap_or(usize::MAX);
        crate::limits::check("limit", rows, crate::limits::MAX_PAGE_SIZE, "rows")?;
        let mut q = query.clone();
        if !self.sees_all(actor) {
            q.owner = Some(actor.name().to_string());
        }
        Ok(self.store.list_vms(&q).await?)
    }

    /// Whether `actor` sees every VM: those who see every request, and
    /// Operators, who power and reconcile the estate.
    fn sees_all(&self, actor: &Actor) -> bool {
        self.policy.sees_all_requests(actor)
            || self.policy.check(actor, Operation::PowerVms).is_ok()
    }

    /// One record, if `actor` may see it (else the same answer as a missing
    /// one: its existence is not revealed).
    pub async fn get(&self, actor: &Actor, id: VmId) -> Result<VmRecord, ButlerError> {
        let r = self.store.get_vm(id).await?;
        if !crate::auth::same_user(&r.owner, actor.name()) && !self.sees_all(actor) {
            return Err(ButlerError::NotFound(format!("VM record {id}")));
        }
        Ok(r)
    }

    /// Changes a VM's power: its owner, an Operator or an Admin. The
    /// platform's state is read first and nothing is asked of it when the
    /// VM already is where the change leads (Prism fails a power-off of an
    /// off VM). A guest shutdown is waited for up to
    /// [`InventoryConfig::shutdown_wait`]; past it the power is cut when
    /// `req.force_after_deadline` says so. The outcome goes into the VM's
    /// history either way.
    pub async fn power(
        &self,
        actor: &Actor,
        id: VmId,
        req: PowerRequest,
    ) -> Result<PowerOutcome, ButlerError> {
        let rec = self.get(actor, id).await?;
        if !crate::auth::same_user(&rec.owner, actor.name()) {
            self.policy.check(actor, Operation::PowerVms)?;
        }
        if rec.lifecycle == Lifecycle::Retired {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::NothingToPower,
                [("vm", rec.name.clone())],
            )));
        }
        let vm = self.on_platform(&rec).await?;
        let change = req.change;
        let outcome = if vm.power == change.target() && change != PowerChange::GuestRestart {
            PowerOutcome::Already(vm.power)
        } else {
            self.cluster.set_power(&vm.uuid, change).await?;
            if change == PowerChange::GuestShutdown {
                self.await_shutdown(&rec.name, &vm.uuid, req.force_after_deadline)
                    .await?
            } else {
                PowerOutcome::Done(change.target())
            }
        };
        let (change_name, secs) = (
            change.as_str().to_string(),
            self.config.shutdown_wait.as_secs().to_string(),
        );
        let line = match outcome {
            PowerOutcome::Done(_) => Said::new(SaidCode::PowerDone, [("change", change_name)]),
            PowerOutcome::Already(p) => Said::new(
                SaidCode::PowerAlready,
                [("change", change_name), ("power", p.as_str().into())],
            ),
            PowerOutcome::ForcedOff => Said::new(
                SaidCode::PowerForcedOff,
                [("change", change_name), ("secs", secs)],
            ),
            PowerOutcome::StillOn => Said::new(
                SaidCode::PowerStillOn,
                [("change", change_name), ("secs", secs)],
            ),
        };
        let power = outcome.power();
        let changed = !matches!(outcome, PowerOutcome::Already(_));
        let notice = (changed && self.notices.is_some()).then(|| crate::notify::VmNotice {
            vm: rec.id,
            name: rec.name.clone(),
            display_name: rec.display_name.clone(),
            owner: rec.owner.clone(),
            kind: crate::notify::VmNoticeKind::Power {
                change,
                outcome: line.to_string(),
                by: actor.name().to_string(),
            },
            at: self.clock.now(),
        });
        self.change(id, actor.name(), &line, |r| {
            r.power = power;
            if let Some(n) = &notice {
                r.outbox.push(super::PendingNotice {
                    notice: n.clone(),
                    done: Default::default(),
                });
            }
        })
        .await?;
        if let (Some(_), Some(wake)) = (&notice, &self.notices) {
            wake.notify_one();
        }
        Ok(outcome)
    }

    /// Polls the VM's power until the guest has shut down or the wait is
    /// over; then cuts the power if `force`.
    async fn await_shutdown(
        &self,
        name: &str,
        uuid: &str,
        force: bool,
    ) -> Result<PowerOutcome, ButlerError> {
        let until = crate::backend::after(self.clock.now(), self.config.shutdown_wait);
        loop {
            let vm = self.cluster.find_vm(name).await?;
            if vm.as_ref().is_some_and(|v| v.power == PowerState::Off) {
                return Ok(PowerOutcome::Done(PowerState::Off));
            }
            if self.clock.now() >= until {
                break;
            }
            self.clock.sleep(self.config.poll).await;
        }
        if !force {
            return Ok(PowerOutcome::StillOn);
        }
        self.cluster.set_power(uuid, PowerChange::HardOff).await?;
        Ok(PowerOutcome::ForcedOff)
    }

    /// The platform's view of the record's VM.
    async fn on_platform(&self, rec: &VmRecord) -> Result<VmInfo, ButlerError> {
        self.cluster.find_vm(&rec.name).await?.ok_or_else(|| {
            ButlerError::NotFound(format!(
                "VM {} on the platform (deleted outside Butler?)",
                rec.name
            ))
        })
    }

    /// Adopts the VM named `name` on the platform into the inventory, for
    /// `owner` and `cost_center` (an Admin). A VM already in the inventory
    /// is refused with `AlreadyExists`.
    pub async fn adopt(
        &self,
        actor: &Actor,
        name: &str,
        owner: &str,
        cost_center: &str,
    ) -> Result<VmRecord, ButlerError> {
        self.policy.check(actor, Operation::AdoptVms)?;
        let owner = crate::auth::normalize_user_name(owner)
            .map_err(|e| ButlerError::Invalid(format!("owner: {e}")))?;
        let owner = owner.as_str();
        if cost_center.trim().is_empty() {
            return Err(ButlerError::Invalid("cost_center: required".into()));
        }
        let vm = self
            .cluster
            .find_vm(name)
            .await?
            .ok_or_else(|| ButlerError::NotFound(format!("VM {name:?} on the platform")))?;
        let id = self.store.next_vm_id().await?;
        let rec = VmRecord::adopted(
            id,
            &vm,
            owner,
            cost_center.trim(),
            actor.name(),
            self.clock.now(),
        );
        self.store.insert_vm(&rec).await?;
        // It counts against its owner's quota from now on (adopted VMs
        // were never priced: no monthly cost). Never refused: the VM
        // exists already.
        if let Some(h) = crate::quota::vm_hold(&rec, rust_decimal::Decimal::ZERO) {
            if let Err(e) = self
                .store
                .hold(&[crate::quota::HoldChange::Set(h)], &[])
                .await
            {
                tracing::warn!(vm = %rec.id, error = %e, "quota: an adopted VM's share was not held; a recount mends it");
            }
        }
        Ok(rec)
    }

    /// Compares every active or retiring record with the platform, one
    /// listing per cluster, and flags what changed outside Butler (or
    /// clears a flag that no longer holds); power states are refreshed.
    /// An Operator or an Admin (the server's refresher runs it as Butler).
    pub async fn reconcile(&self, actor: &Actor) -> Result<ReconcileSummary, ButlerError> {
        self.policy.check(actor, Operation::ReconcileVms)?;
        self.reconcile_all(actor.name()).await
    }

    pub(crate) async fn reconcile_all(&self, by: &str) -> Result<ReconcileSummary, ButlerError> {
        let mut summary = ReconcileSummary::default();
        // The active records are read ahead while the platform is listed.
        let active = self.read_records(Lifecycle::Active).await?;
        // Every VM of every cluster, read once per cluster, found by name.
        let mut listed: Vec<VmSize> = Vec::new();
        for c in self.cluster.list_clusters().await? {
            listed.extend(self.cluster.list_vm_sizes(&c.name).await?);
        }
        // ahash, randomly keyed as SipHash is, hashes a million names in a
        // fraction of the time.
        let mut found: Found = HashMap::with_capacity_and_hasher(listed.len(), Default::default());
        found.extend(listed.iter().map(|v| (&*v.name, v)));
        // One lifecycle at a time: a keyset page of each costs the same
        // however deep (two lifecycles in one query make the database sort
        // every record below the key, page after page).
        self.compare_records(active, &found, by, &mut summary)
            .await?;
        let retiring = self.read_records(Lifecycle::Retiring).await?;
        self.compare_records(retiring, &found, by, &mut summary)
            .await?;
        tracing::info!(
            checked = summary.checked,
            changed = summary.changed,
            drifted = summary.drifted,
            "inventory reconciled"
        );
        Ok(summary)
    }

    /// Starts reading the records in `lifecycle`, newest first, in keyset
    /// pages. The first page gives the highest number; the records below
    /// it are read in [`RECONCILE_READERS`] ranges of numbers, each by a
    /// task of its own (the store's reads and the records' decoding side by
    /// side with the comparing), at most [`RECONCILE_READ_AHEAD`] pages
    /// ahead of it.
    async fn read_records(&self, lifecycle: Lifecycle) -> Result<Reading, ButlerError> {
        let limit = self.config.reconcile_page.max(1);
        let first = self
            .store
            .list_vm_shapes(&shape_page(lifecycle, limit, None, None))
            .await?;
        let readers = RECONCILE_READERS.max(1);
        let (tx, pages) = tokio::sync::mpsc::channel(RECONCILE_READ_AHEAD);
        // Aborted if the pass is dropped or fails: no reader outlives it.
        let mut tasks = tokio::task::JoinSet::new();
        let more = first.items.len() + first.skipped >= limit;
        if let Some(top) = first.items.last().map(|r| r.id).filter(|_| more) {
            // Reader k takes the numbers from bound(k + 1) up to, not
            // including, bound(k): together every number under `top`.
            let bound = |k: u64| {
                VmId(if k < readers {
                    top.0 - top.0 / readers * k
                } else {
                    0
                })
            };
            for k in 0..readers {
                let above = (k + 1 < readers)
                    .then(|| bound(k + 1).0.checked_sub(1))
                    .flatten()
                    .map(VmId);
                let (store, tx) = (self.store.clone(), tx.clone());
                tasks.spawn(read_range(store, lifecycle, limit, above, bound(k), tx));
            }
        }
        Ok(Reading {
            first: first.items,
            pages,
            tasks,
        })
    }

    /// Compares every record `reading` reads with what the platform lists.
    async fn compare_records(
        &self,
        reading: Reading,
        found: &Found<'_>,
        by: &str,
        summary: &mut ReconcileSummary,
    ) -> Result<(), ButlerError> {
        let Reading {
            first,
            mut pages,
            mut tasks,
        } = reading;
        self.compare_page(first, found, by, summary).await?;
        while let Some(page) = pages.recv().await {
            self.compare_page(page?.items, found, by, summary).await?;
        }
        // Every reader ended (a panicked one would have sent nothing more).
        while let Some(done) = tasks.join_next().await {
            // A failure of Butler's own, not of the caller's input.
            done.map_err(|e| {
                ButlerError::Store(StoreError::Backend(
                    format!("a reconcile reader stopped: {e}").into(),
                ))
            })?;
        }
        Ok(())
    }

    /// Compares a page of records with what the platform lists, recording
    /// what changed.
    async fn compare_page(
        &self,
        records: Vec<VmShape>,
        found: &Found<'_>,
        by: &str,
        summary: &mut ReconcileSummary,
    ) -> Result<(), ButlerError> {
        for rec in records {
            summary.checked += 1;
            let vm = found.get(rec.name.as_str()).copied();
            let d = drift_from(&rec.cluster, &rec.spec, vm);
            let power = vm.map_or(rec.power, |v| v.power);
            if !d.is_empty() {
                summary.drifted += 1;
            }
            if d == rec.drift && power == rec.power {
                continue;
            }
            if d != rec.drift {
                summary.changed += 1;
            }
            let line = if d == rec.drift {
                Said::new(SaidCode::ReconcilePower, [("power", power.as_str().into())])
            } else if d.is_empty() {
                Said::just(SaidCode::ReconcileMatches)
            } else {
                Said::just(SaidCode::ReconcileDrift).with_parts(d.iter().map(Drift::said).collect())
            };
            self.change(rec.id, by, &line, |r| {
                r.drift = d.clone();
                r.power = power;
            })
            .await?;
        }
        Ok(())
    }

    /// Reconciles every [`InventoryConfig::reconcile_every`] in the
    /// background, as Butler (each pass logged; a failed pass is retried
    /// at the next), until [`ReconcilerHandle::shutdown`].
    pub fn start_reconciler(self: Arc<Self>) -> ReconcilerHandle {
        let (clock, every) = (self.clock.clone(), self.config.reconcile_every);
        ReconcilerHandle::every(clock, every, None, move || {
            let me = self.clone();
            async move {
                if let Err(e) = me.reconcile_all(crate::auth::ENGINE_NAME).await {
                    tracing::warn!(error = %e, "inventory reconcile failed; next pass at the next interval");
                }
            }
        })
    }

    /// Applies `edit` to the stored record and records `what` in its
    /// history, re-reading and re-applying when someone else changed it
    /// first.
    async fn change(
        &self,
        id: VmId,
        by: &str,
        what: &Said,
        edit: impl Fn(&mut VmRecord),
    ) -> Result<VmRecord, ButlerError> {
        let at = self.clock.now();
        let changed = amend(self.store.as_ref(), id, by, at, what, |r| {
            edit(r);
            true
        })
        .await?;
        changed.ok_or_else(|| ButlerError::NotFound(format!("VM record {id}")))
    }

    /// Records the VM `request` made (`platform_id`), unless it is
    /// recorded already (the provisioning flow's last step: repeating it
    /// changes nothing); `true` when this call made the record.
    pub(crate) async fn record_provisioned(
        store: &dyn Store,
        request: &crate::request::Request,
        platform_id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(VmRecord, bool), StoreError> {
        let name = request.platform_vm_name();
        if let Some(r) = store.find_vm_named(&name).await? {
            return Ok((r, false));
        }
        let id = store.next_vm_id().await?;
        let rec = VmRecord::provisioned(id, request, platform_id, at);
        match store.insert_vm(&rec).await {
            Ok(()) => Ok((rec, true)),
            // Another engine recorded it between the look-up and the insert.
            Err(StoreError::AlreadyExists(_)) => match store.find_vm_named(&name).await? {
                Some(r) => Ok((r, false)),
                None => Err(StoreError::AlreadyExists(format!("VM record {id}"))),
            },
            Err(e) => Err(e),
        }
    }
}

/// The platform's VMs by name, as a reconcile looks them up.
type Found<'a> = HashMap<&'a str, &'a VmSize, ahash::RandomState>;

/// How many tasks read a reconcile's records side by side.
const RECONCILE_READERS: u64 = 2;

/// How many pages a reconcile's readers may read ahead of the comparing
/// (at the default page of 1,000 records, some tens of megabytes at most).
const RECONCILE_READ_AHEAD: usize = 64;

/// A reconcile's reading of one lifecycle's records: the first page, and
/// the pages its readers send.
struct Reading {
    first: Vec<VmShape>,
    pages: tokio::sync::mpsc::Receiver<Result<Page<VmShape>, StoreError>>,
    tasks: tokio::task::JoinSet<()>,
}

/// A reconcile's page of records in `lifecycle`: the `limit` highest
/// numbered above `above` and below `below`.
fn shape_page(
    lifecycle: Lifecycle,
    limit: usize,
    above: Option<VmId>,
    below: Option<VmId>,
) -> VmQuery {
    VmQuery {
        lifecycles: vec![lifecycle],
        before: below,
        after: above,
        limit: Some(limit),
        ..VmQuery::default()
    }
}

/// Reads the records in `lifecycle` numbered above `above` and below
/// `below`, page by page, into `pages` (a failure is sent, and ends it).
async fn read_range(
    store: Arc<dyn Store>,
    lifecycle: Lifecycle,
    limit: usize,
    above: Option<VmId>,
    mut below: VmId,
    pages: tokio::sync::mpsc::Sender<Result<Page<VmShape>, StoreError>>,
) {
    loop {
        let page = store
            .list_vm_shapes(&shape_page(lifecycle, limit, above, Some(below)))
            .await;
        let next = match &page {
            Ok(p) if p.items.len() + p.skipped >= limit => p.items.last().map(|r| r.id),
            _ => None,
        };
        if pages.send(page).await.is_err() {
            return;
        }
        match next {
            Some(id) => below = id,
            None => return,
        }
    }
}

/// Changes the record `id` with `edit`, adding `what` by `actor` to its
/// history; `edit` answers `false` when there is nothing to do (a repeated
/// step), and nothing is written. The new record when this call changed
/// it. A record changed meanwhile (the reconciler) is read again and
/// edited afresh, up to `UPDATE_TRIES` times.
pub(crate) async fn amend(
    store: &dyn Store,
    id: VmId,
    actor: &str,
    at: chrono::DateTime<chrono::Utc>,
    what: &Said,
    edit: impl Fn(&mut VmRecord) -> bool,
) -> Result<Option<VmRecord>, StoreError> {
    update_with(store, id, |rec| rec.next(actor, at, what.clone()), edit).await
}

/// The next keyset page of the records `q` selects (empty: no more), `q`
/// moved past it.
pub(crate) async fn next_page(
    store: &dyn Store,
    q: &mut VmQuery,
) -> Result<Vec<VmRecord>, StoreError> {
    let page = store.list_vms(q).await?;
    q.before = page.items.last().map(|r| r.id).or(q.before);
    Ok(page.items)
}

/// Applies `edit` to the stored record without a history line (the
/// bookkeeping of its outbox), re-reading on a conflict as [`amend`] does.
pub(crate) async fn replace_quietly(
    store: &dyn Store,
    id: VmId,
    edit: impl Fn(&mut VmRecord) -> bool,
) -> Result<(), StoreError> {
    let bumped = |rec: &VmRecord| VmRecord {
        version: rec.version + 1,
        ..rec.clone()
    };
    update_with(store, id, bumped, edit).await.map(|_| ())
}

/// The stored record made `next`, then `edit`ed, written if `edit` says
/// so, re-read and redone on a conflict.
async fn update_with(
    store: &dyn Store,
    id: VmId,
    next: impl Fn(&VmRecord) -> VmRecord,
    edit: impl Fn(&mut VmRecord) -> bool,
) -> Result<Option<VmRecord>, StoreError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let rec = store.get_vm(id).await?;
        let mut next = next(&rec);
        if !edit(&mut next) {
            return Ok(None);
        }
        next.note_life(&rec);
        match store.update_vm(&next, rec.version).await {
            Ok(()) => return Ok(Some(next)),
            Err(StoreError::Conflict { .. }) if tries < UPDATE_TRIES => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A running background job of the inventory: the reconciler
/// ([`VmService::start_reconciler`]) or the lease watch
/// ([`super::LeaseWatch::start`]).
#[derive(Debug)]
pub struct ReconcilerHandle {
    stop: tokio::sync::watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl ReconcilerHandle {
    /// Runs `pass` every `period` of `clock` (the first after one period),
    /// and at once whenever `wake` is notified, on a task of its own, until
    /// [`shutdown`](Self::shutdown).
    pub(crate) fn every<F, Fut>(
        clock: Arc<dyn Clock>,
        period: Duration,
        wake: Option<Arc<tokio::sync::Notify>>,
        pass: F,
    ) -> Self
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
        let join = tokio::spawn(async move {
            let wake = wake.unwrap_or_default();
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    () = clock.sleep_idle(period) => {}
                    () = wake.notified() => {}
                }
                if *stop.borrow() {
                    break;
                }
                pass().await;
            }
        });
        ReconcilerHandle {
            stop: stop_tx,
            join,
        }
    }

    /// Stops after the pass under way, if any.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.join.await {
            tracing::error!(error = ?e, "the inventory reconciler ended abnormally");
        }
    }
}

/// Moves the inventory records of the VMs a migration run put on its
/// destination there, each with a history line naming the run: a move
/// Butler made is no drift. VMs not in the inventory are left alone.
/// Records in the inventory that a migration run changed the power of
/// the VM `name` to `power`, when the VM has a record: a history line and,
/// given a `notice` (someone delivers the VMs' notices), a notice to its
/// owner in the record's outbox. Returns whether a notice was written.
pub(crate) async fn record_migration_power(
    store: &dyn Store,
    name: &str,
    power: PowerState,
    what: &Said,
    notice: Option<crate::notify::VmNoticeKind>,
    by: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let Some(rec) = store.find_vm_named(name).await? else {
        return Ok(false);
    };
    let note = notice.map(|kind| crate::notify::VmNotice {
        vm: rec.id,
        name: rec.name.clone(),
        display_name: rec.display_name.clone(),
        owner: rec.owner.clone(),
        kind,
        at,
    });
    amend(store, rec.id, by, at, what, |r| {
        r.power = power;
        if let Some(n) = &note {
            r.outbox.push(super::PendingNotice {
                notice: n.clone(),
                done: Default::default(),
            });
        }
        true
    })
    .await?;
    Ok(note.is_some())
}

pub(crate) async fn record_migration(
    store: &dyn Store,
    report: &crate::migration::MigrationReport,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<usize, StoreError> {
    use crate::migration::VmOutcome;
    let mut moved = 0;
    for line in &report.vms {
        if !matches!(
            line.outcome,
            VmOutcome::Migrated | VmOutcome::PostMovePending { .. }
        ) {
            continue;
        }
        let Some(rec) = store.find_vm_named(&line.vm).await? else {
            continue;
        };
        let what = Said::new(
            SaidCode::Migrated,
            [
                ("from", rec.cluster.clone()),
                ("to", report.destination.clone()),
                ("run", report.id.to_string()),
            ],
        );
        let to = &report.destination;
        let changed = amend(store, rec.id, &report.started_by, at, &what, |r| {
            if r.cluster == *to {
                return false;
            }
            r.cluster = to.clone();
            true
        })
        .await?;
        moved += usize::from(changed.is_some());
    }
    Ok(moved)
}
