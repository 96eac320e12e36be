//! Quota holds on SQLite: the shared plan (`sql::quota`) run on the store
//! thread, whose one writer makes each hold atomic and serial.

use super::vms::execute;
use super::{backend, SqliteStore};
use crate::quota::{Hold, HoldChange, Holder, Limits, QuotaExceeded, Scope, Usage};
use crate::store::sql::quota as q;
use crate::store::sql::vms::Statement;
use crate::store::sql::Dialect;
use crate::store::{QuotaStore, StoreError};
use async_trait::async_trait;
use rusqlite::{params_from_iter, Connection};

const D: Dialect = Dialect::Sqlite;

/// The `(key, body)` rows `s` selects.
fn pairs(c: &Connection, s: &Statement) -> Result<Vec<(String, String)>, StoreError> {
    let mut st = c.prepare_cached(&s.sql).map_err(backend)?;
    let rows = st
        .query_map(params_from_iter(s.params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

fn run_all(c: &Connection, statements: &[Statement]) -> Result<(), StoreError> {
    for s in statements {
        execute(c, s).map_err(backend)?;
    }
    Ok(())
}

/// A hold on `c`, inside the caller's savepoint (a refusal writes
/// nothing: the caller keeps the writes only when it is not refused).
pub(super) fn hold_on(
    c: &Connection,
    changes: &[HoldChange],
    limits: &[(Scope, Limits)],
) -> Result<Result<Vec<Usage>, QuotaExceeded>, StoreError> {
    let holders = q::holder_keys(changes);
    let held = q::decode_holds(&pairs(c, &q::read_holds(D, &holders))?)?;
    let scopes = q::scopes_to_read(changes, &held, limits);
    let usage = q::decode_usage(&pairs(c, &q::read_usage(D, &scopes))?)?;
    match q::plan(D, changes, &held, usage, &scopes, limits)? {
        Ok(w) => {
            run_all(c, &w.statements)?;
            Ok(Ok(w.usage))
        }
        Err(refused) => Ok(Err(refused)),
    }
}

#[async_trait]
impl QuotaStore for SqliteStore {
    async fn hold(
        &self,
        changes: &[HoldChange],
        limits: &[(Scope, Limits)],
    ) -> Result<Result<Vec<Usage>, QuotaExceeded>, StoreError> {
        let changes = changes.to_vec();
        let limits = limits.to_vec();
        self.with_edit(move |c| hold_on(c, &changes, &limits)).await
    }

    async fn usage(&self, scopes: &[Scope]) -> Result<Vec<Usage>, StoreError> {
        let keys: Vec<String> = scopes.iter().map(Scope::key).collect();
        let rows = self
            .with(move |c| pairs(c, &q::read_usage(D, &keys)))
            .await?;
        q::usage_in_order(scopes, &rows)
    }

    async fn all_usage(&self) -> Result<Vec<Usage>, StoreError> {
        let rows = self
            .with(|c| {
                pairs(
                    c,
                    &Statement {
                        sql: q::ALL_USAGE.into(),
                        params: Vec::new(),
                    },
                )
            })
            .await?;
        Ok(q::decode_usage(&rows)?
            .into_iter()
            .map(|(scope, used)| Usage { scope, used })
            .collect())
    }

    async fn held(&self, holder: Holder) -> Result<Option<Hold>, StoreError> {
        let keys = vec![holder.key()];
        let rows = self
            .with(move |c| pairs(c, &q::read_holds(D, &keys)))
            .await?;
        Ok(q::decode_holds(&rows)?.remove(&holder))
    }

    async fn replace_holds(&self, holds: &[Hold], first: bool) -> Result<bool, StoreError> {
        let statements = q::recount(D, holds)?;
        let counted = vec![q::COUNTED.to_string()];
        self.with(move |c| {
            if first && !pairs(c, &q::read_usage(D, &counted))?.is_empty() {
                return Ok(false);
            }
            run_all(c, &statements)?;
            Ok(true)
        })
        .await
    }

    async fn holds_counted(&self) -> Result<bool, StoreError> {
        let keys = vec![q::COUNTED.to_string()];
        let rows = self
            .with(move |c| pairs(c, &q::read_usage(D, &keys)))
            .await?;
        Ok(!rows.is_empty())
    }
}
