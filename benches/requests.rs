//! What requesters and approvers wait for: `create`, `submit` and
//! `approve` of 2,000 requests through `RequestService` on the SQLite file
//! store (WAL), 64 users at a time. Requests/s = 2,000 / median time.

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

criterion_group!(benches, requests);
criterion_main!(benches);
