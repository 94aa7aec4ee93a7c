//! Tests of the builder: handles and mistakes; the new capabilities are tested from
//! `tests/builder.rs` under every schedule.

use std::convert::Infallible;
use std::error::Error as _;

use super::*;
use crate::policy::Backoff;
use crate::{ErrorKind, FlowError, Schedule};

/// `Sum`: input `x: u64`, step `double`, output `double`.
fn sum() -> (DynFlow, Handle<u64>, Handle<u64>) {
    let mut b = Builder::new("Sum");
    let x = b.input::<u64>("x").unwrap();
    let double = b
        .step("double", &[x], |a: &[&u64]| Ok::<_, Infallible>(a[0] * 2))
        .unwrap();
    b.output(double);
    (b.build(), x, double)
}

/// `Words`: input `text: String`, step `upper`, output `upper`.
fn words() -> (DynFlow, Handle<String>, Handle<String>) {
    let mut b = Builder::new("Words");
    let text = b.input::<String>("text").unwrap();
    let upper = b
        .step("upper", &[text], |a: &[&String]| {
            Ok::<_, Infallible>(a[0].to_uppercase())
        })
        .unwrap();
    b.output(upper);
    (b.build(), text, upper)
}

fn misuse(error: &FlowError) -> &BuildError {
    assert_eq!(error.kind(), ErrorKind::Misuse, "{error}");
    error
        .source()
        .unwrap()
        .downcast_ref::<BuildError>()
        .unwrap()
}

#[test]
fn a_wrong_handle_takes_nothing() {
    let (flow, x, double) = sum();
    let (_, _, upper) = words();
    let mut inputs = flow.inputs();
    inputs.set(x, 21);
    let mut outputs = flow.run(inputs, Schedule::Sequential).unwrap();
    // `upper` has the same declaration slot as `double`, and another type.
    assert_eq!(outputs.take(upper), None);
    let error = outputs.try_take(upper).unwrap_err();
    assert!(matches!(
        &error,
        BuildError::OtherFlow { flow, operation: "Outputs::take", .. } if flow == "Sum"
    ));
    assert!(error.to_string().contains("another builder"), "{error}");
    // Not an output, then the value itself, then nothing left.
    let error = outputs.try_take(x).unwrap_err();
    assert_eq!(
        error,
        BuildError::NotAnOutput {
            flow: "Sum".into(),
            name: "x".into()
        }
    );
    assert_eq!(outputs.take(double), Some(42));
    assert_eq!(
        outputs.try_take(double).unwrap_err().to_string(),
        "output `double` of flow `Sum` was already taken"
    );
}

#[test]
fn a_handle_of_the_wrong_type_leaves_the_value() {
    let mut b = Builder::new("Echo");
    let text = b.input::<String>("text").unwrap();
    b.output(text);
    let flow = b.build();
    let mut inputs = flow.inputs();
    inputs.set(text, "hi".to_owned());
    let mut outputs = flow.run(inputs, Schedule::Sequential).unwrap();
    // A `Handle<u64>` for the same slot (only tests can make one).
    let wrong = first_input_handle(&flow);
    assert!(matches!(
        outputs.try_take(wrong),
        Err(BuildError::WrongType { name, expected: "u64", .. }) if name == "text"
    ));
    assert_eq!(outputs.take(text).as_deref(), Some("hi"));
}

#[test]
fn an_input_after_a_step_is_an_error_not_a_panic() {
    let mut b = Builder::new("Late");
    let x = b.input::<u64>("x").unwrap();
    b.step("y", &[x], |a: &[&u64]| Ok::<_, Infallible>(*a[0]))
        .unwrap();
    let error = b.input::<u64>("z").unwrap_err();
    assert_eq!(
        error,
        BuildError::InputAfterStep {
            flow: "Late".into(),
            input: "z".into()
        }
    );
    assert!(error.to_string().contains("input `z` of flow `Late`"));
    // The name was not claimed.
    assert!(
        b.step("z", &[x], |a: &[&u64]| Ok::<_, Infallible>(*a[0]))
            .is_ok()
    );
}

