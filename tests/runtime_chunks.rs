//! `map` queues its inputs in chunks (one queue entry per run of inputs): the inputs of a
//! chunk still run in parallel (two that wait for each other both run), take places of
//! the capacity until they start, end once each under `shutdown(Cancel)`, and are
//! counted one by one. No timing assertions: waits are generous and fail rather than hang.

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};

use routilux::{JobError, RunOptions, Runtime, Shutdown, SubmitError, flow, routine};
use runtime_support::{GENEROUS, Gate, finishes};

/// A meeting point for two runs: each arrives and waits for the other.
#[derive(Default)]
struct Meeting {
    arrived: Mutex<usize>,
    both: Condvar,
}

impl Meeting {
    /// Arrives, and waits until the other arrived too; whether it did.
    fn meet(&self) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.both.notify_all();
        let (arrived, _) = self
            .both
            .wait_timeout_while(arrived, GENEROUS, |n| *n < 2)
            .unwrap();
        *arrived >= 2
    }
}

fn two_threads() -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    )
}

/// Maps `0..inputs` (with `bound`) on two threads, inputs `a` and `b` meeting (each waits
/// for the other) among trivial ones, four times: every input gets its result.
fn meet_in_map(a: u64, b: u64, inputs: u64, bound: usize) {
    for _ in 0..4 {
        let results = finishes(move || {
            let meeting = Arc::new(Meeting::default());
            let runtime = Runtime::builder()
                .pool(two_threads())
                .capacity(1024)
                .build(move |x: u64, _: RunOptions<'_>| {
                    if x == a || x == b {
                        return Ok(u64::from(meeting.meet()));
                    }
                    Ok::<_, routilux::FlowError>(x)
                })
                .unwrap();
            runtime
                .map(0..inputs, bound)
                .collect::<Result<Vec<u64>, JobError>>()
                .unwrap()
        });
        for (x, got) in (0..inputs).zip(&results) {
            let want = if x == a || x == b { 1 } else { x };
            assert_eq!(*got, want, "input {x} (meeting: {a} and {b})");
        }
    }
}

#[test]
fn two_inputs_of_one_chunk_that_wait_for_each_other_both_run() {
    // On two threads this works only if a second thread joins the chunk while the first
    // waits.
    for (a, b) in [(0, 1), (5, 40), (62, 63), (0, 63), (31, 32)] {
        meet_in_map(a, b, 64, 64);
    }
}

#[test]
fn an_input_waiting_behind_one_that_blocks_in_the_same_grab_still_runs() {
    // Trivial jobs make a thread take inputs several at a time (its grab). Deep in the
    // chunk, `a` waits for `b`, a few inputs after it: when both fall in one thread's grab,
    // `b` runs only if the other thread takes it from there.
    for (a, b) in [(100, 101), (200, 203), (250, 255), (301, 300), (470, 477)] {
        meet_in_map(a, b, 512, 1024);
    }
}

