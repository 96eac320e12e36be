//! End-to-end provisioning throughput: approved requests taken to
//! `Completed` by the engine on the simulator (zero latency, instant tasks)
//! with the SQLite store on a file (WAL). Requests/s = N / median time.
//! `decommission/…` does the same for approved decommissions of VMs the
//! engine provisioned first (not timed).

use butler::auth::{Actor, Role};
use butler::engine::{Engine, EngineConfig};
use butler::sim::{SimPlatform, Timings};
use butler::{demo, Butler};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn setup(n: usize, dir: &std::path::Path) -> Arc<Engine> {
    setup_butler(n, dir).await.1
}

/// `n` VMs provisioned, then a decommission of each asked and approved:
/// the engine that will retire them.
async fn setup_decommissions(n: usize, dir: &std::path::Path) -> Arc<Engine> {
    let (butler, engine) = setup_butler(n, dir).await;
    let s = engine.run_until_idle().await.expect("provision");
    assert_eq!(s.completed, n);
    let svc = butler.requests();
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let mut before = None;
    loop {
        let page = butler
            .vms()
            .list(
                &ana,
                &butler::inventory::VmQuery {
                    lifecycles: vec![butler::inventory::Lifecycle::Active],
                    before,
                    limit: Some(1000),
                    ..Default::default()
                },
            )
            .await
            .expect("list");
        if page.items.is_empty() {
            break;
        }
        before = page.items.last().map(|v| v.id);
        for vm in page.items {
            let r = svc.decommission(&ana, vm.id).await.expect("decommission");
            svc.approve(&bea, r.id, r.version).await.expect("approve");
        }
    }
    engine
}

async fn setup_butler(n: usize, dir: &std::path::Path) -> (Butler, Arc<Engine>) {
    let timings = Timings {
        queue: Duration::ZERO,
        create_vm: Duration::ZERO,
        ..Timings::default()
    };
    let sim = SimPlatform::demo_builder(1).timings(timings).build();
    // A fresh file per sample: the seeded simulator's uuids repeat, so a
    // name from them would reuse (and grow) the previous sample's store.
    static SAMPLE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = SAMPLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("bench-{n}-{k}.sqlite"));
    let cfg = EngineConfig {
        max_in_flight: 64,
        task_poll: Duration::ZERO,
        ..EngineConfig::default()
    };
    let butler = Butler::builder()
        .sqlite(&path)
        .simulator(sim)
        .engine_config(cfg)
        .build()
        .expect("wire the bench Butler");
    let svc = butler.requests();
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    for i in 0..n {
        let r = svc
            .create(&ana, demo::spec(&format!("b{i}")))
            .await
            .expect("create");
        let r = svc.submit(&ana, r.id, r.version).await.expect("submit");
        svc.approve(&bea, r.id, r.version).await.expect("approve");
    }
    let engine = butler.engine().expect("the simulator provisions").clone();
    (butler, engine)
}

/// `iters` engine runs, each on a fresh set-up (untimed) of `n` approved
/// requests that must all complete: the time of the runs alone.
fn engine_runs<F: std::future::Future<Output = Arc<Engine>>>(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    n: usize,
    setup: impl Fn() -> F,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let engine = rt.block_on(setup());
        let t = Instant::now();
        let s = rt.block_on(engine.run_until_idle()).expect("engine run");
        total += t.elapsed();
        assert_eq!(s.completed, n);
    }
    total
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("provision");
    g.sample_size(10);
    // 20,000 shows whether the simulator's look-ups stay flat (they are
    // indexed: the figure should stay within 20 % of the 2,000 one).
    for n in [2000usize, 20_000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("approved_to_completed_sqlite", n),
            &n,
            |b, &n| b.iter_custom(|iters| engine_runs(&rt, iters, n, || setup(n, dir.path()))),
        );
    }
    g.finish();
    let mut g = c.benchmark_group("decommission");
    g.sample_size(10);
    let n = 2000usize;
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(
        BenchmarkId::new("approved_to_completed_sqlite", n),
        &n,
        |b, &n| {
            b.iter_custom(|iters| engine_runs(&rt, iters, n, || setup_decommissions(n, dir.path())))
        },
    );
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