#[test]
fn builder_calls_name_the_handle_they_refuse() {
    let mut other = Builder::new("Other");
    let foreign_input = other.input::<u64>("f").unwrap();
    let foreign = other
        .step("g", &[foreign_input], |a: &[&u64]| {
            Ok::<_, Infallible>(*a[0])
        })
        .unwrap();

    let mut b = Builder::new("Main");
    let x = b.input::<u64>("x").unwrap();
    let y = b
        .step("y", &[x], |a: &[&u64]| Ok::<_, Infallible>(*a[0]))
        .unwrap();
    assert_eq!(
        b.step("z", &[x, foreign], |a: &[&u64]| Ok::<_, Infallible>(*a[0]))
            .unwrap_err(),
        BuildError::ForeignHandle { step: "z".into() }
    );
    let error = b.retries(foreign, 1, Backoff::NONE).unwrap_err();
    assert!(matches!(
        &error,
        BuildError::OtherFlow { flow, operation: "Builder::retries", .. } if flow == "Main"
    ));
    let error = b.retries(x, 1, Backoff::NONE).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`Builder::retries` was given `x`, an input of flow `Main`, not a step"
    );
    let error = b.undo(x, |_: &u64| Ok::<_, Infallible>(())).unwrap_err();
    assert!(matches!(
        error,
        BuildError::NotAStep {
            operation: "Builder::undo",
            ..
        }
    ));
    assert!(b.retries(y, 1, Backoff::NONE).is_ok());
    assert!(b.try_output(foreign).is_err());
    b.output(y);
    assert!(b.try_build().is_ok());
}

#[test]
fn an_output_from_another_builder_is_reported() {
    let mut other = Builder::new("Other");
    let foreign = other.input::<u64>("f").unwrap();
    let make = || {
        let mut b = Builder::new("Main");
        let x = b.input::<u64>("x").unwrap();
        b.output(x);
        b.output(foreign);
        (b, x)
    };
    let (b, _) = make();
    assert!(matches!(
        b.try_build(),
        Err(BuildError::OtherFlow {
            operation: "Builder::output",
            ..
        })
    ));
    // `build` cannot fail: every run does instead, saying why.
    let (b, x) = make();
    let flow = b.build();
    let mut inputs = flow.inputs();
    inputs.set(x, 1);
    let error = flow.run(inputs, Schedule::Sequential).unwrap_err();
    assert!(matches!(
        misuse(&error),
        BuildError::OtherFlow {
            operation: "Builder::output",
            ..
        }
    ));
    assert!(
        error
            .to_string()
            .starts_with("flow `Main` failed: `Builder::output`")
    );
}

#[test]
fn inputs_set_with_a_foreign_handle_fails_the_run_instead_of_panicking() {
    let (flow, x, double) = sum();
    let (_, text, _) = words();
    let mut inputs = flow.inputs();
    inputs.set(x, 1).set(text, "no".to_owned());
    let error = flow.run(inputs, Schedule::Sequential).unwrap_err();
    assert!(matches!(
        misuse(&error),
        BuildError::OtherFlow { flow, operation: "Inputs::set", .. } if flow == "Sum"
    ));
    // A step's handle is not an input.
    let mut inputs = flow.inputs();
    let error = inputs.try_set(double, 5).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`Inputs::set` was given `double`, a step of flow `Sum`, not an input"
    );
    inputs.set(double, 5).set(x, 1);
    let error = flow.run(inputs, Schedule::Sequential).unwrap_err();
    assert!(matches!(misuse(&error), BuildError::NotAnInput { name, .. } if name == "double"));
}

#[test]
fn inputs_of_another_flow_are_refused() {
    let (sum, _, _) = sum();
    let (words, text, _) = words();
    let mut inputs = words.inputs();
    inputs.set(text, "hi".to_owned());
    let error = sum.run(inputs, Schedule::Sequential).unwrap_err();
    assert_eq!(
        misuse(&error),
        &BuildError::OtherFlowInputs {
            flow: "Sum".into(),
            made_by: "Words".into()
        }
    );
    assert_eq!(error.step(), None);
    assert!(!error.to_string().contains("internal"), "{error}");
}
