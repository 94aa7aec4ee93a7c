//! `map_unordered` yields results as jobs end: a slow input holds up only its own result
//! (wherever it sits in its chunk), and a consumer on the runtime's own pool runs the jobs
//! it waits for. No timing assertions: waits are generous and fail rather than hang.

mod runtime_support;

use std::sync::Arc;

use routilux::{FlowError, RunOptions, Runtime};
use runtime_support::{Gate, finishes};

fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap(),
    )
}

/// Maps `0..200` (bound 64) on two threads; input `slow` waits until the consumer has
/// every other result. Returns the positions in the order they were yielded.
fn with_one_slow_input(slow: u64) -> Vec<usize> {
    finishes(move || {
        let gate = Arc::new(Gate::default());
        let waits = Arc::clone(&gate);
        let runtime = Runtime::builder()
            .pool(pool(2))
            .capacity(1024)
            .build(move |x: u64, _: RunOptions<'_>| {
                if x == slow {
                    assert!(waits.wait(), "the gate never opened");
                }
                Ok::<_, FlowError>(x * 2)
            })
            .unwrap();
        let mut order = Vec::new();
        for (at, result) in runtime.map_unordered(0..200, 64) {
            assert_eq!(result.unwrap(), at as u64 * 2);
            order.push(at);
            if order.len() == 199 {
                gate.open();
            }
        }
        order
    })
}

#[test]
fn a_slow_input_holds_up_only_its_own_result_wherever_it_sits() {
    // The first input, one in the middle and the last of the first run (the whole bound:
    // nothing is in flight yet), one in a later run, and the very last.
    for slow in [0, 31, 63, 100, 199] {
        let order = with_one_slow_input(slow);
        assert_eq!(order.len(), 200, "every input yields once");
        assert_eq!(
            order.last(),
            Some(&usize::try_from(slow).unwrap()),
            "the slow input comes last: the others did not wait for it"
        );
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().copied().eq(0..200), "each position once");
    }
}

#[test]
fn a_consumer_on_a_one_thread_pool_runs_the_jobs_it_waits_for() {
    let seen = finishes(|| {
        let pool = pool(1);
        let runtime = Runtime::builder()
            .pool(Arc::clone(&pool))
            .capacity(64)
            .build(|x: u64, _: RunOptions<'_>| Ok::<_, FlowError>(x + 1))
            .unwrap();
        // The pool's one thread consumes: nobody else can run the jobs.
        pool.install(|| {
            let mut seen = vec![false; 1000];
            for (at, result) in runtime.map_unordered(0..1000, 32) {
                assert_eq!(result.unwrap(), at as u64 + 1);
                assert!(!std::mem::replace(&mut seen[at], true), "{at} twice");
            }
            seen
        })
    });
    assert!(seen.iter().all(|s| *s), "every input yields");
}
