//! The surface contract of DESIGN.md, exactly as written there.

use std::error::Error;

use routilux::{ErrorKind, FlowError, flow, routine};

#[routine]
fn parse(raw: &str) -> Result<Vec<u64>, std::num::ParseIntError> {
    raw.split(',').map(|s| s.trim().parse()).collect()
}

#[routine]
fn total(values: &[u64]) -> u64 {
    values.iter().sum()
}

#[routine]
fn largest(values: &[u64]) -> u64 {
    values.iter().copied().max().unwrap_or(0)
}

#[routine]
fn render(sum: &u64, max: &u64) -> String {
    format!("sum={sum} max={max}")
}

flow! {
    /// Summarises a comma-separated list of numbers.
    pub flow Summary {
        input raw: String;
        step values = parse(raw);
        step sum = total(values);
        step max = largest(values);
        step report = render(sum, max);
        return report;
    }
}

#[test]
fn the_contract_example_runs() -> Result<(), FlowError> {
    let report: String = Summary::run("3, 4, 5".to_string())?;
    assert_eq!(report, "sum=12 max=5");
    Ok(())
}

#[test]
fn routines_stay_callable_as_written() {
    assert_eq!(parse("1,2").unwrap(), vec![1, 2]);
    assert_eq!(total(&[1, 2, 3]), 6);
    assert_eq!(render(&1, &2), "sum=1 max=2");
}

#[test]
fn a_failing_step_names_itself_and_keeps_its_cause() {
    let err = Summary::run("3, x".to_string()).unwrap_err();
    assert_eq!(err.step(), Some("values"));
    assert_eq!(err.flow(), "Summary");
    assert_eq!(err.kind(), ErrorKind::Failed);
    let cause = err.source().expect("a cause");
    assert!(cause.downcast_ref::<std::num::ParseIntError>().is_some());
    assert_eq!(
        err.to_string(),
        "flow `Summary` failed at step `values`: invalid digit found in string"
    );
    let boxed = err.into_source().unwrap();
    assert!(boxed.downcast::<std::num::ParseIntError>().is_ok());
}

#[test]
fn flow_error_is_a_send_sync_std_error() {
    fn assert_error<E: Error + Send + Sync + 'static>() {}
    assert_error::<FlowError>();
}

// Steps in any order, zero-argument steps, tuples, inputs returned, unit output.
#[routine]
fn seed() -> u64 {
    7
}

#[routine]
fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

#[routine]
fn count(text: &str) -> usize {
    text.len()
}

flow! {
    flow OutOfOrder {
        input text: String;
        input offset: u64;
        step c = add(a, b);
        step b = add(a, offset);
        step a = seed();
        step n = count(text);
        return (c, n, text);
    }
}

#[test]
fn steps_in_any_order_and_tuples() -> Result<(), FlowError> {
    let (c, n, text) = OutOfOrder::run("hello".into(), 3)?;
    assert_eq!(c, 7 + (7 + 3));
    assert_eq!(n, 5);
    assert_eq!(text, "hello");
    Ok(())
}

flow! {
    flow NoReturn {
        step a = seed();
    }
}

flow! {
    flow OneTuple {
        step a = seed();
        return (a,);
    }
}

#[test]
fn without_return_run_gives_unit_and_one_tuples_stay_tuples() -> Result<(), FlowError> {
    NoReturn::run()?;
    assert_eq!(OneTuple::run()?, (7,));
    Ok(())
}

mod shapes {
    use routilux::routine;

    #[routine]
    pub fn double(x: &u64) -> u64 {
        x * 2
    }

    #[routine]
    pub(crate) fn checked_half(x: &u64) -> std::io::Result<u64> {
        if x.is_multiple_of(2) {
            Ok(x / 2)
        } else {
            Err(std::io::Error::other(format!("{x} is odd")))
        }
    }
}

flow! {
    flow Paths {
        input x: u64;
        step d = shapes::double(x);
        step h = shapes::checked_half(x);
        return (d, h);
    }
}

#[test]
fn routines_by_path_and_result_aliases() {
    assert_eq!(Paths::run(4).unwrap(), (8, 2));
    let err = Paths::run(3).unwrap_err();
    assert_eq!(err.step(), Some("h"));
    let io = err
        .source()
        .unwrap()
        .downcast_ref::<std::io::Error>()
        .unwrap();
    assert_eq!(io.to_string(), "3 is odd");
}
