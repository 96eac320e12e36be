//! The inventory under load (criterion medians):
//! - `my_vms_page/<store>/<n>`: one page of "my VMs" (50 rows, newest
//!   first, with the total) through `VmService::list`, over `n` stored VM
//!   records of 1,000 owners (`BUTLER_BENCH_VMS`, default 1,000,000);
//! - `vms_keyset_page/<store>/<n>`: the 50 records below the middle one
//!   (how the reconcile pages), at the same cost however deep;
//! - `reconcile/<store>/<n>`: the whole inventory compared with the
//!   platform (a simulated fleet of the same `n` VMs), nothing drifted.
//!
//! The PostgreSQL variant (feature `postgres`) needs
//! `BUTLER_TEST_POSTGRES_URL` and is skipped without it.

use butler::auth::{Actor, Role};
use butler::backend::{ClusterBackend, VmInfo};
use butler::inventory::{InventoryConfig, VmId, VmQuery, VmRecord, VmService};
use butler::sim::{fleet, SimPlatform};
use butler::store::{SqliteStore, Store};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::sync::Arc;

fn stored() -> usize {
    std::env::var("BUTLER_BENCH_VMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A simulated platform of `n` VMs (a generated fleet on its first
/// cluster) and its VMs as it lists them.
fn platform(n: usize) -> (SimPlatform, Vec<VmInfo>) {
    let sim = SimPlatform::demo(1);
    fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: n,
            groups: (n / 100).max(1),
            ..Default::default()
        },
    );
    let rt = runtime();
    let vms = rt.block_on(async {
        let mut all = Vec::new();
        for c in sim.list_clusters().await.expect("clusters") {
            all.extend(sim.list_vms(&c.name).await.expect("vms"));
        }
        all
    });
    (sim, vms)
}

/// The record of the platform's VM `vm`, adopted for owner `u<i % 1000>`
/// and numbered `i + 1`.
fn record(i: usize, vm: &VmInfo) -> VmRecord {
    VmRecord::adopted(
        VmId(i as u64 + 1),
        vm,
        &format!("u{}", i % 1000),
        "CC-1001",
        "bench",
        chrono::DateTime::UNIX_EPOCH,
    )
}

/// Stores a record of every VM, 16 writers at a time.
async fn fill(store: Arc<dyn Store>, vms: Arc<Vec<VmInfo>>) {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..16usize {
        let (store, vms) = (store.clone(), vms.clone());
        set.spawn(async move {
            for i in (w..vms.len()).step_by(16) {
                store.insert_vm(&record(i, &vms[i])).await.expect("insert");
            }
        });
    }
    while set.join_next().await.is_some() {}
}

fn pages(c: &mut Criterion, name: &str, store: Arc<dyn Store>, rt: &tokio::runtime::Runtime) {
    let (sim, vms) = platform(stored());
    let n = vms.len();
    let t = std::time::Instant::now();
    rt.block_on(fill(store.clone(), Arc::new(vms)));
    eprintln!(
        "{name}: {n} VM records stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let vms = VmService::new(
        store.clone(),
        Arc::new(sim.clone()),
        sim.clock(),
        butler::auth::Policy::standard(),
        InventoryConfig::default(),
    );
    let u7 = Actor::trusted("u7", [Role::Requester]).expect("actor");
    let mut g = c.benchmark_group("my_vms_page");
    g.sample_size(30);
    g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
        b.iter(|| {
            let page = rt
                .block_on(vms.list(&u7, &VmQuery::default()))
                .expect("list");
            assert_eq!((page.items.len(), page.total), (50, n / 1000));
            page
        })
    });
    g.finish();
    let mut g = c.benchmark_group("vms_keyset_page");
    g.sample_size(30);
    let q = VmQuery {
        before: Some(VmId(n as u64 / 2)),
        ..VmQuery::default()
    };
    g.bench_with_input(BenchmarkId::new(name, n), &q, |b, q| {
        b.iter(|| {
            let page = rt.block_on(store.list_vms(q)).expect("list");
            assert_eq!(page.items.len(), 50);
            page
        })
    });
    g.finish();
    // The whole estate compared with the platform: one listing per
    // cluster, the records in keyset pages; nothing drifted, nothing written.
    let olga = Actor::trusted("olga", [Role::Operator]).expect("actor");
    let mut g = c.benchmark_group("reconcile");
    g.sample_size(10);
    g.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
        b.iter(|| {
            let s = rt.block_on(vms.reconcile(&olga)).expect("reconcile");
            assert_eq!((s.checked, s.drifted), (n, 0));
            s
        })
    });
    g.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path().join("vms.sqlite")).expect("open"));
    pages(c, "sqlite", store, &rt);
}

#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion) {
    let rt = runtime();
    let Some(url) = rt.block_on(butler::postgres::testing::fresh_database("butler_i")) else {
        eprintln!("*** my_vms_page/postgres SKIPPED: BUTLER_TEST_POSTGRES_URL unset ***");
        return;
    };
    let store = Arc::new(
        rt.block_on(butler::postgres::PostgresStore::connect(&url))
            .expect("connect"),
    );
    pages(c, "postgres", store, &rt);
}

#[cfg(feature = "postgres")]
criterion_group!(benches, sqlite, postgres);
#[cfg(not(feature = "postgres"))]
criterion_group!(benches, sqlite);
criterion_main!(benches);
