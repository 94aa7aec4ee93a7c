//! The straight-line form that `flow!` generates for one-thread runs against the engine, on
//! random flows (chains and DAGs) with random failing and panicking steps: the same result or
//! the same error (kind and step), and every value made is dropped exactly once.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::tracked::{Ctl, Live, r0, r1, r2, r3};
use proptest::prelude::*;
use routilux::{FlowError, Observer, RunOptions, Schedule};

type Runner = fn(RunOptions<'_>, Ctl) -> Result<u64, FlowError>;

include!(concat!(env!("OUT_DIR"), "/random_flows.rs"));

/// Attached to a run, makes the engine take its guarded path instead of the straight line.
struct Listen;

impl Observer for Listen {}

/// What a run gave: its value, or its error's kind and step.
fn outcome(result: Result<u64, FlowError>) -> Result<u64, (routilux::ErrorKind, Option<String>)> {
    result.map_err(|e| (e.kind(), e.step().map(str::to_owned)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_straight_line_form_behaves_like_the_engine(
        flow in 0..RANDOM.len(),
        seed in any::<u64>(),
        modulus in 2u64..12,
        fail in 0u64..12,
        panic in 0u64..12,
    ) {
        let (name, run) = RANDOM[flow];
        let ctl = |live: &Arc<Live>| Ctl { seed, modulus, fail, panic, live: Arc::clone(live) };
        let live = Arc::new(Live::default());
        let straight = outcome(run(Schedule::Sequential.into(), ctl(&live)));
        prop_assert_eq!(live.0.load(Ordering::SeqCst), 0, "{}: straight line leaks", name);
        let listen = Listen;
        let engine = outcome(run(RunOptions::from(Schedule::Sequential).observer(&listen), ctl(&live)));
        prop_assert_eq!(live.0.load(Ordering::SeqCst), 0, "{}: engine leaks", name);
        prop_assert_eq!(&straight, &engine, "{}", name);
        // Parallel schedules (which take the straight line for chains) agree on success and
        // on the value; which of several failing steps is reported first may differ.
        for schedule in [Schedule::Layered, Schedule::Dataflow] {
            let parallel = outcome(run(schedule.into(), ctl(&live)));
            prop_assert_eq!(live.0.load(Ordering::SeqCst), 0, "{}: {:?} leaks", name, schedule);
            match (&straight, &parallel) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err((a, _)), Err((b, _))) => prop_assert!(
                    (*a == routilux::ErrorKind::Failed || *a == routilux::ErrorKind::Panicked)
                        && (*b == routilux::ErrorKind::Failed || *b == routilux::ErrorKind::Panicked)
                ),
                _ => prop_assert!(false, "{}: {:?} vs {:?}", name, straight, parallel),
            }
        }
    }
}
