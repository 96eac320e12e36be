//! The narrow port the provisioning engine writes requests through: engine
//! transitions, each with its step-log line in the same store write,
//! version-checked, its event queued in the store's outbox by the same write. The engine sees nothing
//! else of the request service.

use crate::backend::Clock;
use crate::engine::RecordWrite;
use crate::error::ButlerError;
use crate::notify::NotifyHub;
use crate::request::{self, EngineAction, Request};
use crate::store::{StepLogEntry, Store};
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct EngineLedger {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) notify: Option<NotifyHub>,
    /// Moves whenever the service hands a request to the engine (approved,
    /// or retried by an admin).
    pub(crate) work_ready: Arc<tokio::sync::watch::Sender<u64>>,
}

impl EngineLedger {
    /// Records `action` on `r` (the version the engine holds), in the same
    /// write as `log`, the line `opens` gives for the new version (the
    /// `Started` line of the step it is to run next, if any) and the VM
    /// record `record` holds. Returns the new version and whether `opens`
    /// gave a line.
    pub(crate) async fn commit(
        &self,
        r: &Request,
        action: EngineAction,
        log: Option<StepLogEntry>,
        record: Option<&RecordWrite>,
        opens: impl FnOnce(&Request) -> Option<StepLogEntry>,
    ) -> Result<(Request, bool), ButlerError> {
        let (next, _) = request::advance(r, action, self.clock.now())?;
        let opened = opens(&next);
        let has_opened = opened.is_some();
        let lines: Vec<StepLogEntry> = log.into_iter().chain(opened).collect();
        if let Some(hub) = &self.notify {
            hub.ready().await;
        }
        if let Some(w) = record {
            self.store
                .update_request_with_vm(&next, r.version, &lines, &w.record, &w.before)
                .await?;
        } else if lines.is_empty() {
            self.store.update_request(&next, r.version).await?;
        } else {
            self.store
                .update_request_with_log(&next, r.version, &lines)
                .await?;
        }
        if let Some(hub) = &self.notify {
            hub.written();
        }
        crate::quota::after_engine_write(self.store.as_ref(), r, &next).await;
        Ok((next, has_opened))
    }
}
