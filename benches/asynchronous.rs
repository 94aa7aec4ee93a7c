//! Async steps (issue #12): what a run of async steps costs against tokio itself and dagx.
//!
//! 1. `naps1000`: 1,000 independent async steps that each sleep 10 ms, run with `run_async`
//!    on tokio (2 workers), against 1,000 `tokio::spawn`ed sleeps joined.
//! 2. Per-step overhead of trivial async steps (they never wait): a fan-out and a chain of
//!    256, with `run_async` on tokio's multi-thread and current-thread runtimes, against one
//!    `tokio::spawn` + join per step (all spawned then joined for the fan-out, one after the
//!    other for the chain) and against dagx on the same shapes.
//! 3. `cpu_and_waits`: 16 lanes of three CPU steps (about 100 µs) with 1 ms waits between
//!    them, against max(critical path, CPU work / threads).
//!
//! Medians over many runs; nothing is asserted. `cargo bench --bench asynchronous`.

use std::time::{Duration, Instant};

use routilux_benches::contenders::{dagx_build, dagx_run};
use routilux_benches::generated::{AsyncChain256, AsyncFan256, CpuAndWaits, Naps1000};
use routilux_benches::shapes;
use routilux_benches::work;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio")
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ns_per(d: Duration, steps: usize) -> f64 {
    d.as_secs_f64() * 1e9 / steps as f64
}

fn main() {
    let mt = multi_thread();
    let ct = current_thread();
    println!(
        "## Async steps (2 tokio workers, {} rayon threads)\n",
        rayon::current_num_threads()
    );

    // 1. A thousand sleeps.
    let naps = time(20, || {
        mt.block_on(Naps1000::run_async(10)).expect("naps run");
    });
    let spawned = time(20, || {
        mt.block_on(async {
            let handles: Vec<_> = (0..1000)
                .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_millis(10))))
                .collect();
            for handle in handles {
                handle.await.expect("joined");
            }
        });
    });
    println!("| case | routilux | tokio::spawn + join | bound |");
    println!("|---|---:|---:|---:|");
    println!(
        "| 1,000 async steps sleeping 10 ms (ms) | {:.2} | {:.2} | 10.00 |",
        ms(naps),
        ms(spawned)
    );

    // 2. Per-step overhead of trivial async steps.
    let runs = 2000;
    let fan_mt = time(runs, || {
        mt.block_on(AsyncFan256::run_async()).expect("fan");
    });
    let fan_ct = time(runs, || {
        ct.block_on(AsyncFan256::run_async()).expect("fan");
    });
    let chain_mt = time(runs, || {
        mt.block_on(AsyncChain256::run_async()).expect("chain");
    });
    let chain_ct = time(runs, || {
        ct.block_on(AsyncChain256::run_async()).expect("chain");
    });
    let spawn_fan = time(runs, || {
        mt.block_on(async {
            let root = tokio::spawn(async { std::hint::black_box(1u64) })
                .await
                .expect("root");
            let handles: Vec<_> = (1..256)
                .map(|_| tokio::spawn(async move { std::hint::black_box(root) + 1 }))
                .collect();
            for handle in handles {
                std::hint::black_box(handle.await.expect("joined"));
            }
        });
    });
    let spawn_chain = time(runs, || {
        mt.block_on(async {
            let mut value = 0u64;
            for _ in 0..256 {
                value = tokio::spawn(async move { std::hint::black_box(value) + 1 })
                    .await
                    .expect("joined");
            }
            std::hint::black_box(value);
        });
    });
    let dagx = |shape: &shapes::Shape| {
        let rt = multi_thread();
        time(runs / 4, || {
            let (dag, last) = dagx_build(shape);
            std::hint::black_box(dagx_run(&rt, &dag, last));
        })
    };
    let dagx_fan = dagx(&shapes::fan_out(256));
    let dagx_chain = dagx(&shapes::chain(256));
    println!();
    println!(
        "| trivial async steps, ns per step | routilux, tokio multi-thread | routilux, tokio current-thread | tokio::spawn + join | dagx |"
    );
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| fan-out 256 | {:.0} | {:.0} | {:.0} | {:.0} |",
        ns_per(fan_mt, 256),
        ns_per(fan_ct, 256),
        ns_per(spawn_fan, 256),
        ns_per(dagx_fan, 256)
    );
    println!(
        "| chain 256 | {:.0} | {:.0} | {:.0} | {:.0} |",
        ns_per(chain_mt, 256),
        ns_per(chain_ct, 256),
        ns_per(spawn_chain, 256),
        ns_per(dagx_chain, 256)
    );

    // 3. CPU steps and waits.
    let step = time(200, || {
        std::hint::black_box(work::h0());
    });
    let mixed = time(50, || {
        std::hint::black_box(mt.block_on(CpuAndWaits::run_async(1)).expect("mixed"));
    });
    // The same work by hand: a tokio task per lane, its CPU steps on rayon (awaited through
    // a oneshot channel), its waits on tokio's timer.
    let by_hand = time(50, || {
        mt.block_on(async {
            let lanes: Vec<_> = (0..16)
                .map(|_| {
                    tokio::spawn(async {
                        let mut value = 0u64;
                        for k in 0..3 {
                            if k > 0 {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            let (send, receive) = tokio::sync::oneshot::channel();
                            rayon::spawn(move || {
                                let _ = send.send(work::h1(&value));
                            });
                            value = receive.await.expect("a CPU step");
                        }
                        value
                    })
                })
                .collect();
            for lane in lanes {
                std::hint::black_box(lane.await.expect("a lane"));
            }
        });
    });
    let threads = rayon::current_num_threads() as u32;
    let critical = step * 3 + Duration::from_millis(2);
    let work = step * 48 / threads;
    let bound = critical.max(work);
    println!();
    println!(
        "| case | routilux (ms) | tokio + rayon by hand (ms) | bound (ms) | routilux / bound | routilux / by hand |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| 16 lanes of 3 CPU steps ({:.0} µs) with 1 ms waits | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} |",
        step.as_secs_f64() * 1e6,
        ms(mixed),
        ms(by_hand),
        ms(bound),
        mixed.as_secs_f64() / bound.as_secs_f64(),
        mixed.as_secs_f64() / by_hand.as_secs_f64()
    );
}
