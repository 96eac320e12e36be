//! Orchestration unit tests against mockall doubles of the backends.

use super::*;
use crate::auth::Actor;
use crate::auth::Role;
use crate::backend::*;
use crate::demo;
use crate::request::{ActionKind, RequestState};
use crate::store::MemoryStore;
use crate::vm_spec::VmSpec;
use async_trait::async_trait;
use mockall::predicate::*;

mockall::mock! {
    pub Cluster {}
    #[async_trait]
    impl ClusterBackend for Cluster {
        fn capabilities(&self) -> Capabilities;
        async fn list_clusters(&self) -> Result<Vec<ClusterInfo>, BackendError>;
        async fn list_projects(&self) -> Result<Vec<ProjectInfo>, BackendError>;
        async fn list_subnets(&self) -> Result<Vec<SubnetInfo>, BackendError>;
        async fn list_images(&self) -> Result<Vec<ImageInfo>, BackendError>;
        async fn list_vms(&self, cluster: &str) -> Result<Vec<VmInfo>, BackendError>;
        async fn find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError>;
        async fn create_vm(&self, vm: &VmCreate) -> Result<TaskId, BackendError>;
        async fn task(&self, id: &TaskId) -> Result<TaskStatus, BackendError>;
        async fn list_protection_groups(&self, cluster: &str) -> Result<Vec<ProtectionGroup>, BackendError>;
        async fn remote_sites(&self, cluster: &str) -> Result<Vec<RemoteSite>, BackendError>;
        async fn protect_vm(&self, cluster: &str, req: &ProtectRequest) -> Result<String, BackendError>;
        async fn migrate_protection_group(&self, source: &str, group: &str, destination: &str) -> Result<(), BackendError>;
        async fn set_vm_project(&self, vm_uuid: &str, project: &str) -> Result<(), BackendError>;
    }
}

/// A mocked platform with every capability (each test adds its calls).
fn cluster() -> MockCluster {
    let mut c = MockCluster::new();
    c.expect_capabilities().returning(Capabilities::all);
    c
}

mockall::mock! {
    pub Mon {}
    #[async_trait]
    impl Monitor for Mon {
        async fn find(&self, vm_name: &str) -> Result<Option<MonitorRegistration>, BackendError>;
        async fn register(&self, reg: &MonitorRegistration) -> Result<(), BackendError>;
        async fn deregister(&self, vm_name: &str) -> Result<(), BackendError>;
    }
}

mockall::mock! {
    pub Bill {}
    #[async_trait]
    impl Billing for Bill {
        async fn is_active(&self, vm_name: &str) -> Result<bool, BackendError>;
        async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError>;
        async fn stop(&self, stop: &crate::backend::BillingStop) -> Result<(), BackendError>;
        async fn change(&self, act: &BillingActivation) -> Result<(), BackendError>;
    }
}

fn vm(name: &str, state: VmState) -> VmInfo {
    VmInfo {
        uuid: "uuid-1".into(),
        name: name.into(),
        cluster: "c1-madrid".into(),
        project: Some("prod-project".into()),
        power: PowerState::On,
        state,
        vcpus: 2,
        ram_gib: 4,
        disks_gib: vec![50],
        nics: vec!["vlan-10".into()],
        categories: vec![],
        ip_addresses: vec!["10.0.0.5".into()],
    }
}

fn config() -> EngineConfig {
    let mut c = EngineConfig::default();
    c.retry.base_delay = Duration::from_millis(1);
    c.retry.max_delay = Duration::from_millis(2);
    c.task_poll = Duration::from_millis(1);
    c.protection
        .remote_sites
        .insert("c1-madrid".into(), "c2-santiago".into());
    c
}

