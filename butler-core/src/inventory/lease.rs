//! Leases (SPEC §12): the owner of a leased VM hears before its lease ends
//! (by default 14, 7 and 1 days before), and from the day it ends the VM
//! is retired by a decommission Butler asks and approves itself, where the
//! deployment says so; elsewhere the owner hears that it ended.
//!
//! A pass of the [`LeaseWatch`] reads only the active VMs whose lease ends
//! within the notice window (an index on the lease end). A notice due is
//! written into the VM's outbox with the threshold it announces
//! ([`VmRecord::lease_noticed`](super::VmRecord::lease_noticed)), in one
//! update: it is never written twice, and [`super::VmNotices`] delivers it
//! to every notifier, again after a failure. A pass that comes late writes
//! only the notice now due, not the ones it missed.

use super::record::{Lifecycle, VmQuery, VmRecord};
use crate::backend::Clock;
use crate::error::ButlerError;
use crate::notify::{VmNotice, VmNoticeKind};
use crate::said::{Said, SaidCode};
use crate::service::RequestService;
use crate::store::Store;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the lease watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaseConfig {
    /// Days before a lease's end at which its owner hears (default 14, 7,
    /// 1); each 1 to 365.
    pub notice_days: Vec<u32>,
    /// Whether a VM is retired when its lease ends (default false: its
    /// owner hears that it ended, and it runs on).
    pub retire_at_end: bool,
    /// How often [`LeaseWatch::start`] passes (default an hour).
    pub every: Duration,
    /// Records read per page.
    pub page: usize,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            notice_days: vec![14, 7, 1],
            retire_at_end: false,
            every: Duration::from_secs(60 * 60),
            page: 1000,
        }
    }
}

impl LeaseConfig {
    /// Why these settings cannot work, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if let Some(d) = self.notice_days.iter().find(|d| !(1..=365).contains(*d)) {
            return Err(format!(
                "lease notice days must be 1 to 365 days before the end, not {d}"
            ));
        }
        if self.page == 0 || self.every.is_zero() {
            return Err("the lease watch needs a period and a page size above zero".into());
        }
        Ok(())
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseSweep {
    /// Leased VMs within the notice window.
    pub looked_at: usize,
    /// Notices written into the VMs' outboxes (one per VM and threshold).
    pub notices: usize,
    /// Notices or retirements that could not be written (they are tried
    /// again at the next pass).
    pub failed: usize,
    /// Decommissions asked because a lease ended.
    pub retirements: usize,
    /// Deletions asked because a retirement's grace period was over.
    #[serde(default)]
    pub deletions: usize,
}

/// Watches leases: notices before they end, retirement when they have.
pub struct LeaseWatch {
    store: Arc<dyn Store>,
    requests: Arc<RequestService>,
    clock: Arc<dyn Clock>,
    wake: Option<Arc<tokio::sync::Notify>>,
    config: LeaseConfig,
}

impl std::fmt::Debug for LeaseWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseWatch")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The notice due `days_left` days before a lease's end, given the notice
/// days: the nearest threshold reached, or 0 once the lease has ended.
fn due(days_left: i64, notice_days: &[u32]) -> Option<u32> {
    if days_left <= 0 {
        return Some(0);
    }
    notice_days
        .iter()
        .copied()
        .filter(|t| days_left <= i64::from(*t))
        .min()
}

impl LeaseWatch {
    /// A watch over `store`'s inventory, asking retirements through
    /// `requests`; its notices go into the VMs' outboxes, and `wake` (the
    /// [`super::VmNotices`] deliverer's) is notified after each. With no
    /// `wake` (nobody delivers notices) a notice is a line of the VM's
    /// history only.
    pub fn new(
        store: Arc<dyn Store>,
        requests: Arc<RequestService>,
        clock: Arc<dyn Clock>,
        wake: Option<Arc<tokio::sync::Notify>>,
        config: LeaseConfig,
    ) -> Result<Self, ButlerError> {
        config.check().map_err(ButlerError::Invalid)?;
        Ok(LeaseWatch {
            store,
            requests,
            clock,
            wake,
            config,
        })
    }

    /// The settings.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// One pass over the leases ending within the notice window, as of
    /// today (UTC, by the clock).
    pub async fn sweep(&self) -> Result<LeaseSweep, ButlerError> {
        let today = self.clock.now().date_naive();
        let window = self.config.notice_days.iter().copied().max().unwrap_or(0);
        let by = today
            .checked_add_days(chrono::Days::new(u64::from(window)))
            .unwrap_or(NaiveDate::MAX);
        let mut out = LeaseSweep::default();
        let mut q = VmQuery {
            lifecycles: vec![Lifecycle::Active],
            lease_ends_by: Some(by),
            limit: Some(self.config.page),
            ..VmQuery::default()
        };
        loop {
            let page = super::next_page(self.store.as_ref(), &mut q).await?;
            if page.is_empty() {
                break;
            }
            for rec in &page {
                out.looked_at += 1;
                self.one(rec, today, &mut out).await;
            }
        }
        self.grace_over(&mut out).await?;
        if out.notices + out.failed + out.retirements + out.deletions > 0 {
            tracing::info!(?out, "lease watch pass");
        }
        Ok(out)
    }

