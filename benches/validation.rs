//! Migration validation speed over 10k, 100k and 1M VMs from the fleet
//! generator (realistic mix: about half the VMs carry a finding), and the
//! backend calls of refreshing a 10,000-VM group over 100 protection groups.

use butler::backend::SystemClock;
use butler::migration::{validate, FactsSnapshot, GroupId, Inventory, MigrationGroup};
use butler::sim::{fleet, Op, SimPlatform};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn setup(n: usize) -> (MigrationGroup, FactsSnapshot, chrono::DateTime<chrono::Utc>) {
    let sim = SimPlatform::demo(1);
    let spec = fleet::FleetSpec {
        vms: n,
        groups: n / 100,
        mix: fleet::ProblemMix::REALISTIC,
        ..Default::default()
    };
    let f = fleet::generate(&sim, &spec);
    let g = MigrationGroup::new(GroupId(1), "bench", "bench", sim.now())
        .expect("group")
        .with_members(&f.source, &f.destination, f.vm_names.iter().cloned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let inv = rt
        .block_on(Inventory::fetch(&sim, &SystemClock))
        .expect("inventory");
    let facts = FactsSnapshot::build(&g, &inv, 1);
    (g, facts, sim.now())
}

fn validation(c: &mut Criterion) {
    let mut grp = c.benchmark_group("validate");
    grp.sample_size(20);
    for n in [10_000usize, 100_000, 1_000_000] {
        let (g, facts, now) = setup(n);
        let r = validate(&g, &facts, now, None);
        let flagged = {
            let mut v: Vec<u32> = r
                .findings
                .iter()
                .filter(|f| f.severity() != butler::migration::Severity::Info)
                .map(|f| f.vm)
                .collect();
            v.dedup();
            v.len()
        };
        eprintln!(
            "validate/{n}: {} findings, {:.0}% of VMs flagged",
            r.findings.len(),
            flagged as f64 * 100.0 / n as f64
        );
        grp.throughput(Throughput::Elements(n as u64));
        grp.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(validate(&g, &facts, now, None)))
        });
    }
    grp.finish();
}

fn refresh_calls(c: &mut Criterion) {
    let sim = SimPlatform::demo(2);
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: 10_000,
            groups: 100,
            ..Default::default()
        },
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    sim.reset_calls();
    let inv = rt
        .block_on(Inventory::fetch(&sim, &SystemClock))
        .expect("inventory");
    let calls = sim.total_calls();
    let bound = 10_000u64.div_ceil(500) + 2 * 100;
    eprintln!(
        "refresh of a 10,000-VM group over 100 protection groups on {} clusters: {calls} backend calls (list_vms {}, list_protection_groups {}); bound ⌈N/500⌉ + 2·PDs = {bound}",
        inv.clusters.len(),
        sim.calls(Op::ListVms),
        sim.calls(Op::ListProtectionGroups)
    );
    assert!(calls <= bound + 2);
    let g = MigrationGroup::new(GroupId(1), "r", "r", sim.now())
        .expect("group")
        .with_members(&f.source, &f.destination, f.vm_names.iter().cloned());
    c.bench_function("facts_build/10000", |b| {
        b.iter(|| black_box(FactsSnapshot::build(&g, &inv, 1)))
    });
}

/// What a user waits for: `MigrationService::validate` on a stored,
/// refreshed 1M-VM group (SQLite), token signing included.
fn service_validate(c: &mut Criterion) {
    use butler::auth::{Actor, Role};
    use butler::migration::{MigrationConfig, MigrationService};
    use std::sync::Arc;
    let n = 1_000_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ops = Actor::trusted("olga", [Role::Operator]).expect("actor");
    let (svc, id) = rt.block_on(async {
        let sim = SimPlatform::demo(7);
        let f = fleet::generate(
            &sim,
            &fleet::FleetSpec {
                vms: n,
                groups: n / 100,
                mix: fleet::ProblemMix::REALISTIC,
                ..Default::default()
            },
        );
        let store = Arc::new(butler::store::SqliteStore::open_in_memory().expect("store"));
        let svc = MigrationService::new(
            store,
            Arc::new(sim.clone()),
            sim.clock(),
            MigrationConfig::default(),
        );
        let g = svc.create_group(&ops, "bench").await.expect("group");
        let g = svc
            .save(
                &ops,
                &g.with_members(&f.source, &f.destination, f.vm_names.iter().cloned()),
            )
            .await
            .expect("save");
        svc.refresh(&ops, g.id).await.expect("refresh");
        (svc, g.id)
    });
    let mut grp = c.benchmark_group("service_validate");
    grp.sample_size(10);
    grp.throughput(Throughput::Elements(n as u64));
    grp.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| rt.block_on(async { black_box(svc.validate(&ops, id).await.expect("validate")) }))
    });
    grp.finish();
}

/// The floor under `validate/1000000`: the machine's memory read
/// bandwidth, as a sum over 256 MiB of `u64`s (more than any cache) on two threads (each its
/// half, as validation's two chunks), and what validation reads per VM.
fn memory_read(c: &mut Criterion) {
    use butler::migration::{Finding, GroupVm, VmFacts};
    use std::mem::size_of;
    const BYTES: usize = 256 << 20;
    let (group_vm, facts, finding) = (
        size_of::<GroupVm>(),
        size_of::<VmFacts>(),
        size_of::<Finding>(),
    );
    eprintln!(
        "validation per VM: its GroupVm ({group_vm} B: every cache line of the list is read for `selected`), its VmFacts ({facts} B, read in both passes), a selection byte written and read, about 0.6 findings of {finding} B written"
    );
    let words: Vec<u64> = (0..BYTES as u64 / 8).collect();
    let (a, z) = words.split_at(words.len() / 2);
    let sum = |part: &[u64]| part.iter().fold(0u64, |x, y| x.wrapping_add(*y));
    let mut grp = c.benchmark_group("memory_read");
    grp.sample_size(20);
    grp.throughput(Throughput::Bytes(BYTES as u64));
    grp.bench_function("256MiB_2_threads", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                let other = s.spawn(|| sum(z));
                let mine = sum(a);
                black_box(mine.wrapping_add(other.join().unwrap_or(0)))
            })
        })
    });
    grp.finish();
}

criterion_group!(
    benches,
    validation,
    refresh_calls,
    service_validate,
    memory_read
);
criterion_main!(benches);
