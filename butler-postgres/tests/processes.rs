//! Two OS processes, each an engine, on one PostgreSQL database and one
//! platform (the fake Prism served by the test over HTTP): steps slower
//! than the lease, and one process killed with SIGKILL mid-run. The other
//! finishes everything; nothing is made twice.
//!
//! The workers are this test binary started again with
//! `BUTLER_WORKER_*` set (see `worker_process_entry`).

use butler_core::auth::{Actor, Role};
use butler_core::backend::{Billing, Monitor, SystemClock};
use butler_core::engine::{Engine, EngineConfig};
use butler_core::request::RequestState;
use butler_core::service::RequestService;
use butler_core::store::prelude::*;
use butler_core::store::Store;
use butler_nutanix::fake::FakePrism;
use butler_nutanix::{NutanixBackend, NutanixConfig};
use butler_postgres::PostgresStore;
use butler_sim::SimPlatform;
use butler_webhook::receiver::Receiver;
use butler_webhook::{WebhookBilling, WebhookConfig, SECRET_VAR};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "two-process-test-secret-of-32-bytes!";

async fn fresh_db() -> Option<String> {
    butler_postgres::testing::fresh_database("butler_p").await
}

fn engine_config(id: &str) -> EngineConfig {
    let mut c = EngineConfig {
        engine_id: id.into(),
        max_in_flight: 16,
        task_poll: Duration::from_millis(10),
        // Shorter than one step through the slowed-down Prism (creating a
        // VM is about eleven HTTP requests of 80 ms): only the heartbeat
        // keeps a step's lease. Each backend call (up to six requests) has
        // a deadline under the lease.
        lease_ttl: Duration::from_millis(800),
        call_deadline: Duration::from_millis(700),
        monitoring: false,
        ..EngineConfig::default()
    };
    c.retry.base_delay = Duration::from_millis(10);
    c.retry.max_delay = Duration::from_millis(100);
    // Two engines, the fake Prism and PostgreSQL share two cores: a call
    // may miss its deadline under that load and is then retried.
    c.retry.max_attempts = 100;
    c
}

/// A worker process: one engine on the shared database and platform,
/// until no request is left to provision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_process_entry() {
    let Ok(db) = std::env::var("BUTLER_WORKER_DB") else {
        return; // Not started as a worker: nothing to do here.
    };
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} unset"));
    let prism = NutanixConfig::from_toml(&var("BUTLER_WORKER_PRISM"), |_| {
        Some(butler_nutanix::fake::PASSWORD.to_string())
    })
    .unwrap();
    let hook = WebhookConfig::from_toml(
        &format!(
            "url = {:?}\nallow_plain_http = true\ntimeout_secs = 2\n",
            var("BUTLER_WORKER_HOOK")
        ),
        |k| (k == SECRET_VAR).then(|| SECRET.to_string()),
    )
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&db).await.unwrap());
    let svc = Arc::new(RequestService::with_clock(
        store.clone(),
        butler_core::demo::catalog(),
        butler_core::demo::rate_book(),
        Arc::new(SystemClock),
    ));
    let platform = Arc::new(NutanixBackend::new(&prism).unwrap());
    let monitor: Arc<dyn Monitor> = Engine::switched_off();
    let billing: Arc<dyn Billing> = Arc::new(WebhookBilling::new(hook).unwrap());
    let engine = Arc::new(Engine::new(
        svc,
        platform,
        monitor,
        billing,
        engine_config(&var("BUTLER_WORKER_ID")),
    ));
    loop {
        engine.run_until_idle().await.unwrap();
        let left = store
            .request_ids_in_states(&[RequestState::Approved, RequestState::Provisioning])
            .await
            .unwrap();
        if left.is_empty() {
            break;
        }
        // Leased by the other engine (or by a dead one until it expires).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn_worker(id: &str, db: &str, prism: &str, hook: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "worker_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BUTLER_WORKER_DB", db)
        .env("BUTLER_WORKER_PRISM", prism)
        .env("BUTLER_WORKER_HOOK", hook)
        .env("BUTLER_WORKER_ID", id)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_database_and_one_killed_loses_nothing() {
    let Some(db) = fresh_db().await else { return };
    let sim = SimPlatform::realtime_demo_builder(17).build();
    let fake = FakePrism::start(sim.clone()).await.unwrap();
    // Every Prism request takes 80 ms: steps take longer than the lease.
    fake.set_latency(Duration::from_millis(80));
    let receiver = Receiver::start(SECRET.as_bytes()).await.unwrap();

    let store = Arc::new(PostgresStore::connect(&db).await.unwrap());
    let svc = RequestService::with_clock(
        store.clone(),
        butler_core::demo::catalog(),
        butler_core::demo::rate_book(),
        Arc::new(SystemClock),
    );
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    // 2,000 (about 2.5 minutes here); BUTLER_TWO_PROCESS_REQUESTS=200 for
    // a quick local run.
    let n: usize = std::env::var("BUTLER_TWO_PROCESS_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut ids = Vec::new();
    for i in 0..n {
        let r = svc
            .create(&ana, butler_core::demo::spec(&format!("two{i}")))
            .await
            .unwrap();
        let r = svc.submit(&ana, r.id, r.version).await.unwrap();
        ids.push(svc.approve(&bea, r.id, r.version).await.unwrap().id);
    }

    let prism = fake.config_toml().await;
    let mut a = spawn_worker("proc-a", &db, &prism, &receiver.url());
    let mut b = spawn_worker("proc-b", &db, &prism, &receiver.url());
    // Kill A once it has finished a few requests, mid-run.
    let started = Instant::now();
    loop {
        let done = store
            .request_ids_in_states(&[RequestState::Completed])
            .await
            .unwrap()
            .len();
        if done >= n / 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no progress: {done} done"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill().unwrap(); // SIGKILL: no clean-up, leases left behind
    a.wait().unwrap();
    let status = tokio::task::spawn_blocking(move || b.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "worker B failed: {status}");

    let mut completed = 0;
    for id in &ids {
        let r = store.get_request(*id).await.unwrap();
        assert_eq!(
            r.state,
            RequestState::Completed,
            "request {id}: {:?}",
            r.failure
        );
        completed += 1;
        let name = r.platform_vm_name();
        assert_eq!(sim.vms_named(&name), 1, "{name} made once");
    }
    assert_eq!(completed, n);
    assert_eq!(
        receiver.activations().len(),
        n,
        "one effective activation each"
    );
    assert_eq!(receiver.refused(), 0);
}