async fn approved(spec: VmSpec) -> (Arc<RequestService>, RequestId) {
    let svc = Arc::new(RequestService::new(
        Arc::new(MemoryStore::new()),
        demo::catalog(),
        demo::rate_book(),
    ));
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let r = svc.create(&ana, spec).await.unwrap();
    let r = svc.submit(&ana, r.id, r.version).await.unwrap();
    let r = svc.approve(&bea, r.id, r.version).await.unwrap();
    (svc, r.id)
}

fn engine(svc: Arc<RequestService>, c: MockCluster, m: MockMon, b: MockBill) -> Engine {
    Engine::new(svc, Arc::new(c), Arc::new(m), Arc::new(b), config())
}

#[tokio::test]
async fn existing_vm_registration_and_activation_are_never_made_twice() {
    let (svc, id) = approved(demo::spec("web01")).await;
    let name = format!("web01-r{}", id.0);
    let mut c = cluster();
    let n = name.clone();
    c.expect_find_vm()
        .with(eq(name.clone()))
        .returning(move |_| Ok(Some(vm(&n, VmState::Ready))));
    c.expect_create_vm().never();
    c.expect_protect_vm()
        .withf(|cluster, req| {
            cluster == "c1-madrid"
                && req.group.starts_with("PD-web01-r")
                && req.schedules.iter().map(|s| s.kind).collect::<Vec<_>>()
                    == vec![ScheduleKind::Local, ScheduleKind::Remote]
                && req.schedules[1].remote_site.as_deref() == Some("c2-santiago")
        })
        .times(1)
        .returning(|_, req| Ok(req.group.clone()));
    let mut m = MockMon::new();
    let n = name.clone();
    m.expect_find().returning(move |_| {
        Ok(Some(MonitorRegistration {
            vm_name: n.clone(),
            vm_uuid: "uuid-1".into(),
            cluster: "c1-madrid".into(),
            address: "10.0.0.5".into(),
            display_name: "web01".into(),
            request: 1,
            requester: "ana".into(),
            cost_center: "CC-1001".into(),
        }))
    });
    m.expect_register().never();
    let mut b = MockBill::new();
    b.expect_is_active().times(1).returning(|_| Ok(false));
    b.expect_activate()
        .withf(|a| {
            a.cost_center == "CC-1001"
                && a.vm_uuid == "uuid-1"
                && a.vcpus == 2
                && a.storage_gib == 50
        })
        .times(1)
        .returning(|_| Ok(()));
    let e = engine(svc.clone(), c, m, b);
    assert_eq!(e.process(id).await.unwrap(), RequestState::Completed);
    let r = svc.store().get_request(id).await.unwrap();
    assert_eq!(r.vm_uuid.as_deref(), Some("uuid-1"));
}

/// A platform that protects by policy answers its own group (the
/// policy's category): the step says so, not the request's domain and
/// schedules.
#[tokio::test]
async fn protection_by_policy_is_told_as_such() {
    let (svc, id) = approved(demo::spec("web01")).await;
    let mut c = cluster();
    c.expect_find_vm()
        .returning(|n| Ok(Some(vm(n, VmState::Ready))));
    c.expect_protect_vm()
        .times(1)
        .returning(|_, _| Ok("DataProtection:Gold".into()));
    let mut m = MockMon::new();
    m.expect_find()
        .returning(|n| Ok(Some(crate::testing::registration(n))));
    let mut b = MockBill::new();
    b.expect_is_active().returning(|_| Ok(true));
    let e = engine(svc.clone(), c, m, b);
    assert_eq!(e.process(id).await.unwrap(), RequestState::Completed);
    let r = svc.store().get_request(id).await.unwrap();
    let said: Vec<&str> = r.history.iter().filter_map(|h| h.note.as_deref()).collect();
    assert!(
        said.contains(&"protect done: protected by policy (DataProtection:Gold)"),
        "{said:?}"
    );
}

