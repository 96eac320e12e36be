//! The provisioning engine (SPEC §5): takes every `Approved` request through
//! create VM → protect → monitoring → billing → `Completed`, by itself.
//!
//! - **Flows as data**: the steps of a request's flow, in order, are a list
//!   in [`crate::request::flow`]; each step's action is a plain async
//!   function found in a table (`provisioning::ACTIONS`), given the request,
//!   the settings, the step's deadline and the outputs of earlier steps.
//!   An action's output (create_vm: the VM's id) is kept in the step log
//!   and read back when a request is resumed. This executor is the one
//!   every flow runs on.
//!
//! - **Saga-style step log**: each attempt is written to the store as
//!   `Started` *before* its side effect and `Succeeded`/`Failed` after; the
//!   request's own state (`Provisioning` at step *s*, attempt *n*) is the
//!   resume point. A step's outcome, the request's new version and the next
//!   step's `Started` line are one store write, so a step costs one write
//!   plus its side effect. After a restart the engine resumes every request in
//!   `Approved` or `Provisioning`.
//! - **Exactly once**: every step looks up by the deterministic VM name
//!   (`<name>-r<number>`) before acting, so a lost reply, a crash or a
//!   repeated step never makes a second VM, registration or activation.
//! - **Retries**: bounded attempts with exponential backoff and jitter on
//!   retryable errors, within a deadline per step ([`RetryPolicy`]); then
//!   `Error` naming step, attempts and last reason. An Admin's retry resumes
//!   at the failed step.
//! - **Concurrency**: at most [`EngineConfig::max_in_flight`] requests at
//!   once; a lease in the store keeps two engines sharing one store off the
//!   same request.
//! - Runs as a tokio task ([`Engine::start`]) with graceful shutdown, or
//!   on demand ([`Engine::run_until_idle`]).

mod decommission;
mod extend;
mod flow;
mod hooks;
mod provisioning;
mod reconfigure;
mod restore;

pub use crate::resilience::RetryPolicy;
pub use hooks::{HookAction, HookPoint, Hooks, NoHooks};

use crate::backend::{Billing, ClusterBackend, Monitor, Schedule, ScheduleKind};
use crate::error::ButlerError;
use crate::ledger::EngineLedger;
use crate::request::{EngineAction, ProvisioningStep, Request, RequestId, RequestState};
use crate::service::RequestService;
use crate::store::{StepLogEntry, StepPhase, StoreError};
use chrono::{DateTime, Utc};
pub(crate) use flow::RecordWrite;
use flow::{Backends, StepCtx, StepFault, StepOutputs};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// How VMs are protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionConfig {
    /// Protection-group name prefix (`PD-` gives `PD-web01-r7`).
    pub group_prefix: String,
    /// Local snapshot schedule (its `kind`/`remote_site` are ignored).
    pub local: Schedule,
    /// Remote replication schedule (its `kind`/`remote_site` are ignored).
    pub remote: Schedule,
    /// The remote site to replicate to, per cluster, where the deployment
    /// chooses, named by the cluster it points at
    /// ([`RemoteSite::target`](crate::backend::RemoteSite::target)). A cluster not named here replicates to the only remote
    /// site the platform lists for it ([`ClusterBackend::remote_sites`]);
    /// a cluster with several must be named here.
    pub remote_sites: BTreeMap<String, String>,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        ProtectionConfig {
            group_prefix: "PD-".into(),
            local: Schedule::local(60, 24),
            remote: Schedule {
                kind: ScheduleKind::Remote,
                every_minutes: 60,
                retention: 24,
                remote_site: None,
            },
            remote_sites: BTreeMap::new(),
        }
    }
}

/// A fresh engine id: `<host>-<pid>-<random>`, the default of
/// [`EngineConfig::engine_id`].
pub fn unique_engine_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}-{:08x}", std::process::id(), random_u32())
}

