//! Showback's closed months on PostgreSQL: the shared statements
//! (`butler_core::store::sql::showback`) run in one transaction, the
//! month's row first (its key keeps one of two closers).

use crate::store::{pg, Cached, PostgresStore};
use crate::vms::{bound, execute, refs};
use async_trait::async_trait;
use butler_core::inventory::VmId;
use butler_core::showback::{ClosedMonth, Month, VmShowback};
use butler_core::store::sql::showback as sb;
use butler_core::store::sql::vms::Statement;
use butler_core::store::sql::Dialect;
use butler_core::store::{ShowbackStore, StoreError};

const D: Dialect = Dialect::Postgres;

async fn bodies(c: &(impl Cached + Sync), s: &Statement) -> Result<Vec<String>, StoreError> {
    let b = bound(s);
    let rows = c.query_c(&s.sql, &refs(&b)).await.map_err(pg)?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

#[async_trait]
impl ShowbackStore for PostgresStore {
    async fn close_month(
        &self,
        month: &ClosedMonth,
        lines: &[VmShowback],
    ) -> Result<(), StoreError> {
        let row = sb::insert_month(D, month)?;
        let inserts = sb::insert_lines(D, month.month, lines)?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // A second closer waits here for the first's commit, then inserts
        // nothing.
        if execute(&tx, &row).await.map_err(pg)? == 0 {
            return Err(sb::closed_already(month.month));
        }
        for s in &inserts {
            execute(&tx, s).await.map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn closed_months(&self) -> Result<Vec<ClosedMonth>, StoreError> {
        let all = Statement {
            sql: sb::ALL_MONTHS.into(),
            params: Vec::new(),
        };
        let c = self.client().await?;
        sb::decode(&bodies(&c, &all).await?)
    }

    async fn closed_lines(
        &self,
        month: Month,
        owner: Option<&str>,
        after: Option<VmId>,
        limit: usize,
    ) -> Result<Vec<VmShowback>, StoreError> {
        let c = self.client().await?;
        sb::decode(&bodies(&c, &sb::lines(D, month, owner, after, limit)).await?)
    }
}
