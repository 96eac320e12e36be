//! Quotas on the request service: the hold every write of a request
//! takes or frees, checked at submit, approval and an approver's edit;
//! usage and previews for the quota page, the form, the API and Python;
//! the recount that mends holds.

use super::{ButlerError, RequestService};
use crate::auth::{Actor, Operation, Role};
use crate::inventory::{Lifecycle, VmId, VmQuery, VmRecord};
use crate::quota::{self, Hold, HoldChange, Holder, Limits, QuotaLine, QuotaPreview, Scope, Share};
use crate::request::{Request, RequestKind, RequestState};
use crate::rules::RuleBook;
use crate::vm_spec::VmSpec;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// A hold a request's write takes: the change, the change that undoes it
/// if a new request is not stored, and the limits it is checked against.
pub(super) struct QuotaStep {
    pub(super) change: HoldChange,
    pub(super) undo: HoldChange,
    pub(super) limits: Vec<(Scope, Limits)>,
}

impl QuotaStep {
    /// Whether it frees a share (written after the request, so a crash in
    /// between holds too much, never too little).
    pub(super) fn frees(&self) -> bool {
        matches!(self.change, HoldChange::Release(_))
    }
}

/// How many records a recount reads at a time.
const RECOUNT_PAGE: usize = 1_000;

/// The limits `book` sets for `scopes`.
fn limits_of(book: &RuleBook, scopes: &[Scope]) -> Vec<(Scope, Limits)> {
    scopes
        .iter()
        .filter_map(|s| book.limits_for(s).map(|l| (s.clone(), l.clone())))
        .collect()
}

impl RequestService {
    /// Counts the holds once on a store that never counted them (one
    /// from before quotas): every later write keeps them.
    async fn holds_ready(&self) -> Result<(), ButlerError> {
        self.holds_counted
            .get_or_try_init(|| async {
                if !self.store.holds_counted().await? {
                    let holds = self.count_holds().await?;
                    if self.store.replace_holds(&holds, true).await? {
                        tracing::info!(holds = holds.len(), "quota holds counted");
                    }
                }
                Ok::<(), ButlerError>(())
            })
            .await?;
        Ok(())
    }

    /// Sets holds, checked against `limits`: a refusal is
    /// [`ButlerError::Quota`] and changes nothing.
    pub(super) async fn take_holds(
        &self,
        changes: &[HoldChange],
        limits: &[(Scope, Limits)],
    ) -> Result<(), ButlerError> {
        self.holds_ready().await?;
        self.store.hold(changes, limits).await??;
        Ok(())
    }

    /// The monthly cost `rec` was last approved at (an adopted VM: zero).
    async fn approved_cost(&self, rec: &VmRecord) -> Result<Decimal, ButlerError> {
        let Some(origin) = rec.last_change.or(rec.request) else {
            return Ok(Decimal::ZERO);
        };
        match self.store.get_request(origin).await {
            Ok(o) => Ok(o.estimate.total),
            Err(crate::store::StoreError::NotFound(_)) => Ok(Decimal::ZERO),
            Err(e) => Err(e.into()),
        }
    }

    /// What VM `id` holds now (a reconfigure adds to it).
    async fn vm_share(&self, id: VmId) -> Result<Share, ButlerError> {
        let rec = self.store.get_vm(id).await?;
        let cost = self.approved_cost(&rec).await?;
        Ok(quota::vm_hold(&rec, cost)
            .map(|h| h.share)
            .unwrap_or_default())
    }

    /// What the VM `r` reconfigures holds now (`None` for other kinds).
    async fn current_of(&self, r: &Request) -> Result<Option<Share>, ButlerError> {
        match &r.kind {
            RequestKind::Reconfigure(c) => Ok(Some(self.vm_share(c.target.vm).await?)),
            _ => Ok(None),
        }
    }

    /// The hold writing `next` over `r` takes, if any; `checked`: at a
    /// submit, an approval or an approver's edit, against `book` (the
    /// rules the caller just read) or the rules in force.
    pub(super) async fn quota_step(
        &self,
        r: &Request,
        next: &Request,
        checked: bool,
        book: Option<&RuleBook>,
    ) -> Result<Option<QuotaStep>, ButlerError> {
        let Some(holder) = quota::holder_of(next) else {
            return Ok(None);
        };
        let holds = |q: &Request| {
            !matches!(
                q.state,
                RequestState::Created | RequestState::Rejected | RequestState::Cancelled
            )
        };
        if !holds(r) && !holds(next) {
            return Ok(None);
        }
        let current = self.current_of(next).await?;
        let old = quota::hold_of(r, current.as_ref());
        let new = quota::hold_of(next, current.as_ref());
        let limits = match (&new, checked, book) {
            (Some(h), true, Some(b)) => limits_of(b, &h.scopes()),
            (Some(h), true, None) => limits_of(&*self.rules().await?, &h.scopes()),
            _ => Vec::new(),
        };
        if old == new && limits.is_empty() {
            return Ok(None);
        }
        let as_change = |h: Option<Hold>| h.map_or(HoldChange::Release(holder), HoldChange::Set);
        Ok(Some(QuotaStep {
            change: as_change(new),
            undo: as_change(old),
            limits,
        }))
    }

