//! CPU-bound steps (about 100 µs of arithmetic each): does the parallelism of a flow turn into
//! speedup? Fan-out of 64 and a 16 × 16 wavefront, against the same calls made sequentially
//! and against hand-written rayon. `scripts/benchmarks_md.py` reports speedup over
//! `sequential-calls`.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use routilux::Schedule;
use routilux_benches::contenders::Prepared;
use routilux_benches::generated::CPU;
use routilux_benches::{shapes, work};

fn cpu(c: &mut Criterion) {
    // Calibrate the spin loop before anything is measured.
    let _ = work::iterations_per_100us();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        for (shape, generated) in shapes::cpu_shapes().iter().zip(CPU) {
            assert_eq!(shape.name, generated.name);
            let mut group = c.benchmark_group(format!("{}_t{threads}", shape.name));
            group.throughput(Throughput::Elements(shape.len() as u64));
            for (id, schedule) in [
                ("routilux-dataflow", Schedule::Dataflow),
                ("routilux-layered", Schedule::Layered),
            ] {
                group.bench_function(id, |b| {
                    pool.install(|| b.iter(|| (generated.run)(schedule.into())));
                });
            }
            group.bench_function("sequential-calls", |b| b.iter(generated.sequential));
            let prepared = Prepared::new(shape, work::heavy);
            group.bench_function("rayon-layers", |b| {
                pool.install(|| b.iter(|| prepared.rayon_layers()));
            });
            if shape.name == "cpu_fanout64" {
                // The ideal for a fan-out: the root, then one `par_iter` over the 64 steps.
                group.bench_function("rayon-par_iter", |b| {
                    pool.install(|| {
                        b.iter(|| {
                            let root = work::heavy(&[]);
                            (0..64)
                                .into_par_iter()
                                .map(|_| work::heavy(&[root]))
                                .reduce(|| 0, u64::wrapping_add)
                        });
                    });
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    targets = cpu
}
criterion_main!(benches);
