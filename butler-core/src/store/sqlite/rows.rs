//! Row codecs and the SQL helpers the `Store` methods share: request rows
//! and their history, the step log, sequences, version and uniqueness
//! errors, users' audit lines.

use super::{backend, json};
use crate::request::{HistoryEntry, Request, RequestId};
use crate::store::sql::codec::split_request;
pub(super) use crate::store::sql::codec::RawRequest;
use crate::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

/// A history entry encoded for its row (by the caller, off the store thread).
pub(super) struct HistoryRow {
    seq: u32,
    body: String,
}

/// Splits a request into its row body (JSON without history) and its
/// history rows, all encoded here rather than on the store thread.
pub(super) fn split(r: Request) -> Result<(Request, String, Vec<HistoryRow>), StoreError> {
    let (r, body, history) = split_request(r)?;
    let rows = history
        .iter()
        .map(|h: &HistoryEntry| {
            Ok(HistoryRow {
                seq: h.seq,
                body: json(h)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok((r, body, rows))
}

pub(super) fn insert_history(
    tx: &Connection,
    id: RequestId,
    after_seq: i64,
    history: &[HistoryRow],
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached("INSERT INTO history (request_id, seq, body) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    for h in history.iter().filter(|h| i64::from(h.seq) > after_seq) {
        stmt.execute(params![id.0 as i64, h.seq, h.body])
            .map_err(backend)?;
    }
    Ok(())
}

pub(super) fn load_raw(c: &Connection, id: i64, body: String) -> Result<RawRequest, StoreError> {
    let mut stmt = c
        .prepare_cached("SELECT body FROM history WHERE request_id = ?1 ORDER BY seq")
        .map_err(backend)?;
    let history = stmt
        .query_map([id], |r| r.get::<_, String>(0))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    Ok(RawRequest { id, body, history })
}

pub(super) fn update_row(
    tx: &Connection,
    r: &Request,
    body: &str,
    history: &[HistoryRow],
    expected_version: u64,
) -> Result<(), StoreError> {
    let id = r.id.0 as i64;
    let changed = tx
        .prepare_cached("UPDATE requests SET owner = ?1, state = ?2, version = ?3, body = ?4 WHERE id = ?5 AND version = ?6")
        .and_then(|mut s| s.execute(params![r.owner, r.state.as_str(), r.version as i64, body, id, expected_version as i64]))
        .map_err(backend)?;
    if changed == 0 {
        let found: Option<i64> = tx
            .query_row("SELECT version FROM requests WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .map_err(backend)?;
        return Err(match found {
            Some(v) => StoreError::Conflict {
                what: format!("request {}", r.id),
                expected: expected_version,
                found: v as u64,
            },
            None => StoreError::NotFound(format!("request {}", r.id)),
        });
    }
    let stored: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM history WHERE request_id = ?1")
        .and_then(|mut s| s.query_row([id], |row| row.get(0)))
        .map_err(backend)?;
    // Only entries past the stored ones are written: history is append-only.
    insert_history(tx, r.id, stored, history)?;
    Ok(())
}

pub(super) fn insert_log(c: &Connection, id: RequestId, line: &str) -> Result<(), StoreError> {
    let inserted = c
        .prepare_cached("INSERT INTO step_log (request_id, body) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![id.0 as i64, line]));
    match inserted {
        Ok(_) => Ok(()),
        // The foreign key refuses a log line for a request that does not exist.
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::NotFound(format!("request {id}")))
        }
        Err(e) => Err(backend(e)),
    }
}

pub(super) fn next_in(c: &Connection, sequence: &str) -> Result<u64, StoreError> {
    let v: i64 = c
        .prepare_cached("UPDATE sequences SET value = value + 1 WHERE name = ?1 RETURNING value")
        .and_then(|mut s| s.query_row([sequence], |r| r.get(0)))
        .map_err(backend)?;
    Ok(v as u64)
}

pub(super) fn unique_violation(e: rusqlite::Error, what: &str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::AlreadyExists(what.to_string())
        }
        _ => backend(e),
    }
}

pub(super) fn insert_audit(c: &Connection, line: &str) -> Result<(), StoreError> {
    c.execute("INSERT INTO user_audit (body) VALUES (?1)", [line])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn column(c: &Connection, sql: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = c.prepare(sql).map_err(backend)?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
    rows.collect::<Result<Vec<String>, _>>().map_err(backend)
}

/// The one text column of the rows `sql` selects for `key` (its `?1`).
pub(super) fn column_for(c: &Connection, sql: &str, key: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let rows = stmt.query_map([key], |r| r.get(0)).map_err(backend)?;
    rows.collect::<Result<Vec<String>, _>>().map_err(backend)
}

pub(super) fn user_version_error(c: &Connection, name: &str, expected: u64) -> StoreError {
    let found: Result<Option<i64>, _> = c
        .query_row("SELECT version FROM users WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional();
    match found {
        Ok(Some(v)) => StoreError::Conflict {
            what: format!("user {name:?}"),
            expected,
            found: v as u64,
        },
        Ok(None) => StoreError::NotFound(format!("user {name:?}")),
        Err(e) => backend(e),
    }
}

/// After an update matched no row: a conflict if the row exists, else not found.
pub(super) fn version_error(
    c: &Connection,
    table: &str,
    id: u64,
    what: &str,
    expected: u64,
) -> StoreError {
    let found: Result<Option<i64>, _> = c
        .query_row(
            &format!("SELECT version FROM {table} WHERE id = ?1"),
            [id as i64],
            |r| r.get(0),
        )
        .optional();
    match found {
        Ok(Some(v)) => StoreError::Conflict {
            what: what.to_string(),
            expected,
            found: v as u64,
        },
        Ok(None) => StoreError::NotFound(what.to_string()),
        Err(e) => backend(e),
    }
}
