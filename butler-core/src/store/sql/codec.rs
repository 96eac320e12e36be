//! The row codec of Butler's SQL stores: aggregates as JSON bodies, numbers
//! as signed 64-bit columns, and the errors a row that does not decode
//! gives.

use crate::request::{HistoryEntry, Request};
use crate::store::{StorageFailure, StoreError};

/// A storage failure caused by `e` (the driver's error kept as the source).
pub fn storage_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(StorageFailure::caused_by(e))
}

/// `v` as the JSON text of a body column.
pub fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(storage_error)
}

/// A body column read back; one that does not decode says so.
pub fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| {
        StoreError::Backend(StorageFailure::caused_by(e).context("stored row does not decode"))
    })
}

/// A Butler number as a signed 64-bit column (numbers past `i64::MAX` do
/// not occur; saturate).
pub fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A signed 64-bit column read back as a Butler number (negative ones are
/// not Butler's).
pub fn num(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Splits a request into the request without its history, its row body
/// (JSON without history) and its history, one row per entry.
pub fn split_request(mut r: Request) -> Result<(Request, String, Vec<HistoryEntry>), StoreError> {
    let history = std::mem::take(&mut r.history);
    let body = json(&r)?;
    Ok((r, body, history))
}

/// A request as stored (its body and its history rows' bodies), decoded by
/// the caller, off the store's connection, so one bad row can be named and
/// skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// The request number (to name it when it cannot be decoded).
    pub id: i64,
    /// The row's body.
    pub body: String,
    /// Its history rows' bodies, in order.
    pub history: Vec<String>,
}

impl RawRequest {
    /// The request, history included.
    pub fn decode(&self) -> Result<Request, StoreError> {
        let mut r: Request = parse(&self.body)?;
        r.history = self
            .history
            .iter()
            .map(|h| parse(h))
            .collect::<Result<_, _>>()?;
        Ok(r)
    }
}
