//! Persistence. [`Store`] is the trait; [`MemoryStore`] ships in core; the
//! embedded SQLite store lives in its own module behind the same trait.

mod memory;
pub mod outbox;
pub mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryStore;
pub use outbox::{Delivery, DeliveryOutcome, DeliveryResult};

/// The ports, to call their methods on a concrete store
/// (`use butler_core::store::prelude::*`); through `dyn Store` they need no
/// import.
pub mod prelude {
    pub use super::{
        FlowStore, GroupStore, KeyStore, OutboxStore, QuotaStore, ReportStore, RequestStore,
        RuleStore, ShowbackStore, Store, UserStore, VmStore,
    };
}
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use crate::auth::{User, UserAudit};
use crate::inventory::{VmId, VmQuery, VmRecord, VmShape};
use crate::migration::{
    GroupError, GroupId, GroupVmsEdit, GroupVmsEdited, MigrationGroup, MigrationReport, RunId,
    VmReport,
};
use crate::request::{Request, RequestId, RequestState};
pub use crate::secret::SecretKey;
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
    /// The storage itself failed (retryable); the database's own error is
    /// its source.
    #[error("storage failed: {0}")]
    Backend(#[source] StorageFailure),
    /// The stored data is damaged or not a Butler store; refused, never
    /// replaced by a new one.
    #[error("the store is damaged: {0}")]
    Damaged(String),
}

/// What failed in the storage: a message, and the database's (or file
/// system's) error it came from, kept as the
/// [`source`](std::error::Error::source).
///
/// ```
/// use butler_core::store::{StorageFailure, StoreError};
/// use std::error::Error as _;
/// let io = std::io::Error::new(std::io::ErrorKind::Other, "disk full");
/// let e = StoreError::Backend(StorageFailure::caused_by(io));
/// assert_eq!(e.to_string(), "storage failed: disk full");
/// assert!(e.source().and_then(|f| f.source()).is_some());
/// ```
#[derive(Debug, Clone)]
pub struct StorageFailure {
    message: String,
    source: Option<crate::backend::ErrorSource>,
}

impl StorageFailure {
    /// A failure described by `message` alone.
    pub fn new(message: impl Into<String>) -> Self {
        StorageFailure {
            message: message.into(),
            source: None,
        }
    }

    /// A failure whose message is `cause`'s, keeping `cause` as its source.
    pub fn caused_by(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        StorageFailure {
            message: cause.to_string(),
            source: Some(std::sync::Arc::new(cause)),
        }
    }

    /// The same failure with `message` in front of its own.
    pub fn context(mut self, message: &str) -> Self {
        self.message = format!("{message}: {}", self.message);
        self
    }

    /// The same failure (and cause) told by `message` instead, for a
    /// cause whose own words say less (a database error's code).
    pub fn replaced_by(mut self, message: String) -> Self {
        self.message = message;
        self
    }

    /// What failed.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for StorageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StorageFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Equal when the messages are: causes cannot be compared.
impl PartialEq for StorageFailure {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for StorageFailure {}

impl From<String> for StorageFailure {
    fn from(message: String) -> Self {
        StorageFailure::new(message)
    }
}

impl From<&str> for StorageFailure {
    fn from(message: &str) -> Self {
        StorageFailure::new(message)
    }
}

impl StoreError {
    /// Whether a retry may succeed (only storage failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Backend(_))
    }
}

impl StoreError {
    /// The conflict an update of VM record `id` gets when the stored
    /// version `found` is not the `expected` one (every store answers a
    /// stale record with it).
    pub fn vm_conflict(id: VmId, expected: u64, found: u64) -> StoreError {
        StoreError::Conflict {
            what: vm_label(id),
            expected,
            found,
        }
    }

