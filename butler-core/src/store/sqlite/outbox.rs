//! The notification outbox: registered notifiers, their delivery leases,
//! and the deliveries the `history_outbox` trigger queues (schema 8).

use super::{backend, parse};
use crate::notify::event_for;
use crate::request::{HistoryEntry, Request, RequestId};
use crate::store::outbox::{from_micros, micros};
use crate::store::{Delivery, DeliveryOutcome, DeliveryResult, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// A delivery as read, decoded by the caller off the store thread.
pub(super) struct RawDelivery {
    notifier: String,
    request: i64,
    seq: i64,
    attempts: i64,
    next_at: i64,
    last_error: Option<String>,
    gave_up: bool,
    entry: String,
    body: String,
}

impl RawDelivery {
    pub(super) fn decode(self) -> Result<Delivery, StoreError> {
        let r: Request = parse(&self.body)?;
        let entry: HistoryEntry = parse(&self.entry)?;
        Ok(Delivery {
            notifier: self.notifier,
            request: RequestId(u64::try_from(self.request).unwrap_or(0)),
            seq: u32::try_from(self.seq).unwrap_or(0),
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_at: from_micros(self.next_at),
            last_error: self.last_error,
            gave_up: self.gave_up,
            event: event_for(&r, &entry),
        })
    }
}

const SELECT: &str = "SELECT d.notifier, d.request_id, d.seq, d.attempts, d.next_at, d.last_error, d.gave_up, h.body, r.body
     FROM deliveries d
     JOIN history h ON h.request_id = d.request_id AND h.seq = d.seq
     JOIN requests r ON r.id = d.request_id";

fn read(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RawDelivery>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok(RawDelivery {
                notifier: r.get(0)?,
                request: r.get(1)?,
                seq: r.get(2)?,
                attempts: r.get(3)?,
                next_at: r.get(4)?,
                last_error: r.get(5)?,
                gave_up: r.get(6)?,
                entry: r.get(7)?,
                body: r.get(8)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(super) fn register(c: &Connection, name: &str) -> Result<(), StoreError> {
    c.prepare_cached("INSERT INTO notifiers (name) VALUES (?1) ON CONFLICT(name) DO NOTHING")
        .and_then(|mut s| s.execute([name]))
        .map_err(backend)?;
    Ok(())
}

pub(super) fn claim(
    c: &Connection,
    name: &str,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = c
        .prepare_cached(
            "UPDATE notifiers SET owner = ?2, expires_at = ?4
             WHERE name = ?1 AND (owner IS NULL OR owner = ?2 OR expires_at <= ?3)",
        )
        .and_then(|mut s| s.execute(params![name, owner, micros(now), micros(until)]))
        .map_err(backend)?;
    if changed == 1 {
        return Ok(true);
    }
    let known: Option<i64> = c
        .query_row("SELECT 1 FROM notifiers WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend)?;
    match known {
        Some(_) => Ok(false),
        None => Err(StoreError::NotFound(format!("notifier {name:?}"))),
    }
}

pub(super) fn due(
    c: &Connection,
    name: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<RawDelivery>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE d.notifier = ?1 AND d.gave_up = 0 AND d.next_at <= ?2
         ORDER BY d.next_at, d.request_id, d.seq LIMIT ?3"
    );
    read(c, &sql, params![name, micros(now), limit as i64])
}

pub(super) fn failed(c: &Connection, limit: usize) -> Result<Vec<RawDelivery>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE d.attempts > 0
         ORDER BY d.gave_up DESC, d.next_at DESC, d.request_id DESC, d.seq DESC LIMIT ?1"
    );
    read(c, &sql, params![limit as i64])
}

pub(super) fn record(
    c: &Connection,
    name: &str,
    outcomes: &[DeliveryOutcome],
) -> Result<(), StoreError> {
    for o in outcomes {
        let (request, seq) = (o.request.0 as i64, i64::from(o.seq));
        let done = match &o.result {
            DeliveryResult::Delivered => c
                .prepare_cached(
                    "DELETE FROM deliveries WHERE notifier = ?1 AND request_id = ?2 AND seq = ?3",
                )
                .and_then(|mut s| s.execute(params![name, request, seq])),
            DeliveryResult::Retry {
                attempts,
                next_at,
                error,
            } => c
                .prepare_cached(
                    "UPDATE deliveries SET attempts = ?4, next_at = ?5, last_error = ?6
                     WHERE notifier = ?1 AND request_id = ?2 AND seq = ?3",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        name,
                        request,
                        seq,
                        attempts,
                        micros(*next_at),
                        error
                    ])
                }),
            DeliveryResult::GaveUp { attempts, error } => c
                .prepare_cached(
                    "UPDATE deliveries SET attempts = ?4, last_error = ?5, gave_up = 1
                     WHERE notifier = ?1 AND request_id = ?2 AND seq = ?3",
                )
                .and_then(|mut s| s.execute(params![name, request, seq, attempts, error])),
        };
        done.map_err(backend)?;
    }
    Ok(())
}
