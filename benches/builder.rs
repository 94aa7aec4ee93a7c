//! Run-time `Builder` flows beside the same shapes written with `flow!`: a chain of 256
//! trivial steps and a fan-out of 256 (one root, 256 steps, a pairwise reduction), each run
//! from a plain thread (the bench's `main`) on the global rayon pool of 2 threads
//! (`ROUTILUX_BENCH_THREADS`). Throughput is in steps, so criterion's time per element is the
//! time per step, the builder's `inputs()` and output taking included. Builder steps take
//! their arguments typed (`builder-typed`: one handle or a pair, as `flow!` passes them) or
//! as a slice (`builder-slices`); see `src/builder.rs`.
//!
//! `cargo bench -p routilux-benches --bench builder`

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use routilux::{DynFlow, Handle, RunOptions, Schedule};
use routilux_benches::builder::{sliced, typed};
use routilux_benches::generated::BUILDER;
use routilux_benches::shapes;

fn threads() -> usize {
    std::env::var("ROUTILUX_BENCH_THREADS")
        .ok()
        .and_then(|t| t.split(',').next_back()?.trim().parse().ok())
        .unwrap_or(2)
}

fn run(flow: &DynFlow, last: Handle<u64>, options: RunOptions<'_>) -> u64 {
    let mut outputs = flow.run(flow.inputs(), options).expect("the flow runs");
    outputs.take(last).expect("the last result")
}

fn builder(c: &mut Criterion) {
    let threads = threads();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("the global pool, once");
    for (shape, generated) in shapes::builder_shapes().iter().zip(BUILDER) {
        assert_eq!(shape.name, generated.name);
        let mut group = c.benchmark_group(format!("builder_{}_t{threads}", shape.name));
        group.throughput(Throughput::Elements(shape.len() as u64));
        let flows = [("typed", typed(shape)), ("slices", sliced(shape))];
        for (_, (flow, last)) in &flows {
            assert_eq!(
                run(flow, *last, Schedule::Sequential.into()),
                (generated.run)(Schedule::Sequential.into())
            );
        }
        for (schedule, name) in [
            (Schedule::Dataflow, "dataflow"),
            (Schedule::Sequential, "sequential"),
        ] {
            group.bench_function(format!("flow-{name}"), |b| {
                b.iter(|| (generated.run)(schedule.into()));
            });
            for (kind, (flow, last)) in &flows {
                group.bench_function(format!("builder-{kind}-{name}"), |b| {
                    b.iter(|| run(flow, *last, schedule.into()));
                });
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10);
    targets = builder
}
criterion_main!(benches);
