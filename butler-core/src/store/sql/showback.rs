//! Showback's closed months, written once for both dialects: a month's
//! row goes in only when absent (the key keeps one of two closers), its
//! lines in batches beside it in the same transaction.

use super::codec::{json, parse};
use super::ddl::Dialect;
use super::vms::{Param, Statement};
use crate::inventory::VmId;
use crate::showback::{ClosedMonth, Month, VmShowback};
use crate::store::StoreError;

/// Lines per insert (4 values each: well under either dialect's limit on
/// bound values).
const BATCH: usize = 500;

/// The month's row, inserted only when the month is not closed: one row
/// changed means it was closed now, none that it was closed before.
pub fn insert_month(d: Dialect, month: &ClosedMonth) -> Result<Statement, StoreError> {
    Ok(Statement {
        sql: format!(
            "INSERT INTO showback_months (month, body) VALUES ({}, {}) ON CONFLICT (month) DO NOTHING",
            d.placeholder(1),
            d.placeholder(2)
        ),
        params: vec![Param::Text(month.month.to_string()), Param::Text(json(month)?)],
    })
}

/// The inserts of `lines`, the lines of `month`.
pub fn insert_lines(
    d: Dialect,
    month: Month,
    lines: &[VmShowback],
) -> Result<Vec<Statement>, StoreError> {
    let key = month.to_string();
    lines
        .chunks(BATCH)
        .map(|chunk| {
            let values = (0..chunk.len())
                .map(|i| {
                    let p = |k: usize| d.placeholder(4 * i + k);
                    format!("({}, {}, {}, {})", p(1), p(2), p(3), p(4))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut params = Vec::with_capacity(4 * chunk.len());
            for l in chunk {
                params.push(Param::Text(key.clone()));
                params.push(Param::Int(i64::try_from(l.vm.0).map_err(|_| {
                    StoreError::Backend(format!("VM number {} is past 64 bits", l.vm.0).into())
                })?));
                params.push(Param::Text(l.owner.clone()));
                params.push(Param::Text(json(l)?));
            }
            Ok(Statement {
                sql: format!("INSERT INTO showback_lines (month, vm, owner, body) VALUES {values}"),
                params,
            })
        })
        .collect()
}

/// Every closed month's body, oldest first.
pub const ALL_MONTHS: &str = "SELECT body FROM showback_months ORDER BY month";

/// Up to `limit` line bodies of closed `month` numbered above `after`
/// (`owner`: only theirs), by number.
pub fn lines(
    d: Dialect,
    month: Month,
    owner: Option<&str>,
    after: Option<VmId>,
    limit: usize,
) -> Statement {
    let after = after.map_or(-1, |v| i64::try_from(v.0).unwrap_or(i64::MAX));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut params = vec![
        Param::Text(month.to_string()),
        Param::Int(after),
        Param::Int(limit),
    ];
    let mine = match owner {
        Some(o) => {
            params.push(Param::Text(o.to_string()));
            format!(" AND owner = {}", d.placeholder(4))
        }
        None => String::new(),
    };
    Statement {
        sql: format!(
            "SELECT body FROM showback_lines WHERE month = {} AND vm > {}{mine} ORDER BY vm LIMIT {}",
            d.placeholder(1),
            d.placeholder(2),
            d.placeholder(3)
        ),
        params,
    }
}

/// The bodies read back.
pub fn decode<T: serde::de::DeserializeOwned>(bodies: &[String]) -> Result<Vec<T>, StoreError> {
    bodies.iter().map(|b| parse(b)).collect()
}

/// The refusal of closing `month` again.
pub fn closed_already(month: Month) -> StoreError {
    StoreError::AlreadyExists(format!("a closed showback month {month}"))
}
