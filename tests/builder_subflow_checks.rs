//! Builder sub-flows, continued: what observers see, conditional sub-flow steps, and the
//! mistakes a builder reports as `BuildError`s.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use common::schedules;
use routilux::{BuildError, Builder, DynFlow, RunInfo, Schedule, StepPlan, flow, routine};

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

#[test]
fn observers_see_inner_steps_under_the_qualified_prefix() {
    struct Prefixes(Mutex<Vec<String>>);
    impl routilux::Observer for Prefixes {
        fn step_finished(&self, run: &RunInfo<'_>, step: &StepPlan, _: u32) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}{}", run.prefix(), step.name()));
        }
    }
    let mut m = Builder::new("Middle");
    let a = m.input::<u64>("a").unwrap();
    let inner = m.subflow("inner", (a, a), Inner).unwrap();
    m.output(inner);
    let middle = m.build();
    let mut b = Builder::new("Outer");
    let x = b.input::<u64>("x").unwrap();
    let y = b.subflow("y", (x, x), Inner).unwrap();
    let z = b
        .dyn_subflow("z", middle)
        .input(a, y)
        .returning(inner)
        .unwrap();
    b.output(z);
    let flow = b.build();
    for (schedule, options) in schedules() {
        let seen = Prefixes(Mutex::new(Vec::new()));
        let mut inputs = flow.inputs();
        inputs.set(x, 1);
        let mut out = flow.run(inputs, options.observer(&seen)).unwrap();
        assert_eq!(out.take(z), Some(16));
        let mut seen = seen.0.into_inner().unwrap();
        seen.sort();
        assert_eq!(
            seen,
            [
                "y",
                "y/sum",
                "y/twice",
                "z",
                "z/inner",
                "z/inner/sum",
                "z/inner/twice"
            ],
            "{schedule:?}"
        );
    }
}

#[test]
fn conditional_sub_flow_steps_run_only_when_their_condition_holds() {
    let mut b = Builder::new("Maybe");
    let x = b.input::<u64>("x").unwrap();
    let go = b.input::<bool>("go").unwrap();
    let y = b.when(go).subflow("y", (x, x), Inner).unwrap();
    let n = b.when(!go).subflow("n", (x, x), Inner).unwrap();
    b.output(y);
    b.output(n);
    let flow = b.build();
    for go_value in [true, false] {
        let mut inputs = flow.inputs();
        inputs.set(x, 2).set(go, go_value);
        let mut out = flow.run(inputs, Schedule::Dataflow).unwrap();
        let expected = (Some(8), None);
        let got = (out.take(y).unwrap(), out.take(n).unwrap());
        if go_value {
            assert_eq!(got, expected);
        } else {
            assert_eq!(got, (expected.1, expected.0));
        }
    }
}

#[test]
fn mistakes_in_sub_flow_steps_are_build_errors() {
    let mut i = Builder::new("Inner");
    let a = i.input::<u64>("a").unwrap();
    let b_in = i.input::<u64>("b").unwrap();
    let sum = i
        .step("sum", (a, b_in), |(a, b): (&u64, &u64)| {
            Ok::<_, Infallible>(a + b)
        })
        .unwrap();
    let hidden = i
        .step("hidden", sum, |s: &u64| Ok::<_, Infallible>(*s))
        .unwrap();
    i.output(sum);
    let inner = Arc::new(i.build());

    let mut other = Builder::new("Other");
    let foreign = other.input::<u64>("foreign").unwrap();

    let mut b = Builder::new("Outer");
    let x = b.input::<u64>("x").unwrap();
    fn flow<'b>(b: &'b mut Builder, inner: &Arc<DynFlow>) -> routilux::DynSubflow<'b> {
        b.dyn_subflow("y", Arc::clone(inner))
    }

    let unbound = flow(&mut b, &inner).input(a, x).returning(sum).unwrap_err();
    assert!(
        matches!(&unbound, BuildError::UnboundInput { input, inner, .. } if input == "b" && inner == "Inner")
    );
    assert!(
        unbound.to_string().contains("gives no value to input `b`"),
        "{unbound}"
    );

    let twice = flow(&mut b, &inner)
        .input(a, x)
        .input(a, x)
        .input(b_in, x)
        .returning(sum);
    assert!(matches!(twice, Err(BuildError::BoundTwice { name, .. }) if name == "a"));
    let twice = flow(&mut b, &inner)
        .input(a, x)
        .input(b_in, x)
        .returning((sum, sum));
    assert!(matches!(twice, Err(BuildError::BoundTwice { name, .. }) if name == "sum"));

    let step_as_input = flow(&mut b, &inner).input(sum, x).returning(sum);
    assert!(matches!(step_as_input, Err(BuildError::NotAnInput { name, .. }) if name == "sum"));
    let not_output = flow(&mut b, &inner)
        .input(a, x)
        .input(b_in, x)
        .returning(hidden);
    assert!(matches!(not_output, Err(BuildError::NotAnOutput { name, .. }) if name == "hidden"));
    let other_input = flow(&mut b, &inner).input(foreign, x).returning(sum);
    assert!(matches!(other_input, Err(BuildError::OtherFlow { .. })));
    let foreign_value = flow(&mut b, &inner)
        .input(a, foreign)
        .input(b_in, x)
        .returning(sum);
    assert!(matches!(foreign_value, Err(BuildError::ForeignHandle { step }) if step == "y"));

    // None of the refused declarations took the name.
    let y = flow(&mut b, &inner)
        .input(a, x)
        .input(b_in, x)
        .returning(sum)
        .unwrap();
    let again = flow(&mut b, &inner)
        .input(a, x)
        .input(b_in, x)
        .returning(sum);
    assert_eq!(again.unwrap_err(), BuildError::DuplicateName("y".into()));
    let undo = b.undo(y, |_: &u64| Ok::<_, Infallible>(()));
    assert!(matches!(undo, Err(BuildError::UndoOfSubflow { name, .. }) if name == "y"));
    let by_macro = b.subflow("m", (x, x), Inner).unwrap();
    let undo = b.undo(by_macro, |_: &u64| Ok::<_, Infallible>(()));
    assert!(matches!(undo, Err(BuildError::UndoOfSubflow { name, .. }) if name == "m"));

    // A flow whose builder kept a mistake cannot be a step.
    let mut broken = Builder::new("Broken");
    let v = broken.input::<u64>("v").unwrap();
    broken.output(foreign);
    let broken = broken.build();
    let refused = b.dyn_subflow("z", broken).input(v, x).returning(());
    assert!(matches!(refused, Err(BuildError::BrokenSubflow { step, .. }) if step == "z"));
}