pub(crate) fn random_u32() -> u32 {
    let mut r = [0u8; 4];
    // Without an entropy source the time's nanoseconds still separate processes.
    if getrandom::getrandom(&mut r).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        r = nanos.to_le_bytes();
    }
    u32::from_le_bytes(r)
}

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// This instance's name in the step log, the history and the traces;
    /// default [`unique_engine_id`]. Leases are held by the name and a
    /// random epoch of the [`Engine`] value, so two live engines never
    /// share a lease even when configured with the same name (two hosts
    /// sharing one configuration file), and a restarted process takes its
    /// old requests over only when their leases run out (`lease_ttl`).
    pub engine_id: String,
    /// Requests processed at once.
    pub max_in_flight: usize,
    /// Retries and deadlines.
    pub retry: RetryPolicy,
    /// Interval between polls of a platform task.
    pub task_poll: Duration,
    /// Interval between looks for new work when running in the background.
    pub poll_interval: Duration,
    /// How long a lease lasts (renewed at every step).
    pub lease_ttl: Duration,
    /// Deadline of one backend call ([`crate::resilience::Guarded`]); keep
    /// it well under `lease_ttl`.
    pub call_deadline: Duration,
    /// Protection settings.
    pub protection: ProtectionConfig,
    /// Register VMs with monitoring (SPEC §5). When off, the step is
    /// recorded in history as "skipped by configuration".
    pub monitoring: bool,
    /// Activate billing (SPEC §5). When off, the step is recorded in
    /// history as "skipped by configuration".
    pub billing: bool,
    /// How long the monitoring step waits for the platform to report the
    /// new VM's IP address (polled every `task_poll`); past it the step
    /// fails with a retryable "no IP address" error.
    #[serde(default = "default_address_wait")]
    pub address_wait: Duration,
    /// How long the decommission flow waits for a guest shutdown before it
    /// powers the VM off hard.
    #[serde(default = "default_shutdown_wait")]
    pub shutdown_wait: Duration,
    /// How long a retired VM is kept powered off before it is deleted
    /// (default zero: deleted at once). Until then its owner or an Admin
    /// can restore it ([`RequestService::restore`]); once it is over,
    /// Butler asks and approves the deletion itself (the lease watch's
    /// pass, [`crate::inventory::LeaseWatch::sweep`]).
    #[serde(default)]
    pub retirement_grace: Duration,
}

fn default_shutdown_wait() -> Duration {
    Duration::from_secs(5 * 60)
}

fn default_address_wait() -> Duration {
    Duration::from_secs(10 * 60)
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            engine_id: unique_engine_id(),
            max_in_flight: 16,
            retry: RetryPolicy::default(),
            task_poll: Duration::from_secs(5),
            poll_interval: Duration::from_secs(2),
            lease_ttl: Duration::from_secs(15 * 60),
            call_deadline: crate::resilience::DEFAULT_CALL_DEADLINE,
            protection: ProtectionConfig::default(),
            monitoring: true,
            billing: true,
            address_wait: default_address_wait(),
            shutdown_wait: default_shutdown_wait(),
            retirement_grace: Duration::ZERO,
        }
    }
}

/// The monitoring or billing backend of a deployment that switched the step
/// off: every call is a permanent error (the engine never makes one).
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchedOff;

#[async_trait::async_trait]
impl crate::backend::Monitor for SwitchedOff {
    async fn find(
        &self,
        _: &str,
    ) -> Result<Option<crate::backend::MonitorRegistration>, crate::backend::BackendError> {
        Err(off("monitoring"))
    }
    async fn register(
        &self,
        _: &crate::backend::MonitorRegistration,
    ) -> Result<(), crate::backend::BackendError> {
        Err(off("monitoring"))
    }
    async fn deregister(&self, _: &str) -> Result<(), crate::backend::BackendError> {
        Err(off("monitoring"))
    }
}

#[async_trait::async_trait]
impl crate::backend::Billing for SwitchedOff {
    async fn is_active(&self, _: &str) -> Result<bool, crate::backend::BackendError> {
        Err(off("billing"))
    }
    async fn activate(
        &self,
        _: &crate::backend::BillingActivation,
    ) -> Result<(), crate::backend::BackendError> {
        Err(off("billing"))
    }
    async fn stop(
        &self,
        _: &crate::backend::BillingStop,
    ) -> Result<(), crate::backend::BackendError> {
        Err(off("billing"))
    }
    async fn change(
        &self,
        _: &crate::backend::BillingActivation,
    ) -> Result<(), crate::backend::BackendError> {
        Err(off("billing"))
    }
}