    /// Whether this is the conflict of an update of VM record `id`
    /// ([`StoreError::vm_conflict`]).
    pub fn is_vm_conflict(&self, id: VmId) -> bool {
        matches!(self, StoreError::Conflict { what, .. } if *what == vm_label(id))
    }
}

fn vm_label(id: VmId) -> String {
    format!("VM record {id}")
}

/// `Ok` when the stored version `found` is the `expected` one, else the
/// conflict naming `what` (made only then).
pub(crate) fn expect_version(
    what: impl FnOnce() -> String,
    expected: u64,
    found: u64,
) -> Result<(), StoreError> {
    if found == expected {
        return Ok(());
    }
    Err(StoreError::Conflict {
        what: what(),
        expected,
        found,
    })
}

/// Applies a VM-list edit to a group held in memory at `expected_version`
/// and stamps it: what [`GroupStore::change_group_vms`] does, for stores that
/// hold whole groups.
pub fn edit_group(
    g: &mut MigrationGroup,
    expected_version: u64,
    edit: &GroupVmsEdit,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Result<GroupVmsEdited, GroupError>, StoreError> {
    expect_version(
        || format!("migration group {}", g.id),
        expected_version,
        g.version,
    )?;
    if let Err(e) = g.apply_vms_edit(edit) {
        return Ok(Err(e));
    }
    g.version += 1;
    g.updated_by = by.to_string();
    g.updated_at = at;
    Ok(Ok(GroupVmsEdited {
        id: g.id,
        version: g.version,
        vms: g.vms.len(),
    }))
}

/// What happened to a provisioning step, written before the side effect
/// (`Started`) and after it (`Succeeded` / `Failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum StepPhase {
    /// About to do the side effect.
    Started,
    /// Done; what was found or made.
    Succeeded {
        /// Outcome, e.g. `created VM 1f…` or `already registered`
        /// (English).
        detail: String,
        /// The same as a code with its values, for a user interface to word
        /// in its language (`None`: text from elsewhere, or a line written
        /// before Butler kept it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        said: Option<crate::said::Said>,
        /// What the step returned for later steps of its flow (create_vm:
        /// `{"vm_uuid": …}`); `null` when nothing. Read back by the engine
        /// when it resumes a request.
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        output: serde_json::Value,
    },
    /// Failed.
    Failed {
        /// The reason.
        reason: String,
        /// Whether it will be retried.
        will_retry: bool,
    },
}

impl std::fmt::Display for StepPhase {
    /// One line for people: `started`, `succeeded: <detail>`, `failed:
    /// <reason>` (and whether it will be retried); outputs are for the
    /// engine and are not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepPhase::Started => f.write_str("started"),
            StepPhase::Succeeded { detail, .. } => write!(f, "succeeded: {detail}"),
            StepPhase::Failed {
                reason,
                will_retry: true,
            } => write!(f, "failed, will retry: {reason}"),
            StepPhase::Failed { reason, .. } => write!(f, "failed: {reason}"),
        }
    }
}

/// One line of the saga-style step log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLogEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Which engine instance.
    pub engine: String,
    /// The step.
    pub step: crate::request::ProvisioningStep,
    /// Attempt, from 1.
    pub attempt: u32,
    /// What happened.
    pub phase: StepPhase,
    /// The generation of the lease the engine held (its fencing token):
    /// lines of a step written under an older generation than a later
    /// line were written by an engine that had lost the request. 0 in logs
    /// written before generations existed.
    #[serde(default)]
    pub lease: u64,
    /// The idempotency key the attempt's side effect carries (a create's
    /// [`VmCreate::request_id`](crate::backend::VmCreate::request_id)), on
    /// the `Started` line, written before the call: every later attempt of
    /// the step sends the same key, until the step succeeds or fails for
    /// good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
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
    /// Rows of this page that could not be decoded (damaged or written by
    /// a newer Butler): left out, logged and counted, never hiding the rest.
    #[serde(default)]
    pub skipped: usize,
}

/// Requests: numbers, rows with their history, versions, lists.
#[async_trait]
pub trait RequestStore: Send + Sync {
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
    /// Numbers of the requests in the given states (for the engine), oldest first.
    async fn request_ids_in_states(
        &self,
        states: &[RequestState],
    ) -> Result<Vec<RequestId>, StoreError>;
}

/// The provisioning flow's step log and leases, and the one write that advances a request with its log lines.
#[async_trait]
pub trait FlowStore: RequestStore {
    /// Appends to a request's provisioning step log.
    async fn append_step_log(&self, id: RequestId, entry: &StepLogEntry) -> Result<(), StoreError>;

