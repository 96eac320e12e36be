//! Quota holds on PostgreSQL: the shared plan (`sql::quota`) run in one
//! transaction that locks the holders' rows, then the scopes' rows, each
//! in key order, so writers on any number of processes take turns on a
//! scope and never deadlock.

use crate::store::{pg, Cached, PostgresStore};
use async_trait::async_trait;
use butler_core::quota::{Hold, HoldChange, Holder, Limits, QuotaExceeded, Scope, Usage};
use butler_core::store::sql::quota as q;
use butler_core::store::sql::vms::{Param, Statement};
use butler_core::store::sql::Dialect;
use butler_core::store::{QuotaStore, StoreError};
use tokio_postgres::types::ToSql;

const D: Dialect = Dialect::Postgres;

/// The text values of `s` (every quota statement binds text only).
fn texts(s: &Statement) -> Vec<String> {
    s.params
        .iter()
        .map(|p| match p {
            Param::Text(t) => t.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

async fn run(c: &(impl Cached + Sync), s: &Statement) -> Result<u64, StoreError> {
    let values = texts(s);
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
    c.execute_c(&s.sql, &refs).await.map_err(pg)
}

async fn pairs(
    c: &(impl Cached + Sync),
    s: &Statement,
) -> Result<Vec<(String, String)>, StoreError> {
    let values = texts(s);
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
    let rows = c.query_c(&s.sql, &refs).await.map_err(pg)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A hold inside the caller's transaction `tx` (on a refusal the caller
/// rolls it back).
pub(crate) async fn hold_on(
    tx: &(impl Cached + Sync),
    changes: &[HoldChange],
    limits: &[(Scope, Limits)],
) -> Result<Result<Vec<Usage>, QuotaExceeded>, StoreError> {
    let holders = q::holder_keys(changes);
    // The holders' rows, then the rows of the scopes the new holds and the
    // limits name, each made sure of, locked and read by one statement,
    // both in one flight (run in order: holders before scopes). A hold
    // that moves out of other scopes locks those after (rare).
    let named = q::scopes_to_read(changes, &Default::default(), limits);
    let (held_rows, usage_rows) = futures::future::try_join(
        pairs(tx, &q::lock_rows(D, "quota_holds", &holders)),
        pairs(tx, &q::lock_rows(D, "quota_usage", &named)),
    )
    .await?;
    let held = q::decode_holds(&held_rows)?;
    let scopes = q::scopes_to_read(changes, &held, limits);
    let mut usage = q::decode_usage(&usage_rows)?;
    let more: Vec<String> = scopes
        .iter()
        .filter(|s| !named.contains(s))
        .cloned()
        .collect();
    if !more.is_empty() {
        usage.extend(q::decode_usage(
            &pairs(tx, &q::lock_rows(D, "quota_usage", &more)).await?,
        )?);
    }
    let writes = match q::plan(D, changes, &held, usage, &scopes, limits)? {
        Ok(w) => w,
        Err(refused) => return Ok(Err(refused)),
    };
    // Independent writes: sent together, one round trip's wait.
    futures::future::try_join_all(writes.statements.iter().map(|s| run(tx, s))).await?;
    Ok(Ok(writes.usage))
}

#[async_trait]
impl QuotaStore for PostgresStore {
    async fn hold(
        &self,
        changes: &[HoldChange],
        limits: &[(Scope, Limits)],
    ) -> Result<Result<Vec<Usage>, QuotaExceeded>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let usage = match hold_on(&tx, changes, limits).await? {
            Ok(u) => u,
            // Dropping the transaction rolls it back.
            Err(refused) => return Ok(Err(refused)),
        };
        tx.commit().await.map_err(pg)?;
        Ok(Ok(usage))
    }

    async fn usage(&self, scopes: &[Scope]) -> Result<Vec<Usage>, StoreError> {
        let keys: Vec<String> = scopes.iter().map(Scope::key).collect();
        let c = self.client().await?;
        let rows = pairs(&c, &q::read_usage(D, &keys)).await?;
        q::usage_in_order(scopes, &rows)
    }

    async fn all_usage(&self) -> Result<Vec<Usage>, StoreError> {
        let c = self.client().await?;
        let all = Statement {
            sql: q::ALL_USAGE.into(),
            params: Vec::new(),
        };
        Ok(q::decode_usage(&pairs(&c, &all).await?)?
            .into_iter()
            .map(|(scope, used)| Usage { scope, used })
            .collect())
    }

    async fn held(&self, holder: Holder) -> Result<Option<Hold>, StoreError> {
        let c = self.client().await?;
        let rows = pairs(&c, &q::read_holds(D, &[holder.key()])).await?;
        Ok(q::decode_holds(&rows)?.remove(&holder))
    }

    async fn replace_holds(&self, holds: &[Hold], first: bool) -> Result<bool, StoreError> {
        let statements = q::recount(D, holds)?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // Every hold waits while this runs, and it waits for every hold.
        tx.batch_execute("LOCK TABLE quota_holds, quota_usage IN EXCLUSIVE MODE")
            .await
            .map_err(pg)?;
        let counted = [q::COUNTED.to_string()];
        if first && !pairs(&tx, &q::read_usage(D, &counted)).await?.is_empty() {
            return Ok(false);
        }
        for s in &statements {
            run(&tx, s).await?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn holds_counted(&self) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let rows = pairs(&c, &q::read_usage(D, &[q::COUNTED.to_string()])).await?;
        Ok(!rows.is_empty())
    }
}
