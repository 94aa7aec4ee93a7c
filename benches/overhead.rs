//! Scheduling overhead per step: trivial step bodies on the shapes of `benches/src/shapes.rs`,
//! every contender in the same group, on 1 and 2 threads. Throughput is in steps, so
//! criterion's time per element is the time per step. `scripts/benchmarks_md.py` turns a run into
//! BENCHMARKS.md.

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use routilux::{Observer, RunOptions, Schedule};
use routilux_benches::contenders::{DagExec, Prepared, dagx_build, dagx_run, tokio_runtime};
use routilux_benches::generated::OVERHEAD;
use routilux_benches::{shapes, work};

fn threads() -> Vec<usize> {
    match std::env::var("ROUTILUX_BENCH_THREADS") {
        Ok(list) => list
            .split(',')
            .filter_map(|t| t.trim().parse().ok())
            .collect(),
        Err(_) => vec![1, 2],
    }
}

/// An observer that ignores every event: what attaching one costs, beside the same schedule
/// with none attached.
struct Ignore;

impl Observer for Ignore {}

fn overhead(c: &mut Criterion) {
    let shapes = shapes::overhead_shapes();
    let only = std::env::var("ROUTILUX_BENCH_SHAPES").ok();
    for threads in threads() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        let rt = tokio_runtime(threads);
        for (shape, generated) in shapes.iter().zip(OVERHEAD) {
            assert_eq!(shape.name, generated.name);
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|s| s == shape.name))
            {
                continue;
            }
            let mut group = c.benchmark_group(format!("{}_t{threads}", shape.name));
            group.throughput(Throughput::Elements(shape.len() as u64));
            for (id, options) in [
                ("routilux-dataflow", RunOptions::from(Schedule::Dataflow)),
                (
                    "routilux-dataflow-parallel",
                    RunOptions::from(Schedule::Dataflow),
                ),
                (
                    "routilux-layered-parallel",
                    RunOptions::from(Schedule::Layered),
                ),
                (
                    "routilux-sequential",
                    RunOptions::from(Schedule::Sequential),
                ),
                (
                    "routilux-dataflow-observed",
                    RunOptions::from(Schedule::Dataflow).observer(&Ignore),
                ),
            ] {
                group.bench_function(id, |b| {
                    pool.install(|| b.iter(|| (generated.run)(options)));
                });
            }
            group.bench_function("sequential-calls", |b| b.iter(generated.sequential));
            let prepared = Prepared::new(shape, work::trivial);
            group.bench_function("rayon-layers", |b| {
                pool.install(|| b.iter(|| prepared.rayon_layers()));
            });
            group.bench_function("rayon-counters", |b| {
                pool.install(|| b.iter(|| prepared.rayon_counters()));
            });
            let dag_exec = DagExec::new(&prepared);
            group.bench_function("dag_exec", |b| b.iter(|| dag_exec.run(threads)));
            // dagx graphs run once: build each outside the measurement.
            group.bench_function("dagx", |b| {
                b.iter_batched_ref(
                    || dagx_build(shape),
                    |(dag, last)| dagx_run(&rt, dag, *last),
                    BatchSize::PerIteration,
                );
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10);
    targets = overhead
}
criterion_main!(benches);