    /// Appends the `log` lines, in order, and replaces the request, as one
    /// atomic write where the store can (the default does them in turn: log
    /// first, so a crash between them only leaves log lines whose step is
    /// looked up again). The engine writes a step's outcome and the next
    /// step's `Started` line this way: one write per step.
    async fn update_request_with_log(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
    ) -> Result<(), StoreError> {
        for line in log {
            self.append_step_log(request.id, line).await?;
        }
        self.update_request(request, expected_version).await
    }

    /// A request's provisioning step log, oldest first.
    async fn step_log(&self, id: RequestId) -> Result<Vec<StepLogEntry>, StoreError>;

    /// Takes (or renews) the lease on a request for `owner` until `until`,
    /// if no other owner holds an unexpired one. Several engines sharing one
    /// store process each request once: only the lease holder works on it.
    ///
    /// Returns the lease's **generation** (a fencing token) when held: it
    /// starts at 1 and grows by one each time the lease passes to another
    /// owner, never going back, even after a release; renewals by the same
    /// owner keep it. `None` when another owner holds the lease.
    async fn acquire_lease(
        &self,
        id: RequestId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError>;

    /// Gives a lease back (no-op if `owner` does not hold it); the
    /// generation is kept for the next owner.
    async fn release_lease(&self, id: RequestId, owner: &str) -> Result<(), StoreError>;
}

/// Quota holds and the usage of each scope they add up to ([`crate::quota`]).
#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// Applies `changes` as one atomic write ([`crate::quota::apply`]),
    /// checking `limits` against what every process has written: a
    /// refusal writes nothing. Returns the usage, after the change, of
    /// every scope the holders counted in or count in now, and of the
    /// scopes `limits` names.
    async fn hold(
        &self,
        changes: &[crate::quota::HoldChange],
        limits: &[(crate::quota::Scope, crate::quota::Limits)],
    ) -> Result<Result<Vec<crate::quota::Usage>, crate::quota::QuotaExceeded>, StoreError>;

    /// The usage of `scopes`, in the order asked (nothing held: zero).
    async fn usage(
        &self,
        scopes: &[crate::quota::Scope],
    ) -> Result<Vec<crate::quota::Usage>, StoreError>;

    /// The usage of every scope anything holds or held, by scope.
    async fn all_usage(&self) -> Result<Vec<crate::quota::Usage>, StoreError>;

    /// What `holder` holds.
    async fn held(
        &self,
        holder: crate::quota::Holder,
    ) -> Result<Option<crate::quota::Hold>, StoreError>;

    /// Replaces every hold with `holds` and the usage with what they add
    /// up to (a recount), and marks the holds counted. With `first`, only
    /// when they were never counted (a process's first count: another
    /// process may have counted and taken holds since this one looked);
    /// returns whether it replaced them.
    async fn replace_holds(
        &self,
        holds: &[crate::quota::Hold],
        first: bool,
    ) -> Result<bool, StoreError>;

    /// Whether [`replace_holds`](Self::replace_holds) ever ran on this
    /// store (a store from before quotas holds nothing for its requests
    /// and VMs until counted once).
    async fn holds_counted(&self) -> Result<bool, StoreError>;
}

