//! The provisioning flow's actions (SPEC §5), each idempotent: it looks
//! up by the deterministic VM name before creating anything. The order of
//! the steps is [`crate::request::flow::PROVISIONING`]; [`ACTIONS`] gives
//! each step its action.

use super::flow::{permanent, Backends, StepAction, StepCtx, StepFault, StepOutcome};
use super::EngineConfig;
use crate::backend::{
    BillingActivation, Capability, MonitorRegistration, ProtectRequest, RemoteSite, Schedule,
    ScheduleKind, TaskId, TaskState, TaskStatus, VmCreate, VmState,
};
use crate::request::ProvisioningStep;
use crate::said::{Said, SaidCode};
use chrono::{DateTime, Utc};

/// Each provisioning step and its action.
pub(crate) const ACTIONS: [StepAction; 5] = [
    StepAction {
        step: ProvisioningStep::CreateVm,
        run: |b, cx| Box::pin(b.create_vm(cx)),
    },
    StepAction {
        step: ProvisioningStep::Protect,
        run: |b, cx| Box::pin(b.protect(cx)),
    },
    StepAction {
        step: ProvisioningStep::Monitor,
        run: |b, cx| Box::pin(b.register(cx)),
    },
    StepAction {
        step: ProvisioningStep::Bill,
        run: |b, cx| Box::pin(b.bill(cx)),
    },
    StepAction {
        step: ProvisioningStep::Inventory,
        run: |b, cx| Box::pin(b.record(cx)),
    },
];

/// The key of create_vm's output that holds the VM's platform id.
const VM_UUID: &str = "vm_uuid";

/// create_vm's outcome: the VM's id, for the request and for later steps.
fn made(uuid: String, detail: Said) -> StepOutcome {
    StepOutcome {
        output: serde_json::json!({ VM_UUID: uuid }),
        vm_uuid: Some(uuid),
        detail,
        record: None,
    }
}

/// What billing is told of the VM `vm_name` (`vm_uuid`) as `r` asks for
/// it, from `at`'s day: its cost center, resources and monthly estimate.
pub(super) fn billed(
    r: &crate::request::Request,
    vm_name: String,
    vm_uuid: String,
    at: DateTime<Utc>,
) -> BillingActivation {
    BillingActivation {
        vm_name,
        vm_uuid,
        cost_center: r.spec.derived().cost_center.clone(),
        vcpus: r.spec.vcpus(),
        ram_gib: r.spec.ram_gib,
        storage_gib: r.spec.storage_gib(),
        disk_type: r.spec.disk_type.clone(),
        request: r.id.0,
        estimate: r.estimate.clone(),
        effective_date: at.date_naive(),
        restores: 0,
    }
}

/// What monitoring is told of the VM `vm_name` (`vm_uuid`, at `address`
/// on `cluster`) that `r` made or brings back.
pub(super) fn registration(
    r: &crate::request::Request,
    vm_name: String,
    cluster: &str,
    vm_uuid: String,
    address: String,
) -> MonitorRegistration {
    MonitorRegistration {
        vm_name,
        vm_uuid,
        cluster: cluster.to_string(),
        address,
        display_name: r.spec.name.clone(),
        request: r.id.0,
        requester: r.owner.clone(),
        cost_center: r.spec.derived().cost_center.clone(),
    }
}

/// A step this deployment switched off: recorded as such, never as done.
fn skipped() -> StepOutcome {
    StepOutcome::done(Said::just(SaidCode::SkippedByConfiguration))
}

impl Backends {
    async fn create_vm(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let (cfg, r, deadline) = (cx.config, cx.request, cx.deadline);
        let name = r.platform_vm_name();
        if let Some(vm) = self.cluster.find_vm(&name).await? {
            let uuid = self.wait_ready(cfg, &name, vm.state, deadline).await?;
            let detail = Said::new(
                SaidCode::VmFound,
                [("vm", name.to_string()), ("uuid", uuid.clone())],
            );
            return Ok(made(uuid, detail));
        }
        let s = &r.spec;
        let req = VmCreate {
            name: name.clone(),
            cluster: s.cluster.clone(),
            project: r.spec.derived().project.clone(),
            category: r.spec.derived().category.clone(),
            cores_per_socket: s.cores_per_socket,
            sockets: s.sockets,
            ram_gib: s.ram_gib,
            disks_gib: s.disks_gib.clone(),
            image: s.image.clone(),
            nics: s.nics.clone(),
            storage_container: r.spec.derived().storage_container.clone(),
            cdrom: s.cdrom,
            uefi: true,
            power_on: true,
            // Logged before this call; the same on every retry.
            request_id: cx.key.map(str::to_string),
        };
        let task = self.cluster.create_vm(&req).await?;
        let done = self.task_succeeds(cfg, &task, deadline).await?;
        // The VM the task made, as the task names it: a listing that lags
        // behind the create need not show it yet.
        let uuid = match done.entity_uuid.filter(|u| !u.is_empty()) {
            Some(uuid) => uuid,
            None => {
                self.cluster
                    .find_vm(&name)
                    .await?
                    .ok_or_else(|| StepFault {
                        retryable: true,
                        reason: format!("VM {name} not visible yet after its task succeeded"),
                    })?
                    .uuid
            }
        };
        let detail = Said::new(
            SaidCode::VmCreated,
            [("vm", name.to_string()), ("uuid", uuid.clone())],
        );
        Ok(made(uuid, detail))
    }

