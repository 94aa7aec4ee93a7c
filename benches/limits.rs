//! Concurrency limits (issue #12), called from `main` (outside the pool), 2 rayon threads.
//!
//! 1. The price of permits on trivial flows (a diamond of 4 steps, a fan-out of 16): no
//!    limit, against `max_concurrency(1000)` (every step takes a permit, none waits), a
//!    shared static `Limit` of 1000 on every step, and `max_concurrency(1)` (each step waits
//!    for the one before it to give its permit back).
//! 2. Long steps among tiny ones: two 2 ms steps beside 14 trivial ones, with no limit and
//!    under `max_concurrency(2)` (both long steps still run at once: about 2 ms) and
//!    `max_concurrency(1)` (one after the other: about 4 ms), blocking and through
//!    `run_async` on a minimal executor.
//! 3. An async map of 1,000 elements that each sleep 1 ms on tokio: all at once, and
//!    bounded by `#[step(max_concurrency = 100)]` (bound: 10 ms).
//!
//! Medians over many runs; nothing is asserted. `cargo bench --bench limits`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use routilux::{Limit, RunOptions, flow, routine};
use routilux_benches::work::{t0, t1, t2};

flow! {
    flow Diamond {
        step a = t0();
        step b = t1(a);
        step c = t1(a);
        step d = t2(b, c);
        return d;
    }
}

flow! {
    flow Fan16 {
        step s = t0();
        step f0 = t1(s); step f1 = t1(s); step f2 = t1(s); step f3 = t1(s);
        step f4 = t1(s); step f5 = t1(s); step f6 = t1(s); step f7 = t1(s);
        step f8 = t1(s); step f9 = t1(s); step f10 = t1(s); step f11 = t1(s);
        step f12 = t1(s); step f13 = t1(s); step f14 = t1(s);
        return f14;
    }
}

#[routine]
fn spin2ms() -> u64 {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2) {
        std::hint::spin_loop();
    }
    1
}

flow! {
    flow LongAmongTiny {
        step a = spin2ms();
        step b = spin2ms();
        step t0 = t0(); step t1 = t0(); step t2 = t0(); step t3 = t0(); step t4 = t0();
        step t5 = t0(); step t6 = t0(); step t7 = t0(); step t8 = t0(); step t9 = t0();
        step t10 = t0(); step t11 = t0(); step t12 = t0(); step t13 = t0();
        step sum = t2(a, b);
        return sum;
    }
}

static WIDE: Limit = Limit::new(1000);

#[routine]
async fn nap(x: &u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    *x
}

flow! {
    flow NapsAll {
        input xs: Vec<u64>;
        step ys = nap(each xs);
        return ys;
    }
}

flow! {
    flow Naps100 {
        input xs: Vec<u64>;
        #[step(max_concurrency = 100)]
        step ys = nap(each xs);
        return ys;
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

/// Nanoseconds per call: the median of 15 batches of `n` calls.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..n {
        f();
    }
    let batches = (0..15)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed() / n
        })
        .collect();
    median(batches).as_secs_f64() * 1e9
}

fn main() {
    println!(
        "## Concurrency limits ({} rayon threads, called from main)\n",
        rayon::current_num_threads()
    );
    println!(
        "| flow | no limit | max_concurrency(1000) | static Limit(1000) | max_concurrency(1) |"
    );
    println!("|---|---:|---:|---:|---:|");
    let wide = RunOptions::new().max_concurrency(1000);
    let shared = RunOptions::new().limit(&WIDE);
    let one = RunOptions::new().max_concurrency(1);
    let n = 20_000;
    let row = |name: &str, plain: f64, wide: f64, shared: f64, one: f64| {
        println!("| {name} | {plain:.0} ns | {wide:.0} ns | {shared:.0} ns | {one:.0} ns |");
    };
    row(
        "diamond (4 steps)",
        per_call(n, || {
            black_box(Diamond::run().expect("run"));
        }),
        per_call(n, || {
            black_box(Diamond::run_with(wide).expect("run"));
        }),
        per_call(n, || {
            black_box(Diamond::run_with(shared).expect("run"));
        }),
        per_call(n, || {
            black_box(Diamond::run_with(one).expect("run"));
        }),
    );
    row(
        "fan-out (16 steps)",
        per_call(n, || {
            black_box(Fan16::run().expect("run"));
        }),
        per_call(n, || {
            black_box(Fan16::run_with(wide).expect("run"));
        }),
        per_call(n, || {
            black_box(Fan16::run_with(shared).expect("run"));
        }),
        per_call(n, || {
            black_box(Fan16::run_with(one).expect("run"));
        }),
    );

    let long = |options: RunOptions<'_>| {
        let blocking = median(
            (0..30)
                .map(|_| {
                    let start = Instant::now();
                    black_box(LongAmongTiny::run_with(options).expect("run"));
                    start.elapsed()
                })
                .collect(),
        );
        let polled = median(
            (0..30)
                .map(|_| {
                    let start = Instant::now();
                    let run = LongAmongTiny::run_async_with(options);
                    black_box(futures::executor::block_on(run).expect("run"));
                    start.elapsed()
                })
                .collect(),
        );
        (blocking.as_secs_f64() * 1e3, polled.as_secs_f64() * 1e3)
    };
    println!("\n| 2 × 2 ms steps among 14 trivial ones | run | run_async (block_on) | bound |");
    println!("|---|---:|---:|---:|");
    for (name, options, bound) in [
        ("no limit", RunOptions::new(), "2 ms"),
        (
            "max_concurrency(2)",
            RunOptions::new().max_concurrency(2),
            "2 ms",
        ),
        (
            "max_concurrency(1)",
            RunOptions::new().max_concurrency(1),
            "4 ms",
        ),
    ] {
        let (blocking, polled) = long(options);
        println!("| {name} | {blocking:.2} ms | {polled:.2} ms | {bound} |");
    }

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let xs: Vec<u64> = (0..1000).collect();
    let makespan = |f: &dyn Fn() -> Vec<u64>| {
        f();
        median(
            (0..20)
                .map(|_| {
                    let start = Instant::now();
                    black_box(f());
                    start.elapsed()
                })
                .collect(),
        )
        .as_secs_f64()
            * 1e3
    };
    let all = makespan(&|| tokio.block_on(NapsAll::run_async(xs.clone())).expect("run"));
    let bounded = makespan(&|| tokio.block_on(Naps100::run_async(xs.clone())).expect("run"));
    println!("\n| async map, 1,000 × 1 ms sleeps (tokio, 2 workers) | makespan | bound |");
    println!("|---|---:|---:|");
    println!("| every element at once | {all:.2} ms | 1 ms |");
    println!("| max_concurrency = 100 | {bounded:.2} ms | 10 ms |");
}
