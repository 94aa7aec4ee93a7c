//! The scheduler as users meet it: flows called from a plain thread (no pool given; the
//! in-pool figure is a second column), the first run reported apart from later ones.
//!
//! 1. Named hard cases, against their achievable bound: `pair8` (two 20 ms steps beside six
//!    trivial ones), `big100k` (100,000 trivial steps and two independent 20 ms steps),
//!    `big_after_small` (a call whose two parallel steps take 10 ms after 30 calls whose steps
//!    take nothing) and `rendezvous` (two steps that wait for each other's message).
//! 2. Step grains of 0, 1, 10 and 100 µs on fan-out 256, wavefront 16×16, a random 256-step
//!    DAG and chain 256, against hand-written rayon (`par_iter` per layer; dependency counters
//!    with one `spawn` per ready step); routilux from `main`, on a pool thread with no pool
//!    named (`rayon::scope`), and on a thread of the pool the run names (promoted lazily).
//! 3. Per-run cost of small flows from `main`: the 4-step diamond and chains of trivial steps,
//!    beside `Schedule::Sequential` and the same calls written by hand.
//! 4. Eight OS threads calling a 64-step flow of 10 µs steps at once, against hand-written
//!    rayon called the same way.
//!
//! Medians over many runs; nothing is asserted. Prints tables and writes
//! `routilux-bench/scheduler.json` in cargo's target directory for `scripts/benchmarks_md.py`.
//! `cargo bench --bench scheduler` (threads: `ROUTILUX_BENCH_THREADS`, default 2).

use std::fmt::Write as _;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use routilux::{Builder, DynFlow, Handle, RunOptions, Schedule};
use routilux_benches::contenders::{Prepared, dagx_build, dagx_run, tokio_runtime};
use routilux_benches::generated::OVERHEAD;
use routilux_benches::shapes::{self, Shape};
use routilux_benches::work;

