//! Showback's closed months on SQLite: the shared statements
//! (`sql::showback`) run on the store thread, a month and its lines in
//! one savepoint.

use super::vms::execute;
use super::{backend, SqliteStore};
use crate::inventory::VmId;
use crate::showback::{ClosedMonth, Month, VmShowback};
use crate::store::sql::showback as sb;
use crate::store::sql::vms::Statement;
use crate::store::sql::Dialect;
use crate::store::{ShowbackStore, StoreError};
use async_trait::async_trait;
use rusqlite::{params_from_iter, Connection};

const D: Dialect = Dialect::Sqlite;

/// The first column of every row `s` selects.
fn bodies(c: &Connection, s: &Statement) -> Result<Vec<String>, StoreError> {
    let mut st = c.prepare_cached(&s.sql).map_err(backend)?;
    let rows = st
        .query_map(params_from_iter(s.params.iter()), |r| r.get(0))
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

#[async_trait]
impl ShowbackStore for SqliteStore {
    async fn close_month(
        &self,
        month: &ClosedMonth,
        lines: &[VmShowback],
    ) -> Result<(), StoreError> {
        let row = sb::insert_month(D, month)?;
        let inserts = sb::insert_lines(D, month.month, lines)?;
        let key = month.month;
        self.with(move |c| {
            if execute(c, &row).map_err(backend)? == 0 {
                return Err(sb::closed_already(key));
            }
            for s in &inserts {
                execute(c, s).map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn closed_months(&self) -> Result<Vec<ClosedMonth>, StoreError> {
        let all = Statement {
            sql: sb::ALL_MONTHS.into(),
            params: Vec::new(),
        };
        let rows = self.with(move |c| bodies(c, &all)).await?;
        sb::decode(&rows)
    }

    async fn closed_lines(
        &self,
        month: Month,
        owner: Option<&str>,
        after: Option<VmId>,
        limit: usize,
    ) -> Result<Vec<VmShowback>, StoreError> {
        let s = sb::lines(D, month, owner, after, limit);
        let rows = self.with(move |c| bodies(c, &s)).await?;
        sb::decode(&rows)
    }
}