    /// Writes `next` over `r` (version `expected`) with its quota step:
    /// a share taken (and checked) before the request is written, and
    /// given back if that write fails; a share freed after it.
    pub(super) async fn write_with_hold(
        &self,
        next: &Request,
        expected: Option<u64>,
        step: Option<QuotaStep>,
    ) -> Result<(), ButlerError> {
        let before = step.as_ref().filter(|s| !s.frees());
        if let Some(s) = before {
            self.take_holds(std::slice::from_ref(&s.change), &s.limits)
                .await?;
        }
        self.notifiers_ready().await;
        let written = match expected {
            Some(v) => self.store.update_request(next, v).await,
            None => self.store.insert_request(next).await,
        };
        if let Err(e) = written {
            if before.is_some() {
                self.settle_hold(next.id).await;
            }
            return Err(e.into());
        }
        if let Some(s) = step.filter(QuotaStep::frees) {
            if let Err(e) = self.take_holds(&[s.change], &[]).await {
                tracing::warn!(request = %next.id, error = %e, "quota: a share freed stays held; a recount mends it");
            }
        }
        Ok(())
    }

    /// Sets request `id`'s hold to what it holds as stored, after a write
    /// of it failed: another writer's version wins (two submits of one
    /// request at once: the loser must not free the winner's share). If
    /// even that fails, the share stays held too long, never too short.
    async fn settle_hold(&self, id: crate::request::RequestId) {
        let settled = async {
            let r = self.store.get_request(id).await?;
            let Some(holder) = quota::holder_of(&r) else {
                return Ok(());
            };
            let current = self.current_of(&r).await?;
            let change = quota::hold_of(&r, current.as_ref())
                .map_or(HoldChange::Release(holder), HoldChange::Set);
            self.store.hold(&[change], &[]).await??;
            Ok::<(), ButlerError>(())
        }
        .await;
        if let Err(e) = settled {
            tracing::warn!(request = %id, error = %e, "quota: a share taken for a write that failed may stay held; a recount mends it");
        }
    }

