//! Makespan on unbalanced DAGs: how close each schedule comes to the lower bound
//! `max(critical path, total work / threads)`. Steps busy-wait for their weight. Prints a table
//! and writes `<target dir>/routilux-bench/makespan.json` for `scripts/benchmarks_md.py`.
//!
//! `cargo bench --bench makespan` (threads: `ROUTILUX_BENCH_THREADS`, default 2).

use std::time::{Duration, Instant};

use routilux::{Builder, DynFlow, Handle, RunOptions, Schedule};
use routilux_benches::{shapes, work};

/// A DAG with a weight (busy time) per step.
struct Weighted {
    name: &'static str,
    deps: Vec<Vec<usize>>,
    weights: Vec<Duration>,
}

impl Weighted {
    fn critical_path(&self) -> Duration {
        let mut finish = vec![Duration::ZERO; self.deps.len()];
        for (i, deps) in self.deps.iter().enumerate() {
            let start = deps.iter().map(|&d| finish[d]).max().unwrap_or_default();
            finish[i] = start + self.weights[i];
        }
        finish.into_iter().max().unwrap_or_default()
    }

    fn total(&self) -> Duration {
        self.weights.iter().sum()
    }

    fn flow(&self) -> (DynFlow, Handle<u64>) {
        let mut b = Builder::new(self.name);
        let input = b.input::<u64>("seed").expect("a fresh name");
        let mut handles: Vec<Handle<u64>> = Vec::new();
        for (i, deps) in self.deps.iter().enumerate() {
            let weight = self.weights[i];
            let deps: Vec<Handle<u64>> = if deps.is_empty() {
                vec![input]
            } else {
                deps.iter().map(|&d| handles[d]).collect()
            };
            let h = b
                .step(format!("s{i}"), &deps, move |args: &[&u64]| {
                    let seed = args.iter().fold(0u64, |a, b| a.wrapping_add(**b));
                    Ok::<u64, std::convert::Infallible>(work::busy(seed, weight))
                })
                .expect("a fresh name");
            handles.push(h);
        }
        (b.build(), input)
    }
}

const MS: Duration = Duration::from_millis(1);
const TENTH: Duration = Duration::from_micros(100);

/// Two chains of 20 steps, alternating 1 ms and 0.1 ms, out of phase.
fn staggered_chains() -> Weighted {
    let mut deps = Vec::new();
    let mut weights = Vec::new();
    for chain in 0..2 {
        for k in 0..20 {
            deps.push(if k == 0 { vec![] } else { vec![deps.len() - 1] });
            weights.push(if (k + chain) % 2 == 0 { MS } else { TENTH });
        }
    }
    Weighted {
        name: "staggered chains (2 × 20, 1 / 0.1 ms)",
        deps,
        weights,
    }
}

/// A chain of 20 × 1 ms steps beside 200 independent 0.1 ms steps.
fn chain_beside_many() -> Weighted {
    let mut deps: Vec<Vec<usize>> = (0..20)
        .map(|k| if k == 0 { vec![] } else { vec![k - 1] })
        .collect();
    let mut weights = vec![MS; 20];
    deps.extend((0..200).map(|_| vec![]));
    weights.extend(std::iter::repeat_n(TENTH, 200));
    Weighted {
        name: "20 × 1 ms chain beside 200 × 0.1 ms",
        deps,
        weights,
    }
}

/// A random level graph (8 levels of 16) with weights from 0.05 to 1 ms.
fn random_weighted() -> Weighted {
    let shape = shapes::random_levels(8, 16, 0xBEEF);
    let mut rng = 0x1234_5678_u64;
    let weights = (0..shape.len())
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            Duration::from_micros(50 + rng % 951)
        })
        .collect();
    Weighted {
        name: "random 8 × 16, 0.05–1 ms",
        deps: shape.deps,
        weights,
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let threads: usize = std::env::var("ROUTILUX_BENCH_THREADS")
        .ok()
        .and_then(|t| t.split(',').next_back()?.trim().parse().ok())
        .unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    let mut rows = Vec::new();
    println!("makespan / max(critical path, work / {threads} threads), median of 7 runs");
    for dag in [staggered_chains(), chain_beside_many(), random_weighted()] {
        let bound = dag.critical_path().max(dag.total() / threads as u32);
        let (flow, input) = dag.flow();
        for (label, schedule) in [
            ("Dataflow", Schedule::Dataflow),
            ("Layered", Schedule::Layered),
        ] {
            let times: Vec<Duration> = (0..7)
                .map(|_| {
                    let mut inputs = flow.inputs();
                    inputs.set(input, 1);
                    let start = Instant::now();
                    flow.run(inputs, RunOptions::from(schedule).pool(&pool))
                        .expect("the run succeeds");
                    start.elapsed()
                })
                .collect();
            let makespan = median(times);
            let ratio = makespan.as_secs_f64() / bound.as_secs_f64();
            println!(
                "  {:<40} {label:<9} makespan {:>7.2} ms  bound {:>7.2} ms  ratio {ratio:.3}",
                dag.name,
                makespan.as_secs_f64() * 1e3,
                bound.as_secs_f64() * 1e3
            );
            rows.push(format!(
                "{{\"dag\": \"{}\", \"schedule\": \"{label}\", \"threads\": {threads}, \"makespan_ms\": {:.3}, \"bound_ms\": {:.3}, \"ratio\": {ratio:.4}}}",
                dag.name,
                makespan.as_secs_f64() * 1e3,
                bound.as_secs_f64() * 1e3
            ));
        }
    }
    // Cargo's target directory (CARGO_TARGET_DIR or build.target-dir included): the parent
    // of the scratch directory cargo gives benches.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("routilux-bench");
    std::fs::create_dir_all(&dir).expect("a results directory");
    std::fs::write(
        dir.join("makespan.json"),
        format!("[\n{}\n]\n", rows.join(",\n")),
    )
    .expect("write makespan.json");
}
