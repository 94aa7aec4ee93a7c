//! The straight-line form that `flow!` generates for one-thread runs against the engine, on
//! random flows (chains and DAGs) with random failing and panicking steps: the same result or
//! the same error (kind and step), and every value made is dropped exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use proptest::prelude::*;
use routilux::{FlowError, Observer, RunOptions, Schedule, routine};

/// Counts values alive: +1 when made, -1 when dropped.
#[derive(Debug, Default)]
struct Live(AtomicI64);

/// The run's control: which step values fail or panic, and the live-value counter.
#[derive(Clone, Debug)]
struct Ctl {
    seed: u64,
    modulus: u64,
    fail: u64,
    panic: u64,
    live: Arc<Live>,
}

#[derive(Debug)]
struct Tracked {
    value: u64,
    live: Arc<Live>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Fail(u64);

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step value {} fails", self.0)
    }
}

impl std::error::Error for Fail {}

fn make(ctl: &Ctl, x: u64) -> Result<Tracked, Fail> {
    let value = (x ^ ctl.seed)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    match value % ctl.modulus {
        r if r == ctl.fail => Err(Fail(value)),
        r if r == ctl.panic => panic!("step value {value} panics"),
        _ => {
            ctl.live.0.fetch_add(1, Ordering::SeqCst);
            Ok(Tracked {
                value,
                live: Arc::clone(&ctl.live),
            })
        }
    }
}

#[routine]
fn r0(ctl: &Ctl) -> Result<Tracked, Fail> {
    make(ctl, 1)
}

#[routine]
fn r1(a: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    make(ctl, a.value)
}

#[routine]
fn r2(a: &Tracked, b: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    make(ctl, a.value.wrapping_mul(31) ^ b.value)
}

#[routine]
fn r3(a: &Tracked, b: &Tracked, c: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    make(
        ctl,
        a.value.wrapping_mul(31) ^ b.value.wrapping_mul(7) ^ c.value,
    )
}

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