fn off(what: &str) -> crate::backend::BackendError {
    crate::backend::BackendError::new(
        crate::backend::ErrorKind::Permanent,
        what,
        format!("{what} is switched off in this deployment"),
    )
}

/// Why the engine stopped working on a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A test hook simulated a process death.
    #[error("engine crashed (injected) at {0:?} of request {1}")]
    Crashed(HookPoint, RequestId),
    /// Another engine holds the request's lease now: this one stopped its
    /// step without recording anything (the next owner looks the side
    /// effect up before acting).
    #[error("lost the lease on request {0}")]
    LeaseLost(RequestId),
    /// The store or the workflow refused something.
    #[error(transparent)]
    Butler(#[from] ButlerError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        EngineError::Butler(e.into())
    }
}

/// What one pass of [`Engine::run_until_idle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Requests that ended `Completed`.
    pub completed: usize,
    /// Requests that ended `Error`.
    pub failed: usize,
    /// Requests skipped (leased by another engine, or changed meanwhile).
    pub skipped: usize,
}

/// The provisioning engine.
pub struct Engine {
    ledger: EngineLedger,
    backends: Backends,
    config: EngineConfig,
    hooks: Arc<dyn Hooks>,
    in_flight: Mutex<HashSet<RequestId>>,
    /// Who holds this engine's leases: `engine_id` and a random epoch.
    lease_owner: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A backend for a step the deployment switched off
    /// ([`EngineConfig::monitoring`], [`EngineConfig::billing`]): never
    /// called, and says so if it is.
    pub fn switched_off() -> Arc<SwitchedOff> {
        Arc::new(SwitchedOff)
    }

