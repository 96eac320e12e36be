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

impl RequestService {
    /// What every VM `actor` may see cost from `from` to `to` (months,
    /// both included), beside its request's estimate: Approvers, Viewers
    /// and Admins see every VM, anyone else their own.
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
        showback::compute(&[], &book, from, to)?;
        let mut q = VmQuery {
            limit: Some(PAGE),
            ..VmQuery::default()
        };
        if !self.policy.sees_all_requests(actor) {
            q.owner = Some(actor.name().to_string());
        }
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
        let mut report = showback::compute(&lives, &book, from, to)?;
        report.unpriced.extend(unreadable);
        report.unpriced.sort_by_key(|u| u.vm);
        Ok(report)
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
