//! [`SimPlatform`]: the simulated platform and its trait implementations.

use crate::clock::SimClock;
use crate::faults::{fault_error, FaultConfig, FaultKind, FaultPlan, Op, ScriptedFault};
use crate::world::{Effect, SimPg, Timings, World};
use async_trait::async_trait;
use butler_core::backend::{
    BackendError, Billing, BillingActivation, BillingStop, Capabilities, Capability, Clock,
    ClusterBackend, ClusterInfo, ErrorKind, ImageInfo, Monitor, MonitorRegistration, PowerChange,
    PowerState, ProjectInfo, ProtectRequest, ProtectionGroup, RemoteSite, ScheduleKind,
    StorageContainerInfo, SubnetInfo, TaskId, TaskStatus, VmBrief, VmCreate, VmInfo, VmReconfig,
    VmState,
};
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

mod backend;
mod builder;
mod inspect;

pub use builder::SimBuilder;

/// A simulated IaaS platform: clusters, projects, subnets, images, VMs,
/// tasks, protection groups with schedules and replicas, migration,
/// monitoring and billing — with fault injection and call counters.
///
/// Cheap to clone (a handle); every clone sees the same platform.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use butler_core::backend::{ClusterBackend, Clock, TaskState};
/// use butler_sim::{FaultConfig, Op, SimPlatform};
/// use std::time::Duration;
///
/// let sim = SimPlatform::demo(42);
/// // One in ten create calls fails with a transient error.
/// sim.set_faults(Op::CreateVm, FaultConfig::transient(0.1));
/// let task = loop {
///     match sim.create_vm(&sim.sample_vm("app01")).await {
///         Ok(t) => break t,
///         Err(e) => assert!(e.is_retryable()),
///     }
/// };
/// // Time is virtual: advance it instead of waiting.
/// sim.clock().advance(Duration::from_secs(60));
/// assert_eq!(sim.task(&task).await.unwrap().state, TaskState::Succeeded);
/// assert_eq!(sim.vms_named("app01"), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct SimPlatform {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<SimClock>,
    /// The optional features it offers (all by default).
    capabilities: Mutex<Capabilities>,
    world: Mutex<World>,
    faults: Mutex<(FaultPlan, ChaCha8Rng)>,
    calls: Mutex<BTreeMap<Op, u64>>,
}

impl std::fmt::Debug for SimPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.world();
        f.debug_struct("SimPlatform")
            .field("clusters", &w.clusters.len())
            .field("vms", &w.vms.len())
            .field("protection_groups", &w.pgs.len())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The simulator never leaves its state half-updated across a panic
    // point, so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimPlatform {
    fn with_remote_sites(self, remote: BTreeMap<String, Vec<String>>) -> Self {
        self.world().remote_sites = remote;
        self
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.inner.world)
    }

    /// The platform's clock.
    pub fn clock(&self) -> Arc<SimClock> {
        self.inner.clock.clone()
    }

    /// The current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Random faults for every operation without its own setting.
    pub fn set_default_faults(&self, cfg: FaultConfig) {
        lock(&self.inner.faults).0.default = cfg;
    }

    /// Offers only `capabilities`: calls needing another answer
    /// `Unsupported`, as a platform without that feature would (for tests
    /// of what callers do then).
    pub fn set_capabilities(&self, capabilities: Capabilities) {
        *lock(&self.inner.capabilities) = capabilities;
    }

    /// Whether `capability` is switched on.
    fn has(&self, capability: Capability) -> bool {
        lock(&self.inner.capabilities).has(capability)
    }

    /// A VM stays out of the name look-up (`find_vm`) for `lag` after its
    /// create, as a platform whose listing lags behind its writes: a
    /// client that trusts the look-up alone after a lost reply creates
    /// twice (with [`Capability::IdempotentCreate`] the request id
    /// prevents it).
    pub fn set_listing_lag(&self, lag: std::time::Duration) {
        self.world().listing_lag = lag;
    }

    /// `Unsupported` for `operation` when `capability` is switched off.
    fn offers(&self, capability: Capability, operation: &str) -> Result<(), BackendError> {
        if lock(&self.inner.capabilities).has(capability) {
            Ok(())
        } else {
            Err(BackendError::unsupported(operation, capability))
        }
    }

    /// `Unsupported` for a move the platform does not make: any without
    /// [`Capability::VmMigration`], a live one without
    /// [`Capability::LiveMigration`].
    fn offers_move(
        &self,
        to: &butler_core::backend::VmMove,
        operation: &str,
    ) -> Result<(), BackendError> {
        self.offers(Capability::VmMigration, operation)?;
        if to.live {
            self.offers(Capability::LiveMigration, operation)?;
        }
        Ok(())
    }

    /// Random faults for one operation.
    pub fn set_faults(&self, op: Op, cfg: FaultConfig) {
        lock(&self.inner.faults).0.per_op.insert(op, cfg);
    }

    /// Removes every random and scripted fault.
    pub fn clear_faults(&self) {
        let mut f = lock(&self.inner.faults);
        f.0 = FaultPlan::default();
    }

    /// Adds a one-shot scripted fault.
    pub fn script_fault(&self, fault: ScriptedFault) {
        lock(&self.inner.faults).0.script(fault);
    }

    /// Calls made to `op` so far (including failed ones).
    pub fn calls(&self, op: Op) -> u64 {
        lock(&self.inner.calls).get(&op).copied().unwrap_or(0)
    }

    /// Calls made to every operation.
    pub fn all_calls(&self) -> BTreeMap<Op, u64> {
        lock(&self.inner.calls).clone()
    }

    /// Total calls to all operations.
    pub fn total_calls(&self) -> u64 {
        lock(&self.inner.calls).values().sum()
    }

    /// Resets the call counters.
    pub fn reset_calls(&self) {
        lock(&self.inner.calls).clear();
    }

    /// Counts a call, applies due effects, waits the latency and decides the
    /// fault. `Err` means the call fails before doing its work.
    async fn enter(&self, op: Op, key: Option<&str>) -> Result<Option<FaultKind>, BackendError> {
        *lock(&self.inner.calls).entry(op).or_insert(0) += 1;
        let (fault, latency) = {
            let mut f = lock(&self.inner.faults);
            let (plan, rng) = &mut *f;
            plan.decide(op, key, rng)
        };
        if !latency.is_zero() {
            self.inner.clock.sleep(latency).await;
        }
        let now = self.now();
        self.world().settle(now);
        match fault {
            Some(FaultKind::LoseReply) if op.is_mutation() => Ok(Some(FaultKind::LoseReply)),
            Some(FaultKind::LoseReply) | None => Ok(None),
            Some(kind) => Err(fault_error(op, kind)),
        }
    }

    /// Turns a successful mutation into a lost reply when so decided.
    fn exit<T>(op: Op, fault: Option<FaultKind>, ok: T) -> Result<T, BackendError> {
        match fault {
            Some(FaultKind::LoseReply) => Err(fault_error(op, FaultKind::LoseReply)),
            _ => Ok(ok),
        }
    }

    // ---- inspection and setup, for tests, demos and benchmarks ----
}

fn invalid(op: Op, msg: String) -> BackendError {
    BackendError::new(ErrorKind::Invalid, op.as_str(), msg)
}

fn not_found(op: Op, msg: String) -> BackendError {
    BackendError::new(ErrorKind::NotFound, op.as_str(), msg)
}
