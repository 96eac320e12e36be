//! Every call to the outside has a deadline on the injected clock: a backend
//! that never answers ends in a typed timeout, the engine still shuts down,
//! and a cancelled migration still ends, all within the configured
//! deadlines of virtual time (and in no wall time).

mod common;

use async_trait::async_trait;
use butler::auth::{Actor, Role};
use butler::backend::*;
use butler::engine::{Engine, RetryPolicy};
use butler::migration::{MigrationConfig, MigrationService, VmOutcome};
use butler::request::RequestState;
use butler::resilience::Guarded;
use butler::sim::{fleet, SimPlatform};
use butler::store::MemoryStore;
use common::World;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The simulator, except that the named operations never return (in
/// simulated time: they wait on the clock for ten years), and, with `wire`,
/// `list_clusters` first reads one byte from a real socket.
struct Hanging {
    sim: SimPlatform,
    hang: HashSet<&'static str>,
    wire: Option<std::net::SocketAddr>,
}

impl Hanging {
    async fn gate(&self, op: &'static str) {
        if self.hang.contains(op) {
            self.sim
                .clock()
                .sleep(Duration::from_secs(10 * 365 * 86_400))
                .await;
        }
    }

    async fn over_the_wire(&self) -> Result<(), BackendError> {
        use tokio::io::AsyncReadExt;
        let Some(addr) = self.wire else {
            return Ok(());
        };
        let io = |e: std::io::Error| {
            BackendError::new(ErrorKind::Transient, "list_clusters", e.to_string())
        };
        let mut s = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
        s.read_exact(&mut [0u8; 1]).await.map_err(io)?;
        Ok(())
    }
}

#[async_trait]
impl ClusterBackend for Hanging {
    fn capabilities(&self) -> butler::backend::Capabilities {
        // What it forwards to the simulator: no storage containers, no
        // categories, no long-polled tasks.
        use butler::backend::{Capabilities, Capability as C};
        [C::Protection, C::Migration, C::ProjectRemap]
            .into_iter()
            .collect::<Capabilities>()
    }
    async fn list_clusters(&self) -> Result<Vec<ClusterInfo>, BackendError> {
        self.gate("list_clusters").await;
        self.over_the_wire().await?;
        self.sim.list_clusters().await
    }
    async fn list_projects(&self) -> Result<Vec<ProjectInfo>, BackendError> {
        self.gate("list_projects").await;
        self.sim.list_projects().await
    }
    async fn list_subnets(&self) -> Result<Vec<SubnetInfo>, BackendError> {
        self.sim.list_subnets().await
    }
    async fn list_images(&self) -> Result<Vec<ImageInfo>, BackendError> {
        self.sim.list_images().await
    }
    async fn list_vms(&self, cluster: &str) -> Result<Vec<VmInfo>, BackendError> {
        self.gate("list_vms").await;
        self.sim.list_vms(cluster).await
    }
    async fn find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError> {
        self.gate("find_vm").await;
        self.sim.find_vm(name).await
    }
    async fn create_vm(&self, vm: &VmCreate) -> Result<TaskId, BackendError> {
        self.gate("create_vm").await;
        self.sim.create_vm(vm).await
    }
    async fn task(&self, id: &TaskId) -> Result<TaskStatus, BackendError> {
        self.sim.task(id).await
    }
    async fn list_protection_groups(
        &self,
        cluster: &str,
    ) -> Result<Vec<ProtectionGroup>, BackendError> {
        self.sim.list_protection_groups(cluster).await
    }
    async fn protect_vm(
        &self,
        cluster: &str,
        req: &ProtectRequest,
    ) -> Result<String, BackendError> {
        self.sim.protect_vm(cluster, req).await
    }
    async fn migrate_protection_group(
        &self,
        source: &str,
        group: &str,
        destination: &str,
    ) -> Result<(), BackendError> {
        self.gate("migrate_protection_group").await;
        self.sim
            .migrate_protection_group(source, group, destination)
            .await
    }
    async fn set_vm_project(&self, vm_uuid: &str, project: &str) -> Result<(), BackendError> {
        self.sim.set_vm_project(vm_uuid, project).await
    }
}

fn hanging(sim: &SimPlatform, ops: &[&'static str]) -> Arc<Hanging> {
    Arc::new(Hanging {
        sim: sim.clone(),
        hang: ops.iter().copied().collect(),
        wire: None,
    })
}

#[tokio::test]
async fn a_call_that_never_returns_is_a_timeout_at_the_deadline() {
    let sim = SimPlatform::demo(1);
    let clock = sim.clock();
    let guarded = Guarded::cluster(
        hanging(&sim, &["list_clusters"]),
        clock.clone(),
        Duration::from_secs(90),
    );
    let start = clock.now();
    let err = guarded.list_clusters().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(err.is_retryable());
    assert_eq!(err.operation, "list_clusters");
    assert_eq!(
        (clock.now() - start).num_seconds(),
        90,
        "exactly the deadline of virtual time"
    );
    // Calls that answer are untouched.
    assert!(!guarded.list_images().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_engine_gives_up_on_a_hanging_step_and_shuts_down_within_its_deadlines() {
    let sim = SimPlatform::demo(2);
    let w = World::new(sim.clone(), Arc::new(MemoryStore::new()));
    let r = w.approved("stuck").await;
    let mut config = World::engine_config("e1");
    config.call_deadline = Duration::from_secs(60);
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_secs(5),
        max_delay: Duration::from_secs(30),
        step_deadline: Duration::from_secs(10 * 60),
    };
    let backend = hanging(&sim, &["create_vm"]);
    let platform = Arc::new(sim.clone());
    let engine = Arc::new(Engine::new(
        w.svc.clone(),
        backend,
        platform.clone(),
        platform,
        config.clone(),
    ));
    let clock = sim.clock();
    let start = clock.now();
    let handle = engine.clone().start();
    handle.wake();
    // Let the engine pick the request up, then ask it to stop.
    clock.sleep(Duration::from_secs(1)).await;
    handle.shutdown().await;
    let elapsed = (clock.now() - start).to_std().unwrap();
    assert!(
        elapsed <= config.retry.step_deadline + config.call_deadline,
        "shutdown took {elapsed:?} of virtual time"
    );
    let done = w.get(r.id).await;
    assert_eq!(done.state, RequestState::Error, "{:?}", done.history.last());
    let failure = done.failure.unwrap();
    assert_eq!(failure.attempts, 4);
    assert!(
        failure.reason.contains("no answer within 60s"),
        "{}",
        failure.reason
    );
    assert_eq!(sim.vms_named(&r.platform_vm_name()), 0);
}

#[tokio::test]
async fn a_cancelled_migration_ends_although_the_platform_never_answers() {
    let sim = SimPlatform::demo(3);
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: 6,
            groups: 3,
            ..Default::default()
        },
    );
    let config = MigrationConfig {
        call_deadline: Duration::from_secs(120),
        ..MigrationConfig::default()
    };
    let svc = MigrationService::new(
        Arc::new(MemoryStore::new()),
        hanging(&sim, &["migrate_protection_group"]),
        sim.clock(),
        config.clone(),
    );
    let olga = Actor::trusted("olga", [Role::Operator]).unwrap();
    let g = svc.create_group(&olga, "drill").await.unwrap();
    let g = svc
        .save(
            &olga,
            &g.with_members(&f.source, &f.destination, f.vm_names.iter().cloned()),
        )
        .await
        .unwrap();
    svc.refresh(&olga, g.id).await.unwrap();
    let (_, _, v) = svc.validate(&olga, g.id).await.unwrap();
    let clock = sim.clock();
    let start = clock.now();
    let run = svc.migrate(&olga, v.token().unwrap()).await.unwrap();
    clock.sleep(Duration::from_secs(10)).await;
    run.cancel();
    let report = run.wait().await.unwrap();
    let elapsed = (clock.now() - start).to_std().unwrap();
    assert!(
        elapsed <= config.call_deadline + Duration::from_secs(10),
        "{elapsed:?}"
    );
    assert!(report.cancelled);
    assert_eq!(report.vms.len(), 6);
    for vm in &report.vms {
        assert!(!matches!(vm.outcome, VmOutcome::Migrated), "{vm:?}");
        assert_eq!(
            sim.vm(&vm.vm).map(|v| v.cluster),
            Some(f.source.clone()),
            "nothing moved"
        );
    }
}

/// The demo's request service on `clock`, over a memory store.
fn demo_service(clock: Arc<butler::sim::SimClock>) -> butler::service::RequestService {
    butler::service::RequestService::with_clock(
        Arc::new(MemoryStore::new()),
        butler::demo::catalog(),
        butler::demo::rate_book(),
        clock,
    )
}

#[tokio::test]
async fn a_catalog_refresh_that_never_answers_times_out_and_keeps_the_last_catalog() {
    let sim = SimPlatform::demo(4);
    let clock = sim.clock();
    let svc = demo_service(clock.clone());
    let before = svc.catalog();
    let start = clock.now();
    let err = svc
        .refresh_catalog(
            &butler::auth::Actor::trusted("ada", [butler::auth::Role::Admin]).unwrap(),
            hanging(&sim, &["list_clusters"]).as_ref(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, butler::ButlerError::Backend(b) if b.kind == ErrorKind::Timeout),
        "{err}"
    );
    let waited = (clock.now() - start).to_std().unwrap();
    assert_eq!(waited, butler::resilience::DEFAULT_CALL_DEADLINE * 6);
    assert_eq!(*svc.catalog(), *before, "the last good catalog stays");
}

/// A loopback server that writes one byte to each connection after
/// `answer_after` of real time (`None`: holds it open, silent).
fn slow_server(answer_after: Option<Duration>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            match answer_after {
                Some(d) => {
                    std::thread::spawn(move || {
                        std::thread::sleep(d);
                        let _ = std::io::Write::write_all(&mut conn, b"!");
                    });
                }
                None => open.push(conn),
            }
        }
    });
    addr
}