/// Migration groups and their VM lists.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Allocates a migration-group id.
    async fn next_group_id(&self) -> Result<GroupId, StoreError>;
    /// Stores a new group; `AlreadyExists` if its name is taken (enforced
    /// by the store itself, so two creators cannot both win).
    async fn insert_group(&self, group: &MigrationGroup) -> Result<(), StoreError>;
    /// Reads a group.
    async fn get_group(&self, id: GroupId) -> Result<MigrationGroup, StoreError>;
    /// A group's current version, without reading the group (lets callers
    /// keep a decoded copy of a large group until it changes). The default
    /// reads the whole group.
    async fn group_version(&self, id: GroupId) -> Result<u64, StoreError> {
        Ok(self.get_group(id).await?.version)
    }
    /// Replaces a group if its stored version is `expected_version`
    /// (`AlreadyExists` if renamed onto a taken name).
    async fn update_group(
        &self,
        group: &MigrationGroup,
        expected_version: u64,
    ) -> Result<(), StoreError>;
    /// Replaces a group's name and clusters, keeping its stored VM list
    /// (`group.vms` is ignored), if its version is `expected_version`.
    /// The default reads and rewrites the whole group; stores that keep
    /// VMs as rows write one row.
    async fn update_group_header(
        &self,
        group: &MigrationGroup,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let stored = self.get_group(group.id).await?;
        let mut whole = group.header();
        whole.vms = stored.vms;
        self.update_group(&whole, expected_version).await
    }
    /// Applies `edit` to a group's VM list in place if its version is
    /// `expected_version`, stamping the new version with `by` and `at`.
    /// All of it or nothing: a refused VM (see [`GroupVmsEdit`]) is the
    /// inner error and changes nothing. The default reads and rewrites the
    /// whole group; stores that keep VMs as rows write the rows named.
    async fn change_group_vms(
        &self,
        id: GroupId,
        expected_version: u64,
        edit: &GroupVmsEdit,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Result<GroupVmsEdited, GroupError>, StoreError> {
        let mut g = self.get_group(id).await?;
        let done = match edit_group(&mut g, expected_version, edit, by, at)? {
            Ok(done) => done,
            Err(refused) => return Ok(Err(refused)),
        };
        self.update_group(&g, expected_version).await?;
        Ok(Ok(done))
    }
    /// Deletes a group and its VM list if its stored version is `expected_version`.
    async fn delete_group(&self, id: GroupId, expected_version: u64) -> Result<(), StoreError>;
    /// Groups whose name contains `name_part` (case-insensitive), by name.
    async fn find_groups(&self, name_part: &str) -> Result<Vec<MigrationGroup>, StoreError>;
}

/// Migration runs' reports, their lines appended as they happen.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Allocates a migration-run id.
    async fn next_run_id(&self) -> Result<RunId, StoreError>;
    /// Inserts or replaces a migration report.
    async fn save_report(&self, report: &MigrationReport) -> Result<(), StoreError>;
    /// Reads a migration report.
    async fn get_report(&self, id: RunId) -> Result<MigrationReport, StoreError>;
    /// A group's migration reports, newest first.
    async fn list_reports(&self, group: GroupId) -> Result<Vec<MigrationReport>, StoreError>;
    /// Appends per-VM lines to a running migration's report as they happen,
    /// so a crash loses nothing already known. Until the run's final
    /// [`save_report`](Self::save_report), `get_report` and `list_reports`
    /// show these lines as the report's VMs.
    async fn append_report_lines(&self, run: RunId, lines: &[VmReport]) -> Result<(), StoreError>;
    /// Reports of runs that never ended (still running elsewhere, or
    /// interrupted by a crash), with the lines appended so far.
    async fn unfinished_reports(&self) -> Result<Vec<MigrationReport>, StoreError>;
    /// Asks the run to stop, from any process sharing the store (the
    /// process running it looks every poll interval); `NotFound` when no
    /// such run exists. Asking twice is asking once.
    async fn request_cancel(&self, run: RunId) -> Result<(), StoreError>;
    /// Whether someone asked the run to stop.
    async fn cancel_requested(&self, run: RunId) -> Result<bool, StoreError>;
}

