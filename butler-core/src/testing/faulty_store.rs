//! A [`Store`] that forwards to another and fails chosen calls, for tests
//! of what the engine and the services do when the store fails mid-way.

use crate::auth::{User, UserAudit};
use crate::inventory::{VmId, VmQuery, VmRecord};
use crate::migration::{
    GroupError, GroupId, GroupVmsEdit, GroupVmsEdited, MigrationGroup, MigrationReport, RunId,
    VmReport,
};
use crate::request::{Request, RequestId, RequestState};
use crate::store::{
    Delivery, DeliveryOutcome, FlowStore, GroupStore, KeyStore, OutboxStore, Page, QuotaStore,
    ReportStore, RequestQuery, RequestStore, RuleStore, SecretKey, ShowbackStore, StepLogEntry,
    Store, StoreError, UserStore, VmStore,
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Forwards every call to `inner`, except the ones a plan fails: the
/// `n`-th call (counted from 1) of an operation named like the [`Store`]
/// method fails once with [`StoreError::Backend`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use butler_core::store::{prelude::*, MemoryStore};
/// use butler_core::testing::FaultyStore;
/// use std::sync::Arc;
/// let store = FaultyStore::new(Arc::new(MemoryStore::new()));
/// store.fail_call("next_request_id", 2);
/// assert!(store.next_request_id().await.is_ok());
/// assert!(store.next_request_id().await.is_err());
/// assert!(store.next_request_id().await.is_ok());
/// assert_eq!(store.failures(), 1);
/// # });
/// ```
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    plan: Mutex<Plan>,
}

#[derive(Default)]
struct Plan {
    calls: HashMap<&'static str, u64>,
    fail_at: HashMap<&'static str, Vec<u64>>,
    before: HashMap<(&'static str, u64), Meddling>,
    failures: u64,
}

/// What another writer does to the inner store just before a call.
type Meddling = Box<dyn FnOnce(Arc<dyn Store>) -> BoxFuture + Send>;
type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl FaultyStore {
    /// A store that fails nothing until told to.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        FaultyStore {
            inner,
            plan: Mutex::new(Plan::default()),
        }
    }

    /// Fails the `nth` call of `operation` (counted from 1 over the store's
    /// life), once.
    pub fn fail_call(&self, operation: &'static str, nth: u64) {
        self.lock().fail_at.entry(operation).or_default().push(nth);
    }

    /// Runs `meddle` on the inner store just before the `nth` call of
    /// `operation` reaches it, once: another writer's change landing
    /// between what a caller read and what it writes (the reconciler
    /// changing a VM record while a step runs, say).
    pub fn before_call<F, Fut>(&self, operation: &'static str, nth: u64, meddle: F)
    where
        F: FnOnce(Arc<dyn Store>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.lock()
            .before
            .insert((operation, nth), Box::new(move |s| Box::pin(meddle(s))));
    }

    /// How many calls failed by plan so far.
    pub fn failures(&self) -> u64 {
        self.lock().failures
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn gate(&self, operation: &'static str) -> Result<(), StoreError> {
        let meddling = self.count(operation)?;
        if let Some(meddle) = meddling {
            meddle(self.inner.clone()).await;
        }
        Ok(())
    }

    /// Counts the call; its planned failure, or what meddles before it.
    fn count(&self, operation: &'static str) -> Result<Option<Meddling>, StoreError> {
        let mut plan = self.lock();
        let n = {
            let count = plan.calls.entry(operation).or_insert(0);
            *count += 1;
            *count
        };
        let hit = plan
            .fail_at
            .get_mut(operation)
            .and_then(|at| at.iter().position(|&x| x == n).map(|i| at.swap_remove(i)))
            .is_some();
        if hit {
            plan.failures += 1;
            return Err(StoreError::Backend(
                format!("injected failure of {operation} call {n}").into(),
            ));
        }
        Ok(plan.before.remove(&(operation, n)))
    }
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore").finish_non_exhaustive()
    }
}

/// Every method of a [`Store`] port, gated then forwarded (the provided
/// ones too, so the inner store's own versions run).
macro_rules! forward {
    ($port:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )* }) => {
        #[async_trait::async_trait]
        impl $port for FaultyStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.gate(stringify!($name)).await?;
                    self.inner.$name($($arg),*).await
                }
            )*
        }
    };
}

#[async_trait::async_trait]
impl Store for FaultyStore {
    fn report_waits_to(&self, clock: Arc<dyn crate::backend::Clock>) {
        self.inner.report_waits_to(clock)
    }

    async fn update_request_with_vm(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
        vm: &VmRecord,
        before: &VmRecord,
    ) -> Result<(), StoreError> {
        self.gate("update_request_with_vm").await?;
        self.inner
            .update_request_with_vm(request, expected_version, log, vm, before)
            .await
    }
}

forward!(RequestStore {
    fn next_request_id(&self) -> Result<RequestId, StoreError>;
    fn insert_request(&self, request: &Request) -> Result<(), StoreError>;
    fn get_request(&self, id: RequestId) -> Result<Request, StoreError>;
    fn update_request(&self, request: &Request, expected_version: u64) -> Result<(), StoreError>;
    fn list_requests(&self, query: &RequestQuery) -> Result<Page<Request>, StoreError>;
    fn request_ids_in_states(&self, states: &[RequestState]) -> Result<Vec<RequestId>, StoreError>;
});

