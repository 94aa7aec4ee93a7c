//! The job runtime (issue #13): throughput of 100,000 small jobs (a 4-step diamond of trivial
//! steps) against `par_iter` over direct `run` calls on the same pool; submit-to-start latency
//! on an idle runtime; throughput against the number of submitting threads (1, 2, 8).
//!
//! Every contender runs on a pool of `THREADS` threads (2 by default; `ROUTILUX_THREADS`
//! overrides). After the criterion groups, the idle runtime's submit-to-start p50/p99 (from
//! its own metrics, over the last 1,000 of 10,000 jobs submitted one at a time) is printed,
//! then the CPU time the process uses in the second after (the runtime's idle cost).

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use routilux::{RunOptions, Runtime, flow, routine};

const JOBS: u64 = 100_000;

/// A job with no flow (one multiply): what is left is the runtime's own cost per job.
fn plain(x: u64, _: RunOptions<'_>) -> Result<u64, routilux::FlowError> {
    Ok(black_box(x).wrapping_mul(3))
}

fn threads() -> usize {
    std::env::var("ROUTILUX_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2)
}

#[routine]
fn start(x: &u64) -> u64 {
    black_box(*x)
}

#[routine]
fn left(x: &u64) -> u64 {
    black_box(*x).wrapping_add(1)
}

#[routine]
fn right(x: &u64) -> u64 {
    black_box(*x).wrapping_mul(3)
}

#[routine]
fn join(a: &u64, b: &u64) -> u64 {
    a.wrapping_add(*b)
}

flow! {
    flow Diamond {
        input x: u64;
        step s = start(x);
        step l = left(s);
        step r = right(s);
        step j = join(l, r);
        return j;
    }
}

fn pool() -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads())
            .build()
            .expect("a pool"),
    )
}

fn runtime(pool: &Arc<rayon::ThreadPool>) -> Runtime<u64, u64> {
    Runtime::builder()
        .pool(Arc::clone(pool))
        .capacity(1024)
        .build(|x: u64, options: RunOptions<'_>| Diamond::run_with(options, x))
        .expect("a runtime")
}

/// Submits `jobs` jobs from this thread, waiting for the oldest once `window` are pending.
fn submit_all(runtime: &Runtime<u64, u64>, jobs: impl Iterator<Item = u64>, window: usize) -> u64 {
    let mut pending = VecDeque::with_capacity(window);
    let mut sum = 0_u64;
    for x in jobs {
        pending.push_back(runtime.submit(x).expect("accepted"));
        if pending.len() == window {
            sum = sum.wrapping_add(pending.pop_front().expect("pending").wait().expect("runs"));
        }
    }
    for handle in pending {
        sum = sum.wrapping_add(handle.wait().expect("runs"));
    }
    sum
}

fn throughput(c: &mut Criterion) {
    let pool = pool();
    let rt = runtime(&pool);
    let mut group = c.benchmark_group(format!("jobs_100k_t{}", threads()));
    group.throughput(Throughput::Elements(JOBS));
    group.bench_function("rayon-par_iter-run", |b| {
        b.iter(|| {
            pool.install(|| {
                (0..JOBS)
                    .into_par_iter()
                    .map(|x| Diamond::run(x).expect("runs"))
                    .reduce(|| 0, u64::wrapping_add)
            })
        });
    });
    // The same, each run with what a job's run gets: the pool and a fresh cancel token.
    group.bench_function("rayon-par_iter-run_with-token", |b| {
        b.iter(|| {
            pool.install(|| {
                (0..JOBS)
                    .into_par_iter()
                    .map(|x| {
                        let token = routilux::CancelToken::new();
                        let options = RunOptions::new().pool(&pool).cancel(&token);
                        Diamond::run_with(options, x).expect("runs")
                    })
                    .reduce(|| 0, u64::wrapping_add)
            })
        });
    });
    // What a chunk's job gets: the pool and the chunk's token, shared.
    group.bench_function("rayon-par_iter-run_with-shared-token", |b| {
        let token = routilux::CancelToken::new();
        b.iter(|| {
            pool.install(|| {
                (0..JOBS)
                    .into_par_iter()
                    .map(|x| {
                        let options = RunOptions::new().pool(&pool).cancel(&token);
                        Diamond::run_with(options, x).expect("runs")
                    })
                    .reduce(|| 0, u64::wrapping_add)
            })
        });
    });
    group.bench_function("runtime-map", |b| {
        b.iter(|| {
            rt.map(0..JOBS, 1024)
                .map(|r| r.expect("runs"))
                .fold(0, u64::wrapping_add)
        });
    });
    group.bench_function("runtime-map_unordered", |b| {
        b.iter(|| {
            rt.map_unordered(0..JOBS, 1024)
                .map(|(_, r)| r.expect("runs"))
                .fold(0, u64::wrapping_add)
        });
    });
    group.bench_function("runtime-submit-window", |b| {
        b.iter(|| submit_all(&rt, 0..JOBS, 1024));
    });
    group.finish();

    // The same without a flow (each job one multiply): the runtime's own cost per job,
    // apart from what a dataflow run costs in a pool (its helpers' spawns and wake-ups).
    let plain_rt = Runtime::builder()
        .pool(Arc::clone(&pool))
        .capacity(1024)
        .build(plain)
        .expect("a runtime");
    let mut plain_group = c.benchmark_group(format!("jobs_100k_plain_t{}", threads()));
    plain_group.throughput(Throughput::Elements(JOBS));
    plain_group.bench_function("rayon-par_iter", |b| {
        b.iter(|| {
            pool.install(|| {
                (0..JOBS)
                    .into_par_iter()
                    .map(|x| plain(x, RunOptions::new()).expect("runs"))
                    .reduce(|| 0, u64::wrapping_add)
            })
        });
    });
    plain_group.bench_function("runtime-map", |b| {
        b.iter(|| {
            (plain_rt.map(0..JOBS, 1024))
                .map(|r| r.expect("runs"))
                .fold(0, u64::wrapping_add)
        });
    });
    plain_group.bench_function("runtime-map_unordered", |b| {
        b.iter(|| {
            (plain_rt.map_unordered(0..JOBS, 1024))
                .map(|(_, r)| r.expect("runs"))
                .fold(0, u64::wrapping_add)
        });
    });
    plain_group.bench_function("runtime-submit-window", |b| {
        b.iter(|| submit_all(&plain_rt, 0..JOBS, 1024));
    });
    plain_group.finish();

    let mut group = c.benchmark_group(format!("jobs_100k_submitters_t{}", threads()));
    group.throughput(Throughput::Elements(JOBS));
    for submitters in [1_u64, 2, 8] {
        group.bench_function(format!("{submitters}-threads"), |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for t in 0..submitters {
                        let rt = &rt;
                        s.spawn(move || {
                            let window = usize::try_from(1024 / submitters).unwrap_or(1);
                            submit_all(rt, (t..JOBS).step_by(submitters as usize), window)
                        });
                    }
                });
            });
        });
    }
    group.finish();
}

