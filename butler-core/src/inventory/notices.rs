//! The VMs' outboxes delivered: every notice about a VM (its power
//! changed, its lease ending) is written in the VM's record in the same
//! update as the change it announces ([`VmRecord::outbox`]), so nothing is
//! lost to a crash or a mail server down; [`VmNotices`] hands each to
//! every notifier ([`Notifier::notify_vm`], each attempt under the
//! notifiers' attempt deadline), records on the record which
//! are done, and drops a notice once every notifier is. A notifier that
//! fails is tried again at the next pass (every [`VmNotices::every`], and
//! at once after a write); one that refuses for good is given up and the
//! VM's history says so. A crash between a delivery and its record
//! delivers that notice once more.

use super::record::{VmQuery, VmRecord};
use crate::backend::Clock;
use crate::error::ButlerError;
use crate::notify::Notifier;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticePass {
    /// Deliveries made (one per notice and notifier).
    pub delivered: usize,
    /// Deliveries that failed and wait for the next pass.
    pub failed: usize,
    /// Deliveries given up (refused for good).
    pub given_up: usize,
}

/// Delivers the VMs' outboxes.
pub struct VmNotices {
    store: Arc<dyn Store>,
    notifiers: Vec<Arc<dyn Notifier>>,
    clock: Arc<dyn Clock>,
    wake: Arc<tokio::sync::Notify>,
    every: Duration,
    attempt_deadline: Duration,
}

impl std::fmt::Debug for VmNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmNotices")
            .field("notifiers", &self.notifiers.len())
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// Records read per page.
const PAGE: usize = 500;

impl VmNotices {
    /// A deliverer of `store`'s outboxes to `notifiers`, woken by `wake`
    /// ([`super::VmService::notice_waker`]) and passing every 30 s besides;
    /// each delivery attempt has `config`'s attempt deadline, as a request
    /// event's has.
    pub fn new(
        store: Arc<dyn Store>,
        notifiers: Vec<Arc<dyn Notifier>>,
        clock: Arc<dyn Clock>,
        wake: Arc<tokio::sync::Notify>,
        config: &crate::notify::NotifyConfig,
    ) -> Self {
        VmNotices {
            store,
            notifiers,
            clock,
            wake,
            every: Duration::from_secs(30),
            attempt_deadline: config.attempt_deadline,
        }
    }

    /// How often a pass runs besides the wake-ups.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Wakes the background deliverer (after writing a notice).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers every pending notice once to each notifier not done with it.
    pub async fn deliver(&self) -> Result<NoticePass, ButlerError> {
        let mut out = NoticePass::default();
        let mut q = VmQuery {
            notices_pending: true,
            limit: Some(PAGE),
            ..VmQuery::default()
        };
        loop {
            let page = super::next_page(self.store.as_ref(), &mut q).await?;
            if page.is_empty() {
                break;
            }
            for rec in &page {
                self.one(rec, &mut out).await;
            }
        }
        Ok(out)
    }

    async fn one(&self, rec: &VmRecord, out: &mut NoticePass) {
        // (notice's time, notifier) pairs done in this pass, and why given up.
        let mut done = Vec::new();
        let mut gave_up = Vec::new();
        for p in &rec.outbox {
            for n in &self.notifiers {
                if p.done.contains(n.name()) {
                    continue;
                }
                let attempt = n.notify_vm(&p.notice);
                match crate::notify::within(&self.clock, self.attempt_deadline, attempt).await {
                    Ok(()) => {
                        out.delivered += 1;
                        done.push((p.notice.clone(), n.name().to_string()));
                    }
                    Err(e) if !e.is_retryable() => {
                        out.given_up += 1;
                        tracing::warn!(vm = %rec.id, notifier = n.name(), error = %e, "VM notice refused for good; given up");
                        gave_up.push(format!(
                            "{} not delivered by {}: {e}",
                            p.notice.summary(),
                            n.name()
                        ));
                        done.push((p.notice.clone(), n.name().to_string()));
                    }
                    Err(e) => {
                        out.failed += 1;
                        tracing::warn!(vm = %rec.id, notifier = n.name(), error = %e, "VM notice not delivered; next pass tries again");
                    }
                }
            }
        }
        if done.is_empty() {
            return;
        }
        let names: Vec<String> = self
            .notifiers
            .iter()
            .map(|n| n.name().to_string())
            .collect();
        let what = gave_up.join("; ");
        let edit = |r: &mut VmRecord| {
            for (notice, by) in &done {
                if let Some(p) = r.outbox.iter_mut().find(|p| p.notice == *notice) {
                    p.done.insert(by.clone());
                }
            }
            r.outbox
                .retain(|p| !names.iter().all(|n| p.done.contains(n)));
            true
        };
        let written = if what.is_empty() {
            super::replace_quietly(self.store.as_ref(), rec.id, edit).await
        } else {
            super::amend(
                self.store.as_ref(),
                rec.id,
                crate::auth::ENGINE_NAME,
                self.clock.now(),
                &crate::said::Said::text(what),
                edit,
            )
            .await
            .map(|_| ())
        };
        if let Err(e) = written {
            tracing::warn!(vm = %rec.id, error = %e, "VM notices delivered but not recorded; they may go once more");
        }
    }

    /// Passes in the background (every [`Self::every`], and when woken)
    /// until [`ReconcilerHandle::shutdown`](super::ReconcilerHandle::shutdown).
    pub fn start(self: Arc<Self>) -> super::ReconcilerHandle {
        let (clock, every, wake) = (self.clock.clone(), self.every, self.wake.clone());
        super::ReconcilerHandle::every(clock, every, Some(wake), move || {
            let me = self.clone();
            async move {
                if let Err(e) = me.deliver().await {
                    tracing::warn!(error = %e, "VM notices pass failed; next pass at the next interval");
                }
            }
        })
    }
}
