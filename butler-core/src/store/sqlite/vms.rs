//! The inventory on SQLite: the shared statements (`sql::vms`) bound and
//! run on the store thread.

use super::{backend, parse, unique_violation, SqliteStore};
use crate::inventory::{VmId, VmQuery, VmRecord, VmShape};
use crate::store::sql::vms::{self, Param, Statement};
use crate::store::sql::Dialect;
use crate::store::{Page, StoreError, VmStore};
use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{params_from_iter, Connection, OptionalExtension};

const D: Dialect = Dialect::Sqlite;

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Owned(match self {
            Param::Int(v) => Value::Integer(*v),
            Param::Text(t) => Value::Text(t.clone()),
            Param::Bool(b) => Value::Integer(i64::from(*b)),
            Param::OptText(t) => t.clone().map_or(Value::Null, Value::Text),
        }))
    }
}

pub(super) fn execute(c: &Connection, s: &Statement) -> rusqlite::Result<usize> {
    c.prepare_cached(&s.sql)?
        .execute(params_from_iter(s.params.iter()))
}

/// The first column of the row `s` selects, if any.
fn one<T: rusqlite::types::FromSql>(
    c: &Connection,
    s: &Statement,
) -> Result<Option<T>, StoreError> {
    c.prepare_cached(&s.sql)
        .and_then(|mut st| {
            st.query_row(params_from_iter(s.params.iter()), |r| r.get(0))
                .optional()
        })
        .map_err(backend)
}

/// A record's update, encoded on the caller (not on the store thread that
/// every request shares), to run on the connection.
pub(super) struct VmWrite {
    id: VmId,
    name: String,
    values: Vec<Param>,
    expected: u64,
    /// The stored indexed columns, when the caller read the record (else
    /// read on the store thread).
    stored: Option<Vec<Param>>,
}

impl VmWrite {
    pub(super) fn new(vm: &VmRecord, expected: u64) -> Result<VmWrite, StoreError> {
        Ok(VmWrite {
            id: vm.id,
            name: vm.name.clone(),
            values: vms::row(vm)?,
            expected,
            stored: None,
        })
    }

    /// `vm` over `before`, the record as its caller read it: the indexed
    /// columns are known, so the store thread runs the update alone.
    pub(super) fn over(vm: &VmRecord, before: &VmRecord) -> Result<VmWrite, StoreError> {
        Ok(VmWrite {
            stored: Some(vms::indexed_values(before)),
            ..VmWrite::new(vm, before.version)?
        })
    }

    /// Checks the stored version, then sets the body and only the indexed
    /// columns whose values changed.
    pub(super) fn run(self, c: &Connection) -> Result<(), StoreError> {
        let VmWrite {
            id,
            name,
            values,
            expected,
            stored,
        } = self;
        let stored = match stored {
            Some(known) => known,
            None => stored_indexed(c, id, expected)?,
        };
        let update = vms::update_changed(D, values, expected, &stored);
        let what = format!("a VM named {name:?}");
        match execute(c, &update).map_err(|e| unique_violation(e, &what))? {
            1 => Ok(()),
            // Not at `expected` (or gone): which, for the caller.
            _ => match one::<i64>(c, &vms::version(D, id))? {
                Some(found) => Err(StoreError::vm_conflict(id, expected, found as u64)),
                None => Err(StoreError::NotFound(format!("VM record {id}"))),
            },
        }
    }
}

