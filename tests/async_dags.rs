//! Random DAGs mixing sync and async steps (with random failing and panicking steps) give the
//! result of the sequential evaluation — the same value, or an error of the same kind — under
//! every schedule of the blocking `run`, and under `run_async` on a minimal executor and on
//! tokio's multi-thread runtime; every value made is dropped exactly once. Under
//! `max_concurrency(2)` the same, and never more than two steps in flight.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use common::tracked::{Ctl, Live, r0, r1, r2, r3};
use common::tracked_async::{a0, a1, a2, a3};
use proptest::prelude::*;
use routilux::{ErrorKind, FlowError, RunOptions, Schedule};

type MixedRunner = fn(RunOptions<'_>, Ctl) -> Result<u64, FlowError>;
type MixedAsync = fn(
    RunOptions<'static>,
    Ctl,
) -> Pin<Box<dyn Future<Output = Result<u64, FlowError>> + Send + 'static>>;

include!(concat!(env!("OUT_DIR"), "/async_flows.rs"));

/// What a run gave: its value, or its error's kind.
fn outcome(result: Result<u64, FlowError>) -> Result<u64, ErrorKind> {
    result.map_err(|e| e.kind())
}

fn tokio() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mixed_flows_agree_with_the_sequential_evaluation(
        flow in 0..MIXED.len(),
        seed in any::<u64>(),
        modulus in 2u64..12,
        fail in 0u64..12,
        panic in 0u64..12,
    ) {
        let (name, run, run_async) = MIXED[flow];
        let live = Arc::new(Live::default());
        let ctl = || Ctl { seed, modulus, fail, panic, live: Arc::clone(&live) };
        let sequential = outcome(run(Schedule::Sequential.into(), ctl()));
        prop_assert_eq!(live.0.load(Ordering::SeqCst), 0, "{}: Sequential leaks", name);
        let mut others = Vec::new();
        for schedule in [Schedule::Layered, Schedule::Dataflow] {
            others.push((format!("{schedule:?}"), outcome(run(schedule.into(), ctl()))));
        }
        others.push((
            "run_async on block_on".into(),
            outcome(futures_executor::block_on(run_async(RunOptions::new(), ctl()))),
        ));
        others.push((
            "run_async on tokio".into(),
            outcome(tokio().block_on(run_async(RunOptions::new(), ctl()))),
        ));
        // Under a run limit of two: never more than two steps in flight, blocking or async.
        let _ = live.1.take_peak();
        let limited = RunOptions::new().max_concurrency(2);
        for (how, other) in [
            ("Dataflow, max_concurrency(2)", outcome(run(limited.schedule(Schedule::Dataflow), ctl()))),
            ("run_async on block_on, max_concurrency(2)", outcome(futures_executor::block_on(run_async(limited, ctl())))),
            ("run_async on tokio, max_concurrency(2)", outcome(tokio().block_on(run_async(limited, ctl())))),
        ] {
            let peak = live.1.take_peak();
            prop_assert!(peak <= 2, "{}: {}: {} steps at once", name, how, peak);
            others.push((how.into(), other));
        }
        for (how, other) in others {
            prop_assert_eq!(live.0.load(Ordering::SeqCst), 0, "{}: {} leaks", name, how);
            // Which of several failing steps is reported first may differ.
            match (&sequential, &other) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}: {}", name, how),
                (Err(a), Err(b)) => prop_assert!(
                    matches!(a, ErrorKind::Failed | ErrorKind::Panicked)
                        && matches!(b, ErrorKind::Failed | ErrorKind::Panicked),
                    "{}: {}: {:?} vs {:?}", name, how, a, b
                ),
                _ => prop_assert!(false, "{}: {}: {:?} vs {:?}", name, how, sequential, other),
            }
        }
    }
}
