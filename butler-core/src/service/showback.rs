//! Showback through the service (SPEC §14): the inventory's records read
//! page by page, each priced by its requests' specs on the rate book in
//! force now ([`crate::showback`]).

use super::*;
use crate::cost::Sizing;
use crate::inventory::{next_page, Lifecycle, VmQuery, VmRecord};
use crate::showback::{self, Month, Promise, Showback, Unpriced, VmLife};
use std::collections::HashMap;

/// Records read per page.
const PAGE: usize = 1_000;

/// The request specs' sizings and estimates read so far.
#[derive(Default)]
struct Requests(HashMap<RequestId, (Arc<Sizing>, Promise)>);

impl Requests {
    async fn get(
        &mut self,
        store: &dyn Store,
        id: RequestId,
    ) -> Result<(Arc<Sizing>, Promise), ButlerError> {
        if let Some(found) = self.0.get(&id) {
            return Ok(found.clone());
        }
        let r = store.get_request(id).await?;
        let found = (
            Arc::new(Sizing::of(&r.spec)),
            Promise {
                monthly: r.estimate.total,
                card_version: r.estimate.card_version.clone(),
            },
        );
        self.0.insert(id, found.clone());
        Ok(found)
    }
}

/// What an adopted VM is priced by: its size as found, storage unpriced.
fn found_sizing(r: &VmRecord) -> Sizing {
    Sizing {
        cost_center: r.cost_center.clone(),
        vcpus: r.spec.vcpus,
        ram_gib: r.spec.ram_gib,
        disk_type: None,
        storage_gib: r.spec.disks_gib.iter().map(|d| u64::from(*d)).sum(),
        backup_local: false,
        backup_remote: false,
        cdrom: false,
        nics: u32::try_from(r.spec.nics.len()).unwrap_or(u32::MAX),
        image: r.spec.image.is_some(),
    }
}

/// One page of a month's VM lines ([`RequestService::showback_page`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShowbackPage {
    /// The month.
    pub month: Month,
    /// When and by whom it was closed (`None`: open, priced now).
    pub closed: Option<crate::showback::ClosedMonth>,
    /// The currency of the amounts.
    pub currency: Option<String>,
    /// The lines, by VM number.
    pub lines: Vec<crate::showback::VmShowback>,
    /// The number to pass as `after` for the next page (`None`: the last).
    pub next: Option<crate::inventory::VmId>,
}

/// Months whose figures are kept: closed, never priced again.
type Closed = std::collections::BTreeMap<Month, crate::showback::ClosedMonth>;