#[tokio::test]
async fn a_retryable_failure_is_retried_and_logged_before_and_after() {
    let (svc, id) = approved(VmSpec {
        backup_local: false,
        backup_remote: false,
        ..demo::spec("web01")
    })
    .await;
    let mut c = cluster();
    let mut seq = mockall::Sequence::new();
    c.expect_find_vm()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(None));
    c.expect_create_vm()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(BackendError::new(ErrorKind::Transient, "create_vm", "503")));
    c.expect_find_vm()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(None));
    c.expect_create_vm()
        .withf(|v| {
            v.uefi
                && v.power_on
                && v.project == "prod-project"
                && v.category == "Environment:Production"
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(TaskId("t1".into())));
    c.expect_task().returning(|_| {
        Ok(TaskStatus {
            state: TaskState::Succeeded,
            percent: 100,
            entity_uuid: Some("uuid-1".into()),
        })
    });
    c.expect_find_vm()
        .returning(|n| Ok(Some(vm(n, VmState::Ready))));
    c.expect_protect_vm().never();
    let mut m = MockMon::new();
    m.expect_find().returning(|_| Ok(None));
    m.expect_register().times(1).returning(|_| Ok(()));
    let mut b = MockBill::new();
    b.expect_is_active().returning(|_| Ok(false));
    b.expect_activate().times(1).returning(|_| Ok(()));
    let e = engine(svc.clone(), c, m, b);
    assert_eq!(e.process(id).await.unwrap(), RequestState::Completed);
    let r = svc.store().get_request(id).await.unwrap();
    let kinds: Vec<ActionKind> = r.history.iter().map(|h| h.action).collect();
    assert_eq!(
        kinds[3..].to_vec(),
        vec![
            ActionKind::StartProvisioning,
            ActionKind::StepRetry,
            ActionKind::StepDone,
            ActionKind::StepDone,
            ActionKind::StepDone,
            ActionKind::StepDone,
            // The inventory records the VM.
            ActionKind::StepDone
        ]
    );
    assert!(r
        .history
        .iter()
        .any(|h| h.note.as_deref() == Some("protect done: no backups requested")));
    let log = svc.store().step_log(id).await.unwrap();
    let phases: Vec<(ProvisioningStep, u32, &str)> = log
        .iter()
        .map(|l| {
            (
                l.step,
                l.attempt,
                match l.phase {
                    StepPhase::Started => "started",
                    StepPhase::Succeeded { .. } => "ok",
                    StepPhase::Failed { .. } => "failed",
                },
            )
        })
        .collect();
    assert_eq!(
        &phases[..3],
        &[
            (ProvisioningStep::CreateVm, 1, "started"),
            (ProvisioningStep::CreateVm, 1, "failed"),
            (ProvisioningStep::CreateVm, 2, "started"),
        ]
    );
    assert_eq!(phases.len(), 3 + 1 + 2 * 4);
}

#[tokio::test]
async fn a_permanent_failure_ends_in_error_naming_the_step_and_nothing_after_runs() {
    let (svc, id) = approved(demo::spec("web01")).await;
    let mut c = cluster();
    c.expect_find_vm()
        .returning(|n| Ok(Some(vm(n, VmState::Ready))));
    c.expect_protect_vm().times(1).returning(|_, _| {
        Err(BackendError::new(
            ErrorKind::Invalid,
            "protect_vm",
            "bad schedule",
        ))
    });
    let mut m = MockMon::new();
    m.expect_find().never();
    m.expect_register().never();
    let mut b = MockBill::new();
    b.expect_is_active().never();
    b.expect_activate().never();
    let e = engine(svc.clone(), c, m, b);
    assert_eq!(e.process(id).await.unwrap(), RequestState::Error);
    let r = svc.store().get_request(id).await.unwrap();
    let f = r.failure.unwrap();
    assert_eq!((f.step, f.attempts), (ProvisioningStep::Protect, 1));
    assert!(f.reason.contains("bad schedule"), "{}", f.reason);
}

