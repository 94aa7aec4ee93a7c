//! Map steps (`each`): every element exactly once, results in input order, per-element
//! retries and compensation, failures that name the element and undo what completed.

mod common;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Boom, Log, schedules};
use routilux::{Compensation, Context, ErrorKind, Step, flow, routine};

#[routine]
fn times(x: &u64, factor: &u64) -> u64 {
    x * factor
}

#[routine]
fn total(values: &[u64]) -> u64 {
    values.iter().sum()
}

flow! {
    flow Scaled {
        input xs: Vec<u64>;
        input factor: u64;
        step ys = times(each xs, factor);
        step sum = total(ys);
        return (ys, sum);
    }
}

flow! {
    flow Batched {
        input xs: Vec<u64>;
        #[step(batch = 3, max_concurrency = 2)]
        step ys = times(each xs, 2);
        return ys;
    }
}

#[test]
fn results_come_in_input_order_for_any_length() {
    for (schedule, options) in schedules() {
        for n in [0u64, 1, 2, 7, 100, 1000] {
            let xs: Vec<u64> = (0..n).collect();
            let (ys, sum) = Scaled::run_with(options, xs.clone(), 3).unwrap();
            assert_eq!(
                ys,
                xs.iter().map(|x| x * 3).collect::<Vec<_>>(),
                "{schedule:?}"
            );
            assert_eq!(sum, 3 * n * n.saturating_sub(1) / 2);
            let batched = Batched::run_with(options, xs.clone()).unwrap();
            assert_eq!(batched, xs.iter().map(|x| x * 2).collect::<Vec<_>>());
        }
    }
    assert_eq!(Scaled::run(vec![1, 2], 5).unwrap(), (vec![5, 10], 15));
}

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static MOST: AtomicUsize = AtomicUsize::new(0);
static SEEN: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[routine]
fn counted(x: &u64) -> u64 {
    let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    MOST.fetch_max(now, Ordering::SeqCst);
    std::thread::yield_now();
    SEEN.lock().unwrap().push(*x);
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    *x
}

flow! {
    flow Limited {
        input xs: Vec<u64>;
        #[step(max_concurrency = 2)]
        step ys = counted(each xs);
        return ys;
    }
}

#[test]
fn each_element_runs_exactly_once_and_the_limit_holds() {
    for (schedule, options) in schedules() {
        SEEN.lock().unwrap().clear();
        MOST.store(0, Ordering::SeqCst);
        let xs: Vec<u64> = (0..500).collect();
        assert_eq!(Limited::run_with(options, xs.clone()).unwrap(), xs);
        let mut seen = SEEN.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, xs, "{schedule:?}: every element once");
        assert!(MOST.load(Ordering::SeqCst) <= 2, "{schedule:?}");
    }
}

static ATTEMPTS: Mutex<Vec<(u64, u32)>> = Mutex::new(Vec::new());

#[routine(retries = 2)]
fn flaky(x: &u64, ctx: &Context) -> Result<u64, Boom> {
    ATTEMPTS.lock().unwrap().push((*x, ctx.attempt()));
    // Odd elements fail their first attempt.
    if !x.is_multiple_of(2) && ctx.attempt() == 1 {
        Err(Boom("first attempt"))
    } else {
        Ok(x * 10)
    }
}

flow! {
    flow Retried {
        input xs: Vec<u64>;
        step ys = flaky(each xs);
        return ys;
    }
}

#[test]
fn retries_apply_per_element() {
    for (schedule, options) in schedules() {
        ATTEMPTS.lock().unwrap().clear();
        let log = Log::default();
        let ys = Retried::run_with(options.observer(&log), vec![1, 2, 3, 4]).unwrap();
        assert_eq!(ys, [10, 20, 30, 40], "{schedule:?}");
        let mut attempts = ATTEMPTS.lock().unwrap().clone();
        attempts.sort_unstable();
        assert_eq!(
            attempts,
            [(1, 1), (1, 2), (2, 1), (3, 1), (3, 2), (4, 1)],
            "{schedule:?}"
        );
        // The step itself ran once.
        assert_eq!(log.with_prefix("start "), ["ys#1"], "{schedule:?}");
    }
}

/// A reservation step that records its undos in `$log` (one log per test: tests run in
/// parallel) and fails on 13.
macro_rules! book {
    ($name:ident, $log:ident) => {
        struct $name;

        static $log: Mutex<Vec<u64>> = Mutex::new(Vec::new());

        impl Step for $name {
            type Args = (u64,);
            type Output = u64;
            type Error = Boom;

            fn run((x,): (&u64,), _: &Context) -> Result<u64, Boom> {
                if *x == 13 {
                    Err(Boom("unlucky"))
                } else {
                    Ok(*x)
                }
            }

            fn compensate(_: &Boom, _: &Context) -> Compensation<u64> {
                Compensation::Fail
            }

            const UNDOABLE: bool = true;

            fn undo(value: &u64, _: &Context) -> Result<(), Boom> {
                $log.lock().unwrap().push(*value);
                Ok(())
            }
        }
    };
}

