//! The inventory's statements, written once for both dialects: each is
//! SQL with the dialect's placeholders and the values to bind, which the
//! store's driver binds and runs.

use super::codec::{big, json, parse};
use super::ddl::Dialect;
use crate::inventory::{VmId, VmQuery, VmRecord};
use crate::store::{Page, StoreError};

/// A value to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A 64-bit integer.
    Int(i64),
    /// Text.
    Text(String),
    /// A flag.
    Bool(bool),
    /// Text or NULL.
    OptText(Option<String>),
}

/// SQL and the values its placeholders take, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL, with `?n` (SQLite) or `$n` (PostgreSQL) placeholders.
    pub sql: String,
    /// The values, `params[n - 1]` for placeholder `n`.
    pub params: Vec<Param>,
}

impl Dialect {
    /// Placeholder `n` (from 1).
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// `a, b, …` placeholders `from..from + count`.
    pub(crate) fn placeholders(self, from: usize, count: usize) -> String {
        (from..from + count)
            .map(|n| self.placeholder(n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The columns a record is written to, in order.
const COLUMNS: [&str; 11] = [
    "id",
    "name",
    "owner",
    "cluster",
    "lifecycle",
    "cost_center",
    "drifted",
    "version",
    "body",
    "lease_end",
    "notices_pending",
];

/// A record's column values, in the order of the table's columns (as
/// [`update_changed`] takes them).
pub fn row(vm: &VmRecord) -> Result<Vec<Param>, StoreError> {
    Ok(vec![
        Param::Int(big(vm.id.0)),
        Param::Text(vm.name.clone()),
        Param::Text(vm.owner.clone()),
        Param::Text(vm.cluster.clone()),
        Param::Text(vm.lifecycle.as_str().into()),
        Param::Text(vm.cost_center.clone()),
        Param::Bool(!vm.drift.is_empty()),
        Param::Int(big(vm.version)),
        Param::Text(json(vm)?),
        Param::OptText(vm.lease_end.map(|d| d.to_string())),
        Param::Bool(!vm.outbox.is_empty()),
    ])
}

/// The next record number.
pub fn next_id() -> Statement {
    Statement {
        sql: "UPDATE sequences SET value = value + 1 WHERE name = 'vm' RETURNING value".into(),
        params: vec![],
    }
}

/// Inserts a new record (a unique violation: its number or name is taken).
pub fn insert(d: Dialect, vm: &VmRecord) -> Result<Statement, StoreError> {
    Ok(Statement {
        sql: format!(
            "INSERT INTO vms ({}) VALUES ({})",
            COLUMNS.join(", "),
            d.placeholders(1, COLUMNS.len())
        ),
        params: row(vm)?,
    })
}

/// Keeps the number sequence past a record inserted with its own number.
pub fn bump_sequence(d: Dialect, id: VmId) -> Statement {
    let max = match d {
        Dialect::Sqlite => "max",
        Dialect::Postgres => "GREATEST",
    };
    Statement {
        sql: format!(
            "UPDATE sequences SET value = {max}(value, {}) WHERE name = 'vm'",
            d.placeholder(1)
        ),
        params: vec![Param::Int(big(id.0))],
    }
}

/// Replaces a record whose stored version is `expected`; no row changed
/// means a conflict or no such record ([`version`] tells which).
pub fn update(d: Dialect, vm: &VmRecord, expected: u64) -> Result<Statement, StoreError> {
    let sets: Vec<String> = COLUMNS[1..]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = {}", d.placeholder(i + 2)))
        .collect();
    let mut params = row(vm)?;
    params.push(Param::Int(big(expected)));
    Ok(Statement {
        sql: format!(
            "UPDATE vms SET {} WHERE id = {} AND version = {}",
            sets.join(", "),
            d.placeholder(1),
            d.placeholder(COLUMNS.len() + 1)
        ),
        params,
    })
}

/// The indexed columns (after `id`), which an update on SQLite writes only
/// when their values change: SQLite rewrites the index entries of every
/// column an `UPDATE` sets, changed or not (PostgreSQL compares values).
const INDEXED: [&str; 6] = [
    "name",
    "owner",
    "cluster",
    "lifecycle",
    "lease_end",
    "notices_pending",
];

/// The indexed columns of `vm` as [`indexed`] reads them from its stored
/// row: what a caller that read the record passes to [`update_changed`]
/// instead of reading them again.
pub fn indexed_values(vm: &VmRecord) -> Vec<Param> {
    vec![
        Param::Text(vm.name.clone()),
        Param::Text(vm.owner.clone()),
        Param::Text(vm.cluster.clone()),
        Param::Text(vm.lifecycle.as_str().into()),
        Param::OptText(vm.lease_end.map(|d| d.to_string())),
        Param::Bool(!vm.outbox.is_empty()),
    ]
}

/// The version and the indexed columns of record `id` (name, owner,
/// cluster, lifecycle, lease end, notices pending), as stored.
pub fn indexed(d: Dialect, id: VmId) -> Statement {
    Statement {
        sql: format!(
            "SELECT version, {} FROM vms WHERE id = {}",
            INDEXED.join(", "),
            d.placeholder(1)
        ),
        params: vec![Param::Int(big(id.0))],
    }
}

/// Updates a record to `values` (its [`row`]) from version `expected`
/// (a unique violation: its name is taken), writing an indexed column only
/// where its value differs from `stored` (the indexed columns as
/// [`indexed`] reads them, in that order).
pub fn update_changed(
    d: Dialect,
    values: Vec<Param>,
    expected: u64,
    stored: &[Param],
) -> Statement {
    let mut sets = Vec::new();
    // The id first (placeholder 1), then each column set.
    let mut params: Vec<Param> = values.iter().take(1).cloned().collect();
    for (column, value) in COLUMNS.iter().zip(values).skip(1) {
        let unchanged = INDEXED
            .iter()
            .position(|c| c == column)
            .is_some_and(|k| stored.get(k) == Some(&value));
        if !unchanged {
            params.push(value);
            sets.push(format!("{column} = {}", d.placeholder(params.len())));
        }
    }
    params.push(Param::Int(big(expected)));
    Statement {
        sql: format!(
            "UPDATE vms SET {} WHERE id = {} AND version = {}",
            sets.join(", "),
            d.placeholder(1),
            d.placeholder(params.len())
        ),
        params,
    }
}

/// The body of record `id`.
pub fn get(d: Dialect, id: VmId) -> Statement {
    Statement {
        sql: format!("SELECT body FROM vms WHERE id = {}", d.placeholder(1)),
        params: vec![Param::Int(big(id.0))],
    }
}

/// The stored version of record `id`.
pub fn version(d: Dialect, id: VmId) -> Statement {
    Statement {
        sql: format!("SELECT version FROM vms WHERE id = {}", d.placeholder(1)),
        params: vec![Param::Int(big(id.0))],
    }
}

/// The body of the record named `name`.
pub fn named(d: Dialect, name: &str) -> Statement {
    Statement {
        sql: format!("SELECT body FROM vms WHERE name = {}", d.placeholder(1)),
        params: vec![Param::Text(name.to_string())],
    }
}

/// The count of the records `q` selects (`None` for a keyset page, which
/// does not count the rest), and the bodies of its page, newest first.
pub fn list(d: Dialect, q: &VmQuery) -> (Option<Statement>, Statement) {
    let mut filters = Vec::new();
    let mut params = Vec::new();
    let mut bind = |column: &str, p: Param, filters: &mut Vec<String>| {
        params.push(p);
        filters.push(format!("{column} = {}", d.placeholder(params.len())));
    };
    if let Some(o) = &q.owner {
        bind("owner", Param::Text(o.clone()), &mut filters);
    }
    if let Some(c) = &q.cluster {
        bind("cluster", Param::Text(c.clone()), &mut filters);
    }
    if let Some(c) = &q.cost_center {
        bind("cost_center", Param::Text(c.clone()), &mut filters);
    }
    if q.drifted {
        bind("drifted", Param::Bool(true), &mut filters);
    }
    if let Some(by) = q.lease_ends_by {
        // ISO dates order as text.
        params.push(Param::Text(by.to_string()));
        filters.push(format!("lease_end <= {}", d.placeholder(params.len())));
    }
    if q.notices_pending {
        // As the partial index says it, so the planners use it.
        filters.push("notices_pending".into());
    }
    if let Some(b) = q.before {
        params.push(Param::Int(big(b.0)));
        filters.push(format!("id < {}", d.placeholder(params.len())));
    }
    if let Some(a) = q.after {
        params.push(Param::Int(big(a.0)));
        filters.push(format!("id > {}", d.placeholder(params.len())));
    }
    if !q.lifecycles.is_empty() {
        let from = params.len() + 1;
        params.extend(
            q.lifecycles
                .iter()
                .map(|l| Param::Text(l.as_str().to_string())),
        );
        // Several lifecycles through their index make SQLite gather every
        // matching record and sort them for one page; `+lifecycle` keeps
        // it on the newest-first scan (or the owner's or cluster's index),
        // which stops at the page.
        let column = if d == Dialect::Sqlite && q.lifecycles.len() > 1 {
            "+lifecycle"
        } else {
            "lifecycle"
        };
        filters.push(format!(
            "{column} IN ({})",
            d.placeholders(from, q.lifecycles.len())
        ));
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    let count = q.before.is_none().then(|| Statement {
        sql: format!("SELECT count(*) FROM vms{filter}"),
        params: params.clone(),
    });
    let mut page_params = params;
    let limit = q
        .limit
        .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    page_params.push(Param::Int(limit));
    page_params.push(Param::Int(offset));
    let n = page_params.len();
    let page = Statement {
        sql: format!(
            "SELECT id, body FROM vms{filter} ORDER BY id DESC LIMIT {} OFFSET {}",
            d.placeholder(n - 1),
            d.placeholder(n)
        ),
        params: page_params,
    };
    (count, page)
}

/// A page of bodies decoded; one that does not decode is logged, counted
/// and left out, never hiding the rest.
pub fn decode_page<T: serde::de::DeserializeOwned>(
    total: Option<i64>,
    rows: Vec<(i64, String)>,
) -> Page<T> {
    let total = total.unwrap_or(i64::try_from(rows.len()).unwrap_or(i64::MAX));
    let mut skipped = 0;
    let items = rows
        .into_iter()
        .filter_map(|(id, body)| match parse::<T>(&body) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(vm = id, error = %e, "a VM record does not decode; left out");
                skipped += 1;
                None
            }
        })
        .collect();
    Page {
        items,
        total: usize::try_from(total).unwrap_or(0),
        skipped,
    }
}