/// The inventory: a record for every VM Butler made or adopted.
#[async_trait]
pub trait VmStore: Send + Sync {
    /// Allocates a VM record number (never reused, may leave gaps).
    async fn next_vm_id(&self) -> Result<VmId, StoreError>;
    /// Stores a new record; `AlreadyExists` if its number or its platform
    /// name is taken (one record per VM, whoever writes it).
    async fn insert_vm(&self, vm: &VmRecord) -> Result<(), StoreError>;
    /// Reads a record.
    async fn get_vm(&self, id: VmId) -> Result<VmRecord, StoreError>;
    /// The record of the VM named `name` on the platform, if any.
    async fn find_vm_named(&self, name: &str) -> Result<Option<VmRecord>, StoreError>;
    /// Replaces a record if its stored version is `expected_version`
    /// (`Conflict` otherwise, `NotFound` if there is none).
    async fn update_vm(&self, vm: &VmRecord, expected_version: u64) -> Result<(), StoreError>;
    /// One page of the records `query` selects, newest first, with the
    /// total over all pages.
    async fn list_vms(&self, query: &VmQuery) -> Result<Page<VmRecord>, StoreError>;
    /// [`list_vms`](Self::list_vms) read as shapes (what the reconcile
    /// compares). The default reads whole records; a store that decodes
    /// stored bodies decodes only the shape.
    async fn list_vm_shapes(&self, query: &VmQuery) -> Result<Page<VmShape>, StoreError> {
        let p = self.list_vms(query).await?;
        Ok(Page {
            items: p.items.into_iter().map(VmShape::from).collect(),
            total: p.total,
            skipped: p.skipped,
        })
    }
}

/// Stored users and their audit trail.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user and its audit line in one write; `AlreadyExists`
    /// if the (normalised) name is taken.
    async fn insert_user(&self, user: &User, audit: &UserAudit) -> Result<(), StoreError>;
    /// Reads a user by normalised name.
    async fn get_user(&self, name: &str) -> Result<User, StoreError>;
    /// Replaces a user if its stored version is `expected_version`, and
    /// appends the audit line, in one write.
    async fn update_user(
        &self,
        user: &User,
        expected_version: u64,
        audit: &UserAudit,
    ) -> Result<(), StoreError>;
    /// Removes a user if its stored version is `expected_version`, and
    /// appends the audit line, in one write.
    async fn delete_user(
        &self,
        name: &str,
        expected_version: u64,
        audit: &UserAudit,
    ) -> Result<(), StoreError>;
    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// The user audit trail, oldest first.
    async fn user_audit(&self) -> Result<Vec<UserAudit>, StoreError>;
}

/// Keys the store keeps for every process sharing it.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// A random 32-byte key kept by the store under `purpose`, made on first
    /// use and the same for every process sharing the store afterwards
    /// (validation tokens are signed with `"validation-token"`). Never logged.
    async fn secret_key(&self, purpose: &str) -> Result<SecretKey, StoreError>;
}

/// The approval rules' versions ([`crate::rules::RuleBook`]), shared by
/// every process on the store: the newest is in force.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Adds `book` as its version, which must be one more than the newest
    /// stored (0 when none is): two writers of the same version, one wins
    /// and the other gets [`StoreError::Conflict`].
    async fn add_rule_book(&self, book: &crate::rules::RuleBook) -> Result<(), StoreError>;

    /// Every stored version, oldest first.
    async fn rule_books(&self) -> Result<Vec<crate::rules::RuleBook>, StoreError>;

    /// The newest version if it is newer than `than` (cheap when it is
    /// not: what a process asks before each decision).
    async fn newer_rule_book(
        &self,
        than: u32,
    ) -> Result<Option<crate::rules::RuleBook>, StoreError>;
}

/// The refusal of rule book `version` when `newest` is stored: it is not
/// the next one.
pub fn rule_book_conflict(version: u32, newest: u32) -> StoreError {
    StoreError::Conflict {
        what: "the approval rules".into(),
        expected: u64::from(version.saturating_sub(1)),
        found: u64::from(newest),
    }
}