    /// Every hold as the requests and records stand: VMs not retired,
    /// then requests that wait or run (a new VM already recorded counts
    /// once, as its VM).
    async fn count_holds(&self) -> Result<Vec<Hold>, ButlerError> {
        let mut by: BTreeMap<Holder, Hold> = BTreeMap::new();
        let mut before = None;
        loop {
            let page = self
                .store
                .list_vms(&VmQuery {
                    lifecycles: vec![Lifecycle::Active, Lifecycle::Retiring],
                    before,
                    limit: Some(RECOUNT_PAGE),
                    ..VmQuery::default()
                })
                .await?;
            for rec in &page.items {
                let cost = self.approved_cost(rec).await?;
                if let Some(h) = quota::vm_hold(rec, cost) {
                    by.insert(h.holder, h);
                }
            }
            match page.items.iter().map(|r| r.id).min() {
                Some(last) if page.items.len() == RECOUNT_PAGE => before = Some(last),
                _ => break,
            }
        }
        let waiting = [
            RequestState::Requested,
            RequestState::Reviewed,
            RequestState::Approved,
            RequestState::Provisioning,
            RequestState::Error,
        ];
        for id in self.store.request_ids_in_states(&waiting).await? {
            let r = self.store.get_request(id).await?;
            let current = match self.current_of(&r).await {
                Ok(c) => c,
                // The VM went: the request cannot apply; it holds nothing.
                Err(ButlerError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            if let Some(h) = quota::hold_of(&r, current.as_ref()) {
                by.entry(h.holder).or_insert(h);
            }
        }
        Ok(by.into_values().collect())
    }

    /// Counts every hold again from the requests and records and replaces
    /// what the store holds (after a crash between a request's write and
    /// its hold's, or to start counting on a store from before quotas;
    /// run it while few requests change: one written meanwhile may be
    /// counted as it was). Returns how many holds there are. An Admin.
    pub async fn recount_quotas(&self, actor: &Actor) -> Result<usize, ButlerError> {
        self.policy.check(actor, Operation::EditRules)?;
        let holds = self.count_holds().await?;
        self.store.replace_holds(&holds, false).await?;
        tracing::info!(actor = %actor.name(), holds = holds.len(), "quota holds recounted");
        Ok(holds.len())
    }

    /// Every scope with a quota or a share held, with its limits and what
    /// it holds: divisions, then units, then requesters. Approvers,
    /// Viewers and Admins see every requester; others see their own.
    pub async fn quota_usage(&self, actor: &Actor) -> Result<Vec<QuotaLine>, ButlerError> {
        self.holds_ready().await?;
        let book = self.rules().await?;
        let everyone = [Role::Approver, Role::Viewer, Role::Admin]
            .iter()
            .any(|r| actor.has(*r));
        let me = crate::auth::identity_key(actor.name());
        let mut used: BTreeMap<Scope, Share> = self
            .store
            .all_usage()
            .await?
            .into_iter()
            .map(|u| (u.scope, u.used))
            .collect();
        for q in &book.quotas {
            match &q.scope {
                Scope::Requester(n) if n == quota::EVERY_REQUESTER => {}
                Scope::Requester(n) => {
                    used.entry(Scope::Requester(crate::auth::identity_key(n)))
                        .or_default();
                }
                s => {
                    used.entry(s.clone()).or_default();
                }
            }
        }
        if !everyone {
            used.entry(Scope::Requester(me.clone())).or_default();
        }
        Ok(used
            .into_iter()
            .filter(|(s, _)| match s {
                Scope::Requester(n) => everyone || *n == me,
                _ => true,
            })
            .map(|(scope, used)| QuotaLine {
                limits: book.limits_for(&scope).cloned().unwrap_or_default(),
                scope,
                used,
                with_request: None,
            })
            .collect())
    }

    /// What request `id` holds (if submitted now, for a draft) and what it
    /// would leave in its division, unit and requester's quotas; the
    /// request is not changed.
    pub async fn quota_preview(
        &self,
        actor: &Actor,
        id: crate::request::RequestId,
    ) -> Result<QuotaPreview, ButlerError> {
        let mut r = self.get(actor, id).await?;
        if r.state == RequestState::Created {
            r.state = RequestState::Requested;
        }
        let current = self.current_of(&r).await?;
        let hold = quota::hold_of(&r, current.as_ref());
        let holder = quota::holder_of(&r);
        self.preview(
            hold,
            holder,
            &r.spec.spec().division,
            &r.spec.spec().unit,
            &r.owner,
        )
        .await
    }

    /// What a new VM of `spec` asked by `actor` would hold and leave (a
    /// form before it is saved); nothing is written.
    pub async fn quota_preview_spec(
        &self,
        actor: &Actor,
        spec: VmSpec,
    ) -> Result<QuotaPreview, ButlerError> {
        self.policy
            .check_request(actor, None, crate::request::ActionKind::Create)?;
        let priced = self.price(&spec)?;
        let share = Share::vm(priced.spec.spec(), priced.estimate.total);
        let s = priced.spec.spec();
        let hold = Hold::new(
            Holder::Request(crate::request::RequestId(0)),
            &s.division,
            &s.unit,
            actor.name(),
            share,
        );
        self.preview(Some(hold), None, &s.division, &s.unit, actor.name())
            .await
    }

    async fn preview(
        &self,
        hold: Option<Hold>,
        holder: Option<Holder>,
        division: &str,
        unit: &str,
        owner: &str,
    ) -> Result<QuotaPreview, ButlerError> {
        self.holds_ready().await?;
        let book = self.rules().await?;
        let scopes = hold.as_ref().map_or_else(
            || Hold::new(Holder::Vm(VmId(0)), division, unit, owner, Share::default()).scopes(),
            Hold::scopes,
        );
        let held = match holder {
            Some(h) => self.store.held(h).await?,
            None => None,
        };
        let usage = self.store.usage(&scopes).await?;
        let share = hold.map(|h| h.share).unwrap_or_default();
        let lines = usage
            .into_iter()
            .map(|u| {
                let mut after = u.used.clone();
                if let Some(old) = &held {
                    after.sub(&old.share);
                }
                after.add(&share);
                QuotaLine {
                    limits: book.limits_for(&u.scope).cloned().unwrap_or_default(),
                    with_request: Some(after),
                    scope: u.scope,
                    used: u.used,
                }
            })
            .collect();
        Ok(QuotaPreview { share, lines })
    }
}