#[tokio::test]
async fn retries_stop_at_max_attempts() {
    let (svc, id) = approved(demo::spec("web01")).await;
    let mut c = cluster();
    c.expect_find_vm()
        .times(10)
        .returning(|_| Err(BackendError::new(ErrorKind::RateLimited, "find_vm", "429")));
    let e = engine(svc.clone(), c, MockMon::new(), MockBill::new());
    assert_eq!(e.process(id).await.unwrap(), RequestState::Error);
    let f = svc.store().get_request(id).await.unwrap().failure.unwrap();
    assert_eq!((f.step, f.attempts), (ProvisioningStep::CreateVm, 10));
    assert!(
        f.reason
            .starts_with("retries exhausted: find_vm failed (RateLimited)"),
        "{}",
        f.reason
    );
}

/// A cluster the deployment did not choose a site for replicates to the
/// only remote site the platform lists; none, or several, is a permanent
/// error naming what to configure, and nothing is protected.
#[tokio::test]
async fn the_remote_site_comes_from_the_platform_unless_the_deployment_chooses() {
    let site = |n: &str| RemoteSite::new(n, Some(n.to_string()));
    let cases: [(Vec<RemoteSite>, Option<&str>, &str); 3] = [
        (vec![site("c1-madrid")], Some("c1-madrid"), ""),
        (vec![], None, "has no remote site on the platform"),
        (
            vec![site("c1-madrid"), site("c3-lima")],
            None,
            "can replicate to c1-madrid, c3-lima: choose one in protection.remote_sites",
        ),
    ];
    for (listed, replicated_to, refusal) in cases {
        let (svc, id) = approved(VmSpec {
            cluster: "c2-santiago".into(),
            ..demo::spec("web01")
        })
        .await;
        let mut c = cluster();
        c.expect_find_vm()
            .returning(|n| Ok(Some(vm(n, VmState::Ready))));
        c.expect_remote_sites()
            .with(eq("c2-santiago"))
            .times(1)
            .returning(move |_| Ok(listed.clone()));
        let mut m = MockMon::new();
        let mut b = MockBill::new();
        match replicated_to {
            Some(to) => {
                c.expect_protect_vm()
                    .withf(move |_, req| {
                        req.schedules
                            .iter()
                            .any(|s| s.remote_site.as_deref() == Some(to))
                    })
                    .times(1)
                    .returning(|_, req| Ok(req.group.clone()));
                m.expect_find().returning(|_| Ok(None));
                m.expect_register().returning(|_| Ok(()));
                b.expect_is_active().returning(|_| Ok(false));
                b.expect_activate().returning(|_| Ok(()));
            }
            None => {
                c.expect_protect_vm().never();
            }
        }
        let e = engine(svc.clone(), c, m, b);
        let state = e.process(id).await.unwrap();
        let r = svc.store().get_request(id).await.unwrap();
        if replicated_to.is_some() {
            assert_eq!(state, RequestState::Completed, "{:?}", r.failure);
        } else {
            assert_eq!(state, RequestState::Error);
            let f = r.failure.unwrap();
            assert_eq!((f.step, f.attempts), (ProvisioningStep::Protect, 1));
            assert!(f.reason.contains(refusal), "{}", f.reason);
        }
    }
}

#[test]
fn default_engine_ids_are_never_shared() {
    let (a, b) = (EngineConfig::default(), EngineConfig::default());
    assert_ne!(a.engine_id, b.engine_id);
    assert!(
        a.engine_id.contains(&format!("-{}-", std::process::id())),
        "{}",
        a.engine_id
    );
}

