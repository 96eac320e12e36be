//! Refresh and validate a 10,000-VM group over 100 protection domains
//! through the fake Prism server with 20 ms added latency per request:
//! wall time (criterion) and HTTP requests (printed).

use butler::auth::{Actor, Role};
use butler::migration::{GroupId, MigrationService};
use butler::nutanix::fake::FakePrism;
use butler::nutanix::NutanixBackend;
use butler::sim::{fleet, SimClock, SimPlatform};
use butler::store::MemoryStore;
use butler::Butler;
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::Duration;

fn refresh(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ops = Actor::trusted("olga", [Role::Operator]).unwrap();
    let (svc, backend, gid): (Arc<MigrationService>, Arc<NutanixBackend>, GroupId) =
        rt.block_on(async {
            // The fake's platform lives in the same "now" as Butler's real clock.
            let sim = SimPlatform::demo_builder(1)
                .clock(Arc::new(SimClock::virtual_at(chrono::Utc::now())))
                .build();
            let f = fleet::generate(
                &sim,
                &fleet::FleetSpec {
                    vms: 10_000,
                    groups: 100,
                    mix: fleet::ProblemMix::REALISTIC,
                    ..Default::default()
                },
            );
            let fake = FakePrism::start(sim).await.expect("fake prism");
            fake.set_latency(Duration::from_millis(20));
            let backend = Arc::new(NutanixBackend::new(&fake.config().await).expect("backend"));
            // Real HTTP, real time: the builder's system clock.
            let butler = Butler::builder()
                .store(Arc::new(MemoryStore::new()))
                .platform(backend.clone())
                .catalog(butler::demo::catalog())
                .rate_book(butler::demo::rate_book())
                .build()
                .expect("wire");
            let svc = butler.migrations().clone();
            let g = svc.create_group(&ops, "bench").await.expect("group");
            let edit = g.with_members(&f.source, &f.destination, f.vm_names.iter().cloned());
            let g = svc.save(&ops, &edit).await.expect("save");
            (svc, backend, g.id)
        });
    let before = backend.requests();
    rt.block_on(async {
        svc.refresh(&ops, gid).await.expect("refresh");
        svc.validate(&ops, gid).await.expect("validate")
    });
    let n = backend.requests() - before;
    eprintln!("refresh + validate of 10,000 VMs over 100 PDs: {n} HTTP requests (bound ⌈10000/100⌉ + 2·100 + c = 300 + c)");
    let mut g = c.benchmark_group("nutanix");
    g.sample_size(10);
    g.bench_function("refresh_validate_10000_20ms", |b| {
        b.iter(|| {
            rt.block_on(async {
                svc.refresh(&ops, gid).await.expect("refresh");
                svc.validate(&ops, gid).await.expect("validate")
            })
        })
    });
    g.finish();
}

criterion_group!(benches, refresh);
criterion_main!(benches);