/// A real call of 100 ms under a 120 s deadline on the virtual clock
/// succeeds every time, while a five-minute heartbeat loops on the same
/// clock: time does not move while the call waits on its socket (before:
/// 20 timeouts in 20 calls, and the heartbeat moved the clock 300,000 s).
/// On one thread the calls follow each other with no wait between them,
/// so no time may pass at all.
#[tokio::test]
async fn a_real_call_is_never_cut_by_a_virtual_deadline_that_did_not_pass() {
    let sim = SimPlatform::demo(5);
    let clock = sim.clock();
    let backend = Arc::new(Hanging {
        sim: sim.clone(),
        hang: HashSet::new(),
        wire: Some(slow_server(Some(Duration::from_millis(100)))),
    });
    let guarded = Guarded::cluster(backend, clock.clone(), Duration::from_secs(120));
    let c = clock.clone();
    let heartbeat = tokio::spawn(async move {
        loop {
            c.sleep(Duration::from_secs(300)).await;
        }
    });
    let start = clock.now();
    for call in 0..20 {
        let clusters = guarded.list_clusters().await;
        assert!(clusters.is_ok(), "call {call}: {clusters:?}");
    }
    heartbeat.abort();
    let moved = (clock.now() - start).num_seconds();
    assert_eq!(
        moved, 0,
        "the clock moved {moved} s during 2 s of real calls"
    );
}