#[tokio::test]
async fn the_next_steps_start_rides_on_the_write_only_while_the_lease_is_fresh() {
    let (svc, id) = approved(demo::spec("web01")).await;
    let e = engine(
        svc.clone(),
        MockCluster::new(),
        MockMon::new(),
        MockBill::new(),
    );
    let r = svc.store().get_request(id).await.unwrap();
    let now = chrono::Utc::now();
    let (next, _) = crate::request::advance(&r, EngineAction::StartProvisioning, now).unwrap();
    let ttl = chrono::Duration::from_std(e.config.lease_ttl).unwrap();

    let none = super::flow::StepOutputs::default();
    let line = e
        .opening(&next, 7, now + ttl, &none)
        .expect("a fresh lease");
    assert_eq!(
        (line.step, line.attempt, line.lease, line.phase),
        (ProvisioningStep::CreateVm, 1, 7, StepPhase::Started)
    );
    assert_eq!(line.engine, e.config.engine_id);
    // A create's line carries the key the attempt will send: the one the
    // step would make itself.
    assert_eq!(
        line.key,
        Some(super::flow::new_key(
            next.id,
            ProvisioningStep::CreateVm,
            7,
            1
        ))
    );
    // Past half the lease, the step renews it first and logs its own start.
    assert!(e.opening(&next, 7, now + ttl / 3, &none).is_none());
    // Nothing to open on a request that is not provisioning.
    assert!(e.opening(&r, 7, now + ttl, &none).is_none());
}

/// Crashes once, before `step`.
struct CrashOnceBefore(ProvisioningStep, std::sync::atomic::AtomicBool);

impl Hooks for CrashOnceBefore {
    fn at(&self, _: RequestId, point: HookPoint) -> HookAction {
        let fire = point == HookPoint::Before(self.0)
            && !self.1.swap(true, std::sync::atomic::Ordering::SeqCst);
        if fire {
            HookAction::Crash
        } else {
            HookAction::Continue
        }
    }
}

#[tokio::test]
async fn a_resumed_request_reads_earlier_steps_outputs_from_its_step_log() {
    let (svc, id) = approved(demo::spec("web01")).await;
    let name = format!("web01-r{}", id.0);
    let mut c = cluster();
    let n = name.clone();
    // create_vm looks the VM up and confirms it ready: two reads. Billing,
    // after the crash, takes the VM's id from create_vm's logged output
    // instead of reading the platform a third time.
    c.expect_find_vm()
        .times(2)
        .returning(move |_| Ok(Some(vm(&n, VmState::Ready))));
    c.expect_protect_vm()
        .times(1)
        .returning(|_, req| Ok(req.group.clone()));
    let mut m = MockMon::new();
    m.expect_find().never();
    m.expect_register().never();
    let mut b = MockBill::new();
    b.expect_is_active().times(1).returning(|_| Ok(false));
    b.expect_activate()
        .withf(|a| a.vm_uuid == "uuid-1")
        .times(1)
        .returning(|_| Ok(()));
    let mut cfg = config();
    cfg.monitoring = false;
    let e = Engine::new(svc.clone(), Arc::new(c), Arc::new(m), Arc::new(b), cfg).with_hooks(
        Arc::new(CrashOnceBefore(ProvisioningStep::Bill, Default::default())),
    );
    let crashed = e.process(id).await.unwrap_err();
    assert!(matches!(crashed, EngineError::Crashed(..)), "{crashed}");
    let log = svc.store().step_log(id).await.unwrap();
    let create = log
        .iter()
        .find_map(|l| match (&l.step, &l.phase) {
            (ProvisioningStep::CreateVm, StepPhase::Succeeded { output, .. }) => Some(output),
            _ => None,
        })
        .unwrap();
    assert_eq!(create["vm_uuid"], "uuid-1", "{log:?}");
    assert_eq!(e.process(id).await.unwrap(), RequestState::Completed);
}

