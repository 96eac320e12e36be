//! The notification outbox's records. Every history entry a store writes
//! gets, in the same write, one pending delivery per registered notifier
//! (see [`OutboxStore::register_notifier`](super::OutboxStore::register_notifier)); the
//! notification hub (`notify::NotifyHub`) takes the due ones, delivers
//! them and records how each went. A restart, a crash or a notifier that is
//! down for hours loses nothing: the deliveries wait in the store.

use crate::notify::Event;
use crate::request::RequestId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One event to deliver to one notifier, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The notifier (its `Notifier::name`).
    pub notifier: String,
    /// The request the event is about.
    pub request: RequestId,
    /// The history entry's number within the request (with `request`, the
    /// event's identity).
    pub seq: u32,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is next due.
    pub next_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Given up: no more attempts (shown to Admins until redelivered).
    pub gave_up: bool,
    /// The event, built from the stored request and history entry.
    pub event: Event,
}

/// How one delivery went, for [`OutboxStore::record_deliveries`](super::OutboxStore::record_deliveries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    /// The request.
    pub request: RequestId,
    /// The history entry's number.
    pub seq: u32,
    /// What happened.
    pub result: DeliveryResult,
}

/// The end of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Delivered: the delivery is removed.
    Delivered,
    /// Failed; try again at `next_at`.
    Retry {
        /// Attempts made, this one included.
        attempts: u32,
        /// When to try again.
        next_at: DateTime<Utc>,
        /// Why it failed.
        error: String,
    },
    /// Failed for good (refused, or retried for too long): kept, marked
    /// given up, for Admins to see.
    GaveUp {
        /// Attempts made, this one included.
        attempts: u32,
        /// Why it failed.
        error: String,
    },
}

/// Encodes a time as the SQL stores' integer column (microseconds since 1970).
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Decodes [`micros`] (out of range: 1970).
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
