//! Persistence. [`Store`] is the trait; [`MemoryStore`] ships in core; the
//! embedded SQLite store lives in its own module behind the same trait.

mod memory;

pub use memory::MemoryStore;

use crate::request::{Request, RequestId, RequestState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Nothing stored under that key.
    #[error("{0} not found")]
    NotFound(String),
    /// Someone else changed it first.
    #[error("{what} was changed by someone else (expected version {expected}, found {found}); reload and try again")]
    Conflict {
        /// What, e.g. `request #4`.
        what: String,
        /// The version the caller had.
        expected: u64,
        /// The version stored.
        found: u64,
    },
    /// Something with that key or unique name exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The storage itself failed.
    #[error("storage failed: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether a retry may succeed (only storage failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Backend(_))
    }
}

/// A request-list query: filters and a page. Results are newest first
/// (creation time, then number, descending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestQuery {
    /// Only these states (empty: all).
    pub states: Vec<RequestState>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Rows to skip.
    pub offset: usize,
    /// Rows to return (`None`: all).
    pub limit: Option<usize>,
}

impl Default for RequestQuery {
    fn default() -> Self {
        RequestQuery {
            states: Vec::new(),
            owner: None,
            created_from: None,
            created_to: None,
            offset: 0,
            limit: Some(50),
        }
    }
}

impl RequestQuery {
    /// Whether `r` passes the filters (ignoring paging).
    pub fn matches(&self, r: &Request) -> bool {
        (self.states.is_empty() || self.states.contains(&r.state))
            && self.owner.as_ref().is_none_or(|o| *o == r.owner)
            && self.created_from.is_none_or(|t| r.created_at >= t)
            && self.created_to.is_none_or(|t| r.created_at < t)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the filters, over all pages.
    pub total: usize,
}

/// Durable storage of requests (and, later, migration groups and reports).
///
/// Every update carries the version the caller read; a store must refuse a
/// stale one with [`StoreError::Conflict`] atomically (no read-then-write race).
#[async_trait]
pub trait Store: Send + Sync {
    /// Allocates a new request number (never reused, may leave gaps).
    async fn next_request_id(&self) -> Result<RequestId, StoreError>;
    /// Stores a new request; `AlreadyExists` if its number is taken.
    async fn insert_request(&self, request: &Request) -> Result<(), StoreError>;
    /// Reads a request.
    async fn get_request(&self, id: RequestId) -> Result<Request, StoreError>;
    /// Replaces a request if the stored version is `expected_version`.
    async fn update_request(
        &self,
        request: &Request,
        expected_version: u64,
    ) -> Result<(), StoreError>;
    /// Lists requests.
    async fn list_requests(&self, query: &RequestQuery) -> Result<Page<Request>, StoreError>;
    /// Requests in the given states (for the engine), oldest first.
    async fn requests_in_states(&self, states: &[RequestState])
        -> Result<Vec<Request>, StoreError>;
}
