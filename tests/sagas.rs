//! Retries, compensation and undo: exact event sequences under every schedule.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Boom, Log, Reserve, lines, parallel_schedules, schedules};
use routilux::{
    Backoff, Compensation, Context, ErrorKind, RunData, RunOptions, Step, StepPanicked, flow,
    routine,
};

#[routine(retries = 2)]
fn hopeless(_: &u32) -> Result<u32, Boom> {
    Err(Boom("no luck"))
}

flow! {
    flow Exhausted {
        input x: u32;
        step a = Reserve(x);
        step b = Reserve(a);
        step c = hopeless(b);
        return c;
    }
}

#[test]
fn retries_exhausted_then_undo_in_reverse_completion_order() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        let err = Exhausted::run_with(options.observer(&log), 1).unwrap_err();
        assert_eq!(err.step(), Some("c"), "{schedule:?}");
        assert_eq!(err.kind(), ErrorKind::Failed);
        assert!(err.undo_errors().is_empty());
        assert_eq!(
            log.events(),
            lines(&[
                "run",
                "start a#1",
                "finish a#1",
                "start b#1",
                "finish b#1",
                "start c#1",
                "retry c#1 after 0ns: no luck",
                "start c#2",
                "retry c#2 after 0ns: no luck",
                "start c#3",
                "fail c#3: no luck",
                "undo b#1",
                "undone b#1",
                "undo a#1",
                "undone a#1",
                "end err",
            ]),
            "{schedule:?}"
        );
    }
}

#[routine(retries = 3, backoff = Backoff::fixed(Duration::from_millis(1)))]
fn flaky(ctx: &Context) -> Result<u32, Boom> {
    if ctx.attempt() < 3 {
        Err(Boom("flaky"))
    } else {
        Ok(ctx.attempt() * 10 + ctx.max_attempts())
    }
}

flow! { flow Flaky { step value = flaky(); return value; } }

#[test]
fn retry_then_success_and_the_step_sees_its_attempt() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        assert_eq!(Flaky::run_with(options.observer(&log)).unwrap(), 34);
        assert_eq!(
            log.events(),
            lines(&[
                "run",
                "start value#1",
                "retry value#1 after 1ms: flaky",
                "start value#2",
                "retry value#2 after 1ms: flaky",
                "start value#3",
                "finish value#3",
                "end ok",
            ]),
            "{schedule:?}"
        );
    }
}

#[routine]
fn plain_failure() -> Result<u32, Boom> {
    Err(Boom("plain"))
}

#[routine(retries = 0)]
fn zero_retries() -> Result<u32, Boom> {
    Err(Boom("zero"))
}

#[routine(retries = 4)]
fn panics() -> Result<u32, Boom> {
    panic!("bug")
}

flow! {
    flow Overridden {
        /// Retried twice here, although the routine has no retries.
        #[step(retries = 2, backoff = Backoff::fixed(Duration::from_millis(2)))]
        step p = plain_failure();
    }
}

flow! { flow Zero { step z = zero_retries(); } }
flow! { flow Panics { step p = panics(); } }

#[test]
fn flow_options_override_the_routine_and_zero_or_panics_mean_one_attempt() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        Overridden::run_with(options.observer(&log)).unwrap_err();
        assert_eq!(
            log.with_prefix("retry "),
            ["p#1 after 2ms: plain", "p#2 after 2ms: plain"],
            "{schedule:?}"
        );
        assert_eq!(log.with_prefix("fail "), ["p#3: plain"]);

        let log = Log::default();
        Zero::run_with(options.observer(&log)).unwrap_err();
        assert_eq!(log.with_prefix("start "), ["z#1"]);

        // A panic is a bug, not a transient failure: never retried.
        let log = Log::default();
        let err = Panics::run_with(options.observer(&log)).unwrap_err();
        assert!(err.is_panic());
        assert_eq!(log.with_prefix("fail "), ["p#1: panicked: bug"]);
    }
    assert_eq!(Overridden::plan().steps()[0].policy().get_retries(), 2);
    assert_eq!(
        Overridden::plan().steps()[0].doc(),
        "Retried twice here, although the routine has no retries."
    );
}

/// Fails, then continues with a replacement value.
struct Quote;

impl Step for Quote {
    type Args = ();
    type Output = u32;
    type Error = Boom;

    fn run((): (), _: &Context) -> Result<u32, Boom> {
        Err(Boom("no quote"))
    }