impl RequestService {
    /// What every VM `actor` may see cost from `from` to `to` (months,
    /// both included), beside its request's estimate: Approvers, Viewers
    /// and Admins see every VM, anyone else their own. Closed months
    /// ([`close_month`](Self::close_month)) are read as they were
    /// closed; the others are priced now, on the rate book in force.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use butler_core::{auth::{Actor, Role}, demo, service::RequestService, store::MemoryStore};
    /// use std::sync::Arc;
    /// let svc = RequestService::new(Arc::new(MemoryStore::new()), demo::catalog(), demo::rate_book());
    /// let viewer = Actor::trusted("val", [Role::Viewer])?;
    /// let r = svc.showback(&viewer, "2026-03".parse()?, "2026-05".parse()?).await?;
    /// assert_eq!(r.actual, rust_decimal::Decimal::ZERO);
    /// assert_eq!(r.currency.as_deref(), Some("UF"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn showback(
        &self,
        actor: &Actor,
        from: Month,
        to: Month,
    ) -> Result<Showback, ButlerError> {
        let book = self.rate_book();
        // The period is checked before anything is read.
        let months = showback::months(from, to)?;
        let closed: Closed = self
            .store
            .closed_months()
            .await?
            .into_iter()
            .filter(|c| c.month >= from && c.month <= to)
            .map(|c| (c.month, c))
            .collect();
        let owner = self.showback_owner(actor);
        let all_closed = months.iter().all(|m| closed.contains_key(m));
        let mut priced = if all_closed {
            showback::Priced {
                currency: None,
                vms: Vec::new(),
                unpriced: Vec::new(),
            }
        } else {
            self.priced_now(owner.as_deref(), &book, from, to).await?
        };
        // Closed months replace what was priced now.
        for v in &mut priced.vms {
            v.months.retain(|m| !closed.contains_key(&m.month));
        }
        priced.vms.retain(|v| !v.months.is_empty());
        let mut by_vm: std::collections::BTreeMap<_, _> =
            priced.vms.into_iter().map(|v| (v.vm, v)).collect();
        let mut currency = priced.currency.filter(|_| !all_closed);
        for (month, c) in &closed {
            match (&currency, &c.currency) {
                (Some(a), Some(b)) if a != b => {
                    return Err(showback::ShowbackError::MixedCurrencies {
                        from,
                        to,
                        first: a.clone(),
                        second: b.clone(),
                    }
                    .into())
                }
                (None, Some(b)) => currency = Some(b.clone()),
                _ => {}
            }
            for line in self.all_closed_lines(*month, owner.as_deref()).await? {
                match by_vm.entry(line.vm) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(line);
                    }
                    std::collections::btree_map::Entry::Occupied(mut e) => {
                        let v = e.get_mut();
                        v.months.extend(line.months);
                        v.months.sort_by_key(|m| m.month);
                    }
                }
            }
            let visible = owner.is_none();
            priced
                .unpriced
                .extend(c.unpriced.iter().filter(|_| visible).cloned());
        }
        priced.unpriced.sort_by_key(|u| u.vm);
        priced.unpriced.dedup_by_key(|u| u.vm);
        let mut report = showback::summed(
            from,
            to,
            currency,
            by_vm.into_values().collect(),
            priced.unpriced,
        )?;
        if report.currency.is_none() {
            report.currency = showback::currency_of(&book, from, to)?;
        }
        Ok(report)
    }

    /// Closes `month` (an Admin): every VM's figures as priced now are
    /// kept and never priced again, whatever rate card or record changes
    /// after. Only a month that has ended may be closed, and only once.
    pub async fn close_month(
        &self,
        actor: &Actor,
        month: Month,
    ) -> Result<crate::showback::ClosedMonth, ButlerError> {
        self.policy.check(actor, Operation::CloseMonths)?;
        let today = self.clock.now().date_naive();
        if month.last() >= today {
            return Err(ButlerError::Invalid(format!(
                "month {month} has not ended: it can be closed from {}",
                month.last().succ_opt().unwrap_or(month.last())
            )));
        }
        let book = self.rate_book();
        let priced = self.priced_now(None, &book, month, month).await?;
        let report = showback::summed(month, month, priced.currency, priced.vms, priced.unpriced)?;
        let closed = crate::showback::ClosedMonth {
            month,
            closed_by: actor.name().to_string(),
            closed_at: self.clock.now(),
            currency: report.currency.clone(),
            vms: report.vms.len() as u64,
            actual: report.actual,
            estimate: report.estimate,
            unpriced: report.unpriced,
        };
        self.store.close_month(&closed, &report.vms).await?;
        Ok(closed)
    }

    /// The closed months, oldest first, with their totals over every VM
    /// (Approvers, Viewers, Admins).
    pub async fn closed_months(
        &self,
        actor: &Actor,
    ) -> Result<Vec<crate::showback::ClosedMonth>, ButlerError> {
        self.policy.check(actor, Operation::ReadShowbackTotals)?;
        Ok(self.store.closed_months().await?)
    }

    /// Up to `limit` VM lines of `month` numbered above `after`, by number,
    /// of the VMs `actor` sees ([`showback`](Self::showback)'s rule): a
    /// closed month is read from its kept lines a page at a time; an open
    /// one is priced now.
    pub async fn showback_page(
        &self,
        actor: &Actor,
        month: Month,
        after: Option<crate::inventory::VmId>,
        limit: usize,
    ) -> Result<ShowbackPage, ButlerError> {
        crate::limits::check("limit", limit, crate::limits::MAX_PAGE_SIZE, "rows")?;
        let owner = self.showback_owner(actor);
        let closed = self
            .store
            .closed_months()
            .await?
            .into_iter()
            .find(|c| c.month == month);
        let (currency, mut lines) = match &closed {
            Some(c) => {
                let take = limit.saturating_add(1);
                let lines = self
                    .store
                    .closed_lines(month, owner.as_deref(), after, take)
                    .await?;
                (c.currency.clone(), lines)
            }
            None => {
                let book = self.rate_book();
                let p = self
                    .priced_now(owner.as_deref(), &book, month, month)
                    .await?;
                let mut lines = p.vms;
                lines.sort_by_key(|v| v.vm);
                lines.retain(|v| after.is_none_or(|a| v.vm > a));
                lines.truncate(limit.saturating_add(1));
                (p.currency, lines)
            }
        };
        let next = match limit.checked_sub(1).and_then(|last| lines.get(last)) {
            Some(last) if lines.len() > limit => Some(last.vm),
            _ => None,
        };
        lines.truncate(limit);
        // Those who see their own VMs only see when and by whom a month
        // was closed, not its totals over every VM.
        let closed = closed.map(|c| match owner {
            None => c,
            Some(_) => crate::showback::ClosedMonth {
                vms: 0,
                actual: rust_decimal::Decimal::ZERO,
                estimate: rust_decimal::Decimal::ZERO,
                unpriced: Vec::new(),
                ..c
            },
        });
        Ok(ShowbackPage {
            month,
            closed,
            currency,
            lines,
            next,
        })
    }

    /// `month`'s showback of every VM beside what `billing` charged for
    /// it, matched by VM name, each line flagged when the two differ by
    /// more than `tolerance` (default [`showback::TOLERANCE`], a cent),
    /// or when one side has a VM the other has not (Approvers, Viewers,
    /// Admins). The billing system is asked under
    /// [`crate::resilience::DEFAULT_CALL_DEADLINE`] on the service's clock;
    /// one that does not report charges answers
    /// [`crate::backend::ErrorKind::Unsupported`].
    pub async fn compare_with_billing(
        &self,
        actor: &Actor,
        month: Month,
        billing: Arc<dyn crate::backend::Billing>,
        tolerance: Option<rust_decimal::Decimal>,
    ) -> Result<showback::BillingComparison, ButlerError> {
        self.policy.check(actor, Operation::ReadShowbackTotals)?;
        let tolerance = tolerance.unwrap_or(showback::TOLERANCE);
        if tolerance.is_sign_negative() {
            return Err(ButlerError::Invalid(format!(
                "tolerance {tolerance} is negative"
            )));
        }
        // The billing system is asked under a deadline on the service's
        // clock, whatever the caller passed.
        let billing = crate::resilience::Guarded::billing(
            billing,
            self.clock.clone(),
            crate::resilience::DEFAULT_CALL_DEADLINE,
        );
        let charges = crate::backend::Billing::charges(&billing, month).await?;
        let report = self.showback(actor, month, month).await?;
        Ok(showback::compare(&report, month, &charges, tolerance))
    }

    /// Whose VMs `actor` sees in showback: `None` for every VM.
    fn showback_owner(&self, actor: &Actor) -> Option<String> {
        (!self.policy.sees_all_requests(actor)).then(|| actor.name().to_string())
    }

    /// Every line of closed `month` (of `owner`'s VMs only, if given).
    async fn all_closed_lines(
        &self,
        month: Month,
        owner: Option<&str>,
    ) -> Result<Vec<crate::showback::VmShowback>, ButlerError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.closed_lines(month, owner, after, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(all);
            };
            after = Some(last.vm);
            all.extend(page);
        }
    }

    /// The lines of every VM (of `owner`'s only, if given) priced now.
    async fn priced_now(
        &self,
        owner: Option<&str>,
        book: &crate::cost::RateBook,
        from: Month,
        to: Month,
    ) -> Result<showback::Priced, ButlerError> {
        let mut q = VmQuery {
            limit: Some(PAGE),
            owner: owner.map(str::to_string),
            ..VmQuery::default()
        };
        let mut requests = Requests::default();
        let mut lives = Vec::new();
        let mut unreadable = Vec::new();
        loop {
            let page = next_page(self.store.as_ref(), &mut q).await?;
            if page.is_empty() {
                break;
            }
            for rec in page {
                match self.life(&rec, &mut requests, from, to).await {
                    Ok(Some(life)) => lives.push(life),
                    Ok(None) => {}
                    // One record whose request is gone does not hide the
                    // estate's cost: it is named instead.
                    Err(ButlerError::NotFound(what)) => unreadable.push(Unpriced {
                        vm: rec.id,
                        name: rec.name.clone(),
                        reason: format!("{what} was not found"),
                    }),
                    Err(e) => return Err(e),
                }
            }
        }
        let mut priced = showback::price(&lives, book, from, to)?;
        priced.unpriced.extend(unreadable);
        Ok(priced)
    }

    /// The life of `rec`, or `None` when it did not exist in the period.
    async fn life(
        &self,
        rec: &VmRecord,
        requests: &mut Requests,
        from: Month,
        to: Month,
    ) -> Result<Option<VmLife>, ButlerError> {
        let marks = rec.life_marks();
        let gone = marks
            .iter()
            .find(|m| m.state.retired)
            .map(|m| m.at.date_naive());
        if rec.created_at.date_naive() > to.last()
            || (rec.lifecycle == Lifecycle::Retired && gone.is_some_and(|g| g < from.first()))
        {
            return Ok(None);
        }
        let made = match rec.request {
            Some(id) => Some(requests.get(self.store.as_ref(), id).await?),
            None => None,
        };
        let found = Arc::new(found_sizing(rec));
        let mut sizings: HashMap<RequestId, Arc<Sizing>> = HashMap::new();
        for change in marks.iter().filter_map(|m| m.state.change) {
            if let std::collections::hash_map::Entry::Vacant(e) = sizings.entry(change) {
                e.insert(requests.get(self.store.as_ref(), change).await?.0);
            }
        }
        let promise = made.as_ref().map(|(_, p)| p.clone());
        let first = made.map_or(found, |(s, _)| s);
        let life = showback::life_of(rec, promise, |change| match change {
            None => Ok(first.clone()),
            Some(id) => sizings
                .get(&id)
                .cloned()
                .ok_or_else(|| format!("request {id} was not read")),
        })
        .map_err(ButlerError::Invalid)?;
        Ok(Some(life))
    }
}
