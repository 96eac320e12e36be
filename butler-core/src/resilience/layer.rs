//! Deadlines and tracing spans around every backend call.

use crate::backend::{
    BackendError, Billing, BillingActivation, BillingStop, Capabilities, Clock, ClusterBackend,
    ClusterInfo, ErrorKind, ImageInfo, Monitor, MonitorRegistration, PowerChange, ProjectInfo,
    ProtectRequest, ProtectionGroup, RemoteSite, StorageContainerInfo, SubnetInfo, TaskId,
    TaskStatus, VmBrief, VmCreate, VmInfo, VmMove, VmReconfig, VmSize,
};
use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The default deadline of one backend call: long enough for a slow list of
/// a large cluster, far shorter than the engine's lease.
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(120);

/// Runs `fut` until it answers or `limit` has passed, then a typed
/// [`ErrorKind::Timeout`] naming `operation`.
///
/// `fut` runs as an [outside wait](crate::backend::outside): while it waits
/// on anything but the clock (a socket, a thread), a discrete-event clock
/// holds time still, so a real call is never cut by a virtual deadline that
/// did not really pass; while it sleeps on the clock (a simulated latency,
/// a task poll), time moves as usual. On such a clock `limit` also runs in
/// real time, so a real call that hangs still ends: the deadline is
/// whichever of the two passes first.
pub async fn deadline<T>(
    clock: &Arc<dyn Clock>,
    limit: Duration,
    operation: &str,
    fut: impl Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    let real_limit = async {
        if clock.is_virtual() {
            tokio::time::sleep(limit).await
        } else {
            std::future::pending().await
        }
    };
    tokio::select! {
        // The call first: its outside wait is open before the deadline's
        // sleep parks, so time cannot jump to the deadline in between.
        biased;
        out = crate::backend::outside(clock.clone(), fut) => out,
        _ = clock.sleep(limit) => Err(timed_out(operation, limit, "")),
        _ = real_limit => Err(timed_out(operation, limit, " of real time")),
    }
}

fn timed_out(operation: &str, limit: Duration, which: &str) -> BackendError {
    tracing::warn!(operation, ?limit, "call to the outside timed out");
    BackendError::new(
        ErrorKind::Timeout,
        operation,
        format!("no answer within {limit:?}{which} (the call deadline)"),
    )
}

/// A backend whose every call has a deadline and a tracing span.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use butler_core::backend::{ClusterBackend, SystemClock};
/// use butler_core::resilience::Guarded;
/// use std::{sync::Arc, time::Duration};
/// # struct Never;
/// # #[async_trait::async_trait]
/// # impl butler_core::backend::Monitor for Never {
/// #   async fn find(&self, _: &str) -> Result<Option<butler_core::backend::MonitorRegistration>, butler_core::backend::BackendError> { std::future::pending().await }
/// #   async fn register(&self, _: &butler_core::backend::MonitorRegistration) -> Result<(), butler_core::backend::BackendError> { std::future::pending().await }
/// #   async fn deregister(&self, _: &str) -> Result<(), butler_core::backend::BackendError> { std::future::pending().await }
/// # }
/// use butler_core::backend::{ErrorKind, Monitor};
/// let monitor: Arc<dyn Monitor> = Arc::new(Never);
/// let guarded = Guarded::monitor(monitor, Arc::new(SystemClock), Duration::from_millis(10));
/// let err = guarded.find("web01-r1").await.unwrap_err();
/// assert_eq!(err.kind, ErrorKind::Timeout);
/// # });
/// ```
pub struct Guarded<B: ?Sized> {
    inner: Arc<B>,
    clock: Arc<dyn Clock>,
    deadline: Duration,
    backend: &'static str,
}

impl<B: ?Sized> std::fmt::Debug for Guarded<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("backend", &self.backend)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<B: ?Sized> Guarded<B> {
    fn wrap(
        inner: Arc<B>,
        clock: Arc<dyn Clock>,
        deadline: Duration,
        backend: &'static str,
    ) -> Self {
        Guarded {
            inner,
            clock,
            deadline,
            backend,
        }
    }

    /// The deadline of one call.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    async fn call<T>(
        &self,
        operation: &'static str,
        extra: Duration,
        fut: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        let limit = self.deadline.saturating_add(extra);
        let span = tracing::debug_span!("backend_call", backend = self.backend, operation);
        deadline(&self.clock, limit, operation, fut)
            .instrument(span)
            .await
    }
}

