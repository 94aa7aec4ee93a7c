//! Sub-flows: a flow as a step of another flow.

mod common;

use std::sync::Mutex;

use common::{Boom, Log, schedules};
use routilux::{Context, ErrorKind, Step, flow, routine};

#[routine]
fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

#[routine]
fn double(x: &u64) -> u64 {
    x * 2
}

flow! {
    /// The inner flow.
    flow Inner {
        input a: u64;
        input b: u64;
        step sum = add(a, b);
        step twice = double(sum);
        return twice;
    }
}

flow! {
    flow Outer {
        input x: u64;
        step y = Inner(x, x);
        step z = Inner(y, 1);
        step w = add(y, z);
        return (y, w);
    }
}

#[test]
fn a_flow_is_a_step_of_another_flow() {
    for (schedule, options) in schedules() {
        // y = (x + x) * 2; z = (y + 1) * 2; w = y + z.
        assert_eq!(
            Outer::run_with(options, 3).unwrap(),
            (12, 12 + 26),
            "{schedule:?}"
        );
    }
    assert_eq!(Outer::run(1).unwrap(), (4, 4 + 10));
}

static UNDONE: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Tests that read `UNDONE` take this first: tests run in parallel.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An undoable step that records its undo as `name:value` and fails on 0.
struct Hold;

impl Step for Hold {
    type Args = (u64,);
    type Output = u64;
    type Error = Boom;

    fn run((x,): (&u64,), _: &Context) -> Result<u64, Boom> {
        if *x == 0 { Err(Boom("zero")) } else { Ok(*x) }
    }

    const UNDOABLE: bool = true;

    fn undo(value: &u64, ctx: &Context) -> Result<(), Boom> {
        UNDONE
            .lock()
            .unwrap()
            .push(format!("{}:{value}", ctx.step()));
        Ok(())
    }
}

#[routine]
fn check(x: &u64) -> Result<u64, Boom> {
    if *x > 100 {
        Err(Boom("too big"))
    } else {
        Ok(*x)
    }
}

flow! {
    flow Reserve {
        input n: u64;
        step first = Hold(n);
        step second = Hold(first);
        step checked = check(second);
        return checked;
    }
}

flow! {
    flow Trip {
        input n: u64;
        input limit: u64;
        step hotel = Hold(n);
        step booking = Reserve(n);
        step total = add(hotel, booking);
        step verified = check(total) after booking;
        step last = check(limit) after verified;
        return last;
    }
}

#[test]
fn an_inner_failure_fails_the_outer_run_at_the_qualified_step_with_the_inner_cause() {
    let _serial = serial();
    for (schedule, options) in schedules() {
        UNDONE.lock().unwrap().clear();
        let err = Trip::run_with(options, 200, 1).unwrap_err();
        assert_eq!(err.step(), Some("booking/checked"), "{schedule:?}");
        assert_eq!(err.kind(), ErrorKind::Failed);
        assert_eq!(err.flow(), "Trip");
        let cause = std::error::Error::source(&err).unwrap();
        assert_eq!(cause.downcast_ref::<Boom>(), Some(&Boom("too big")));
        let mut undone = UNDONE.lock().unwrap().clone();
        // The inner run undid its own steps, newest first; the outer run undid `hotel`
        // (it may have finished before or after the inner steps).
        undone.retain(|u| u != "hotel:200");
        assert_eq!(undone, ["second:200", "first:200"], "{schedule:?}");
    }
}

#[test]
fn a_completed_inner_run_is_undone_when_the_outer_run_fails_later() {
    let _serial = serial();
    for (schedule, options) in schedules() {
        UNDONE.lock().unwrap().clear();
        let err = Trip::run_with(options, 5, 1000).unwrap_err();
        assert_eq!(err.step(), Some("last"), "{schedule:?}");
        let undone = UNDONE.lock().unwrap().clone();
        let inner: Vec<&String> = undone.iter().filter(|u| *u != "hotel:5").collect();
        assert_eq!(inner, ["second:5", "first:5"], "{schedule:?}: {undone:?}");
        assert!(undone.contains(&"hotel:5".to_owned()), "{undone:?}");
    }
    UNDONE.lock().unwrap().clear();
    assert_eq!(Trip::run(5, 1).unwrap(), 1);
    assert!(
        UNDONE.lock().unwrap().is_empty(),
        "a successful run undoes nothing"
    );
}

#[test]
fn observers_see_the_inner_run_under_the_qualified_prefix() {
    struct Prefixes(Mutex<Vec<String>>);
    impl routilux::Observer for Prefixes {
        fn step_finished(&self, run: &routilux::RunInfo<'_>, step: &routilux::StepPlan, _: u32) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}{}", run.prefix(), step.name()));
        }
    }
    for (schedule, options) in schedules() {
        let seen = Prefixes(Mutex::new(Vec::new()));
        Outer::run_with(options.observer(&seen), 3).unwrap();
        let mut seen = seen.0.into_inner().unwrap();
        seen.sort();
        assert_eq!(
            seen,
            ["w", "y", "y/sum", "y/twice", "z", "z/sum", "z/twice"],
            "{schedule:?}"
        );
    }
    let log = Log::default();
    Outer::run_with(routilux::RunOptions::new().observer(&log), 3).unwrap();
    assert_eq!(log.events().iter().filter(|e| *e == "run").count(), 3);
}

static TRIES: Mutex<u32> = Mutex::new(0);

#[routine]
fn flaky_once(x: &u64) -> Result<u64, Boom> {
    let mut tries = TRIES.lock().unwrap();
    *tries += 1;
    if *tries == 1 {
        Err(Boom("first try"))
    } else {
        Ok(*x)
    }
}

flow! {
    flow Flaky {
        input n: u64;
        step held = Hold(n);
        step value = flaky_once(held);
        return value;
    }
}

flow! {
    flow Retrying {
        input n: u64;
        #[step(retries = 1)]
        step inner = Flaky(n);
        return inner;
    }
}

#[test]
fn retrying_a_sub_flow_step_undoes_the_failed_attempt_and_runs_it_again() {
    let _serial = serial();
    *TRIES.lock().unwrap() = 0;
    UNDONE.lock().unwrap().clear();
    assert_eq!(Retrying::run(7).unwrap(), 7);
    assert_eq!(*TRIES.lock().unwrap(), 2);
    assert_eq!(*UNDONE.lock().unwrap(), ["held:7"]);
}