fn threads() -> usize {
    std::env::var("ROUTILUX_BENCH_THREADS")
        .ok()
        .and_then(|t| t.split(',').next_back()?.trim().parse().ok())
        .unwrap_or(2)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

/// First run, and the median of `runs` later ones.
fn first_and_later(runs: usize, mut f: impl FnMut() -> Duration) -> (Duration, Duration) {
    let first = f();
    let later = (0..runs).map(|_| f()).collect();
    (first, median(later))
}

struct Row {
    case: String,
    contender: String,
    first_us: f64,
    later_us: f64,
    bound_us: f64,
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A flow of `trivial` trivial steps and `long.len()` independent steps of the given lengths.
fn mixed_flow(name: &str, trivial: usize, long: &[Duration]) -> (DynFlow, Handle<u64>) {
    let mut b = Builder::new(name);
    let x = b.input::<u64>("x").expect("a fresh name");
    for (k, &d) in long.iter().enumerate() {
        b.step(format!("long{k}"), &[x], move |_: &[&u64]| {
            Ok::<u64, std::fmt::Error>(work::busy(1, d))
        })
        .expect("a fresh name");
    }
    for k in 0..trivial {
        b.step(format!("t{k}"), &[x], |args: &[&u64]| {
            Ok::<u64, std::fmt::Error>(std::hint::black_box(*args[0]) + 1)
        })
        .expect("a fresh name");
    }
    (b.build(), x)
}

fn run_once(flow: &DynFlow, x: Handle<u64>, options: RunOptions<'_>) -> Duration {
    let mut inputs = flow.inputs();
    inputs.set(x, 1);
    let start = Instant::now();
    flow.run(inputs, options).expect("the flow runs");
    start.elapsed()
}

/// Hand-written rayon for the mixed flows: one `scope.spawn` per step.
fn spawn_each(trivial: usize, long: &[Duration]) -> Duration {
    let start = Instant::now();
    rayon::scope(|s| {
        for &d in long {
            s.spawn(move |_| {
                std::hint::black_box(work::busy(1, d));
            });
        }
        for k in 0..trivial {
            s.spawn(move |_| {
                std::hint::black_box(k + 1);
            });
        }
    });
    start.elapsed()
}

fn hard_cases(rows: &mut Vec<Row>, threads: usize) {
    let ms20 = Duration::from_millis(20);
    // pair8 and big100k.
    for (case, trivial, runs) in [("pair8", 6, 20), ("big100k", 100_000, 10)] {
        let long = [ms20, ms20];
        let (flow, x) = mixed_flow(case, trivial, &long);
        // The bound: the long steps side by side, the trivial work spread over the threads.
        let sequential = median(
            (0..3)
                .map(|_| run_once(&flow, x, Schedule::Sequential.into()))
                .collect(),
        );
        let trivial_work = sequential.saturating_sub(ms20 * 2);
        let bound = ms20 + trivial_work / threads as u32;
        for (contender, schedule) in [
            ("routilux-dataflow", Schedule::Dataflow),
            ("routilux-layered", Schedule::Layered),
        ] {
            let (flow, x) = mixed_flow(case, trivial, &long);
            let (first, later) = first_and_later(runs, || run_once(&flow, x, schedule.into()));
            rows.push(Row {
                case: case.into(),
                contender: contender.into(),
                first_us: us(first),
                later_us: us(later),
                bound_us: us(bound),
            });
        }
        let (first, later) = first_and_later(runs, || spawn_each(trivial, &long));
        rows.push(Row {
            case: case.into(),
            contender: "rayon-spawn-each".into(),
            first_us: us(first),
            later_us: us(later),
            bound_us: us(bound),
        });
    }

    // big_after_small: 30 calls whose steps take nothing, then one whose two steps take 10 ms.
    let mut b = Builder::new("Sized");
    let size = b.input::<u64>("size").expect("a fresh name");
    for k in 0..2 {
        b.step(format!("work{k}"), &[size], |ms: &[&u64]| {
            Ok::<u64, std::fmt::Error>(work::busy(1, Duration::from_millis(*ms[0])))
        })
        .expect("a fresh name");
    }
    for k in 0..6 {
        b.step(format!("t{k}"), &[size], |v: &[&u64]| {
            Ok::<u64, std::fmt::Error>(*v[0] + 1)
        })
        .expect("a fresh name");
    }
    let flow = b.build();
    let mut bigs = Vec::new();
    let mut first = Duration::ZERO;
    for round in 0..10 {
        for _ in 0..30 {
            let mut inputs = flow.inputs();
            inputs.set(size, 0);
            flow.run(inputs, RunOptions::new()).expect("runs");
        }
        let mut inputs = flow.inputs();
        inputs.set(size, 10);
        let start = Instant::now();
        flow.run(inputs, RunOptions::new()).expect("runs");
        if round == 0 {
            first = start.elapsed();
        } else {
            bigs.push(start.elapsed());
        }
    }
    rows.push(Row {
        case: "big_after_small".into(),
        contender: "routilux-dataflow".into(),
        first_us: us(first),
        later_us: us(median(bigs)),
        bound_us: 10_000.0,
    });

    // rendezvous: two steps that each send, then wait for the other, beside six trivial ones.
    let mut b = Builder::new("Rendezvous");
    let x = b.input::<u64>("x").expect("a fresh name");
    type Side = (
        std::sync::mpsc::SyncSender<()>,
        Mutex<std::sync::mpsc::Receiver<()>>,
    );
    let sides: Arc<Mutex<Vec<Arc<Side>>>> = Arc::default();
    for k in 0..2 {
        let sides = Arc::clone(&sides);
        b.step(format!("side{k}"), &[x], move |_: &[&u64]| {
            let side = Arc::clone(&sides.lock().expect("sides")[k]);
            side.0.send(()).map_err(|_| std::fmt::Error)?;
            let rx = side.1.lock().expect("receiver");
            rx.recv_timeout(Duration::from_secs(10))
                .map_err(|_| std::fmt::Error)?;
            Ok::<u64, std::fmt::Error>(1)
        })
        .expect("a fresh name");
    }
    for k in 0..6 {
        b.step(format!("t{k}"), &[x], |v: &[&u64]| {
            Ok::<u64, std::fmt::Error>(*v[0])
        })
        .expect("a fresh name");
    }
    let flow = b.build();
    let mut one = || {
        let (a_tx, a_rx) = sync_channel(1);
        let (b_tx, b_rx) = sync_channel(1);
        *sides.lock().expect("sides") = vec![
            Arc::new((a_tx, Mutex::new(b_rx))),
            Arc::new((b_tx, Mutex::new(a_rx))),
        ];
        run_once(&flow, x, RunOptions::new())
    };
    let (first, later) = first_and_later(100, &mut one);
    rows.push(Row {
        case: "rendezvous".into(),
        contender: "routilux-dataflow".into(),
        first_us: us(first),
        later_us: us(later),
        bound_us: 0.0,
    });
}

/// A builder flow of `shape` whose steps spin for `grain`.
fn grain_flow(shape: &Shape, grain: Duration) -> (DynFlow, Handle<u64>) {
    let iterations = work::iterations_per_100us() * grain.as_nanos() as u64 / 100_000;
    let mut b = Builder::new(shape.name.clone());
    let input = b.input::<u64>("seed").expect("a fresh name");
    let mut handles: Vec<Handle<u64>> = Vec::new();
    for (i, deps) in shape.deps.iter().enumerate() {
        let deps: Vec<Handle<u64>> = if deps.is_empty() {
            vec![input]
        } else {
            deps.iter().map(|&d| handles[d]).collect()
        };
        let h = b
            .step(format!("s{i}"), &deps, move |args: &[&u64]| {
                let seed = args.iter().fold(0u64, |a, b| a.wrapping_add(**b));
                Ok::<u64, std::fmt::Error>(work::spin(seed, iterations))
            })
            .expect("a fresh name");
        handles.push(h);
    }
    (b.build(), input)
}

static GRAIN_ITERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn grain_body(args: &[u64]) -> u64 {
    let seed = args.iter().fold(0u64, |a, b| a.wrapping_add(*b));
    work::spin(seed, GRAIN_ITERS.load(std::sync::atomic::Ordering::Relaxed))
}

fn grains(rows: &mut Vec<Row>) {
    let mut chain = shapes::chain(256);
    chain.name = "chain256".into();
    let mut fan = shapes::fan_out(256);
    fan.name = "fanout256".into();
    let mut wave = shapes::wavefront(16);
    wave.name = "wave16x16".into();
    let mut random = shapes::random_levels(16, 16, 0x5EED);
    random.name = "random256".into();
    // A pool of the same size for runs started on a thread of the pool they name (as the job
    // runtime's are): those are promoted lazily, as a plain thread's.
    let named = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .build()
        .expect("a pool");
    for grain_us in [0u64, 1, 10, 100] {
        let grain = Duration::from_micros(grain_us);
        let iterations = work::iterations_per_100us() * grain_us / 100;
        GRAIN_ITERS.store(iterations, std::sync::atomic::Ordering::Relaxed);
        let runs = if grain_us >= 100 { 20 } else { 200 };
        for shape in [&fan, &wave, &random, &chain] {
            let case = format!("{}@{grain_us}us", shape.name);
            let (flow, x) = grain_flow(shape, grain);
            let (first, later) = first_and_later(runs, || run_once(&flow, x, RunOptions::new()));
            let mut push = |contender: &str, first: Duration, later: Duration| {
                rows.push(Row {
                    case: case.clone(),
                    contender: contender.into(),
                    first_us: us(first),
                    later_us: us(later),
                    bound_us: 0.0,
                });
            };
            push("routilux-dataflow", first, later);
            let (first, later) =
                rayon::scope(|_| first_and_later(runs, || run_once(&flow, x, RunOptions::new())));
            push("routilux-dataflow-in-pool", first, later);
            let (first, later) = named.install(|| {
                first_and_later(runs, || run_once(&flow, x, RunOptions::new().pool(&named)))
            });
            push("routilux-dataflow-pool-named", first, later);
            let prepared = Prepared::new(shape, grain_body);
            let timed = |f: &dyn Fn() -> u64| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            };
            let (first, later) = first_and_later(runs, || timed(&|| prepared.rayon_layers()));
            push("rayon-layers", first, later);
            let (first, later) = first_and_later(runs, || timed(&|| prepared.rayon_counters()));
            push("rayon-counters", first, later);
            if grain_us == 0 {
                // dagx's tasks are trivial; a graph runs once, so each run builds one (untimed).
                let rt = tokio_runtime(rayon::current_num_threads());
                let (first, later) = first_and_later(runs, || {
                    let (dag, last) = dagx_build(shape);
                    let start = Instant::now();
                    std::hint::black_box(dagx_run(&rt, &dag, last));
                    start.elapsed()
                });
                push("dagx", first, later);
            }
        }
    }
}

/// Per-run cost in ns of `f`, the median of 15 batches.
fn per_run(batch: u32, f: &dyn Fn()) -> f64 {
    let samples = (0..15)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed() / batch
        })
        .collect();
    median(samples).as_secs_f64() * 1e9
}