#[test]
fn inputs_of_a_queued_chunk_take_places_of_the_capacity() {
    finishes(|| {
        let gate = Arc::new(Gate::default());
        let started = Arc::new(AtomicUsize::new(0));
        let (g, s) = (Arc::clone(&gate), Arc::clone(&started));
        let runtime = Runtime::builder()
            .pool(two_threads())
            .capacity(8)
            .build(move |x: u64, _: RunOptions<'_>| {
                s.fetch_add(1, Ordering::SeqCst);
                assert!(g.wait(), "the gate opens");
                Ok::<_, routilux::FlowError>(x)
            })
            .unwrap();
        std::thread::scope(|scope| {
            let consumer = scope.spawn(|| runtime.map(0..8, 8).collect::<Result<Vec<u64>, _>>());
            // Wait until the chunk is queued (one of its inputs started).
            while started.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            let metrics = runtime.metrics();
            assert!(metrics.queued + metrics.running >= 8, "{metrics:?}");
            // Eight inputs in a queue of eight: room only for those that started.
            let mut accepted = Vec::new();
            let refused = loop {
                match runtime.try_submit(100) {
                    Ok(handle) => accepted.push(handle),
                    Err(e) => break e,
                }
                assert!(
                    accepted.len() <= 2,
                    "more accepted than the two running make room for"
                );
            };
            assert!(matches!(refused, SubmitError::Full(100)), "{refused:?}");
            assert!(accepted.len() <= started.load(Ordering::SeqCst));
            gate.open();
            assert_eq!(
                consumer.join().unwrap().unwrap(),
                (0..8).collect::<Vec<_>>()
            );
            for handle in accepted {
                assert_eq!(handle.wait().unwrap(), 100);
            }
        });
        // A job leaves `running` just after its handle sees the result: wait until every
        // job has ended (it failed 1 run in 80 reading the metrics at once).
        runtime.shutdown(Shutdown::Drain).unwrap();
        let metrics = runtime.metrics();
        assert_eq!(metrics.submitted, metrics.completed);
        assert_eq!(metrics.queued + metrics.running, 0);
    });
}

/// A runtime on two threads whose inputs number themselves: inputs 0 and 1 (the only ones
/// that can start before a shutdown, on two threads) wait at `gate`; each run returns the
/// number.
fn gated<I: Send + 'static>(gate: &Arc<Gate>, number: fn(&I) -> u64) -> Runtime<I, u64> {
    let gate = Arc::clone(gate);
    Runtime::builder()
        .pool(two_threads())
        .capacity(1024)
        .build(move |x: I, _: RunOptions<'_>| {
            let n = number(&x);
            if n < 2 {
                assert!(gate.wait(), "the gate opens");
            }
            Ok::<_, routilux::FlowError>(n)
        })
        .unwrap()
}

/// Once two runs hold the gate, shuts `runtime` down with `Shutdown::Cancel` and, once it
/// stopped accepting jobs, opens the gate; returns when the shutdown did.
fn cancel_once_two_run<I: Send + 'static, O: Send + 'static>(runtime: &Runtime<I, O>, gate: &Gate) {
    while runtime.metrics().running < 2 {
        std::thread::yield_now();
    }
    std::thread::scope(|scope| {
        let shutdown = scope.spawn(|| runtime.shutdown(Shutdown::Cancel));
        while runtime.is_accepting() {
            std::thread::yield_now();
        }
        gate.open();
        shutdown.join().unwrap().unwrap();
    });
}

#[test]
fn shutdown_cancel_ends_every_input_of_queued_chunks_once() {
    finishes(|| {
        let gate = Arc::new(Gate::default());
        let runtime = gated(&gate, |x: &u64| *x);
        let (done, cancelled, refused) = std::thread::scope(|scope| {
            let consumer = scope.spawn(|| {
                let (mut done, mut cancelled, mut refused) = (0, 0, 0);
                for (x, result) in (0_u64..).zip(runtime.map(0..1000, 512)) {
                    match result {
                        Ok(y) => {
                            assert_eq!(y, x);
                            done += 1;
                        }
                        // Queued after the shutdown: refused.
                        Err(JobError::NotSubmitted) => refused += 1,
                        Err(e) => {
                            assert!(e.is_cancelled(), "input {x}: {e}");
                            cancelled += 1;
                        }
                    }
                }
                (done, cancelled, refused)
            });
            cancel_once_two_run(&runtime, &gate);
            consumer.join().unwrap()
        });
        assert_eq!(done + cancelled + refused, 1000, "every input ends once");
        assert_eq!(
            done + cancelled,
            512,
            "the first chunk's inputs run or are cancelled"
        );
        assert!(
            cancelled >= 510,
            "the queued inputs were cancelled: {cancelled}"
        );
        let metrics = runtime.metrics();
        assert_eq!(metrics.submitted, 512);
        assert_eq!(
            metrics.completed + metrics.failed + metrics.cancelled,
            metrics.submitted
        );
        assert_eq!(metrics.cancelled, cancelled);
    });
}