/// The indexed columns of record `id` as stored, once its version is
/// checked to be `expected`.
fn stored_indexed(c: &Connection, id: VmId, expected: u64) -> Result<Vec<Param>, StoreError> {
    let look = vms::indexed(D, id);
    let stored = c
        .prepare_cached(&look.sql)
        .and_then(|mut st| {
            st.query_row(params_from_iter(look.params.iter()), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    vec![
                        Param::Text(r.get(1)?),
                        Param::Text(r.get(2)?),
                        Param::Text(r.get(3)?),
                        Param::Text(r.get(4)?),
                        Param::OptText(r.get(5)?),
                        Param::Bool(r.get(6)?),
                    ],
                ))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((found, stored)) = stored else {
        return Err(StoreError::NotFound(format!("VM record {id}")));
    };
    if found as u64 != expected {
        return Err(StoreError::vm_conflict(id, expected, found as u64));
    }
    Ok(stored)
}

#[async_trait]
impl VmStore for SqliteStore {
    async fn next_vm_id(&self) -> Result<VmId, StoreError> {
        self.with(|c| {
            let v: Option<i64> = one(c, &vms::next_id())?;
            Ok(VmId(v.map_or(0, |v| v as u64)))
        })
        .await
    }

    async fn insert_vm(&self, vm: &VmRecord) -> Result<(), StoreError> {
        let insert = vms::insert(D, vm)?;
        let bump = vms::bump_sequence(D, vm.id);
        let what = format!("VM record {} or a VM named {:?}", vm.id, vm.name);
        self.with(move |c| {
            execute(c, &insert).map_err(|e| unique_violation(e, &what))?;
            execute(c, &bump).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn get_vm(&self, id: VmId) -> Result<VmRecord, StoreError> {
        let body: Option<String> = self.with(move |c| one(c, &vms::get(D, id))).await?;
        match body {
            Some(b) => parse(&b),
            None => Err(StoreError::NotFound(format!("VM record {id}"))),
        }
    }

    async fn find_vm_named(&self, name: &str) -> Result<Option<VmRecord>, StoreError> {
        let s = vms::named(D, name);
        let body: Option<String> = self.with(move |c| one(c, &s)).await?;
        body.map(|b| parse(&b)).transpose()
    }

    async fn update_vm(&self, vm: &VmRecord, expected_version: u64) -> Result<(), StoreError> {
        let write = VmWrite::new(vm, expected_version)?;
        self.with(move |c| write.run(c)).await
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

impl SqliteStore {
    /// The total (on a first page) and the (id, body) rows `query` selects.
    async fn list_rows(
        &self,
        query: &VmQuery,
    ) -> Result<(Option<i64>, Vec<(i64, String)>), StoreError> {
        let (count, page) = vms::list(D, query);
        self.with(move |c| {
            let total: Option<i64> = match &count {
                Some(count) => Some(one(c, count)?.unwrap_or(0)),
                None => None,
            };
            let mut st = c.prepare_cached(&page.sql).map_err(backend)?;
            let rows = st
                .query_map(params_from_iter(page.params.iter()), |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            Ok((total, rows))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Lifecycle;

    /// SQLite's plan for the page `q` selects, its steps joined by `; `.
    async fn plan_of(s: &SqliteStore, q: &VmQuery) -> String {
        let (_, page) = vms::list(D, q);
        s.with(move |c| {
            let mut st = c
                .prepare(&format!("EXPLAIN QUERY PLAN {}", page.sql))
                .map_err(backend)?;
            let rows = st
                .query_map(params_from_iter(page.params.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            Ok(rows.join("; "))
        })
        .await
        .unwrap()
    }

    /// The plans SQLite chooses for a page of the inventory: never a sort
    /// of every matching record (which grows with the estate), whether one
    /// lifecycle or several are asked, with or without an owner.
    #[tokio::test]
    async fn inventory_pages_never_sort_the_whole_estate() {
        let s = SqliteStore::open_in_memory().unwrap();
        for (owner, lifecycles) in [
            (None, vec![Lifecycle::Active]),
            (None, vec![Lifecycle::Active, Lifecycle::Retiring]),
            (Some("ana"), vec![Lifecycle::Active, Lifecycle::Retiring]),
        ] {
            let q = VmQuery {
                owner: owner.map(str::to_string),
                lifecycles,
                before: Some(VmId(500)),
                limit: Some(50),
                ..VmQuery::default()
            };
            let plan = plan_of(&s, &q).await;
            assert!(!plan.contains("TEMP B-TREE"), "{q:?}: {plan}");
        }
    }

    /// An update writes the indexed columns whose values changed, and
    /// every other column (SQLite would rewrite the index entries of any
    /// indexed column it sets).
    #[test]
    fn an_update_sets_only_the_indexed_columns_that_changed() {
        let text = |t: &str| Param::Text(t.into());
        let values = vec![
            Param::Int(7),
            text("vm-7"),
            text("ana"),
            text("c1"),
            text("retiring"),
            text("CC-1"),
            Param::Bool(false),
            Param::Int(3),
            text("{}"),
            Param::OptText(None),
            Param::Bool(false),
        ];
        let stored = vec![
            text("vm-7"),
            text("ana"),
            text("c1"),
            text("active"),
            Param::OptText(None),
            Param::Bool(false),
        ];
        let s = vms::update_changed(D, values, 2, &stored);
        assert_eq!(
            s.sql,
            "UPDATE vms SET lifecycle = ?2, cost_center = ?3, drifted = ?4, version = ?5, body = ?6 \
             WHERE id = ?1 AND version = ?7"
        );
        assert_eq!(
            s.params,
            [
                Param::Int(7),
                text("retiring"),
                text("CC-1"),
                Param::Bool(false),
                Param::Int(3),
                text("{}"),
                Param::Int(2)
            ]
        );
    }

    /// What a caller passes as the stored indexed columns of a record it
    /// read is what the store reads back from its row.
    #[tokio::test]
    async fn a_records_indexed_values_are_its_stored_indexed_columns() {
        let s = SqliteStore::open_in_memory().unwrap();
        let id = s.next_vm_id().await.unwrap();
        let mut vm = crate::testing::store::sample_vm(id, "indexed-1");
        vm.lease_end = chrono::NaiveDate::from_ymd_opt(2027, 3, 1);
        vm.lifecycle = Lifecycle::Retiring;
        s.insert_vm(&vm).await.unwrap();
        let stored = s
            .with(move |c| stored_indexed(c, id, vm.version))
            .await
            .unwrap();
        let vm = s.get_vm(id).await.unwrap();
        assert_eq!(stored, vms::indexed_values(&vm));
    }

    /// A page of records with notices waiting walks the partial index,
    /// not the table.
    #[tokio::test]
    async fn records_with_notices_waiting_are_found_through_their_index() {
        let s = SqliteStore::open_in_memory().unwrap();
        let q = VmQuery {
            notices_pending: true,
            ..VmQuery::default()
        };
        let plan = plan_of(&s, &q).await;
        assert!(plan.contains("vms_notices_pending"), "{plan}");
    }
}
