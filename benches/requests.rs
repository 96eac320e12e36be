//! What requesters and approvers wait for: `create`, `submit` and
//! `approve` of 2,000 requests through `RequestService` on the SQLite file
//! store (WAL), 64 users at a time. Requests/s = 2,000 / median time.
//!
//! `quota_submit/{sqlite,postgres}`: 2,000 drafts (made untimed) submitted
//! by 64 requesters at once, each submit holding its share against quotas
//! on its division, its unit and its requester (all 64 in one division and
//! unit: every hold waits for the same two scope rows). The PostgreSQL
//! variant (feature `postgres`) needs `BUTLER_TEST_POSTGRES_URL` and is
//! skipped without it.

use butler::auth::{Actor, Role};
use butler::service::RequestService;
use butler::{demo, Butler};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::sync::Arc;

const N: usize = 2_000;
const USERS: usize = 64;

fn fresh(dir: &std::path::Path, round: usize) -> Arc<RequestService> {
    let butler = Butler::builder()
        .sqlite(dir.join(format!("requests-{round}.sqlite")))
        .simulator(butler::sim::SimPlatform::demo(1))
        .build()
        .expect("wire the bench Butler");
    butler.requests().clone()
}

async fn three_calls(svc: Arc<RequestService>) {
    let ana = Actor::trusted("ana", [Role::Requester]).expect("actor");
    let bea = Actor::trusted("bea", [Role::Approver]).expect("actor");
    let mut users = tokio::task::JoinSet::new();
    for u in 0..USERS {
        let (svc, ana, bea) = (svc.clone(), ana.clone(), bea.clone());
        users.spawn(async move {
            for i in (u..N).step_by(USERS) {
                let r = svc
                    .create(&ana, demo::spec(&format!("r{i}")))
                    .await
                    .expect("create");
                let r = svc.submit(&ana, r.id, r.version).await.expect("submit");
                svc.approve(&bea, r.id, r.version).await.expect("approve");
            }
        });
    }
    while let Some(done) = users.join_next().await {
        done.expect("a user task");
    }
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut round = 0;
    let mut g = c.benchmark_group("requests");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("create_submit_approve/2000", |b| {
        b.iter_batched(
            || {
                round += 1;
                fresh(dir.path(), round)
            },
            |svc| rt.block_on(three_calls(svc)),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Quotas every submit is checked against (room enough: none refused).
const QUOTAS: &str = "[[quota]]\ndivision = \"CORP\"\nvcpus = 1000000000\nmonthly_cost = \"1000000000\"\n\n[[quota]]\nunit = \"IT\"\nvms = 1000000000\n\n[[quota]]\nrequester = \"*\"\nvms = 1000000000\n";

/// 2,000 drafts of 64 requesters, made on `svc` (untimed).
async fn drafts(svc: &Arc<RequestService>, round: usize) -> Vec<(Actor, butler::request::Request)> {
    let mut out = Vec::with_capacity(N);
    for i in 0..N {
        let who = Actor::trusted(&format!("u{}", i % USERS), [Role::Requester]).expect("actor");
        let r = svc
            .create(&who, demo::spec(&format!("q{round}-{i}")))
            .await
            .expect("create");
        out.push((who, r));
    }
    out
}

/// Submits every draft, 64 requesters at a time.
async fn submit_all(svc: Arc<RequestService>, drafts: Vec<(Actor, butler::request::Request)>) {
    let mut per_user: Vec<Vec<(Actor, butler::request::Request)>> = vec![Vec::new(); USERS];
    for (i, d) in drafts.into_iter().enumerate() {
        per_user[i % USERS].push(d);
    }
    let mut users = tokio::task::JoinSet::new();
    for mine in per_user {
        let svc = svc.clone();
        users.spawn(async move {
            for (who, r) in mine {
                svc.submit(&who, r.id, r.version).await.expect("submit");
            }
        });
    }
    while let Some(done) = users.join_next().await {
        done.expect("a user task");
    }
}

fn quota_submits(
    c: &mut Criterion,
    name: &str,
    svc: Arc<RequestService>,
    rt: &tokio::runtime::Runtime,
) {
    let admin = Actor::trusted("root", [Role::Admin]).expect("actor");
    rt.block_on(svc.set_rules(
        &admin,
        butler::rules::Rules::from_toml(QUOTAS).expect("quotas"),
    ))
    .expect("set quotas");
    let mut round = 0;
    let mut g = c.benchmark_group("quota_submit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(format!("{name}/2000"), |b| {
        b.iter_batched(
            || {
                round += 1;
                rt.block_on(drafts(&svc, round))
            },
            |d| rt.block_on(submit_all(svc.clone(), d)),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn quota_sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let svc = fresh(dir.path(), 0);
    quota_submits(c, "sqlite", svc, &rt);
}

#[cfg(feature = "postgres")]
fn quota_postgres(c: &mut Criterion) {
    let rt = runtime();
    let Some(url) = rt.block_on(butler::postgres::testing::fresh_database("butler_qb")) else {
        eprintln!("*** quota_submit/postgres SKIPPED: BUTLER_TEST_POSTGRES_URL unset ***");
        return;
    };
    let store = Arc::new(
        rt.block_on(butler::postgres::PostgresStore::connect(&url))
            .expect("connect"),
    );
    let svc = Butler::builder()
        .store(store)
        .simulator(butler::sim::SimPlatform::demo(1))
        .build()
        .expect("wire the bench Butler")
        .requests()
        .clone();
    quota_submits(c, "postgres", svc, &rt);
}

#[cfg(feature = "postgres")]
criterion_group!(benches, requests, quota_sqlite, quota_postgres);
#[cfg(not(feature = "postgres"))]
criterion_group!(benches, requests, quota_sqlite);
criterion_main!(benches);