book!(Book, UNDONE);
book!(BookLater, UNDONE_LATER);

flow! {
    flow Bookings {
        input xs: Vec<u64>;
        #[step(batch = 1, max_concurrency = 1)]
        step booked = Book(each xs);
        step after_map = total(xs) after booked;
        return (booked, after_map);
    }
}

#[test]
fn a_failed_element_fails_the_step_names_its_index_and_undoes_the_completed_ones() {
    for (schedule, options) in schedules() {
        UNDONE.lock().unwrap().clear();
        let err = Bookings::run_with(options, vec![1, 2, 13, 4]).unwrap_err();
        assert_eq!(err.step(), Some("booked"), "{schedule:?}");
        assert_eq!(err.element(), Some(2));
        assert_eq!(err.kind(), ErrorKind::Failed);
        let cause = std::error::Error::source(&err).unwrap();
        assert_eq!(cause.downcast_ref::<Boom>(), Some(&Boom("unlucky")));
        assert!(err.to_string().contains("(element 2)"), "{err}");
        // One element at a time, in order: 1 and 2 completed, then 13 failed; newest first.
        assert_eq!(*UNDONE.lock().unwrap(), [2, 1], "{schedule:?}");
    }
}

#[routine]
fn refuse(_: &Vec<u64>) -> Result<u64, Boom> {
    Err(Boom("later step"))
}

flow! {
    flow BookThenFail {
        input xs: Vec<u64>;
        step booked = BookLater(each xs);
        step fails = refuse(booked);
        return fails;
    }
}

#[test]
fn a_completed_map_is_undone_element_by_element_when_a_later_step_fails() {
    for (schedule, options) in schedules() {
        UNDONE_LATER.lock().unwrap().clear();
        let err = BookThenFail::run_with(options, vec![5, 6, 7]).unwrap_err();
        assert_eq!(err.step(), Some("fails"), "{schedule:?}");
        assert_eq!(err.element(), None);
        assert_eq!(*UNDONE_LATER.lock().unwrap(), [7, 6, 5], "{schedule:?}");
    }
}

#[routine]
fn explode(x: &u64) -> u64 {
    assert!(*x != 3, "element three");
    *x
}

flow! {
    flow Panicky {
        input xs: [u64; 4];
        step ys = explode(each xs);
        return ys;
    }
}

#[test]
fn a_panicking_element_is_a_panicked_step_and_arrays_can_be_mapped() {
    for (schedule, options) in schedules() {
        let err = Panicky::run_with(options, [0, 1, 3, 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Panicked, "{schedule:?}");
        assert_eq!(err.element(), Some(2));
        assert_eq!(
            Panicky::run_with(options, [0, 1, 2, 4]).unwrap(),
            [0, 1, 2, 4]
        );
    }
}

#[routine(retries = 1, fallback = 0)]
fn maybe(x: &u64) -> Result<u64, Boom> {
    if x.is_multiple_of(3) {
        Err(Boom("divisible"))
    } else {
        Ok(*x)
    }
}

flow! {
    flow WithFallback {
        input xs: Vec<u64>;
        step ys = maybe(each xs);
        return ys;
    }
}

#[test]
fn compensation_applies_per_element() {
    let distinct: HashSet<u64> = WithFallback::run((1..=6).collect())
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(distinct, HashSet::from([0, 1, 2, 4, 5]));
    assert_eq!(WithFallback::run(vec![3, 4]).unwrap(), [0, 4]);
}

/// Undoable elements whose undo fails for the value 2.
struct Fragile;

impl Step for Fragile {
    type Args = (u64,);
    type Output = u64;
    type Error = Boom;

    fn run((x,): (&u64,), _: &Context) -> Result<u64, Boom> {
        if *x == 13 {
            Err(Boom("unlucky"))
        } else {
            Ok(*x)
        }
    }

    const UNDOABLE: bool = true;

    fn undo(value: &u64, _: &Context) -> Result<(), Boom> {
        if *value == 2 {
            Err(Boom("cannot undo 2"))
        } else {
            Ok(())
        }
    }
}

flow! {
    flow FragileMap {
        input xs: Vec<u64>;
        #[step(batch = 1, max_concurrency = 1)]
        step held = Fragile(each xs);
        return held;
    }
}

#[test]
fn an_element_undo_that_fails_is_reported_not_dropped() {
    for (schedule, options) in schedules() {
        let err = FragileMap::run_with(options, vec![1, 2, 13]).unwrap_err();
        assert_eq!(err.element(), Some(2), "{schedule:?}");
        let undo: Vec<(String, String)> = err
            .undo_errors()
            .iter()
            .map(|u| (u.step().to_owned(), u.error().to_string()))
            .collect();
        assert_eq!(
            undo,
            [("held[1]".to_owned(), "cannot undo 2".to_owned())],
            "{schedule:?}"
        );
    }
}
