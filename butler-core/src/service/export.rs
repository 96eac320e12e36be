//! Exports of request lists: the rows a user may export, and `.xlsx` to a writer or, atomically, to a file.

use super::*;

impl RequestService {
    /// Every request `actor` may export: a Requester gets all of their own
    /// (whatever the filter); others get what `query` selects, all pages.
    pub async fn export_rows(
        &self,
        actor: &Actor,
        query: &RequestQuery,
    ) -> Result<Vec<Request>, ButlerError> {
        let q = if self.policy.sees_all_requests(actor) {
            RequestQuery {
                offset: 0,
                limit: None,
                ..query.clone()
            }
        } else {
            RequestQuery {
                owner: Some(actor.name().to_string()),
                offset: 0,
                limit: None,
                ..RequestQuery::default()
            }
        };
        Ok(self.store.list_requests(&q).await?.items)
    }

    /// Exports [`export_rows`](Self::export_rows) as `.xlsx` to `out`.
    #[cfg(feature = "xlsx")]
    pub async fn export_xlsx(
        &self,
        actor: &Actor,
        query: &RequestQuery,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<usize, ButlerError> {
        self.export_xlsx_in(actor, query, crate::export::Language::English, out)
            .await
    }

    /// [`export_xlsx`](Self::export_xlsx) with the sheet and its header
    /// row in `lang` (the exporter's language).
    #[cfg(feature = "xlsx")]
    pub async fn export_xlsx_in(
        &self,
        actor: &Actor,
        query: &RequestQuery,
        lang: crate::export::Language,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<usize, ButlerError> {
        let rows = self.export_rows(actor, query).await?;
        crate::export::write_requests_xlsx_in(&rows, lang, out)
            .map_err(|e| ButlerError::Export(e.to_string()))?;
        Ok(rows.len())
    }

    /// Exports to a file at `path`: written to a new temporary file with a
    /// random name in the same folder (created exclusively, so a planted
    /// file or symlink is never followed), then renamed over `path`, so a
    /// reader never sees half a file and nothing is left behind on failure.
    #[cfg(feature = "xlsx")]
    pub async fn export_xlsx_to_path(
        &self,
        actor: &Actor,
        query: &RequestQuery,
        path: &std::path::Path,
    ) -> Result<usize, ButlerError> {
        self.export_xlsx_to_path_in(actor, query, crate::export::Language::English, path)
            .await
    }

    /// [`export_xlsx_to_path`](Self::export_xlsx_to_path) headed in `lang`.
    #[cfg(feature = "xlsx")]
    pub async fn export_xlsx_to_path_in(
        &self,
        actor: &Actor,
        query: &RequestQuery,
        lang: crate::export::Language,
        path: &std::path::Path,
    ) -> Result<usize, ButlerError> {
        let mut buf = Vec::new();
        let n = self.export_xlsx_in(actor, query, lang, &mut buf).await?;
        crate::export::save(path, &buf).map_err(|e| ButlerError::Export(e.to_string()))?;
        Ok(n)
    }
}
