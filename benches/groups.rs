//! Editing a stored million-VM group (SQLite file store, simulator):
//! - `group_add_vm/1000000`: `MigrationService::add_vms` of one VM;
//! - `group_select/1000000`: `MigrationService::select` of one VM (the
//!   one-VM form), deselected and selected again in turn;
//! - `group_add_vms/100000`: a bulk add of 100,000 VMs to the same group
//!   (the platform lookup included: one listing per cluster).
//!
//! Each timed addition is undone, untimed, before the next, so every
//! sample edits a group of the same size.

use butler::auth::{Actor, Role};
use butler::migration::{MigrationConfig, MigrationService};
use butler::sim::{fleet, SimPlatform};
use butler::store::SqliteStore;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GROUP: usize = 1_000_000;
const BULK: usize = 100_000;

fn groups(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let ops = Actor::trusted("olga", [Role::Operator]).expect("actor");
    let sim = SimPlatform::demo(11);
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: GROUP + BULK,
            groups: (GROUP + BULK) / 100,
            ..Default::default()
        },
    );
    let (members, extra) = f.vm_names.split_at(GROUP);
    let store = Arc::new(SqliteStore::open(dir.path().join("groups.sqlite")).expect("open"));
    let svc = MigrationService::new(
        store,
        Arc::new(sim.clone()),
        sim.clock(),
        MigrationConfig::default(),
    );
    let t = Instant::now();
    let g = rt.block_on(async {
        let g = svc.create_group(&ops, "bench").await.expect("group");
        svc.save(
            &ops,
            &g.with_members(&f.source, &f.destination, members.iter().cloned()),
        )
        .await
        .expect("save")
    });
    eprintln!(
        "saved a {GROUP}-VM group as a whole in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let id = g.id;
    let mut version = g.version;

    let mut grp = c.benchmark_group("group_add_vm");
    grp.bench_function(BenchmarkId::from_parameter(GROUP), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for i in 0..iters {
                let one = [extra[i as usize % extra.len()].clone()];
                rt.block_on(async {
                    let t = Instant::now();
                    let done = svc.add_vms(&ops, id, version, &one).await.expect("add");
                    spent += t.elapsed();
                    assert_eq!(done.vms, GROUP + 1);
                    version = svc
                        .remove_vms(&ops, id, done.version, &one)
                        .await
                        .expect("remove")
                        .version;
                });
            }
            spent
        })
    });
    grp.finish();

    let mut grp = c.benchmark_group("group_select");
    let mut selected = true;
    grp.bench_function(BenchmarkId::from_parameter(GROUP), |b| {
        b.iter(|| {
            selected = !selected;
            let done = rt
                .block_on(svc.select(&ops, id, version, &members[7], selected))
                .expect("select");
            // Only the version: the code before answered the whole group.
            assert!(done.version > version);
            version = done.version;
        })
    });
    grp.finish();

    let bulk: Vec<String> = extra.to_vec();
    let mut grp = c.benchmark_group("group_add_vms");
    grp.sample_size(10);
    grp.measurement_time(Duration::from_secs(8));
    grp.bench_function(BenchmarkId::from_parameter(BULK), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    let t = Instant::now();
                    let done = svc
                        .add_vms(&ops, id, version, &bulk)
                        .await
                        .expect("bulk add");
                    spent += t.elapsed();
                    assert_eq!(done.vms, GROUP + BULK);
                    version = svc
                        .remove_vms(&ops, id, done.version, &bulk)
                        .await
                        .expect("remove")
                        .version;
                });
            }
            spent
        })
    });
    grp.finish();
}

criterion_group!(benches, groups);
criterion_main!(benches);