    /// Asks the deletion of every VM whose retirement's grace period is
    /// over ([`crate::engine::EngineConfig::retirement_grace`]): the
    /// retiring VMs are few, so they are read whole and the date checked
    /// here.
    async fn grace_over(&self, out: &mut LeaseSweep) -> Result<(), ButlerError> {
        let now = self.clock.now();
        let mut q = VmQuery {
            lifecycles: vec![Lifecycle::Retiring],
            limit: Some(self.config.page),
            ..VmQuery::default()
        };
        loop {
            let page = super::next_page(self.store.as_ref(), &mut q).await?;
            if page.is_empty() {
                return Ok(());
            }
            let due = page
                .iter()
                .filter(|r| r.kept_until.is_some_and(|k| k <= now) && r.deletion.is_none());
            for rec in due {
                match self.requests.delete_after_grace(rec.id).await {
                    Ok(Some(_)) => out.deletions += 1,
                    Ok(None) => {}
                    Err(e) => {
                        out.failed += 1;
                        tracing::warn!(vm = %rec.id, error = %e, "cannot ask the deletion of a VM whose grace period is over; next pass tries again");
                    }
                }
            }
        }
    }

    /// The notice or retirement due for `rec` today; a failure is logged
    /// and counted, never stopping the pass.
    async fn one(&self, rec: &VmRecord, today: NaiveDate, out: &mut LeaseSweep) {
        let Some(end) = rec.lease_end else { return };
        let days_left = (end - today).num_days();
        if days_left <= 0 && self.config.retire_at_end {
            match self.requests.retire_at_lease_end(rec.id, end).await {
                Ok(Some(_)) => out.retirements += 1,
                Ok(None) => {}
                Err(e) => {
                    out.failed += 1;
                    tracing::warn!(vm = %rec.id, error = %e, "cannot ask the retirement of a VM whose lease ended; next pass tries again");
                }
            }
            return;
        }
        let Some(due) = due(days_left, &self.config.notice_days) else {
            return;
        };
        let kind = if due == 0 {
            VmNoticeKind::LeaseEnded { ended: end }
        } else {
            VmNoticeKind::LeaseEnding {
                ends: end,
                days_left: u32::try_from(days_left).unwrap_or(u32::MAX),
                retired_then: self.config.retire_at_end,
            }
        };
        if rec.lease_noticed.is_some_and(|s| s <= due) {
            return;
        }
        let notice = VmNotice {
            vm: rec.id,
            name: rec.name.clone(),
            display_name: rec.display_name.clone(),
            owner: rec.owner.clone(),
            kind,
            at: self.clock.now(),
        };
        let what = if due == 0 {
            Said::just(SaidCode::LeaseEnded)
        } else {
            Said::new(SaidCode::LeaseNotice, [("days", days_left.to_string())])
        };
        let written = super::amend(
            self.store.as_ref(),
            rec.id,
            crate::auth::ENGINE_NAME,
            notice.at,
            &what,
            |r| {
                // A lease extended meanwhile starts its notices afresh; a
                // pass racing this one has written it already.
                if r.lease_end != Some(end) || r.lease_noticed.is_some_and(|s| s <= due) {
                    return false;
                }
                r.lease_noticed = Some(due);
                if self.wake.is_some() {
                    r.outbox.push(super::PendingNotice {
                        notice: notice.clone(),
                        done: Default::default(),
                    });
                }
                true
            },
        )
        .await;
        match written {
            Ok(Some(_)) => {
                out.notices += 1;
                if let Some(w) = &self.wake {
                    w.notify_one();
                }
            }
            Ok(None) => {}
            Err(e) => {
                out.failed += 1;
                tracing::warn!(vm = %rec.id, error = %e, "cannot write a lease notice; next pass tries again");
            }
        }
    }

    /// Passes every [`LeaseConfig::every`] in the background until
    /// [`ReconcilerHandle::shutdown`](super::ReconcilerHandle::shutdown).
    pub fn start(self: Arc<Self>) -> super::ReconcilerHandle {
        let (clock, every) = (self.clock.clone(), self.config.every);
        super::ReconcilerHandle::every(clock, every, None, move || {
            let me = self.clone();
            async move {
                if let Err(e) = me.sweep().await {
                    tracing::warn!(error = %e, "lease watch pass failed; next pass at the next interval");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::due;
    use proptest::prelude::*;

    #[test]
    fn the_nearest_threshold_reached_is_due_and_an_ended_lease_is_zero() {
        let days = [14, 7, 1];
        assert_eq!(due(30, &days), None);
        assert_eq!(due(15, &days), None);
        assert_eq!(due(14, &days), Some(14));
        assert_eq!(due(8, &days), Some(14));
        assert_eq!(due(7, &days), Some(7));
        assert_eq!(due(2, &days), Some(7));
        assert_eq!(due(1, &days), Some(1));
        assert_eq!(due(0, &days), Some(0));
        assert_eq!(due(-40, &days), Some(0));
    }

    proptest! {
        /// Whatever the thresholds, what is due never grows as the end
        /// nears: a notice once delivered is never due again.
        #[test]
        fn what_is_due_only_shrinks_as_the_end_nears(
            days in proptest::collection::vec(1u32..=365, 0..6),
            left in -5i64..400,
        ) {
            let now = due(left, &days);
            let tomorrow = due(left - 1, &days);
            if let Some(n) = now {
                prop_assert!(tomorrow.is_some_and(|t| t <= n));
                // A threshold is due only once reached; an ended lease is 0.
                let reached = if left > 0 { i64::from(n) >= left } else { n == 0 };
                prop_assert!(reached, "{n} due with {left} day(s) left");
                prop_assert!(n == 0 || days.contains(&n));
            }
        }
    }
}
