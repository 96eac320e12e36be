//! The stores under load (criterion medians):
//! - `list_page/<store>/100000`: one page (50 rows, filtered by state and
//!   requester, newest first) over 100,000 stored requests of 1,000
//!   requesters;
//! - `provision/approved_to_completed_postgres/2000` (feature `postgres`):
//!   2,000 approved requests taken to `Completed` by **two engines**, each
//!   with its own connection pool, on one PostgreSQL database and the
//!   simulator (zero latency). Requests/s = 2,000 / median.
//!
//! PostgreSQL benches need `BUTLER_TEST_POSTGRES_URL` (a role that may
//! create databases; `scripts/services/postgres.sh` starts one) and are
//! skipped without it.

use butler::auth::{Actor, Role};
use butler::request::RequestState;
use butler::store::{RequestQuery, SqliteStore, Store};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::sync::Arc;
use std::time::Duration;

/// As `butler-server` (see `benches/provisioning.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STORED: usize = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Stores `STORED` requests of 1,000 requesters, 16 writers at a time.
async fn fill(store: Arc<dyn Store>) {
    let t0 = chrono::Utc::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..16usize {
        let store = store.clone();
        set.spawn(async move {
            for i in (w..STORED).step_by(16) {
                let id = store.next_request_id().await.expect("id");
                let at = t0 + chrono::Duration::seconds(i as i64);
                let r =
                    butler_core::testing::store::sample_request(id, &format!("u{}", i % 1000), at);
                store.insert_request(&r).await.expect("insert");
            }
        });
    }
    while set.join_next().await.is_some() {}
}

fn page_query() -> RequestQuery {
    RequestQuery {
        states: vec![RequestState::Created],
        owner: Some("u7".into()),
        offset: 0,
        limit: Some(50),
        ..RequestQuery::default()
    }
}

fn list_page(c: &mut Criterion, name: &str, store: Arc<dyn Store>, rt: &tokio::runtime::Runtime) {
    rt.block_on(fill(store.clone()));
    let q = page_query();
    let mut g = c.benchmark_group("list_page");
    g.sample_size(30);
    g.bench_with_input(BenchmarkId::new(name, STORED), &q, |b, q| {
        b.iter(|| {
            let page = rt.block_on(store.list_requests(q)).expect("list");
            assert_eq!(page.items.len(), 50);
            page
        })
    });
    g.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path().join("list.sqlite")).expect("open"));
    list_page(c, "sqlite", store, &rt);
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use butler::backend::SystemClock;
    use butler::engine::{Engine, EngineConfig};
    use butler::postgres::PostgresStore;
    use butler::service::RequestService;
    use butler::sim::SimPlatform;
    use std::time::Instant;

    pub async fn fresh_db() -> Option<String> {
        butler::postgres::testing::fresh_database("butler_b").await
    }

    pub fn list(c: &mut Criterion) {
        let rt = runtime();
        let Some(url) = rt.block_on(fresh_db()) else {
            eprintln!("*** list_page/postgres SKIPPED: BUTLER_TEST_POSTGRES_URL unset ***");
            return;
        };
        let store = Arc::new(rt.block_on(PostgresStore::connect(&url)).expect("connect"));
        list_page(c, "postgres", store, &rt);
    }

    async fn two_engines(url: &str, n: usize) -> (Arc<Engine>, Arc<Engine>) {
        let sim = SimPlatform::realtime_demo_builder(1).build();
        let mut engines = Vec::new();
        let mut first = None;
        for id in ["bench-a", "bench-b"] {
            let store: Arc<dyn Store> =
                Arc::new(PostgresStore::connect(url).await.expect("connect"));
            // Real I/O: the engines run on the system clock.
            let svc = Arc::new(RequestService::with_clock(
                store,
                butler::demo::catalog(),
                butler::demo::rate_book(),
                Arc::new(SystemClock),
            ));
            let cfg = EngineConfig {
                engine_id: id.into(),
                max_in_flight: 32,
                task_poll: Duration::ZERO,
                ..EngineConfig::default()
            };
            let p = Arc::new(sim.clone());
            engines.push(Arc::new(Engine::new(
                svc.clone(),
                p.clone(),
                p.clone(),
                p,
                cfg,
            )));
            first.get_or_insert(svc);
        }
        let svc = first.expect("two services");
        let ana = Actor::trusted("ana", [Role::Requester]).expect("actor");
        let bea = Actor::trusted("bea", [Role::Approver]).expect("actor");
        for i in 0..n {
            let r = svc
                .create(&ana, butler::demo::spec(&format!("b{i}")))
                .await
                .expect("create");
            let r = svc.submit(&ana, r.id, r.version).await.expect("submit");
            svc.approve(&bea, r.id, r.version).await.expect("approve");
        }
        let b = engines.pop().expect("engine");
        let a = engines.pop().expect("engine");
        (a, b)
    }

    pub fn provision(c: &mut Criterion) {
        let rt = runtime();
        if std::env::var("BUTLER_TEST_POSTGRES_URL").is_err() {
            eprintln!("*** provision/approved_to_completed_postgres SKIPPED: BUTLER_TEST_POSTGRES_URL unset ***");
            return;
        }
        let mut g = c.benchmark_group("provision");
        g.sample_size(10);
        let n = 2000usize;
        g.throughput(criterion::Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("approved_to_completed_postgres", n),
            &n,
            |b, &n| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let url = rt.block_on(fresh_db()).expect("database");
                        let (a, bb) = rt.block_on(two_engines(&url, n));
                        let t = Instant::now();
                        let (ra, rb) = rt.block_on(async {
                            tokio::join!(a.run_until_idle(), bb.run_until_idle())
                        });
                        total += t.elapsed();
                        let (ra, rb) = (ra.expect("engine a"), rb.expect("engine b"));
                        assert_eq!(ra.completed + rb.completed, n);
                    }
                    total
                })
            },
        );
        g.finish();
    }
}

#[cfg(feature = "postgres")]
criterion_group!(benches, sqlite, pg::list, pg::provision);
#[cfg(not(feature = "postgres"))]
criterion_group!(benches, sqlite);
criterion_main!(benches);
