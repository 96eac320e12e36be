//! Refresh and validate a group through the fake Prism server with 20 ms
//! added latency per request: 10,000 VMs over 100 protection domains (pages
//! of 100), and 100,000 VMs over 1,000 protection domains on 4 clusters
//! (pages of 500). Wall time (criterion) and HTTP requests (printed).

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

/// A group of `vms` VMs over `groups` protection domains on `c1-madrid`,
/// on a platform of `clusters` clusters, served by the fake Prism with
/// 20 ms per request; the adapter pages `page` entities at a time.
struct Setup {
    svc: Arc<MigrationService>,
    backend: Arc<NutanixBackend>,
    gid: GroupId,
}

fn setup(
    rt: &tokio::runtime::Runtime,
    vms: usize,
    groups: usize,
    clusters: usize,
    page: u32,
) -> Setup {
    let ops = operator();
    rt.block_on(async {
        // The fake's platform lives in the same "now" as Butler's real clock.
        let mut b =
            SimPlatform::demo_builder(1).clock(Arc::new(SimClock::virtual_at(chrono::Utc::now())));
        for i in 3..=clusters {
            let name = format!("c{i}-extra");
            b = b.cluster(&name).remote_sites("c1-madrid", &name);
        }
        let sim = b.build();
        let f = fleet::generate(
            &sim,
            &fleet::FleetSpec {
                vms,
                groups,
                mix: fleet::ProblemMix::REALISTIC,
                ..Default::default()
            },
        );
        let fake = FakePrism::start(sim).await.expect("fake prism");
        fake.set_latency(Duration::from_millis(20));
        let mut config = fake.config().await;
        config.page_size = page;
        let backend = Arc::new(NutanixBackend::new(&config).expect("backend"));
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
        Setup {
            svc,
            backend,
            gid: g.id,
        }
    })
}

fn operator() -> Actor {
    Actor::trusted("olga", [Role::Operator]).expect("actor")
}

fn refresh_validate(rt: &tokio::runtime::Runtime, s: &Setup) {
    let ops = operator();
    rt.block_on(async {
        s.svc.refresh(&ops, s.gid).await.expect("refresh");
        s.svc.validate(&ops, s.gid).await.expect("validate")
    });
}

fn refresh(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("nutanix");
    g.sample_size(10);
    for (id, vms, groups, clusters, page) in [
        ("refresh_validate_10000_20ms", 10_000, 100, 2, 100),
        ("refresh_validate_100000_20ms", 100_000, 1_000, 4, 500),
    ] {
        let s = setup(&rt, vms, groups, clusters, page);
        let before = s.backend.requests();
        refresh_validate(&rt, &s);
        let n = s.backend.requests() - before;
        let bound = vms.div_ceil(page as usize) + 2 * clusters;
        eprintln!(
            "{id}: refresh + validate of {vms} VMs over {groups} PDs on {clusters} clusters, pages of {page}: \
             {n} HTTP requests (⌈N/page⌉ + 2 × clusters = {bound}, + {} more)",
            n.saturating_sub(bound as u64)
        );
        g.bench_function(id, |b| b.iter(|| refresh_validate(&rt, &s)));
    }
    g.finish();
}

criterion_group!(benches, refresh);
criterion_main!(benches);
