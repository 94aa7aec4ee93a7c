//! Sub-flows in the `Builder`: a `flow!` flow (`Builder::subflow`) or a built flow
//! (`Builder::dyn_subflow`) as a step, with the semantics of `step y = Inner(a, b);`.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use common::{Boom, schedules};
use routilux::{Builder, Context, DynFlow, ErrorKind, Handle, Step, flow, routine};

#[routine]
fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

#[routine]
fn double(x: &u64) -> u64 {
    x * 2
}

flow! {
    flow Inner {
        input a: u64;
        input b: u64;
        step sum = add(a, b);
        step twice = double(sum);
        return twice;
    }
}

static UNDONE: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Tests that read `UNDONE` take this first: tests run in parallel.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn undone() -> Vec<String> {
    UNDONE.lock().unwrap().clone()
}

fn record(what: String) {
    UNDONE.lock().unwrap().push(what);
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
        record(format!("{}:{value}", ctx.step()));
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

/// A built flow like `Reserve`, whose undoable `second` is also its output (its value moves
/// to the outer run, which must still undo it).
fn reserve_built() -> (DynFlow, Handle<u64>, Handle<u64>) {
    let mut b = Builder::new("ReserveBuilt");
    let n = b.input::<u64>("n").unwrap();
    let first = b
        .step("first", n, |n: &u64| Ok::<_, Infallible>(*n))
        .unwrap();
    b.undo(first, |v: &u64| {
        record(format!("first:{v}"));
        Ok::<_, Infallible>(())
    })
    .unwrap();
    let second = b
        .step("second", first, |v: &u64| Ok::<_, Infallible>(*v))
        .unwrap();
    b.undo(second, |v: &u64| {
        record(format!("second:{v}"));
        Ok::<_, Infallible>(())
    })
    .unwrap();
    let checked = b.step("checked", second, |v: &u64| check(v)).unwrap();
    b.output(second);
    b.output(checked);
    (b.build(), n, second)
}

#[test]
fn a_flow_macro_flow_is_a_step_of_a_builder_flow() {
    let mut b = Builder::new("Outer");
    let x = b.input::<u64>("x").unwrap();
    let one = b.constant("one", 1u64).unwrap();
    let y = b.subflow("y", (x, x), Inner).unwrap();
    let z = b.subflow("z", (y, one), Inner).unwrap();
    let w = b
        .step("w", (y, z), |(y, z): (&u64, &u64)| {
            Ok::<_, Infallible>(y + z)
        })
        .unwrap();
    b.output(y);
    b.output(w);
    let flow = b.build();
    for (schedule, options) in schedules() {
        let mut inputs = flow.inputs();
        inputs.set(x, 3);
        let mut out = flow.run(inputs, options).unwrap();
        // y = (3 + 3) * 2; z = (y + 1) * 2; w = y + z.
        assert_eq!(
            (out.take(y), out.take(w)),
            (Some(12), Some(12 + 26)),
            "{schedule:?}"
        );
    }
    let step = &flow.plan().steps()[1];
    assert_eq!((step.name(), step.routine()), ("y", "Inner"));
    assert!(step.policy().is_subflow());
    assert_eq!(step.subflow().map(routilux::Plan::flow), Some("Inner"));
}

#[test]
fn a_built_flow_is_a_step_and_can_run_a_flow_macro_flow_itself() {
    // Middle: built, runs `Inner` (a `flow!` flow) and returns two values.
    let mut m = Builder::new("Middle");
    let a = m.input::<u64>("a").unwrap();
    let label = m.input::<String>("label").unwrap();
    let inner = m.subflow("inner", (a, a), Inner).unwrap();
    let text = m
        .step("text", (label, inner), |(l, v): (&String, &u64)| {
            Ok::<_, Infallible>(format!("{l}={v}"))
        })
        .unwrap();
    m.output(inner);
    m.output(text);
    let middle = Arc::new(m.build());

    let mut b = Builder::new("Outer");
    let x = b.input::<u64>("x").unwrap();
    let name = b.constant("name", "x".to_owned()).unwrap();
    let both = b
        .dyn_subflow("mid", Arc::clone(&middle))
        .input(a, x)
        .input(label, name)
        .returning((inner, text))
        .unwrap();
    let again = b
        .dyn_subflow("again", middle)
        .input(label, name)
        .input(a, x)
        .returning(text)
        .unwrap();
    b.output(both);
    b.output(again);
    let flow = b.build();
    for (schedule, options) in schedules() {
        let mut inputs = flow.inputs();
        inputs.set(x, 5);
        let mut out = flow.run(inputs, options).unwrap();
        assert_eq!(
            out.take(both),
            Some((20, "x=20".to_owned())),
            "{schedule:?}"
        );
        assert_eq!(out.take(again).as_deref(), Some("x=20"), "{schedule:?}");
    }
}

/// A built flow whose step `booking` runs `Reserve`; its input.
fn middle() -> (Arc<DynFlow>, Handle<u64>, Handle<u64>) {
    let mut m = Builder::new("Middle");
    let n = m.input::<u64>("n").unwrap();
    let booking = m.subflow("booking", n, Reserve).unwrap();
    m.output(booking);
    (Arc::new(m.build()), n, booking)
}

#[test]
fn inner_failures_fail_the_outer_run_at_the_qualified_step_with_the_inner_cause() {
    let _serial = serial();
    let (built, built_n, second) = reserve_built();
    let built = Arc::new(built);
    let (middle, middle_n, booking) = middle();
    // One outer step per kind of sub-flow; each fails on its own, so each run fails at one.
    type Declare = Box<dyn Fn(&mut Builder, Handle<u64>) -> Handle<u64>>;
    let kinds: [(&str, Declare); 3] = [
        (
            "macro/checked",
            Box::new(|b, n| b.subflow("macro", n, Reserve).unwrap()),
        ),
        (
            "built/checked",
            Box::new(move |b, n| {
                b.dyn_subflow("built", Arc::clone(&built))
                    .input(built_n, n)
                    .returning(second)
                    .unwrap()
            }),
        ),
        (
            "deep/booking/checked",
            Box::new(move |b, n| {
                b.dyn_subflow("deep", Arc::clone(&middle))
                    .input(middle_n, n)
                    .returning(booking)
                    .unwrap()
            }),
        ),
    ];
    for (qualified, declare) in &kinds {
        let mut b = Builder::new("Trip");
        let n = b.input::<u64>("n").unwrap();
        let step = declare(&mut b, n);
        b.output(step);
        let flow = b.build();
        for (schedule, options) in schedules() {
            UNDONE.lock().unwrap().clear();
            let mut inputs = flow.inputs();
            inputs.set(n, 200);
            let err = flow.run(inputs, options).unwrap_err();
            assert_eq!(err.step(), Some(*qualified), "{schedule:?}");
            assert_eq!((err.kind(), err.flow()), (ErrorKind::Failed, "Trip"));
            let cause = std::error::Error::source(&err).unwrap();
            assert_eq!(cause.downcast_ref::<Boom>(), Some(&Boom("too big")));
            // The inner run undid its own completed steps, newest first.
            assert_eq!(undone(), ["second:200", "first:200"], "{schedule:?}");
        }
    }
}

#[test]
fn completed_inner_runs_are_undone_newest_first_when_the_outer_run_fails_later() {
    let _serial = serial();
    let (built, built_n, second) = reserve_built();
    let built = Arc::new(built);
    let (middle, middle_n, booking) = middle();
    let mut b = Builder::new("Trip");
    let n = b.input::<u64>("n").unwrap();
    let limit = b.input::<u64>("limit").unwrap();
    let by_macro = b.subflow("macro", n, Reserve).unwrap();
    let by_built = b
        .dyn_subflow("built", built)
        .input(built_n, n)
        .returning(second)
        .unwrap();
    let by_deep = b
        .dyn_subflow("deep", middle)
        .input(middle_n, n)
        .returning(booking)
        .unwrap();
    let last = b.step("last", limit, |l: &u64| check(l)).unwrap();
    b.after(last, (by_macro, by_built, by_deep)).unwrap();
    b.output(last);
    let flow = b.build();
    for (schedule, options) in schedules() {
        UNDONE.lock().unwrap().clear();
        let mut inputs = flow.inputs();
        inputs.set(n, 5).set(limit, 1000);
        let err = flow.run(inputs, options).unwrap_err();
        assert_eq!(err.step(), Some("last"), "{schedule:?}");
        assert!(err.undo_errors().is_empty());
        // Three inner runs kept, each undone newest first (`second` of the built flow from
        // the value the outer step took); the outer steps may be undone in any order.
        let seen = undone();
        assert_eq!(seen.len(), 6, "{schedule:?}: {seen:?}");
        for pair in seen.chunks(2) {
            assert_eq!(pair, ["second:5", "first:5"], "{schedule:?}: {seen:?}");
        }
        UNDONE.lock().unwrap().clear();
        let mut inputs = flow.inputs();
        inputs.set(n, 5).set(limit, 1);
        let mut out = flow.run(inputs, options).unwrap();
        assert_eq!(out.take(last), Some(1));
        assert!(undone().is_empty(), "a successful run undoes nothing");
    }
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

#[test]
fn retries_undo_the_failed_inner_attempt_and_run_the_inner_flow_again() {
    let _serial = serial();
    // The same flaky flow, as a `flow!` flow and built.
    let mut f = Builder::new("FlakyBuilt");
    let f_n = f.input::<u64>("n").unwrap();
    let held = f
        .step("held", f_n, |n: &u64| Ok::<_, Infallible>(*n))
        .unwrap();
    f.undo(held, |v: &u64| {
        record(format!("held:{v}"));
        Ok::<_, Infallible>(())
    })
    .unwrap();
    let value = f.step("value", held, |v: &u64| flaky_once(v)).unwrap();
    f.output(value);
    let built = f.build();

    let built = Arc::new(built);
    for which in ["macro", "built"] {
        let mut b = Builder::new("Retrying");
        let n = b.input::<u64>("n").unwrap();
        let step = if which == "macro" {
            b.subflow("inner", n, Flaky).unwrap()
        } else {
            b.dyn_subflow("inner", Arc::clone(&built))
                .input(f_n, n)
                .returning(value)
                .unwrap()
        };
        b.retries(step, 1, routilux::Backoff::NONE).unwrap();
        b.output(step);
        let flow = b.build();
        for (schedule, options) in schedules() {
            *TRIES.lock().unwrap() = 0;
            UNDONE.lock().unwrap().clear();
            let mut inputs = flow.inputs();
            inputs.set(n, 7);
            let mut out = flow.run(inputs, options).unwrap();
            assert_eq!(out.take(step), Some(7), "{which} {schedule:?}");
            // The first attempt failed at `value`; its `held` was undone before the retry.
            assert_eq!(*TRIES.lock().unwrap(), 2, "{which} {schedule:?}");
            assert_eq!(undone(), ["held:7"], "{which} {schedule:?}");
        }
    }
}