fn small_flows(out: &mut String, json: &mut Vec<String>) {
    writeln!(out, "\n## Small flows called from main (ns per run)\n").unwrap();
    writeln!(
        out,
        "| flow | steps | Dataflow | Sequential | hand-written | Dataflow in pool | Dataflow / Sequential |"
    )
    .unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for generated in OVERHEAD {
        if !matches!(
            generated.name,
            "diamond4" | "chain10" | "chain100" | "chain1000"
        ) {
            continue;
        }
        let batch = (200_000 / generated.steps as u32).max(100);
        let dataflow = per_run(batch, &|| {
            std::hint::black_box((generated.run)(RunOptions::new()));
        });
        let sequential = per_run(batch, &|| {
            std::hint::black_box((generated.run)(Schedule::Sequential.into()));
        });
        let hand = per_run(batch, &|| {
            std::hint::black_box((generated.sequential)());
        });
        let in_pool = rayon::scope(|_| {
            per_run(batch, &|| {
                std::hint::black_box((generated.run)(RunOptions::new()));
            })
        });
        writeln!(
            out,
            "| {} | {} | {dataflow:.0} | {sequential:.0} | {hand:.0} | {in_pool:.0} | {:.2} |",
            generated.name,
            generated.steps,
            dataflow / sequential
        )
        .unwrap();
        json.push(format!(
            "{{\"flow\":\"{}\",\"steps\":{},\"dataflow_ns\":{dataflow:.1},\"sequential_ns\":{sequential:.1},\"hand_ns\":{hand:.1},\"in_pool_ns\":{in_pool:.1}}}",
            generated.name, generated.steps
        ));
    }
}

