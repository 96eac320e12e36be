//! The narrow port the provisioning engine writes requests through: engine
//! transitions, each with its step-log line in the same store write,
//! version-checked and announced to the notifiers. The engine sees nothing
//! else of the request service.

use crate::backend::Clock;
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
}

impl EngineLedger {
    /// Records `action` on `r` (the version the engine holds), with `log`
    /// in the same write when given.
    pub(crate) async fn commit(
        &self,
        r: &Request,
        action: EngineAction,
        log: Option<&StepLogEntry>,
    ) -> Result<Request, ButlerError> {
        let (next, entry) = request::advance(r, action, self.clock.now())?;
        match log {
            Some(line) => {
                self.store
                    .update_request_with_log(&next, r.version, line)
                    .await?
            }
            None => self.store.update_request(&next, r.version).await?,
        }
        if let Some(hub) = &self.notify {
            hub.emit(crate::notify::event_for(&next, &entry));
        }
        Ok(next)
    }
}