/// A real call that never answers still ends on a virtual clock: the call
/// deadline also runs in real time.
#[tokio::test]
async fn a_hung_real_call_times_out_in_real_time_on_a_virtual_clock() {
    let sim = SimPlatform::demo(6);
    let backend = Arc::new(Hanging {
        sim: sim.clone(),
        hang: HashSet::new(),
        wire: Some(slow_server(None)),
    });
    let guarded = Guarded::cluster(backend, sim.clock(), Duration::from_millis(300));
    let err = guarded.list_clusters().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(err.to_string().contains("of real time"), "{err}");
}

/// An approval, and an admin's retry, reach a background engine that is
/// idle on a virtual clock without the host calling `wake()`: the service
/// tells its engines.
#[tokio::test]
async fn approvals_and_retries_reach_an_idle_engine_on_a_virtual_clock_without_wake() {
    use butler::request::RequestState;
    use butler::sim::{FaultConfig, Op};
    let sim = SimPlatform::demo(8);
    let b = butler::Butler::builder()
        .simulator(sim.clone())
        .engine_config(World::engine_config("idle"))
        .build()
        .unwrap();
    let handle = b.engine().unwrap().clone().start();
    let idle = || async {
        // The engine's pass found nothing more; it waits idle again.
        while sim.clock().parked() < 1 {
            tokio::task::yield_now().await;
        }
    };
    let reaches = |id, state| {
        let store = b.store().clone();
        async move {
            tokio::time::timeout(Duration::from_secs(60), async {
                loop {
                    let now = store.get_request(id).await.unwrap();
                    if now.state == state {
                        return now;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("request {id} never reached {state:?}"))
        }
    };
    let (ana, bea) = (common::ana(), common::bea());
    let approved = |name: &'static str| {
        let svc = b.requests().clone();
        let (ana, bea) = (ana.clone(), bea.clone());
        async move {
            let r = svc.create(&ana, butler::demo::spec(name)).await.unwrap();
            let r = svc.submit(&ana, r.id, r.version).await.unwrap();
            svc.approve(&bea, r.id, r.version).await.unwrap()
        }
    };
    idle().await;
    let r = approved("idle01").await;
    reaches(r.id, RequestState::Completed).await;
    // A request that fails for good, then an admin's retry once the
    // platform is healthy again.
    sim.set_faults(Op::CreateVm, FaultConfig::permanent(1.0));
    idle().await;
    let r = approved("idle02").await;
    let failed = reaches(r.id, RequestState::Error).await;
    sim.set_faults(Op::CreateVm, FaultConfig::default());
    idle().await;
    let admin = butler::auth::Actor::trusted("ada", [butler::auth::Role::Admin]).unwrap();
    b.requests()
        .retry(&admin, failed.id, failed.version)
        .await
        .unwrap();
    reaches(r.id, RequestState::Completed).await;
    handle.shutdown().await;
}

/// A billing system that never says what it charged (in simulated time:
/// it waits on the clock for ten years): showback's comparison gives up at
/// the call deadline, on the service's clock.
#[tokio::test]
async fn a_billing_system_that_never_reports_its_charges_times_out() {
    struct Silent(SimPlatform);
    #[async_trait::async_trait]
    impl butler::backend::Billing for Silent {
        async fn is_active(&self, _: &str) -> Result<bool, butler::backend::BackendError> {
            Ok(false)
        }
        async fn activate(
            &self,
            _: &butler::backend::BillingActivation,
        ) -> Result<(), butler::backend::BackendError> {
            Ok(())
        }
        async fn change(
            &self,
            _: &butler::backend::BillingActivation,
        ) -> Result<(), butler::backend::BackendError> {
            Ok(())
        }
        async fn stop(
            &self,
            _: &butler::backend::BillingStop,
        ) -> Result<(), butler::backend::BackendError> {
            Ok(())
        }
        fn reports_charges(&self) -> bool {
            true
        }
        async fn charges(
            &self,
            _: butler::showback::Month,
        ) -> Result<Vec<butler::backend::Charge>, butler::backend::BackendError> {
            self.0
                .clock()
                .sleep(Duration::from_secs(10 * 365 * 86_400))
                .await;
            Ok(Vec::new())
        }
    }
    let sim = SimPlatform::demo(5);
    let clock = sim.clock();
    let svc = demo_service(clock.clone());
    let start = clock.now();
    let viewer = butler::auth::Actor::trusted("val", [butler::auth::Role::Viewer]).unwrap();
    let err = svc
        .compare_with_billing(
            &viewer,
            "2026-01".parse().unwrap(),
            Arc::new(Silent(sim.clone())),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, butler::ButlerError::Backend(b) if b.kind == ErrorKind::Timeout),
        "{err}"
    );
    let waited = (clock.now() - start).to_std().unwrap();
    assert_eq!(waited, butler::resilience::DEFAULT_CALL_DEADLINE);
}
