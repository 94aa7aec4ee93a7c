//! Random flows of the step language (`after` edges, conditional steps with random flags, map
//! steps over random-length vectors, empty ones included), with random failing and panicking
//! steps and elements: every schedule gives the sequential run's result (or an error of the
//! same kind), and every value made, elements included, is dropped exactly once.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::tracked::{Ctl, Live, r0, r1, r2, rm, ro, rv};
use proptest::prelude::*;
use routilux::{ErrorKind, FlowError, Observer, RunOptions, Schedule};

type LangRunner = fn(RunOptions<'_>, Ctl, bool, Vec<u64>) -> Result<u64, FlowError>;

include!(concat!(env!("OUT_DIR"), "/language_flows.rs"));

/// Attached to a run, makes the engine take its guarded path.
struct Listen;

impl Observer for Listen {}

fn outcome(result: Result<u64, FlowError>) -> Result<u64, (ErrorKind, Option<String>)> {
    result.map_err(|e| (e.kind(), e.step().map(str::to_owned)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_schedule_agrees_with_the_sequential_run(
        flow in 0..LANGUAGE.len(),
        seed in any::<u64>(),
        modulus in 2u64..40,
        fail in 0u64..40,
        panic in 0u64..40,
        flag in any::<bool>(),
        xs in proptest::collection::vec(0u64..1000, 0..6),
    ) {
        let (name, run) = LANGUAGE[flow];
        let live = Arc::new(Live::default());
        let ctl = || Ctl { seed, modulus, fail, panic, live: Arc::clone(&live) };
        let sequential = outcome(run(Schedule::Sequential.into(), ctl(), flag, xs.clone()));
        prop_assert_eq!(live.0.load(Ordering::SeqCst), 0, "{}: sequential leaks", name);
        let listen = Listen;
        let observed = RunOptions::from(Schedule::Sequential).observer(&listen);
        let guarded = outcome(run(observed, ctl(), flag, xs.clone()));
        prop_assert_eq!(live.0.load(Ordering::SeqCst), 0, "{}: guarded leaks", name);
        // A map step's elements run in parallel under every schedule: when one element fails
        // and another panics, which of the two stops the step first may differ.
        let map_race = matches!(
            (&sequential, &guarded),
            (Err((ErrorKind::Failed | ErrorKind::Panicked, Some(a))), Err((ErrorKind::Failed | ErrorKind::Panicked, Some(b))))
                if a == b && a.starts_with('m')
        );
        if !map_race {
            prop_assert_eq!(&sequential, &guarded, "{}", name);
        }
        for schedule in [Schedule::Layered, Schedule::Dataflow] {
            let parallel = outcome(run(schedule.into(), ctl(), flag, xs.clone()));
            prop_assert_eq!(live.0.load(Ordering::SeqCst), 0, "{}: {:?} leaks", name, schedule);
            match (&sequential, &parallel) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", name),
                (Err((a, _)), Err((b, _))) => prop_assert!(
                    matches!(a, ErrorKind::Failed | ErrorKind::Panicked)
                        && matches!(b, ErrorKind::Failed | ErrorKind::Panicked)
                ),
                _ => prop_assert!(false, "{}: {:?} vs {:?}", name, sequential, parallel),
            }
        }
    }
}
