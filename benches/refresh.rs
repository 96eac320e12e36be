//! `refresh/1000000`: `MigrationService::refresh` of a stored 1M-VM group
//! over 10,000 protection groups on the simulator (zero latency, SQLite
//! file store): the platform read, the facts built and installed.
//!
//! Memory, counted by this binary's allocator: the bytes still held after
//! a refresh beyond what was held before (the group as the service keeps
//! it, plus its facts), and the peak above that starting point while a
//! refresh runs. Printed per VM.

use butler::auth::{Actor, Role};
use butler::migration::{MigrationConfig, MigrationService};
use butler::sim::{fleet, SimPlatform};
use butler::store::SqliteStore;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                let now =
                    LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const VMS: usize = 1_000_000;

fn refresh(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let ops = Actor::trusted("olga", [Role::Operator]).expect("actor");
    let sim = SimPlatform::demo(5);
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: VMS,
            groups: VMS / 100,
            mix: fleet::ProblemMix::REALISTIC,
            ..Default::default()
        },
    );
    let store = Arc::new(SqliteStore::open(dir.path().join("refresh.sqlite")).expect("open"));
    let svc = MigrationService::new(
        store,
        Arc::new(sim.clone()),
        sim.clock(),
        MigrationConfig::default(),
    );
    let id = rt.block_on(async {
        let g = svc.create_group(&ops, "bench").await.expect("group");
        svc.save(
            &ops,
            &g.with_members(&f.source, &f.destination, f.vm_names.iter().cloned()),
        )
        .await
        .expect("save")
        .id
    });
    drop(f);
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let facts = rt.block_on(svc.refresh(&ops, id)).expect("refresh");
    let held = LIVE.load(Relaxed).saturating_sub(before);
    // Again, as the service is used: a second refresh replaces the first
    // facts and reuses the group and its index.
    let facts = {
        drop(facts);
        rt.block_on(svc.refresh(&ops, id)).expect("refresh")
    };
    assert_eq!(
        LIVE.load(Relaxed).saturating_sub(before),
        held,
        "a second refresh holds what the first did"
    );
    let peak = PEAK.load(Relaxed).saturating_sub(before);
    eprintln!(
        "refresh/{VMS}: {} VMs found; held after the refresh (group + facts): {:.0} MB = {} bytes per VM; peak during it: {:.0} MB = {} bytes per VM",
        facts.vms.iter().filter(|v| v.cluster != butler::migration::NONE16).count(),
        held as f64 / 1e6,
        held / VMS,
        peak as f64 / 1e6,
        peak / VMS
    );
    drop(facts);
    let mut grp = c.benchmark_group("refresh");
    grp.sample_size(10);
    grp.throughput(Throughput::Elements(VMS as u64));
    grp.bench_function(BenchmarkId::from_parameter(VMS), |b| {
        b.iter(|| rt.block_on(svc.refresh(&ops, id)).expect("refresh"))
    });
    grp.finish();
}

criterion_group!(benches, refresh);
criterion_main!(benches);
