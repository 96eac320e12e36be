//! The quota holds' statements and the plan of one atomic hold, written
//! once for both dialects: a store reads the rows a hold touches
//! ([`read_holds`] and [`read_usage`] on SQLite's one writer;
//! [`lock_rows`] on PostgreSQL, which locks them in key order so two
//! processes checking one scope take turns), hands them to [`plan`], and
//! runs the writes it returns in the same transaction.

use super::codec::{json, parse};
use super::ddl::Dialect;
use super::vms::{Param, Statement};
use crate::quota::{self, Hold, HoldChange, Holder, Limits, QuotaExceeded, Scope, Share, Usage};
use crate::store::StoreError;
use std::collections::{BTreeMap, BTreeSet};

/// The usage row that says the holds were counted
/// ([`crate::store::QuotaStore::replace_holds`]); no scope has this key.
pub const COUNTED: &str = "~counted";

fn keyed(d: Dialect, sql: &str, keys: &[String]) -> Statement {
    let list = d.placeholders(1, keys.len().max(1));
    let sql = sql.replace("{keys}", &list);
    let mut params: Vec<Param> = keys.iter().cloned().map(Param::Text).collect();
    if params.is_empty() {
        params.push(Param::Text(String::new()));
    }
    Statement { sql, params }
}

/// The holds of `holders` (`holder, body` rows), unlocked (PostgreSQL
/// locks with [`lock_rows`]).
pub fn read_holds(d: Dialect, holders: &[String]) -> Statement {
    keyed(
        d,
        "SELECT holder, body FROM quota_holds WHERE holder IN ({keys}) ORDER BY holder",
        holders,
    )
}

/// The usage of `scopes` (`scope, body` rows), unlocked (PostgreSQL locks
/// with [`lock_rows`]).
pub fn read_usage(d: Dialect, scopes: &[String]) -> Statement {
    keyed(
        d,
        "SELECT scope, body FROM quota_usage WHERE scope IN ({keys}) ORDER BY scope",
        scopes,
    )
}