    fn compensate(error: &Boom, _: &Context) -> Compensation<u32> {
        assert_eq!(error, &Boom("no quote"));
        Compensation::Continue(21)
    }
}

#[routine]
fn double(x: &u32) -> u32 {
    x * 2
}

#[routine(retries = 1, fallback = 7)]
fn with_fallback() -> Result<u32, Boom> {
    Err(Boom("down"))
}

flow! {
    flow Compensated {
        step q = Quote();
        step d = double(q);
        step f = with_fallback();
        return (d, f);
    }
}

#[test]
fn compensation_continues_with_a_replacement_value() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        let result = Compensated::run_with(options.observer(&log)).unwrap();
        assert_eq!(result, (42, 7), "{schedule:?}");
        let events = log.events();
        let of = |step: &str| -> Vec<String> {
            events
                .iter()
                .filter(|e| e.contains(&format!(" {step}#")) || e.contains(&format!(" {step}:")))
                .cloned()
                .collect()
        };
        assert_eq!(
            of("q"),
            ["start q#1", "compensate q: no quote", "finish q#1"]
        );
        assert_eq!(of("d"), ["start d#1", "finish d#1"]);
        assert_eq!(
            of("f"),
            [
                "start f#1",
                "retry f#1 after 0ns: down",
                "start f#2",
                "compensate f: down",
                "finish f#2"
            ]
        );
    }
}

/// Undoable; its undo panics.
struct PanickyUndo;

impl Step for PanickyUndo {
    type Args = (u32,);
    type Output = u32;
    type Error = Boom;

    fn run((x,): (&u32,), _: &Context) -> Result<u32, Boom> {
        Ok(*x)
    }

    fn undo(_: &u32, _: &Context) -> Result<(), Boom> {
        panic!("undo exploded")
    }
}

/// Undoable; its undo fails on its first attempt and succeeds on the second.
struct FlakyUndo;

impl Step for FlakyUndo {
    type Args = (u32,);
    type Output = u32;
    type Error = Boom;
    const UNDO_RETRIES: u32 = 2;

    fn run((x,): (&u32,), _: &Context) -> Result<u32, Boom> {
        Ok(*x)
    }

    fn undo(_: &u32, ctx: &Context) -> Result<(), Boom> {
        if ctx.attempt() == 1 {
            Err(Boom("undo hiccup"))
        } else {
            Ok(())
        }
    }
}

/// Undoable; its undo always fails.
struct BrokenUndo;

impl Step for BrokenUndo {
    type Args = (u32,);
    type Output = u32;
    type Error = Boom;
    const UNDO_RETRIES: u32 = 1;

    fn run((x,): (&u32,), _: &Context) -> Result<u32, Boom> {
        Ok(*x)
    }

    fn undo(_: &u32, _: &Context) -> Result<(), Boom> {
        Err(Boom("cannot undo"))
    }
}

flow! {
    flow UndoTrouble {
        input x: u32;
        step a = Reserve(x);
        step b = BrokenUndo(a);
        step c = FlakyUndo(b);
        step d = PanickyUndo(c);
        step e = hopeless(d);
    }
}

#[test]
fn failing_and_panicking_undos_are_reported_and_the_rest_still_run() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        let err = UndoTrouble::run_with(options.observer(&log), 1).unwrap_err();
        assert_eq!(err.step(), Some("e"));
        assert_eq!(
            log.events()
                .iter()
                .skip_while(|e| !e.starts_with("undo"))
                .cloned()
                .collect::<Vec<_>>(),
            lines(&[
                "undo d#1",
                "undo-fail d#1: panicked: undo exploded",
                "undo c#1",
                "undo-fail c#1: undo hiccup",
                "undo c#2",
                "undone c#2",
                "undo b#1",
                "undo-fail b#1: cannot undo",
                "undo b#2",
                "undo-fail b#2: cannot undo",
                "undo a#1",
                "undone a#1",
                "end err",
            ]),
            "{schedule:?}"
        );
        let undo: Vec<_> = err
            .undo_errors()
            .iter()
            .map(|u| (u.step(), u.attempts()))
            .collect();
        assert_eq!(undo, [("d", 1), ("b", 2)]);
        let panic = err.undo_errors()[0]
            .error()
            .downcast_ref::<StepPanicked>()
            .unwrap();
        assert_eq!(panic.message(), "undo exploded");
        assert_eq!(
            err.to_string(),
            "flow `UndoTrouble` failed at step `e`: no luck; undo of step `d` failed: panicked: \
             undo exploded; undo of step `b` failed 2 times: cannot undo"
        );
    }
}