#[test]
fn every_step_of_every_flow_has_an_action_and_no_action_is_orphaned() {
    use crate::request::flow;
    for f in flow::ALL {
        for &step in f.steps() {
            assert!(
                super::flow::action_of(step).is_ok(),
                "{} step {step} has no action",
                f.name()
            );
        }
    }
    // Steps no flow runs any more, whose actions finish requests an
    // earlier version left at them.
    let legacy = [ProvisioningStep::Retire];
    for a in super::flow::TABLES.iter().flat_map(|t| t.iter()) {
        assert!(
            legacy.contains(&a.step) || flow::ALL.iter().any(|f| f.steps().contains(&a.step)),
            "action for {} belongs to no flow",
            a.step
        );
    }
    assert_eq!(flow::PROVISIONING.first(), ProvisioningStep::CreateVm);
    assert_eq!(
        flow::PROVISIONING.next(ProvisioningStep::Monitor),
        Some(ProvisioningStep::Bill)
    );
    assert_eq!(
        flow::PROVISIONING.next(ProvisioningStep::Bill),
        Some(ProvisioningStep::Inventory)
    );
    assert_eq!(flow::PROVISIONING.next(ProvisioningStep::Inventory), None);
}

#[test]
fn outputs_keep_the_last_success_of_each_step_and_ignore_nulls() {
    use super::flow::StepOutputs;
    let line = |step, phase| StepLogEntry {
        at: chrono::DateTime::UNIX_EPOCH,
        engine: "e".into(),
        step,
        attempt: 1,
        phase,
        lease: 1,
        key: None,
    };
    let ok = |output| StepPhase::Succeeded {
        detail: "d".into(),
        said: None,
        output,
    };
    let log = [
        line(
            ProvisioningStep::CreateVm,
            ok(serde_json::json!({"vm_uuid": "old"})),
        ),
        line(ProvisioningStep::CreateVm, StepPhase::Started),
        line(
            ProvisioningStep::CreateVm,
            ok(serde_json::json!({"vm_uuid": "new"})),
        ),
        line(ProvisioningStep::Protect, ok(serde_json::Value::Null)),
    ];
    assert_eq!(
        log[0].phase.to_string(),
        "succeeded: d",
        "people see the detail, not the output"
    );
    let out = StepOutputs::from_log(&log);
    assert_eq!(out.text(ProvisioningStep::CreateVm, "vm_uuid"), Some("new"));
    assert_eq!(out.text(ProvisioningStep::Protect, "vm_uuid"), None);
    assert_eq!(out.text(ProvisioningStep::CreateVm, "other"), None);
}

/// A keyed step's key lives from its first `Started` line through
/// retryable failures, and ends when the step succeeds or fails for good
/// (an Admin's retry then makes a new one).
#[test]
fn a_create_key_survives_retries_and_ends_with_the_step() {
    use super::flow::{new_key, StepOutputs};
    let create = ProvisioningStep::CreateVm;
    let line = |phase, key: Option<&str>| StepLogEntry {
        at: chrono::DateTime::UNIX_EPOCH,
        engine: "e".into(),
        step: create,
        attempt: 1,
        phase,
        lease: 1,
        key: key.map(str::to_string),
    };
    let failed = |will_retry| StepPhase::Failed {
        reason: "r".into(),
        will_retry,
    };
    let started = line(StepPhase::Started, Some("k1"));
    let retried = [started.clone(), line(failed(true), None)];
    assert_eq!(StepOutputs::from_log(&retried).key(create), Some("k1"));
    let ended = [started.clone(), line(failed(false), None)];
    assert_eq!(StepOutputs::from_log(&ended).key(create), None);
    let done = StepPhase::Succeeded {
        detail: "d".into(),
        said: None,
        output: serde_json::Value::Null,
    };
    let succeeded = [started, line(done, None)];
    assert_eq!(StepOutputs::from_log(&succeeded).key(create), None);
    // New keys are UUID-shaped (RFC 9562 version 8) and differ by attempt
    // and by lease generation.
    let k = new_key(RequestId(7), create, 3, 1);
    assert_eq!(k.len(), 36);
    assert_eq!((&k[14..15], &k[8..9]), ("8", "-"));
    assert_ne!(k, new_key(RequestId(7), create, 3, 2));
    assert_ne!(k, new_key(RequestId(7), create, 4, 1));
    assert_eq!(k, new_key(RequestId(7), create, 3, 1));
}
