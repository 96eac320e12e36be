//! The inventory under load (criterion medians):
//! - `my_vms_page/<store>/<n>`: one page of "my VMs" (50 rows, newest
//!   first, with the total) through `VmService::list`, over `n` stored VM
//!   records of 1,000 owners (`BUTLER_BENCH_VMS`, default 1,000,000);
//! - `vms_keyset_page/<store>/<n>`: the 50 records below the middle one
//!   (how the reconcile pages), at the same cost however deep.
//!
//! The PostgreSQL variant (feature `postgres`) needs
//! `BUTLER_TEST_POSTGRES_URL` and is skipped without it.

use butler::auth::{Actor, Role};
use butler::inventory::{InventoryConfig, VmId, VmQuery, VmRecord, VmService};
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

/// A record of owner `u<i % 1000>` numbered `i + 1`.
fn record(i: usize) -> VmRecord {
    let sim = butler::backend::VmInfo {
        uuid: format!("uuid-{i}"),
        name: format!("vm{i}-r{i}"),
        cluster: if i % 2 == 0 {
            "c1-madrid"
        } else {
            "c2-santiago"
        }
        .into(),
        project: None,
        power: butler::backend::PowerState::On,
        state: butler::backend::VmState::Ready,
        vcpus: 2,
        ram_gib: 4,
        disks_gib: vec![40, 100],
        nics: vec!["vlan-10".into()],
        categories: vec![],
        ip_addresses: vec![],
    };
    VmRecord::adopted(
        VmId(i as u64 + 1),
        &sim,
        &format!("u{}", i % 1000),
        "CC-1001",
        "bench",
        chrono::DateTime::UNIX_EPOCH,
    )
}

/// Stores `n` records, 16 writers at a time.
async fn fill(store: Arc<dyn Store>, n: usize) {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..16usize {
        let store = store.clone();
        set.spawn(async move {
            for i in (w..n).step_by(16) {
                store.insert_vm(&record(i)).await.expect("insert");
            }
        });
    }
    while set.join_next().await.is_some() {}
}

fn pages(c: &mut Criterion, name: &str, store: Arc<dyn Store>, rt: &tokio::runtime::Runtime) {
    let n = stored();
    let t = std::time::Instant::now();
    rt.block_on(fill(store.clone(), n));
    eprintln!(
        "{name}: {n} VM records stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let sim = butler::sim::SimPlatform::demo(1);
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