#[routine]
fn checked(x: &u64) -> Result<u64, std::io::Error> {
    if x % 10 == 7 {
        Err(std::io::Error::other(format!("input {x} fails")))
    } else {
        Ok(*x)
    }
}

flow! { flow Checked { input x: u64; step y = checked(x); return y; } }

#[test]
fn failing_and_panicking_inputs_of_a_chunk_end_alone() {
    let runtime = Runtime::builder()
        .pool(two_threads())
        .build(|x: u64, options: RunOptions<'_>| {
            assert!(x % 10 != 3, "input {x} panics");
            Checked::run_with(options, x)
        })
        .unwrap();
    let results: Vec<Result<u64, JobError>> = finishes(move || {
        let results = runtime.map(0..1000, 100).collect();
        let metrics = runtime.metrics();
        assert_eq!((metrics.completed, metrics.failed), (800, 200));
        results
    });
    for (x, result) in (0_u64..).zip(results) {
        match (x % 10, result) {
            (3, Err(JobError::Panicked(message))) => {
                assert_eq!(message, format!("input {x} panics"));
            }
            (7, Err(JobError::Flow(e))) => assert_eq!(e.step(), Some("y"), "{e}"),
            (_, Ok(y)) => assert_eq!(y, x),
            (_, other) => panic!("input {x}: {other:?}"),
        }
    }
}

#[test]
fn map_inside_a_job_of_the_same_runtime_finishes() {
    // Every pool thread runs an outer job that maps inner inputs through the same runtime:
    // the waiting consumers must run the chunks' inputs themselves.
    let me: Arc<OnceLock<Weak<Runtime<u64, u64>>>> = Arc::default();
    let inner = Arc::clone(&me);
    let runtime = Arc::new(
        Runtime::builder()
            .pool(two_threads())
            .build(move |x: u64, _: RunOptions<'_>| {
                if x >= 1000 {
                    return Ok::<_, routilux::FlowError>(x + 1);
                }
                let runtime = inner.get().and_then(Weak::upgrade).expect("the runtime");
                let from = 1000 + x * 100;
                Ok(runtime.map(from..from + 100, 16).map(Result::unwrap).sum())
            })
            .unwrap(),
    );
    me.set(Arc::downgrade(&runtime)).ok().unwrap();
    let sums = finishes(move || runtime.map(0..8, 8).collect::<Result<Vec<u64>, _>>());
    let want: Vec<u64> = (0..8)
        .map(|x| (1001 + x * 100..=1100 + x * 100).sum())
        .collect();
    assert_eq!(sums.unwrap(), want);
}

/// An input whose `Drop` panics when its number is 300.
struct Touchy(u64);

impl Drop for Touchy {
    fn drop(&mut self) {
        if self.0 == 300 && !std::thread::panicking() {
            panic!("input 300 will not be dropped quietly");
        }
    }
}

#[test]
fn an_input_that_panics_when_dropped_by_shutdown_cancel_takes_nothing_down() {
    // The two runs that started hold the gate until the shutdown began: the chunk's other
    // inputs are cancelled by the pool thread that sees the shutdown, whose drop of input
    // 300 panics. Every input still ends once, and the runtime's threads live on.
    finishes(|| {
        let gate = Arc::new(Gate::default());
        let runtime = gated(&gate, |x: &Touchy| x.0);
        let ended = std::thread::scope(|scope| {
            let consumer = scope.spawn(|| runtime.map((0..512).map(Touchy), 512).count());
            cancel_once_two_run(&runtime, &gate);
            consumer.join().unwrap()
        });
        assert_eq!(ended, 512);
        let metrics = runtime.metrics();
        assert_eq!(metrics.completed + metrics.cancelled, 512);
    });
}