fn concurrent_callers(out: &mut String) -> String {
    let shape = shapes::random_levels(8, 8, 0xCA11);
    let grain = Duration::from_micros(10);
    let (flow, x) = grain_flow(&shape, grain);
    GRAIN_ITERS.store(
        work::iterations_per_100us() / 10,
        std::sync::atomic::Ordering::Relaxed,
    );
    let prepared = Prepared::new(&shape, grain_body);
    let callers = 8;
    let runs_each = 60;
    let measure = |f: &(dyn Fn() + Sync)| {
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..callers {
                s.spawn(|| {
                    for _ in 0..runs_each {
                        f();
                    }
                });
            }
        });
        f64::from(callers * runs_each) / start.elapsed().as_secs_f64()
    };
    let best = |f: &(dyn Fn() + Sync)| (0..5).map(|_| measure(f)).fold(0.0, f64::max);
    let routilux = best(&|| {
        run_once(&flow, x, RunOptions::new());
    });
    let rayon_layers = best(&|| {
        std::hint::black_box(prepared.rayon_layers());
    });
    let rayon_counters = best(&|| {
        std::hint::black_box(prepared.rayon_counters());
    });
    writeln!(
        out,
        "\n## 8 threads calling a 64-step flow of 10 µs steps (runs per second, best of 5)\n"
    )
    .unwrap();
    writeln!(
        out,
        "| routilux | rayon-layers | rayon-counters | routilux / best rayon |"
    )
    .unwrap();
    writeln!(out, "|---:|---:|---:|---:|").unwrap();
    let best_rayon = rayon_layers.max(rayon_counters);
    writeln!(
        out,
        "| {routilux:.0} | {rayon_layers:.0} | {rayon_counters:.0} | {:.3} |",
        routilux / best_rayon
    )
    .unwrap();
    format!(
        "{{\"routilux\":{routilux:.1},\"rayon_layers\":{rayon_layers:.1},\"rayon_counters\":{rayon_counters:.1}}}"
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let threads = threads();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("the global pool is configured once");
    let mut out = format!("# Scheduler benchmarks, {threads} threads\n");
    // `ROUTILUX_BENCH_ONLY=hard,grains,small,concurrent` picks sections (all by default).
    let only = std::env::var("ROUTILUX_BENCH_ONLY").unwrap_or_default();
    let wanted = |section: &str| only.is_empty() || only.split(',').any(|s| s == section);
    let mut rows = Vec::new();
    if wanted("hard") {
        hard_cases(&mut rows, threads);
    }
    if wanted("grains") {
        grains(&mut rows);
    }
    writeln!(
        out,
        "\n## Makespans (µs): first run, median of later runs\n"
    )
    .unwrap();
    writeln!(
        out,
        "| case | contender | first | later | bound | later / bound |"
    )
    .unwrap();
    writeln!(out, "|---|---|---:|---:|---:|---:|").unwrap();
    for r in &rows {
        let ratio = if r.bound_us > 0.0 {
            format!("{:.3}", r.later_us / r.bound_us)
        } else {
            "–".into()
        };
        writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {ratio} |",
            r.case, r.contender, r.first_us, r.later_us, r.bound_us
        )
        .unwrap();
    }
    // For profiling: the diamond from main, over and over.
    if only == "profile-diamond" {
        let diamond = OVERHEAD
            .iter()
            .find(|g| g.name == "diamond4")
            .expect("diamond4");
        let runs: u64 = std::env::var("ROUTILUX_PROFILE_RUNS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(20_000_000);
        for _ in 0..runs {
            std::hint::black_box((diamond.run)(RunOptions::new()));
        }
        return;
    }
    let mut small = Vec::new();
    if wanted("small") {
        small_flows(&mut out, &mut small);
    }
    let concurrent = if wanted("concurrent") {
        concurrent_callers(&mut out)
    } else {
        "null".to_owned()
    };
    println!("{out}");
    let rows_json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"case\":\"{}\",\"contender\":\"{}\",\"first_us\":{:.2},\"later_us\":{:.2},\"bound_us\":{:.2}}}",
                r.case, r.contender, r.first_us, r.later_us, r.bound_us
            )
        })
        .collect();
    let json = format!(
        "{{\"threads\":{threads},\"makespans\":[{}],\"small_flows\":[{}],\"concurrent\":{concurrent}}}\n",
        rows_json.join(","),
        small.join(",")
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|target| target.join("routilux-bench"))
        .expect("cargo's target directory");
    std::fs::create_dir_all(&dir).expect("a directory for results");
    std::fs::write(dir.join("scheduler.json"), json).expect("results written");
    std::fs::write(dir.join("scheduler.md"), out).expect("results written");
}