/// The notification outbox (see [`outbox`]).
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Registers a notifier by name: from now on every history entry the
    /// store writes (every event) gets a pending [`Delivery`] for it, in the
    /// same write as the entry. Registering a known name changes nothing:
    /// deliveries waiting from before a restart are kept.
    async fn register_notifier(&self, name: &str) -> Result<(), StoreError>;

    /// Takes (or renews) the right to deliver `name`'s events for `owner`
    /// until `until`, if no other owner holds it unexpired: processes
    /// sharing a store deliver each event once.
    async fn claim_notifier(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Up to `limit` of `name`'s deliveries due at `now` (not given up),
    /// the earliest due first, each with its event.
    async fn due_deliveries(
        &self,
        name: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Records how deliveries of `name` went, in one write: delivered ones
    /// are removed, others rescheduled or marked given up.
    async fn record_deliveries(
        &self,
        name: &str,
        outcomes: &[DeliveryOutcome],
    ) -> Result<(), StoreError>;

    /// Up to `limit` deliveries that failed at least once: the given-up
    /// ones first, then those waiting for a retry, each group the latest
    /// due first.
    async fn failed_deliveries(&self, limit: usize) -> Result<Vec<Delivery>, StoreError>;
}

/// Showback's closed months ([`crate::showback::ClosedMonth`]) and their
/// VM lines: written once, in one write, and never changed.
#[async_trait]
pub trait ShowbackStore: Send + Sync {
    /// Stores `month` closed with its VM `lines` (each holding that
    /// month's line only) in one write. A month closed already is refused
    /// with [`StoreError::AlreadyExists`] and nothing is written: of two
    /// closers, one wins.
    async fn close_month(
        &self,
        month: &crate::showback::ClosedMonth,
        lines: &[crate::showback::VmShowback],
    ) -> Result<(), StoreError>;

    /// Every closed month, oldest first.
    async fn closed_months(&self) -> Result<Vec<crate::showback::ClosedMonth>, StoreError>;

    /// Up to `limit` lines of closed `month` numbered above `after`, by
    /// number (`owner`: only that owner's VMs); none for a month not
    /// closed.
    async fn closed_lines(
        &self,
        month: crate::showback::Month,
        owner: Option<&str>,
        after: Option<VmId>,
        limit: usize,
    ) -> Result<Vec<crate::showback::VmShowback>, StoreError>;
}

/// Durable storage: the sum of one port per aggregate ([`RequestStore`],
/// [`FlowStore`], [`GroupStore`], [`ReportStore`], [`UserStore`],
/// [`KeyStore`], [`OutboxStore`]); a host passes one `Arc<dyn Store>`, and
/// each port has its own conformance checks in `testing::store`.
///
/// Every update carries the version the caller read; a store must refuse a
/// stale one with [`StoreError::Conflict`] atomically (no read-then-write race).
#[async_trait]
pub trait Store:
    RequestStore
    + FlowStore
    + GroupStore
    + ReportStore
    + VmStore
    + UserStore
    + KeyStore
    + OutboxStore
    + RuleStore
    + QuotaStore
    + ShowbackStore
{
    /// Tells the store which clock its callers' time runs on. A store whose
    /// calls wait on something other than the caller's task (a thread of
    /// its own, a socket) reports each such wait to it through
    /// [`crate::backend::outside`], so a discrete-event clock does not
    /// let time jump while a caller waits for the store. The services call
    /// it when they are built; the first clock given is kept. Stores that
    /// answer within the call (like [`MemoryStore`]) need do nothing.
    fn report_waits_to(&self, clock: std::sync::Arc<dyn crate::backend::Clock>) {
        let _ = clock;
    }

    /// [`FlowStore::update_request_with_log`] and
    /// [`VmStore::update_vm`] as one atomic write: the engine records a
    /// step's change to the inventory (a VM retiring, retired, restored,
    /// resized) in the same write as the step's success, so neither is
    /// ever stored without the other; a record written retired frees its
    /// quota share in that write too ([`crate::quota::freed_by`]). `vm` replaces the record only if it
    /// is stored as `before` (the record as the caller read it: its
    /// version is checked, and a store may write only the columns that
    /// differ from it). Both versions are checked before anything is
    /// written; a stale record is refused with the conflict
    /// [`StoreError::is_vm_conflict`] recognises, a stale request with the
    /// request's. The default writes the record, then the request (a crash
    /// between them leaves a record change whose step runs again and finds
    /// it made); the stores Butler ships override it with one transaction.
    async fn update_request_with_vm(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
        vm: &VmRecord,
        before: &VmRecord,
    ) -> Result<(), StoreError> {
        self.update_vm(vm, before.version).await?;
        self.update_request_with_log(request, expected_version, log)
            .await?;
        if let Some(freed) = crate::quota::freed_by(vm, before) {
            // A release is never refused.
            let _ = self.hold(&[freed], &[]).await?;
        }
        Ok(())
    }
}