impl Guarded<dyn ClusterBackend> {
    /// Guards a cluster backend.
    pub fn cluster(
        inner: Arc<dyn ClusterBackend>,
        clock: Arc<dyn Clock>,
        deadline: Duration,
    ) -> Self {
        Self::wrap(inner, clock, deadline, "cluster")
    }
}

impl Guarded<dyn Monitor> {
    /// Guards a monitoring backend.
    pub fn monitor(inner: Arc<dyn Monitor>, clock: Arc<dyn Clock>, deadline: Duration) -> Self {
        Self::wrap(inner, clock, deadline, "monitor")
    }
}

impl Guarded<dyn Billing> {
    /// Guards a billing backend.
    pub fn billing(inner: Arc<dyn Billing>, clock: Arc<dyn Clock>, deadline: Duration) -> Self {
        Self::wrap(inner, clock, deadline, "billing")
    }
}

const NONE: Duration = Duration::ZERO;

#[async_trait]
impl ClusterBackend for Guarded<dyn ClusterBackend> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn list_clusters(&self) -> Result<Vec<ClusterInfo>, BackendError> {
        self.call("list_clusters", NONE, self.inner.list_clusters())
            .await
    }
    async fn list_projects(&self) -> Result<Vec<ProjectInfo>, BackendError> {
        self.call("list_projects", NONE, self.inner.list_projects())
            .await
    }
    async fn list_subnets(&self) -> Result<Vec<SubnetInfo>, BackendError> {
        self.call("list_subnets", NONE, self.inner.list_subnets())
            .await
    }
    async fn list_images(&self) -> Result<Vec<ImageInfo>, BackendError> {
        self.call("list_images", NONE, self.inner.list_images())
            .await
    }
    async fn list_vms(&self, cluster: &str) -> Result<Vec<VmInfo>, BackendError> {
        self.call("list_vms", NONE, self.inner.list_vms(cluster))
            .await
    }
    async fn list_vm_briefs(&self, cluster: &str) -> Result<Vec<VmBrief>, BackendError> {
        self.call("list_vm_briefs", NONE, self.inner.list_vm_briefs(cluster))
            .await
    }
    async fn list_vm_sizes(&self, cluster: &str) -> Result<Vec<VmSize>, BackendError> {
        self.call("list_vm_sizes", NONE, self.inner.list_vm_sizes(cluster))
            .await
    }
    async fn list_vm_names(&self, cluster: &str) -> Result<Vec<String>, BackendError> {
        self.call("list_vm_names", NONE, self.inner.list_vm_names(cluster))
            .await
    }
    async fn find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError> {
        self.call("find_vm", NONE, self.inner.find_vm(name)).await
    }
    async fn create_vm(&self, vm: &VmCreate) -> Result<TaskId, BackendError> {
        self.call("create_vm", NONE, self.inner.create_vm(vm)).await
    }
    async fn task(&self, id: &TaskId) -> Result<TaskStatus, BackendError> {
        self.call("task", NONE, self.inner.task(id)).await
    }
    async fn wait_task(&self, id: &TaskId, max_wait: Duration) -> Result<TaskStatus, BackendError> {
        // A long-poll may legitimately take `max_wait` on top of the call.
        self.call("wait_task", max_wait, self.inner.wait_task(id, max_wait))
            .await
    }
    async fn list_protection_groups(
        &self,
        cluster: &str,
    ) -> Result<Vec<ProtectionGroup>, BackendError> {
        self.call(
            "list_protection_groups",
            NONE,
            self.inner.list_protection_groups(cluster),
        )
        .await
    }
    async fn protection_groups_of(
        &self,
        cluster: &str,
        vm_name: &str,
    ) -> Result<Vec<String>, BackendError> {
        self.call(
            "protection_groups_of",
            NONE,
            self.inner.protection_groups_of(cluster, vm_name),
        )
        .await
    }
    async fn remote_sites(&self, cluster: &str) -> Result<Vec<RemoteSite>, BackendError> {
        self.call("remote_sites", NONE, self.inner.remote_sites(cluster))
            .await
    }
    async fn protect_vm(
        &self,
        cluster: &str,
        req: &ProtectRequest,
    ) -> Result<String, BackendError> {
        self.call("protect_vm", NONE, self.inner.protect_vm(cluster, req))
            .await
    }
    async fn migrate_protection_group(
        &self,
        source: &str,
        group: &str,
        destination: &str,
    ) -> Result<(), BackendError> {
        self.call(
            "migrate_protection_group",
            NONE,
            self.inner
                .migrate_protection_group(source, group, destination),
        )
        .await
    }
    async fn move_protection_group(
        &self,
        source: &str,
        group: &str,
        to: &VmMove,
    ) -> Result<Option<TaskId>, BackendError> {
        self.call(
            "move_protection_group",
            NONE,
            self.inner.move_protection_group(source, group, to),
        )
        .await
    }
    async fn set_vm_project(&self, vm_uuid: &str, project: &str) -> Result<(), BackendError> {
        self.call(
            "set_vm_project",
            NONE,
            self.inner.set_vm_project(vm_uuid, project),
        )
        .await
    }
    async fn set_power(&self, vm_uuid: &str, change: PowerChange) -> Result<(), BackendError> {
        self.call("set_power", NONE, self.inner.set_power(vm_uuid, change))
            .await
    }
    async fn migrate_vm(&self, vm_uuid: &str, to: &VmMove) -> Result<TaskId, BackendError> {
        self.call("migrate_vm", NONE, self.inner.migrate_vm(vm_uuid, to))
            .await
    }
    async fn check_vm_migration(
        &self,
        vm_uuid: &str,
        to: &VmMove,
    ) -> Result<Vec<String>, BackendError> {
        self.call(
            "check_vm_migration",
            NONE,
            self.inner.check_vm_migration(vm_uuid, to),
        )
        .await
    }
    async fn check_vm_migrations(
        &self,
        vm_names: &[String],
        to: &VmMove,
    ) -> Result<Vec<Vec<String>>, BackendError> {
        self.call(
            "check_vm_migrations",
            NONE,
            self.inner.check_vm_migrations(vm_names, to),
        )
        .await
    }
    async fn unprotect_vm(
        &self,
        cluster: &str,
        group: &str,
        vm_name: &str,
    ) -> Result<(), BackendError> {
        self.call(
            "unprotect_vm",
            NONE,
            self.inner.unprotect_vm(cluster, group, vm_name),
        )
        .await
    }
    async fn delete_vm(&self, vm_uuid: &str) -> Result<TaskId, BackendError> {
        self.call("delete_vm", NONE, self.inner.delete_vm(vm_uuid))
            .await
    }
    async fn reconfigure_vm(&self, vm_uuid: &str, to: &VmReconfig) -> Result<(), BackendError> {
        self.call(
            "reconfigure_vm",
            NONE,
            self.inner.reconfigure_vm(vm_uuid, to),
        )
        .await
    }
    async fn list_storage_containers(&self) -> Result<Vec<StorageContainerInfo>, BackendError> {
        self.call(
            "list_storage_containers",
            NONE,
            self.inner.list_storage_containers(),
        )
        .await
    }
    async fn category_values(&self, key: &str) -> Result<Vec<String>, BackendError> {
        self.call("category_values", NONE, self.inner.category_values(key))
            .await
    }
}