/// Makes sure `keys` have rows in `table` (`quota_holds` or
/// `quota_usage`), locks them, in key order, and reads them (`key, body`),
/// in one statement: an upsert that leaves an existing row as it is and
/// returns it (PostgreSQL locks every row it inserts or touches until the
/// transaction ends, and waits for a row another transaction is writing).
pub fn lock_rows(d: Dialect, table: &str, keys: &[String]) -> Statement {
    let column = if table == "quota_holds" {
        "holder"
    } else {
        "scope"
    };
    let values = (1..=keys.len().max(1))
        .map(|n| format!("({}, '')", d.placeholder(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut params: Vec<Param> = keys.iter().cloned().map(Param::Text).collect();
    if params.is_empty() {
        params.push(Param::Text(COUNTED.into()));
    }
    Statement {
        sql: format!(
            "INSERT INTO {table} ({column}, body) VALUES {values} ON CONFLICT ({column}) DO UPDATE SET body = {table}.body RETURNING {column}, body"
        ),
        params,
    }
}

/// Writes `body` for `key` in `table`.
pub fn upsert(d: Dialect, table: &str, key: &str, body: &str) -> Statement {
    let column = if table == "quota_holds" {
        "holder"
    } else {
        "scope"
    };
    Statement {
        sql: format!(
            "INSERT INTO {table} ({column}, body) VALUES ({}, {}) ON CONFLICT ({column}) DO UPDATE SET body = excluded.body",
            d.placeholder(1),
            d.placeholder(2)
        ),
        params: vec![Param::Text(key.into()), Param::Text(body.into())],
    }
}

/// Writes every scope's usage in `rows` (`scope, body`) in one statement.
pub fn upsert_usage(d: Dialect, rows: &[(String, String)]) -> Statement {
    let values = (0..rows.len())
        .map(|i| {
            format!(
                "({}, {})",
                d.placeholder(2 * i + 1),
                d.placeholder(2 * i + 2)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Statement {
        sql: format!(
            "INSERT INTO quota_usage (scope, body) VALUES {values} ON CONFLICT (scope) DO UPDATE SET body = excluded.body"
        ),
        params: rows
            .iter()
            .flat_map(|(k, b)| [Param::Text(k.clone()), Param::Text(b.clone())])
            .collect(),
    }
}

/// Removes the hold of `holder`.
pub fn delete_hold(d: Dialect, holder: &str) -> Statement {
    Statement {
        sql: format!(
            "DELETE FROM quota_holds WHERE holder = {}",
            d.placeholder(1)
        ),
        params: vec![Param::Text(holder.into())],
    }
}

/// Every usage row (`scope, body`).
pub const ALL_USAGE: &str = "SELECT scope, body FROM quota_usage ORDER BY scope";

/// Empties both tables (a recount).
pub const CLEAR: [&str; 2] = ["DELETE FROM quota_holds", "DELETE FROM quota_usage"];

/// The keys a hold reads: the holders changed, and every scope a change
/// or a limit names (the old holds' scopes are added once read, by
/// [`scopes_to_read`]).
pub fn holder_keys(changes: &[HoldChange]) -> Vec<String> {
    let keys: BTreeSet<String> = changes.iter().map(|c| c.holder().key()).collect();
    keys.into_iter().collect()
}

/// The scopes a hold reads: those of the old holds, the new ones and the
/// limits, in key order.
pub fn scopes_to_read(
    changes: &[HoldChange],
    held: &BTreeMap<Holder, Hold>,
    limits: &[(Scope, Limits)],
) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for h in held.values() {
        keys.extend(h.scopes().iter().map(Scope::key));
    }
    for c in changes {
        if let HoldChange::Set(h) = c {
            keys.extend(h.scopes().iter().map(Scope::key));
        }
    }
    keys.extend(limits.iter().map(|(s, _)| s.key()));
    keys.into_iter().collect()
}

/// The holds read, by holder (rows holding nothing are skipped).
pub fn decode_holds(rows: &[(String, String)]) -> Result<BTreeMap<Holder, Hold>, StoreError> {
    let mut held = BTreeMap::new();
    for (_, body) in rows.iter().filter(|(_, b)| !b.is_empty()) {
        let h: Hold = parse(body)?;
        held.insert(h.holder, h);
    }
    Ok(held)
}

/// The usage read, by scope (rows holding nothing are zero).
pub fn decode_usage(rows: &[(String, String)]) -> Result<BTreeMap<Scope, Share>, StoreError> {
    let mut usage = BTreeMap::new();
    for (key, body) in rows {
        let Some(scope) = Scope::from_key(key) else {
            continue;
        };
        let share = if body.is_empty() {
            Share::default()
        } else {
            parse(body)?
        };
        usage.insert(scope, share);
    }
    Ok(usage)
}

/// The usage of `scopes`, in the order asked, from the rows read (`rows`
/// of [`read_usage`]; a scope without a row holds nothing).
pub fn usage_in_order(
    scopes: &[Scope],
    rows: &[(String, String)],
) -> Result<Vec<Usage>, StoreError> {
    let found = decode_usage(rows)?;
    Ok(scopes
        .iter()
        .map(|s| Usage {
            scope: s.clone(),
            used: found.get(s).cloned().unwrap_or_default(),
        })
        .collect())
}

/// What one hold writes, once [`quota::apply`] took it.
#[derive(Debug)]
pub struct Writes {
    /// The statements, in order.
    pub statements: Vec<Statement>,
    /// The usage of every scope read, after the change.
    pub usage: Vec<Usage>,
}

/// Plans one hold from what was read: the statements to run, or the
/// refusal (then nothing is written).
pub fn plan(
    d: Dialect,
    changes: &[HoldChange],
    held: &BTreeMap<Holder, Hold>,
    mut usage: BTreeMap<Scope, Share>,
    scopes: &[String],
    limits: &[(Scope, Limits)],
) -> Result<Result<Writes, QuotaExceeded>, StoreError> {
    for key in scopes {
        if let Some(s) = Scope::from_key(key) {
            usage.entry(s).or_default();
        }
    }
    let holds = match quota::apply(changes, held, &mut usage, limits) {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    let mut statements = Vec::new();
    for (holder, hold) in holds {
        statements.push(match hold {
            Some(h) => upsert(d, "quota_holds", &holder.key(), &json(&h)?),
            None => delete_hold(d, &holder.key()),
        });
    }
    let rows = usage
        .iter()
        .map(|(scope, share)| Ok((scope.key(), json(share)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    if !rows.is_empty() {
        statements.push(upsert_usage(d, &rows));
    }
    Ok(Ok(Writes {
        statements,
        usage: usage
            .into_iter()
            .map(|(scope, used)| Usage { scope, used })
            .collect(),
    }))
}

/// The statements of a recount: both tables emptied, then every hold and
/// the usage they add up to, and the [`COUNTED`] mark.
pub fn recount(d: Dialect, holds: &[Hold]) -> Result<Vec<Statement>, StoreError> {
    let mut out: Vec<Statement> = CLEAR
        .iter()
        .map(|sql| Statement {
            sql: (*sql).to_string(),
            params: Vec::new(),
        })
        .collect();
    for h in holds {
        out.push(upsert(d, "quota_holds", &h.holder.key(), &json(h)?));
    }
    for (scope, share) in quota::usage_of(holds) {
        out.push(upsert(d, "quota_usage", &scope.key(), &json(&share)?));
    }
    out.push(upsert(d, "quota_usage", COUNTED, "{}"));
    Ok(out)
}
