//! The inventory on PostgreSQL: the shared statements
//! (`butler_core::store::sql::vms`) bound and run on a pooled connection.

use crate::store::{is, pg, Cached, PostgresStore};
use async_trait::async_trait;
use butler_core::inventory::{VmId, VmQuery, VmRecord, VmShape};
use butler_core::store::sql::codec::{num, parse};
use butler_core::store::sql::vms::{self, Param, Statement};
use butler_core::store::sql::Dialect;
use butler_core::store::{Page, StoreError, VmStore};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

const D: Dialect = Dialect::Postgres;

/// The statement's values as the driver binds them.
pub(crate) fn bound(s: &Statement) -> Vec<Box<dyn ToSql + Sync + Send>> {
    s.params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::Int(v) => Box::new(*v),
                Param::Text(t) => Box::new(t.clone()),
                Param::Bool(b) => Box::new(*b),
                Param::OptText(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

pub(crate) fn refs(b: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    b.iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

pub(crate) async fn execute(c: &impl Cached, s: &Statement) -> Result<u64, tokio_postgres::Error> {
    let b = bound(s);
    c.execute_c(&s.sql, &refs(&b)).await
}

async fn opt_row(
    c: &impl Cached,
    s: &Statement,
) -> Result<Option<tokio_postgres::Row>, StoreError> {
    let b = bound(s);
    c.query_opt_c(&s.sql, &refs(&b)).await.map_err(pg)
}

/// Replaces `vm` over `expected_version` on `c` (a connection or an open
/// transaction): `Conflict` when stale, `NotFound` when there is none.
pub(crate) async fn update_on(
    c: &(impl Cached + Sync),
    vm: &VmRecord,
    expected_version: u64,
) -> Result<(), StoreError> {
    let update = vms::update(D, vm, expected_version)?;
    let changed = execute(c, &update).await.map_err(|e| {
        if is(&e, &SqlState::UNIQUE_VIOLATION) {
            StoreError::AlreadyExists(format!("a VM named {:?}", vm.name))
        } else {
            pg(e)
        }
    })?;
    if changed == 1 {
        return Ok(());
    }
    Err(match opt_row(c, &vms::version(D, vm.id)).await? {
        Some(row) => StoreError::vm_conflict(vm.id, expected_version, num(row.get(0))),
        None => StoreError::NotFound(format!("VM record {}", vm.id)),
    })
}

#[async_trait]
impl VmStore for PostgresStore {
    async fn next_vm_id(&self) -> Result<VmId, StoreError> {
        let c = self.client().await?;
        let row = opt_row(&c, &vms::next_id()).await?;
        Ok(VmId(row.map_or(0, |r| num(r.get(0)))))
    }

    async fn insert_vm(&self, vm: &VmRecord) -> Result<(), StoreError> {
        let insert = vms::insert(D, vm)?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        execute(&tx, &insert).await.map_err(|e| {
            if is(&e, &SqlState::UNIQUE_VIOLATION) {
                StoreError::AlreadyExists(format!(
                    "VM record {} or a VM named {:?}",
                    vm.id, vm.name
                ))
            } else {
                pg(e)
            }
        })?;
        execute(&tx, &vms::bump_sequence(D, vm.id))
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn get_vm(&self, id: VmId) -> Result<VmRecord, StoreError> {
        let c = self.client().await?;
        match opt_row(&c, &vms::get(D, id)).await? {
            Some(row) => parse(row.get::<_, &str>(0)),
            None => Err(StoreError::NotFound(format!("VM record {id}"))),
        }
    }

    async fn find_vm_named(&self, name: &str) -> Result<Option<VmRecord>, StoreError> {
        let c = self.client().await?;
        opt_row(&c, &vms::named(D, name))
            .await?
            .map(|row| parse(row.get::<_, &str>(0)))
            .transpose()
    }

    async fn update_vm(&self, vm: &VmRecord, expected_version: u64) -> Result<(), StoreError> {
        let c = self.client().await?;
        update_on(&c, vm, expected_version).await
    }

    async fn list_vms(&self, query: &VmQuery) -> Result<Page<VmRecord>, StoreError> {
        let (total, rows) = self.list_rows(query).await?;
        Ok(vms::decode_page(total, rows))
    }

    async fn list_vm_shapes(&self, query: &VmQuery) -> Result<Page<VmShape>, StoreError> {
        let (total, rows) = self.list_rows(query).await?;
        Ok(vms::decode_page(total, rows))
    }
}

impl PostgresStore {
    /// The total (on a first page) and the (id, body) rows `query` selects.
    async fn list_rows(
        &self,
        query: &VmQuery,
    ) -> Result<(Option<i64>, Vec<(i64, String)>), StoreError> {
        let (count, page) = vms::list(D, query);
        let c = self.client().await?;
        let total: Option<i64> = match &count {
            Some(count) => Some(opt_row(&c, count).await?.map_or(0, |r| r.get(0))),
            None => None,
        };
        let b = bound(&page);
        let rows = c.query_c(&page.sql, &refs(&b)).await.map_err(pg)?;
        let rows = rows
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
            .collect();
        Ok((total, rows))
    }
}
