//! End-to-end provisioning throughput: approved requests taken to
//! `Completed` by the engine on the simulator (zero latency, instant tasks)
//! with the SQLite store on a file (WAL). Requests/s = N / median time.
//! `decommission/…` does the same for approved decommissions of VMs the
//! engine provisioned first (not timed). 100,000 requests are measured too
//! with `BUTLER_BENCH_LARGE=1` (about ten minutes).
//!
//! The bench allocates with mimalloc, as `butler-server` does: the store
//! thread frees what the engine's tasks allocated and the other way round,
//! which glibc's malloc serialises on its arena locks.

use butler::auth::{Actor, Role};
use butler::engine::{Engine, EngineConfig};
use butler::sim::{SimPlatform, Timings};
use butler::{demo, Butler};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    // Sixteen requesters at a time: the set-up of 100,000 takes seconds.
    let mut set = tokio::task::JoinSet::new();
    for w in 0..16usize {
        let svc = butler.requests().clone();
        set.spawn(async move {
            let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
            let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
            for i in (w..n).step_by(16) {
                let r = svc
                    .create(&ana, demo::spec(&format!("b{i}")))
                    .await
                    .expect("create");
                let r = svc.submit(&ana, r.id, r.version).await.expect("submit");
                svc.approve(&bea, r.id, r.version).await.expect("approve");
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.expect("set-up task");
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
    // The figure must stay flat as the store grows (within 10 % of the
    // 2,000 one at 20,000 and 100,000).
    let mut sizes = vec![2000usize, 20_000];
    if std::env::var_os("BUTLER_BENCH_LARGE").is_some() {
        sizes.push(100_000);
    }
    for n in sizes {
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