/// Busy for `d` (a step that computes, not one that sleeps).
fn spin(d: Duration) {
    let until = std::time::Instant::now() + d;
    while std::time::Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// The shape that would break a chunked `map` run by one thread: 20,000 inputs of which
/// every 2,000th computes for 1 ms, among trivial ones. The bound is 10 ms of long work
/// over the threads plus the trivial work. (The runtime's capacity is 8,192 here, so that
/// the larger bound's chunks fit in its queue.)
fn long_among_tiny(c: &mut Criterion) {
    const INPUTS: u64 = 20_000;
    fn job(x: u64, options: RunOptions<'_>) -> Result<u64, routilux::FlowError> {
        if x.is_multiple_of(2_000) {
            spin(Duration::from_millis(1));
        }
        Diamond::run_with(options, x)
    }
    let pool = pool();
    let rt = Runtime::builder()
        .pool(Arc::clone(&pool))
        .capacity(8192)
        .build(job)
        .expect("a runtime");
    let mut group = c.benchmark_group(format!("jobs_long_among_tiny_t{}", threads()));
    group.throughput(Throughput::Elements(INPUTS));
    group.bench_function("rayon-par_iter-run", |b| {
        b.iter(|| {
            pool.install(|| {
                (0..INPUTS)
                    .into_par_iter()
                    .map(|x| job(x, RunOptions::new()).expect("runs"))
                    .reduce(|| 0, u64::wrapping_add)
            })
        });
    });
    // In input order, at most `bound` jobs in flight (ended ones included until yielded):
    // while a long input at the head runs, the other threads run out of window once they
    // are `bound` inputs ahead.
    for bound in [1024, 8192] {
        group.bench_function(format!("runtime-map-bound{bound}"), |b| {
            b.iter(|| {
                rt.map(0..INPUTS, bound)
                    .map(|r| r.expect("runs"))
                    .fold(0, u64::wrapping_add)
            });
        });
    }
    group.bench_function("runtime-map_unordered-bound1024", |b| {
        b.iter(|| {
            rt.map_unordered(0..INPUTS, 1024)
                .map(|(_, r)| r.expect("runs"))
                .fold(0, u64::wrapping_add)
        });
    });
    group.finish();
}

fn latency(c: &mut Criterion) {
    let pool = pool();
    let rt = runtime(&pool);
    let mut group = c.benchmark_group(format!("job_round_trip_t{}", threads()));
    group.bench_function("idle-runtime-submit-wait", |b| {
        b.iter(|| {
            rt.submit(black_box(1))
                .expect("accepted")
                .wait()
                .expect("runs")
        });
    });
    group.bench_function("direct-run", |b| {
        b.iter(|| Diamond::run_with(&*pool, black_box(1)).expect("runs"));
    });
    group.finish();

    // Submit-to-start latency of jobs submitted one at a time to an idle runtime.
    let idle = runtime(&pool);
    for x in 0..10_000 {
        idle.submit(x).expect("accepted").wait().expect("runs");
    }
    let m = idle.metrics();
    println!(
        "idle runtime, {} threads: submit-to-start p50 {:?}, p99 {:?} (last {} jobs); \
         submit-to-end p50 {:?}, p99 {:?}",
        threads(),
        m.start_latency.p50(),
        m.start_latency.p99(),
        m.start_latency.samples(),
        m.latency.p50(),
        m.latency.p99(),
    );

    // The idle cost: CPU time the process uses in the second after the last job (drain
    // tasks linger for a moment before they end; nothing may keep spinning).
    std::thread::sleep(Duration::from_millis(10));
    let before = cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let after = cpu_ticks();
    println!(
        "idle runtime: {} clock ticks of CPU (user + system, 1/100 s each) over 1 s",
        after.saturating_sub(before)
    );
    drop(idle);
}

/// The process's CPU time so far in clock ticks (utime + stime of /proc/self/stat; 0 where
/// there is no /proc).
fn cpu_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    targets = throughput, long_among_tiny, latency
}
criterion_main!(benches);
