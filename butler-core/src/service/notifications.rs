//! How the request service works with the notification hub: writes wait for its registration, tell it of each change, and Admins read what failed.

use super::*;

impl RequestService {
    /// Waits until the notifiers are registered, so the store queues this
    /// write's event for them.
    pub(super) async fn notifiers_ready(&self) {
        if let Some(hub) = &self.notify {
            hub.ready().await;
        }
    }

    pub(super) fn written(&self) {
        if let Some(hub) = &self.notify {
            hub.written();
        }
    }

    /// Deliveries of notifications that failed at least once (waiting for
    /// a retry, or given up), up to `limit`, given-up ones first. Admins only.
    pub async fn failed_deliveries(
        &self,
        actor: &Actor,
        limit: usize,
    ) -> Result<Vec<crate::store::Delivery>, ButlerError> {
        self.policy.check(actor, Operation::ReadNotifications)?;
        Ok(self.store.failed_deliveries(limit).await?)
    }
}
