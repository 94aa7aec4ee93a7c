//! `run_async` of flows whose steps are all sync: the future owns the run, every step runs
//! on the pool, and the future is ready once the last step is over — with and without
//! limits, on a minimal executor and on tokio, run after run.

use std::time::Duration;

use routilux::{RunOptions, flow, routine};

#[routine]
fn one() -> u64 {
    1
}

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

#[routine]
fn add(x: &u64, y: &u64) -> u64 {
    x + y
}

#[routine]
fn slow(x: &u64) -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    x + 10
}

flow! {
    flow Diamond {
        step a = one();
        step b = inc(a);
        step c = slow(a);
        step d = add(b, c);
        return d;
    }
}

flow! {
    flow Wide {
        input x: u64;
        step a = inc(x); step b = inc(x); step c = inc(x); step d = inc(x);
        step e = slow(x); step f = slow(x);
        step ab = add(a, b); step cd = add(c, d); step ef = add(e, f);
        step abcd = add(ab, cd);
        step all = add(abcd, ef);
        return all;
    }
}

#[test]
fn run_async_of_a_sync_flow_is_ready_when_its_steps_are_done() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for options in [
        RunOptions::new(),
        RunOptions::new().max_concurrency(2),
        RunOptions::new().max_concurrency(1),
    ] {
        for x in 0..20 {
            assert_eq!(
                futures_executor::block_on(Diamond::run_async_with(options)).unwrap(),
                13
            );
            let wide = 4 * (x + 1) + 2 * (x + 10);
            assert_eq!(
                futures_executor::block_on(Wide::run_async_with(options, x)).unwrap(),
                wide
            );
            assert_eq!(
                tokio.block_on(Wide::run_async_with(options, x)).unwrap(),
                wide
            );
        }
    }
}
