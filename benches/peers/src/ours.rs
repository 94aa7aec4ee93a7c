//! routilux: a `#[durable]` flow of four trivial steps (four checkpoints), run by callers
//! (`run`, one job at a time each) or by queue workers (`start`, then `run_pending`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use routilux::durable::WorkerOptions;
use routilux::{flow, routine};

use crate::db::Schema;

#[routine]
fn add1(x: &u64) -> u64 {
    black_box(*x + 1)
}

#[routine]
fn add4(x: &u64) -> u64 {
    let mut v = *x;
    for _ in 0..4 {
        v = black_box(v + 1);
    }
    v
}

flow! {
    /// The same four steps as one step: one checkpoint (what a plain job queue stores: the
    /// job's result).
    #[durable]
    flow Whole {
        input x: u64;
        step d = add4(x);
        return d;
    }
}

flow! {
    /// Four trivial steps in a chain: four checkpoints.
    #[durable]
    flow Chain4 {
        input x: u64;
        step a = add1(x);
        step b = add1(a);
        step c = add1(b);
        step d = add1(c);
        return d;
    }
}

/// Mean time of one job run by one caller, `n` jobs after `n / 10` of warm-up.
pub fn one_at_a_time(schema: &Schema, n: usize) -> Duration {
    let runs = Chain4::durable(&schema.store);
    for i in 0..n / 10 {
        runs.run(i as u64).expect("a warm-up job");
    }
    let start = Instant::now();
    for i in 0..n {
        assert_eq!(runs.run(i as u64).expect("a job"), i as u64 + 4);
    }
    start.elapsed() / u32::try_from(n).expect("a small count")
}

/// `k` threads, each with its own connection, run `n / k` jobs one at a time: jobs per second.
pub fn callers(schema: &Schema, k: usize, n: usize) -> f64 {
    let stores: Vec<_> = (0..k).map(|_| schema.connect()).collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for store in &stores {
            s.spawn(move || {
                let runs = Chain4::durable(store);
                for i in 0..n / k {
                    assert_eq!(runs.run(i as u64).expect("a job"), i as u64 + 4);
                }
            });
        }
    });
    (n / k * k) as f64 / start.elapsed().as_secs_f64()
}

/// `n` jobs queued with `start`, then `k` worker threads (a connection each) run them:
/// jobs per second from the workers' start to the last one's end.
pub fn queue(schema: &Schema, k: usize, n: usize) -> f64 {
    queue_of(schema, k, n, false)
}

/// [`queue`] for the flow of one step ([`Whole`]).
pub fn queue_whole(schema: &Schema, k: usize, n: usize) -> f64 {
    queue_of(schema, k, n, true)
}

fn queue_of(schema: &Schema, k: usize, n: usize, whole: bool) -> f64 {
    let runs = Chain4::durable(&schema.store);
    let whole_runs = Whole::durable(&schema.store);
    for i in 0..n {
        if whole {
            whole_runs.start(&(i as u64)).expect("a queued job");
        } else {
            runs.start(&(i as u64)).expect("a queued job");
        }
    }
    let stores: Vec<_> = (0..k).map(|_| schema.connect()).collect();
    let start = Instant::now();
    let done: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(w, store)| {
                s.spawn(move || {
                    let options = WorkerOptions::new()
                        .name(format!("w{w}"))
                        .poll(Duration::from_millis(5));
                    let chain = Chain4::durable(store).worker(options.clone());
                    let one = Whole::durable(store).worker(options);
                    let mut completed = 0;
                    loop {
                        let report = if whole {
                            one.run_pending()
                        } else {
                            chain.run_pending()
                        }
                        .expect("a worker's pass");
                        assert_eq!(report.failed, 0, "{report:?}");
                        completed += report.completed;
                        if report.completed == 0 {
                            return completed;
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker"))
            .sum()
    });
    let elapsed = start.elapsed();
    assert_eq!(done, n as u64, "every queued job completed once");
    n as f64 / elapsed.as_secs_f64()
}