static STARTED: AtomicUsize = AtomicUsize::new(0);

/// Undoable; runs until the run is stopping.
struct UntilStopped;

impl Step for UntilStopped {
    type Args = (u32,);
    type Output = u32;
    type Error = Boom;

    fn run((x,): (&u32,), ctx: &Context) -> Result<u32, Boom> {
        STARTED.fetch_add(1, Ordering::SeqCst);
        while !ctx.is_cancelled() {
            std::thread::yield_now();
        }
        Ok(*x)
    }
}

#[routine]
fn trigger(_: &u32) -> Result<u32, Boom> {
    while STARTED.load(Ordering::SeqCst) < 2 {
        std::thread::yield_now();
    }
    Err(Boom("triggered"))
}

flow! {
    flow InFlight {
        input x: u32;
        step s1 = UntilStopped(x);
        step s2 = UntilStopped(x);
        step t = trigger(x);
    }
}

#[test]
fn steps_in_flight_when_another_fails_finish_and_are_undone() {
    for (schedule, options) in parallel_schedules() {
        STARTED.store(0, Ordering::SeqCst);
        let log = Log::default();
        let err = InFlight::run_with(options.observer(&log), 1).unwrap_err();
        assert_eq!(err.step(), Some("t"), "{schedule:?}");
        assert_eq!(log.with_prefix("fail "), ["t#1: triggered"]);
        let mut finished = log.with_prefix("finish ");
        finished.sort();
        assert_eq!(finished, ["s1#1", "s2#1"]);
        let undone = log.with_prefix("undo ");
        let mut reverse_finish = log.with_prefix("finish ");
        reverse_finish.reverse();
        assert_eq!(undone, reverse_finish, "{schedule:?}");
    }
}

#[routine]
fn counts(ctx: &Context, x: &u32) -> u32 {
    ctx.data().update::<u32, _>("calls", |c| *c += 1);
    assert_eq!(
        (ctx.flow(), ctx.attempt(), ctx.is_cancelled()),
        ("Counting", 1, false)
    );
    x + ctx.data().get::<u32>("base").unwrap_or(0)
}

flow! {
    flow Counting {
        input x: u32;
        step one = counts(x);
        step two = counts(x);
        return (one, two);
    }
}

#[test]
fn steps_share_the_runs_data_and_the_caller_can_seed_and_read_it() {
    for (schedule, options) in schedules() {
        let data = RunData::new();
        data.insert("base", 100_u32);
        let result = Counting::run_with(options.data(&data), 1).unwrap();
        assert_eq!(result, (101, 101), "{schedule:?}");
        assert_eq!(data.get::<u32>("calls"), Some(2));
    }
    // Without `data`, each run starts empty.
    assert_eq!(Counting::run_with(RunOptions::new(), 1).unwrap(), (1, 1));
}

/// A step with nothing to undo: `UNDOABLE = false`, so a failed run never calls its `undo`.
struct Price;

impl Step for Price {
    type Args = (u32,);
    type Output = u32;
    type Error = Boom;
    const UNDOABLE: bool = false;

    fn run((x,): (&u32,), _: &Context) -> Result<u32, Boom> {
        Ok(x * 100)
    }

    fn undo(_: &u32, _: &Context) -> Result<(), Boom> {
        unreachable!("a step that is not undoable is never undone")
    }
}

flow! {
    flow Quoted {
        input x: u32;
        step booked = Reserve(x);
        step price = Price(booked);
        step paid = hopeless(price);
        return paid;
    }
}

#[test]
fn steps_declared_not_undoable_are_left_alone() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        let err = Quoted::run_with(options.observer(&log), 1).unwrap_err();
        assert_eq!(err.step(), Some("paid"), "{schedule:?}");
        assert!(err.undo_errors().is_empty());
        let events = log.events();
        let undos: Vec<&String> = events.iter().filter(|e| e.starts_with("undo")).collect();
        assert_eq!(undos, ["undo booked#1", "undone booked#1"], "{schedule:?}");
    }
    let plan = Quoted::plan();
    let undoable: Vec<bool> = plan
        .steps()
        .iter()
        .map(|s| s.policy().is_undoable())
        .collect();
    let names: Vec<&str> = plan.steps().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["booked", "price", "paid"]);
    assert_eq!(undoable, [true, false, false]);
}