forward!(FlowStore {
    fn append_step_log(&self, id: RequestId, entry: &StepLogEntry) -> Result<(), StoreError>;
    fn update_request_with_log(&self, request: &Request, expected_version: u64, log: &[StepLogEntry]) -> Result<(), StoreError>;
    fn step_log(&self, id: RequestId) -> Result<Vec<StepLogEntry>, StoreError>;
    fn acquire_lease(&self, id: RequestId, owner: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Option<u64>, StoreError>;
    fn release_lease(&self, id: RequestId, owner: &str) -> Result<(), StoreError>;
});

forward!(VmStore {
    fn next_vm_id(&self) -> Result<VmId, StoreError>;
    fn insert_vm(&self, vm: &VmRecord) -> Result<(), StoreError>;
    fn get_vm(&self, id: VmId) -> Result<VmRecord, StoreError>;
    fn find_vm_named(&self, name: &str) -> Result<Option<VmRecord>, StoreError>;
    fn update_vm(&self, vm: &VmRecord, expected_version: u64) -> Result<(), StoreError>;
    fn list_vms(&self, query: &VmQuery) -> Result<Page<VmRecord>, StoreError>;
});

forward!(GroupStore {
    fn next_group_id(&self) -> Result<GroupId, StoreError>;
    fn insert_group(&self, group: &MigrationGroup) -> Result<(), StoreError>;
    fn get_group(&self, id: GroupId) -> Result<MigrationGroup, StoreError>;
    fn group_version(&self, id: GroupId) -> Result<u64, StoreError>;
    fn update_group(&self, group: &MigrationGroup, expected_version: u64) -> Result<(), StoreError>;
    fn update_group_header(&self, group: &MigrationGroup, expected_version: u64) -> Result<(), StoreError>;
    fn change_group_vms(&self, id: GroupId, expected_version: u64, edit: &GroupVmsEdit, by: &str, at: DateTime<Utc>) -> Result<Result<GroupVmsEdited, GroupError>, StoreError>;
    fn delete_group(&self, id: GroupId, expected_version: u64) -> Result<(), StoreError>;
    fn find_groups(&self, name_part: &str) -> Result<Vec<MigrationGroup>, StoreError>;
});

forward!(ReportStore {
    fn next_run_id(&self) -> Result<RunId, StoreError>;
    fn save_report(&self, report: &MigrationReport) -> Result<(), StoreError>;
    fn get_report(&self, id: RunId) -> Result<MigrationReport, StoreError>;
    fn list_reports(&self, group: GroupId) -> Result<Vec<MigrationReport>, StoreError>;
    fn append_report_lines(&self, run: RunId, lines: &[VmReport]) -> Result<(), StoreError>;
    fn unfinished_reports(&self) -> Result<Vec<MigrationReport>, StoreError>;
    fn request_cancel(&self, run: RunId) -> Result<(), StoreError>;
    fn cancel_requested(&self, run: RunId) -> Result<bool, StoreError>;
});

forward!(UserStore {
    fn insert_user(&self, user: &User, audit: &UserAudit) -> Result<(), StoreError>;
    fn get_user(&self, name: &str) -> Result<User, StoreError>;
    fn update_user(&self, user: &User, expected_version: u64, audit: &UserAudit) -> Result<(), StoreError>;
    fn delete_user(&self, name: &str, expected_version: u64, audit: &UserAudit) -> Result<(), StoreError>;
    fn list_users(&self) -> Result<Vec<User>, StoreError>;
    fn user_audit(&self) -> Result<Vec<UserAudit>, StoreError>;
});

forward!(RuleStore {
    fn add_rule_book(&self, book: &crate::rules::RuleBook) -> Result<(), StoreError>;
    fn rule_books(&self) -> Result<Vec<crate::rules::RuleBook>, StoreError>;
    fn newer_rule_book(&self, than: u32) -> Result<Option<crate::rules::RuleBook>, StoreError>;
});

forward!(QuotaStore {
    fn hold(&self, changes: &[crate::quota::HoldChange], limits: &[(crate::quota::Scope, crate::quota::Limits)]) -> Result<Result<Vec<crate::quota::Usage>, crate::quota::QuotaExceeded>, StoreError>;
    fn usage(&self, scopes: &[crate::quota::Scope]) -> Result<Vec<crate::quota::Usage>, StoreError>;
    fn all_usage(&self) -> Result<Vec<crate::quota::Usage>, StoreError>;
    fn held(&self, holder: crate::quota::Holder) -> Result<Option<crate::quota::Hold>, StoreError>;
    fn replace_holds(&self, holds: &[crate::quota::Hold], first: bool) -> Result<bool, StoreError>;
    fn holds_counted(&self) -> Result<bool, StoreError>;
});

forward!(ShowbackStore {
    fn close_month(&self, month: &crate::showback::ClosedMonth, lines: &[crate::showback::VmShowback]) -> Result<(), StoreError>;
    fn closed_months(&self) -> Result<Vec<crate::showback::ClosedMonth>, StoreError>;
    fn closed_lines(&self, month: crate::showback::Month, owner: Option<&str>, after: Option<VmId>, limit: usize) -> Result<Vec<crate::showback::VmShowback>, StoreError>;
});

forward!(KeyStore {
    fn secret_key(&self, purpose: &str) -> Result<SecretKey, StoreError>;
});

forward!(OutboxStore {
    fn register_notifier(&self, name: &str) -> Result<(), StoreError>;
    fn claim_notifier(&self, name: &str, owner: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError>;
    fn due_deliveries(&self, name: &str, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>, StoreError>;
    fn record_deliveries(&self, name: &str, outcomes: &[DeliveryOutcome]) -> Result<(), StoreError>;
    fn failed_deliveries(&self, limit: usize) -> Result<Vec<Delivery>, StoreError>;
});
