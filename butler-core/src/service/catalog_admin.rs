//! The catalog and rate cards: reading, replacing (Admins), and refreshing the catalog from the platform, once or periodically.

use super::*;

impl RequestService {
    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// When the catalog was last refreshed from the platform (`None`: not
    /// since the service started), for a host to show how old it is.
    pub fn catalog_refreshed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        *self
            .catalog_refreshed
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The current rate book.
    pub fn rate_book(&self) -> Arc<RateBook> {
        self.rates.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the catalog (e.g. after a refresh from the platform). Admin only.
    pub fn set_catalog(&self, actor: &Actor, catalog: Catalog) -> Result<(), ButlerError> {
        self.policy.check(actor, Operation::EditCatalog)?;
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(catalog);
        Ok(())
    }

    /// Replaces the rate book. Admin only.
    pub fn set_rate_book(&self, actor: &Actor, rates: RateBook) -> Result<(), ButlerError> {
        self.policy.check(actor, Operation::EditRates)?;
        *self.rates.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rates);
        Ok(())
    }

    /// Refreshes clusters (VLANs and storage containers), images,
    /// environment VLANs and clusters, and which environment categories
    /// exist, from the platform ([`catalog_sync::refresh`](crate::catalog_sync::refresh)),
    /// within a deadline on the service's clock (6 × the standard call
    /// deadline). On any failure, a timeout included, the current catalog
    /// stays in use and the error is returned. Admin only (it replaces the
    /// catalog, like [`set_catalog`](Self::set_catalog)).
    pub async fn refresh_catalog(
        &self,
        actor: &Actor,
        backend: &dyn crate::backend::ClusterBackend,
    ) -> Result<crate::catalog_sync::CatalogChanges, ButlerError> {
        self.policy.check(actor, Operation::EditCatalog)?;
        self.refresh_catalog_from(backend).await
    }

    /// [`refresh_catalog`](Self::refresh_catalog) for the host's own
    /// refresher, which acts for no user.
    async fn refresh_catalog_from(
        &self,
        backend: &dyn crate::backend::ClusterBackend,
    ) -> Result<crate::catalog_sync::CatalogChanges, ButlerError> {
        let current = self.catalog();
        // Five lists and a category look-up or two, each allowed the
        // standard call deadline.
        let limit = crate::resilience::DEFAULT_CALL_DEADLINE * 6;
        // The timeout is the outer error; the refresh's own errors keep their type.
        let refresh = async { Ok(crate::catalog_sync::refresh(&current, backend).await) };
        let (next, changes) =
            crate::resilience::deadline(&self.clock, limit, "refresh_catalog", refresh).await??;
        if !changes.is_empty() {
            tracing::info!(?changes, "catalog refreshed from the platform");
        }
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        *self
            .catalog_refreshed
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(self.clock.now());
        Ok(changes)
    }

    /// Refreshes the catalog every `interval` until the handle is dropped or
    /// stopped; failures are logged and the last good catalog kept.
    pub fn start_catalog_refresher(
        self: &Arc<Self>,
        backend: Arc<dyn crate::backend::ClusterBackend>,
        interval: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.refresh_catalog_from(backend.as_ref()).await {
                    tracing::warn!(error = ?e, "catalog refresh failed; keeping the last good catalog");
                }
                me.clock.sleep_idle(interval).await;
            }
        })
    }
}