#[async_trait]
impl Monitor for Guarded<dyn Monitor> {
    async fn find(&self, vm_name: &str) -> Result<Option<MonitorRegistration>, BackendError> {
        self.call("monitor_find", NONE, self.inner.find(vm_name))
            .await
    }
    async fn register(&self, reg: &MonitorRegistration) -> Result<(), BackendError> {
        self.call("monitor_register", NONE, self.inner.register(reg))
            .await
    }
    async fn deregister(&self, vm_name: &str) -> Result<(), BackendError> {
        self.call("monitor_deregister", NONE, self.inner.deregister(vm_name))
            .await
    }
}

#[async_trait]
impl Billing for Guarded<dyn Billing> {
    async fn is_active(&self, vm_name: &str) -> Result<bool, BackendError> {
        self.call("billing_find", NONE, self.inner.is_active(vm_name))
            .await
    }
    fn looks_up(&self) -> bool {
        self.inner.looks_up()
    }
    async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError> {
        self.call("billing_activate", NONE, self.inner.activate(act))
            .await
    }
    async fn stop(&self, stop: &BillingStop) -> Result<(), BackendError> {
        self.call("billing_stop", NONE, self.inner.stop(stop)).await
    }
    async fn change(&self, act: &BillingActivation) -> Result<(), BackendError> {
        self.call("billing_change", NONE, self.inner.change(act))
            .await
    }
    fn reports_charges(&self) -> bool {
        self.inner.reports_charges()
    }
    async fn charges(
        &self,
        month: crate::showback::Month,
    ) -> Result<Vec<crate::backend::Charge>, BackendError> {
        self.call("billing_charges", NONE, self.inner.charges(month))
            .await
    }
}
