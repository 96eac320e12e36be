//! Fleet generation speed: how long the simulator takes to build N VMs over
//! N/100 protection groups with the realistic problem mix.

use butler_sim::{fleet, SimPlatform};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn generate(c: &mut Criterion) {
    let mut g = c.benchmark_group("fleet_generate");
    g.sample_size(10);
    for n in [10_000usize, 100_000, 1_000_000] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| {
                let sim = SimPlatform::demo(1);
                let spec = fleet::FleetSpec {
                    vms: n,
                    groups: n / 100,
                    mix: fleet::ProblemMix::REALISTIC,
                    ..Default::default()
                };
                fleet::generate(&sim, &spec).vm_names.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
