//! The notification outbox: registered notifiers, their delivery leases,
//! and the deliveries the `history_outbox` trigger queues (schema 4).

use crate::store::{big, num, parse, pg, Cached};
use butler_core::notify::event_for;
use butler_core::request::{HistoryEntry, Request, RequestId};
use butler_core::store::outbox::{from_micros, micros};
use butler_core::store::{Delivery, DeliveryOutcome, DeliveryResult, StoreError};
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

const SELECT: &str = "SELECT d.notifier, d.request_id, d.seq, d.attempts, d.next_at, d.last_error, d.gave_up, h.body, r.body
     FROM deliveries d
     JOIN history h ON h.request_id = d.request_id AND h.seq = d.seq
     JOIN requests r ON r.id = d.request_id";

fn decode(row: &tokio_postgres::Row) -> Result<Delivery, StoreError> {
    let entry: HistoryEntry = parse(row.get(7))?;
    let r: Request = parse(row.get(8))?;
    Ok(Delivery {
        notifier: row.get(0),
        request: RequestId(num(row.get(1))),
        seq: u32::try_from(row.get::<_, i64>(2)).unwrap_or(0),
        attempts: u32::try_from(row.get::<_, i64>(3)).unwrap_or(0),
        next_at: from_micros(row.get(4)),
        last_error: row.get(5),
        gave_up: row.get(6),
        event: event_for(&r, &entry),
    })
}

pub(crate) async fn register(c: &impl GenericClient, name: &str) -> Result<(), StoreError> {
    c.execute_c(
        "INSERT INTO notifiers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        &[&name],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub(crate) async fn claim(
    c: &impl GenericClient,
    name: &str,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = c
        .execute_c(
            "UPDATE notifiers SET owner = $2, expires_at = $4
             WHERE name = $1 AND (owner IS NULL OR owner = $2 OR expires_at <= $3)",
            &[&name, &owner, &micros(now), &micros(until)],
        )
        .await
        .map_err(pg)?;
    if changed == 1 {
        return Ok(true);
    }
    let known = c
        .query_opt_c("SELECT 1 FROM notifiers WHERE name = $1", &[&name])
        .await
        .map_err(pg)?;
    match known {
        Some(_) => Ok(false),
        None => Err(StoreError::NotFound(format!("notifier {name:?}"))),
    }
}

pub(crate) async fn due(
    c: &impl GenericClient,
    name: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE d.notifier = $1 AND NOT d.gave_up AND d.next_at <= $2
         ORDER BY d.next_at, d.request_id, d.seq LIMIT $3"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c
        .query_c(&sql, &[&name, &micros(now), &limit])
        .await
        .map_err(pg)?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn failed(
    c: &impl GenericClient,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE d.attempts > 0
         ORDER BY d.gave_up DESC, d.next_at DESC, d.request_id DESC, d.seq DESC LIMIT $1"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c.query_c(&sql, &[&limit]).await.map_err(pg)?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn record(
    c: &impl GenericClient,
    name: &str,
    outcomes: &[DeliveryOutcome],
) -> Result<(), StoreError> {
    for o in outcomes {
        let (request, seq) = (big(o.request.0), i64::from(o.seq));
        let done = match &o.result {
            DeliveryResult::Delivered => {
                c.execute_c(
                    "DELETE FROM deliveries WHERE notifier = $1 AND request_id = $2 AND seq = $3",
                    &[&name, &request, &seq],
                )
                .await
            }
            DeliveryResult::Retry {
                attempts,
                next_at,
                error,
            } => {
                c.execute_c(
                    "UPDATE deliveries SET attempts = $4, next_at = $5, last_error = $6
                     WHERE notifier = $1 AND request_id = $2 AND seq = $3",
                    &[
                        &name,
                        &request,
                        &seq,
                        &i64::from(*attempts),
                        &micros(*next_at),
                        error,
                    ],
                )
                .await
            }
            DeliveryResult::GaveUp { attempts, error } => {
                c.execute_c(
                    "UPDATE deliveries SET attempts = $4, last_error = $5, gave_up = TRUE
                     WHERE notifier = $1 AND request_id = $2 AND seq = $3",
                    &[&name, &request, &seq, &i64::from(*attempts), error],
                )
                .await
            }
        };
        done.map_err(pg)?;
    }
    Ok(())
}