    /// An engine over the service's store and clock and the given backends.
    pub fn new(
        svc: Arc<RequestService>,
        cluster: Arc<dyn ClusterBackend>,
        monitor: Arc<dyn Monitor>,
        billing: Arc<dyn Billing>,
        config: EngineConfig,
    ) -> Engine {
        use crate::resilience::Guarded;
        let ledger = svc.engine_ledger();
        let clock = ledger.clock.clone();
        let store = ledger.store.clone();
        let d = config.call_deadline;
        Engine {
            ledger,
            backends: Backends {
                store,
                cluster: Arc::new(Guarded::cluster(cluster, clock.clone(), d)),
                monitor: Arc::new(Guarded::monitor(monitor, clock.clone(), d)),
                billing: Arc::new(Guarded::billing(billing, clock.clone(), d)),
                clock,
            },
            lease_owner: format!("{}#{:08x}", config.engine_id, random_u32()),
            config,
            hooks: Arc::new(NoHooks),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// Installs test hooks (crash and repeat injection).
    pub fn with_hooks(mut self, hooks: Arc<dyn Hooks>) -> Engine {
        self.hooks = hooks;
        self
    }

    /// The billing backend the engine bills with, every call under the
    /// engine's call deadline (showback asks it what it charged,
    /// [`crate::service::RequestService::compare_with_billing`]).
    pub fn billing(&self) -> Arc<dyn crate::backend::Billing> {
        self.backends.billing.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Processes every request in `Approved` or `Provisioning` until none is
    /// left that this engine may take, `max_in_flight` at a time. An
    /// injected crash stops everything at once, like a process death.
    pub async fn run_until_idle(self: &Arc<Self>) -> Result<RunSummary, EngineError> {
        self.run_inner(None).await
    }

    async fn run_inner(
        self: &Arc<Self>,
        stop: Option<watch::Receiver<bool>>,
    ) -> Result<RunSummary, EngineError> {
        let mut summary = RunSummary::default();
        let stopping =
            |stop: &Option<watch::Receiver<bool>>| stop.as_ref().is_some_and(|s| *s.borrow());
        loop {
            let work = self
                .ledger
                .store
                .request_ids_in_states(&[RequestState::Approved, RequestState::Provisioning])
                .await?;
            let work: Vec<RequestId> = {
                let busy = self.lock_in_flight();
                work.into_iter().filter(|id| !busy.contains(id)).collect()
            };
            if work.is_empty() || stopping(&stop) {
                return Ok(summary);
            }
            let before = summary.clone();
            let sem = Arc::new(Semaphore::new(self.config.max_in_flight.max(1)));
            let mut set = JoinSet::new();
            // The first error ends the pass, but only after every task in
            // flight has been reaped: dropping the set would abort them
            // half way (their leases held, their steps unrecorded).
            let mut failed: Option<EngineError> = None;
            for id in work {
                if stopping(&stop) || failed.is_some() {
                    break;
                }
                let Ok(permit) = sem.clone().acquire_owned().await else {
                    break;
                };
                let me = self.clone();
                set.spawn(async move {
                    let out = me.process_worked(id).await;
                    drop(permit);
                    out
                });
                // Reap finished ones as we go so an error stops new work early.
                while let Some(done) = set.try_join_next() {
                    tally(&mut summary, &mut failed, done);
                }
                match failed {
                    // An injected process death: everything stops at once.
                    Some(crash @ EngineError::Crashed(..)) => return Err(crash),
                    other => failed = other,
                }
            }
            while let Some(done) = set.join_next().await {
                tally(&mut summary, &mut failed, done);
                if matches!(failed, Some(EngineError::Crashed(..))) {
                    break;
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
            if summary.completed == before.completed && summary.failed == before.failed {
                // Nothing this engine can finish right now (leased elsewhere).
                return Ok(summary);
            }
        }
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<RequestId>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one request as far as it goes: `Completed`, `Error`, or
    /// untouched when another engine holds its lease.
    #[tracing::instrument(name = "request", skip(self), fields(request = %id, engine = %self.config.engine_id))]
    pub async fn process(&self, id: RequestId) -> Result<RequestState, EngineError> {
        self.process_worked(id).await.map(|(state, _)| state)
    }

    /// As [`process`](Self::process), and whether this engine moved the
    /// request at all (one another engine finished meanwhile is not ours
    /// to count).
    async fn process_worked(&self, id: RequestId) -> Result<(RequestState, bool), EngineError> {
        if !self.lock_in_flight().insert(id) {
            return Ok((RequestState::Provisioning, false));
        }
        // Cleared however this ends, an aborted task included: an id left
        // behind would be skipped as busy for the life of the engine.
        let _busy = InFlight { engine: self, id };
        self.process_leased(id).await
    }

    /// Takes or renews the lease; `Some(expiry, generation)` when held.
    async fn lease(&self, id: RequestId) -> Result<Option<(DateTime<Utc>, u64)>, EngineError> {
        let now = self.backends.clock.now();
        let until = crate::backend::after(now, self.config.lease_ttl);
        let generation = self
            .ledger
            .store
            .acquire_lease(id, &self.lease_owner, now, until)
            .await?;
        Ok(generation.map(|g| (until, g)))
    }

    /// Renews the lease every third of its time to live; returns only when
    /// it could not be renewed before it ran out (another engine has it, or
    /// the store is unreachable for that long).
    async fn heartbeat(&self, id: RequestId, until: &mut DateTime<Utc>) {
        let every = (self.config.lease_ttl / 3).max(std::time::Duration::from_millis(1));
        loop {
            self.backends.clock.sleep(every).await;
            match self.lease(id).await {
                Ok(Some((next, _))) => *until = next,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(request = %id, error = ?e, "cannot renew the lease");
                    if self.backends.clock.now() >= *until {
                        return;
                    }
                }
            }
        }
    }

    async fn process_leased(&self, id: RequestId) -> Result<(RequestState, bool), EngineError> {
        let Some((until, generation)) = self.lease(id).await? else {
            tracing::debug!(request = %id, "leased by another engine; skipped");
            return Ok((RequestState::Provisioning, false));
        };
        let result = self.drive(id, until, generation).await;
        if !matches!(
            result,
            Err(EngineError::Crashed(..) | EngineError::LeaseLost(_))
        ) {
            // A dead process releases nothing; its lease simply expires.
            self.ledger
                .store
                .release_lease(id, &self.lease_owner)
                .await?;
        }
        result
    }

    async fn drive(
        &self,
        id: RequestId,
        mut lease_until: DateTime<Utc>,
        generation: u64,
    ) -> Result<(RequestState, bool), EngineError> {
        let half =
            chrono::Duration::from_std(self.config.lease_ttl / 2).unwrap_or(chrono::Duration::MAX);
        let mut r = self.ledger.store.get_request(id).await?;
        let mut outputs = self.outputs_so_far(&r).await?;
        let mut worked = false;
        // Whether the last write already logged the next step's `Started`.
        let mut opened = false;
        loop {
            let state = r.state;
            (r, opened) = match state {
                RequestState::Approved => {
                    let opens =
                        |next: &Request| self.opening(next, generation, lease_until, &outputs);
                    self.ledger
                        .commit(&r, EngineAction::StartProvisioning, None, None, opens)
                        .await?
                }
                RequestState::Provisioning => {
                    let Some(p) = r.progress else {
                        return Ok((r.state, worked));
                    };
                    // Renew once half the lease is spent, and never work on
                    // a request whose lease another engine has taken.
                    if self
                        .backends
                        .clock
                        .now()
                        .checked_add_signed(half)
                        .is_none_or(|t| t >= lease_until)
                    {
                        match self.lease(id).await? {
                            // Renewed by this owner: the same generation.
                            Some((until, _)) => lease_until = until,
                            None => return Ok((RequestState::Provisioning, worked)),
                        }
                    }
                    // The lease is renewed while the step runs; if another
                    // engine holds it after all, the step is dropped before
                    // it records anything.
                    tokio::select! {
                        out = self.run_step(r, p.step, generation, lease_until, opened, &mut outputs) => out?,
                        () = self.heartbeat(id, &mut lease_until) => {
                            tracing::warn!(request = %id, "lease lost mid-step; leaving the request to its new owner");
                            return Err(EngineError::LeaseLost(id));
                        }
                    }
                }
                other => return Ok((other, worked)),
            };
            worked = true;
        }
    }

    /// What the request's earlier steps returned: nothing for a request
    /// at its flow's first step, else read back from its step log (a
    /// request this engine resumes after a crash, a lease expiry or an
    /// Admin's retry).
    async fn outputs_so_far(&self, r: &Request) -> Result<StepOutputs, EngineError> {
        match r.progress {
            // A keyed step resumed needs the key its earlier attempts sent.
            Some(p) if p.step != r.flow().first() || flow::keyed(p.step) => {
                let log = self.ledger.store.step_log(r.id).await?;
                Ok(StepOutputs::from_log(&log))
            }
            _ => Ok(StepOutputs::default()),
        }
    }

    fn log_line(
        &self,
        step: ProvisioningStep,
        attempt: u32,
        phase: StepPhase,
        lease: u64,
    ) -> StepLogEntry {
        StepLogEntry {
            lease,
            at: self.backends.clock.now(),
            engine: self.config.engine_id.clone(),
            step,
            attempt,
            phase,
            key: None,
        }
    }

    /// The `Started` line of `step`'s attempt, with the step's idempotency
    /// key when it takes one ([`flow::keyed`]): the one it has
    /// (`outputs`), or a new one.
    fn started_line(
        &self,
        r: RequestId,
        step: ProvisioningStep,
        attempt: u32,
        lease: u64,
        outputs: &StepOutputs,
    ) -> StepLogEntry {
        StepLogEntry {
            key: flow::keyed(step).then(|| {
                outputs
                    .key(step)
                    .map_or_else(|| flow::new_key(r, step, lease, attempt), str::to_string)
            }),
            ..self.log_line(step, attempt, StepPhase::Started, lease)
        }
    }

    /// The `Started` line of the step `next` is to run, written with the
    /// write that got it there (one store write per step, not two), when
    /// the lease is fresh enough that the step will start without renewing
    /// it first. Otherwise `None`, and the step logs its own start.
    fn opening(
        &self,
        next: &Request,
        lease: u64,
        lease_until: DateTime<Utc>,
        outputs: &StepOutputs,
    ) -> Option<StepLogEntry> {
        let p = next
            .progress
            .filter(|_| next.state == RequestState::Provisioning)?;
        let half = chrono::Duration::from_std(self.config.lease_ttl / 2).ok()?;
        let fresh = self
            .backends
            .clock
            .now()
            .checked_add_signed(half)
            .is_some_and(|t| t < lease_until);
        fresh.then(|| self.started_line(next.id, p.step, p.attempt, lease, outputs))
    }

    fn hook(&self, id: RequestId, point: HookPoint) -> Result<HookAction, EngineError> {
        match self.hooks.at(id, point) {
            HookAction::Crash => Err(EngineError::Crashed(point, id)),
            other => Ok(other),
        }
    }

    /// Runs `step` of the request's flow until it succeeds, fails for
    /// good or runs out of retries, recording each attempt.
    #[tracing::instrument(name = "step", skip(self, r, outputs), fields(flow = r.flow().name(), %step))]
    async fn run_step(
        &self,
        mut r: Request,
        step: ProvisioningStep,
        lease: u64,
        lease_until: DateTime<Utc>,
        mut opened: bool,
        outputs: &mut StepOutputs,
    ) -> Result<(Request, bool), EngineError> {
        let clock = &self.backends.clock;
        let deadline = crate::backend::after(clock.now(), self.config.retry.step_deadline);
        let action = flow::action_of(step);
        loop {
            let attempt = r.progress.map_or(1, |p| p.attempt);
            // The same line as an opening written ahead would be: the key
            // it carries is the one the action sends.
            let started = self.started_line(r.id, step, attempt, lease, outputs);
            if let Some(key) = &started.key {
                outputs.keep_key(step, key.clone());
            }
            if !std::mem::take(&mut opened) {
                self.ledger.store.append_step_log(r.id, &started).await?;
            }
            let result = match (self.hook(r.id, HookPoint::Before(step))?, &action) {
                (HookAction::Fail, _) => Err(StepFault {
                    retryable: true,
                    reason: format!("injected failure before {step}"),
                }),
                (_, Err(missing)) => Err(missing.clone()),
                (_, Ok(run)) => {
                    let cx = StepCtx {
                        config: &self.config,
                        request: &r,
                        deadline,
                        outputs,
                        key: started.key.as_deref(),
                    };
                    let mut result = run(&self.backends, &cx).await;
                    if result.is_ok()
                        && self.hook(r.id, HookPoint::After(step))? == HookAction::Repeat
                    {
                        result = run(&self.backends, &cx).await;
                    }
                    result
                }
            };
            let fault = match result {
                Ok(out) => {
                    outputs.record(step, out.output.clone());
                    outputs.end_key(step);
                    tracing::info!(request = %r.id, %step, attempt, detail = ?out.detail, "step done");
                    let said = out.said();
                    let line = self.log_line(
                        step,
                        attempt,
                        StepPhase::Succeeded {
                            detail: out.detail.to_string(),
                            said: said.clone(),
                            output: out.output,
                        },
                        lease,
                    );
                    let done = EngineAction::StepDone {
                        step,
                        vm_uuid: out.vm_uuid,
                        note: Some(out.detail.to_string()),
                        said,
                    };
                    let opens = |next: &Request| self.opening(next, lease, lease_until, outputs);
                    let record = out.record.as_ref();
                    match self
                        .ledger
                        .commit(&r, done, Some(line), record, opens)
                        .await
                    {
                        Ok(next) => return Ok(next),
                        // Changed meanwhile (the reconciler, an owner's
                        // power request): nothing was written, and the
                        // step runs again on the record as it is now.
                        Err(ButlerError::Conflict(e))
                            if record.is_some_and(|w| e.is_vm_conflict(w.record.id)) =>
                        {
                            StepFault {
                                retryable: true,
                                reason: format!("the VM record changed while the step ran: {e}"),
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(fault) => fault,
            };
            let delay = self
                .config
                .retry
                .delay(attempt, r.id.0.wrapping_mul(31).wrapping_add(step as u64));
            let wake = crate::backend::after(clock.now(), delay);
            let will_retry =
                fault.retryable && attempt < self.config.retry.max_attempts && wake < deadline;
            tracing::warn!(request = %r.id, %step, attempt, will_retry, reason = ?fault.reason, "step failed");
            let line = self.log_line(
                step,
                attempt,
                StepPhase::Failed {
                    reason: fault.reason.clone(),
                    will_retry,
                },
                lease,
            );
            let action = if will_retry {
                EngineAction::StepRetry {
                    step,
                    reason: fault.reason,
                }
            } else if fault.retryable {
                // A passing failure the policy ran out on: say so,
                // so nobody reads it as the platform's refusal.
                EngineAction::Fail {
                    step,
                    reason: format!("retries exhausted: {}", fault.reason),
                }
            } else {
                EngineAction::Fail {
                    step,
                    reason: fault.reason,
                }
            };
            if !will_retry {
                // Failed for good: an Admin's retry starts afresh.
                outputs.end_key(step);
            }
            // A retry logs its own start after the back-off.
            (r, _) = self
                .ledger
                .commit(&r, action, Some(line), None, |_| None)
                .await?;
            if !will_retry {
                return Ok((r, false));
            }
            clock.sleep(delay).await;
        }
    }

    /// Runs the engine as a background task: it looks for work every
    /// `poll_interval` (or at once after [`EngineHandle::wake`]) until
    /// [`EngineHandle::shutdown`].
    pub fn start(self: Arc<Self>) -> EngineHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let wake = Arc::new(tokio::sync::Notify::new());
        let wake2 = wake.clone();
        let mut work_ready = self.ledger.work_ready.subscribe();
        let join = tokio::spawn(async move {
            let mut stop = stop_rx;
            loop {
                if *stop.borrow() {
                    break;
                }
                if let Err(e) = self.run_inner(Some(stop.clone())).await {
                    tracing::error!(error = ?e, "engine pass failed");
                }
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = wake2.notified() => {}
                    // An approval or retry through this service: no need to
                    // wait for the poll (a virtual clock never ends it alone).
                    Ok(()) = work_ready.changed() => {}
                    _ = self.backends.clock.sleep_idle(self.config.poll_interval) => {}
                }
            }
        });
        EngineHandle {
            stop: stop_tx,
            wake,
            join,
        }
    }
}

/// Marks a request as worked on by this engine while it lives.
struct InFlight<'a> {
    engine: &'a Engine,
    id: RequestId,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.engine.lock_in_flight().remove(&self.id);
    }
}

/// Counts one finished task; its error, if the first, is kept in `failed`.
fn tally(
    summary: &mut RunSummary,
    failed: &mut Option<EngineError>,
    done: Result<Result<(RequestState, bool), EngineError>, tokio::task::JoinError>,
) {
    match done {
        Ok(Ok((RequestState::Completed, true))) => summary.completed += 1,
        Ok(Ok((RequestState::Error, true))) => summary.failed += 1,
        Ok(Ok(_)) => summary.skipped += 1,
        Ok(Err(EngineError::Butler(ButlerError::Conflict(_)) | EngineError::LeaseLost(_))) => {
            summary.skipped += 1
        }
        Ok(Err(e)) => {
            tracing::warn!(error = ?e, "engine task failed; the pass ends after the others");
            // A crash outranks an earlier store error: it stops everything.
            if failed.is_none() || matches!(e, EngineError::Crashed(..)) {
                *failed = Some(e);
            }
        }
        Err(join) => {
            tracing::error!("engine task ended abnormally: {join}");
            summary.skipped += 1;
        }
    }
}

/// A running engine.
#[derive(Debug)]
pub struct EngineHandle {
    stop: watch::Sender<bool>,
    wake: Arc<tokio::sync::Notify>,
    join: tokio::task::JoinHandle<()>,
}

impl EngineHandle {
    /// Looks for work now (e.g. right after an approval).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops taking new requests, lets those in flight finish, and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.join.await {
            tracing::error!(error = ?e, "engine task ended abnormally");
        }
    }
}

#[cfg(test)]
mod tests;