    /// Polls until the VM named `name` is ready. Poll errors that may pass
    /// are waited out; only the step deadline ends the wait.
    async fn wait_ready(
        &self,
        cfg: &EngineConfig,
        name: &str,
        mut state: VmState,
        deadline: DateTime<Utc>,
    ) -> Result<String, StepFault> {
        loop {
            if state == VmState::Error {
                return Err(permanent(format!(
                    "VM {name} exists in error state; remove it on the platform, then retry"
                )));
            }
            if state == VmState::Ready {
                if let Ok(Some(vm)) = self.cluster.find_vm(name).await {
                    if vm.state == VmState::Ready {
                        return Ok(vm.uuid);
                    }
                }
            }
            if self.clock.now() >= deadline {
                return Err(StepFault {
                    retryable: false,
                    reason: format!("VM {name} not ready before the step deadline"),
                });
            }
            self.clock.sleep(cfg.task_poll).await;
            match self.cluster.find_vm(name).await {
                Ok(Some(vm)) => state = vm.state,
                Ok(None) => {
                    return Err(StepFault {
                        retryable: true,
                        reason: format!("VM {name} disappeared"),
                    })
                }
                Err(e) if e.is_retryable() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits for `task` and answers a permanent fault unless it succeeded.
    pub(super) async fn task_succeeds(
        &self,
        cfg: &EngineConfig,
        task: &TaskId,
        deadline: DateTime<Utc>,
    ) -> Result<TaskStatus, StepFault> {
        let status = self.wait_task(cfg, task, deadline).await?;
        match status.state {
            TaskState::Succeeded => Ok(status),
            TaskState::Failed(reason) => Err(permanent(format!(
                "platform task {} failed: {reason}",
                task.0
            ))),
            other => Err(permanent(format!(
                "platform task {} ended {other:?}",
                task.0
            ))),
        }
    }

    async fn wait_task(
        &self,
        cfg: &EngineConfig,
        task: &TaskId,
        deadline: DateTime<Utc>,
    ) -> Result<TaskStatus, StepFault> {
        loop {
            let asked = self.clock.now();
            match self.cluster.wait_task(task, cfg.task_poll).await {
                Ok(st) if st.state.is_terminal() => return Ok(st),
                Ok(_) => {}
                Err(e) if e.is_retryable() => {}
                Err(e) => return Err(e.into()),
            }
            let now = self.clock.now();
            if now >= deadline {
                return Err(permanent(format!(
                    "platform task {} not done before the step deadline",
                    task.0
                )));
            }
            // A long-poll already waited on the platform; sleep only what is left.
            let waited = (now - asked).to_std().unwrap_or_default();
            if waited < cfg.task_poll {
                self.clock.sleep(cfg.task_poll - waited).await;
            }
        }
    }

    async fn protect(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let (cfg, r) = (cx.config, cx.request);
        if !self.cluster.capabilities().has(Capability::Protection) {
            return Ok(StepOutcome::done(Said::just(SaidCode::NoProtectionGroups)));
        }
        self.protect_vm_named(cfg, r, &r.platform_vm_name(), &r.spec.cluster)
            .await
    }

    /// Protects the VM `name` on `cluster` as `r`'s backup flags ask.
    pub(super) async fn protect_vm_named(
        &self,
        cfg: &EngineConfig,
        r: &crate::request::Request,
        name: &str,
        cluster: &str,
    ) -> Result<StepOutcome, StepFault> {
        let s = &r.spec;
        if !s.backup_local && !s.backup_remote {
            return Ok(StepOutcome::done(Said::just(SaidCode::NoBackups)));
        }
        let mut schedules = Vec::new();
        if s.backup_local {
            schedules.push(Schedule {
                kind: ScheduleKind::Local,
                remote_site: None,
                ..cfg.protection.local
            });
        }
        if s.backup_remote {
            let site = match cfg.protection.remote_sites.get(cluster) {
                Some(chosen) => chosen.clone(),
                None => self.only_remote_site(cluster).await?,
            };
            schedules.push(Schedule {
                kind: ScheduleKind::Remote,
                remote_site: Some(site),
                ..cfg.protection.remote
            });
        }
        let req = ProtectRequest {
            group: format!("{}{name}", cfg.protection.group_prefix),
            vm_name: name.to_string(),
            schedules,
        };
        let group = self.cluster.protect_vm(cluster, &req).await?;
        if group != req.group {
            // The platform protects by policy: its schedules are the policy's.
            return Ok(StepOutcome::done(Said::new(
                SaidCode::ProtectedByPolicy,
                [("group", group.to_string())],
            )));
        }
        Ok(StepOutcome::done(Said::new(
            SaidCode::ProtectedIn,
            [
                ("group", group.to_string()),
                ("count", req.schedules.len().to_string()),
            ],
        )))
    }

    /// The remote site `cluster` replicates to when the deployment did not
    /// choose one: the only one the platform lists. None, or several, is a
    /// refusal naming what to configure.
    async fn only_remote_site(&self, cluster: &str) -> Result<String, StepFault> {
        let mut sites = self.cluster.remote_sites(cluster).await?;
        match sites.len() {
            1 => Ok(sites.remove(0).target().to_string()),
            0 => Err(permanent(format!(
                "cluster {cluster:?} has no remote site on the platform; a remote backup needs one"
            ))),
            _ => {
                let names: Vec<&str> = sites.iter().map(RemoteSite::target).collect();
                Err(permanent(format!(
                    "cluster {cluster:?} can replicate to {}: choose one in protection.remote_sites",
                    names.join(", ")
                )))
            }
        }
    }

    /// The VM's platform id: create_vm's output, else (a step log written
    /// before steps had outputs) a look-up by name.
    async fn uuid(&self, cx: &StepCtx<'_>) -> Result<String, StepFault> {
        let r = cx.request;
        if let Some(u) = cx.outputs.text(ProvisioningStep::CreateVm, VM_UUID) {
            return Ok(u.to_string());
        }
        let name = r.platform_vm_name();
        match self.cluster.find_vm(&name).await? {
            Some(vm) => Ok(vm.uuid),
            None => Err(permanent(format!("VM {name} not found"))),
        }
    }

    async fn register(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let (cfg, r, deadline) = (cx.config, cx.request, cx.deadline);
        if !cfg.monitoring {
            return Ok(skipped());
        }
        let name = r.platform_vm_name();
        if self.monitor.find(&name).await?.is_some() {
            return Ok(StepOutcome::done(Said::just(SaidCode::AlreadyRegistered)));
        }
        let (vm_uuid, address) = self.address(cfg, &name, deadline).await?;
        let reg = registration(r, name, &r.spec.cluster, vm_uuid, address);
        self.monitor.register(&reg).await?;
        Ok(StepOutcome::done(Said::new(
            SaidCode::Registered,
            [("address", reg.address.to_string())],
        )))
    }

    /// The VM's uuid and first IP address, polling until the platform
    /// reports one (a new VM gets its address from DHCP or IPAM a little
    /// after power-on), up to `address_wait` or the step deadline.
    pub(super) async fn address(
        &self,
        cfg: &EngineConfig,
        name: &str,
        deadline: DateTime<Utc>,
    ) -> Result<(String, String), StepFault> {
        let until = crate::backend::after(self.clock.now(), cfg.address_wait).min(deadline);
        loop {
            let Some(vm) = self.cluster.find_vm(name).await? else {
                // Made by an earlier step: a listing that lags behind its
                // creates shows it a little later (retried; a VM deleted
                // meanwhile fails when the retries run out).
                return Err(StepFault {
                    retryable: true,
                    reason: format!("VM {name} not found on the platform (yet)"),
                });
            };
            if let Some(ip) = vm.ip_addresses.first() {
                return Ok((vm.uuid, ip.clone()));
            }
            if self.clock.now() >= until {
                return Err(StepFault {
                    retryable: true,
                    reason: format!(
                        "VM {name} reported no IP address within {} s; monitoring needs one",
                        cfg.address_wait.as_secs()
                    ),
                });
            }
            self.clock.sleep(cfg.task_poll).await;
        }
    }

    async fn bill(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let r = cx.request;
        if !cx.config.billing {
            return Ok(skipped());
        }
        let name = r.platform_vm_name();
        if self.billing.is_active(&name).await? {
            return Ok(StepOutcome::done(Said::just(SaidCode::AlreadyBilled)));
        }
        let act = billed(r, name, self.uuid(cx).await?, self.clock.now());
        self.billing.activate(&act).await?;
        Ok(StepOutcome::done(Said::new(
            SaidCode::Billed,
            [("cost_center", act.cost_center.clone())],
        )))
    }

    /// Records the VM in the inventory, once: a record already there (a
    /// repeated step, another engine) is kept.
    async fn record(&self, cx: &StepCtx<'_>) -> Result<StepOutcome, StepFault> {
        let uuid = self.uuid(cx).await?;
        let (rec, made) = crate::inventory::VmService::record_provisioned(
            self.store.as_ref(),
            cx.request,
            &uuid,
            self.clock.now(),
        )
        .await
        .map_err(|e| StepFault {
            retryable: e.is_retryable(),
            reason: format!("cannot record the VM in the inventory: {e}"),
        })?;
        let code = match made {
            true => SaidCode::Recorded,
            false => SaidCode::AlreadyRecorded,
        };
        Ok(StepOutcome::done(Said::new(
            code,
            [("vm", rec.id.to_string())],
        )))
    }
}
