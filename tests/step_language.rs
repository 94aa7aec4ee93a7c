//! The step language of `flow!`: constants, `after` and conditional steps, under every
//! schedule.

mod common;

use std::sync::Mutex;

use common::{Log, lines, schedules};
use routilux::{Tracker, flow, routine};

const MAX: u64 = 7;

#[derive(Debug, Default, PartialEq)]
struct Rate(u64);

#[routine]
fn scale(x: &u64, factor: &u64, offset: &i64, unit: &str, round: &bool) -> String {
    let value = i64::try_from(x * factor).unwrap() + offset;
    format!("{value}{unit}{}", if *round { "~" } else { "" })
}

#[routine]
fn capped(x: &u64, max: &u64, rate: &Rate) -> u64 {
    (*x).min(*max) + rate.0
}

flow! {
    flow Constants {
        input x: u64;
        step label = scale(x, 5, -1, "eur", true);
        step small = capped(x, { MAX }, { Rate::default() });
        step big = capped(x, { MAX * 10 }, { Rate(1) });
        return (label, small, big);
    }
}

#[test]
fn literals_and_blocks_are_arguments() {
    for (schedule, options) in schedules() {
        let out = Constants::run_with(options, 20).unwrap();
        assert_eq!(out, ("99eur~".to_owned(), 7, 21), "{schedule:?}");
    }
    // The default run, straight-line or not, agrees.
    assert_eq!(Constants::run(3).unwrap(), ("14eur~".to_owned(), 3, 4));
}

static ORDER: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

#[routine]
fn mark(name: &str) -> u32 {
    // Long enough that a step that did not wait would overtake this one.
    std::thread::sleep(std::time::Duration::from_millis(2));
    ORDER.lock().unwrap().push(match name {
        "a" => "a",
        "b" => "b",
        "c" => "c",
        _ => "other",
    });
    1
}

#[routine]
fn quick(name: &str) -> u32 {
    ORDER
        .lock()
        .unwrap()
        .push(if name == "last" { "last" } else { "other" });
    2
}

flow! {
    flow Ordered {
        step a = mark("a");
        step b = mark("b");
        step c = mark("c") after a;
        step last = quick("last") after b, c;
        return last;
    }
}

#[test]
fn after_orders_steps_without_passing_results() {
    for (schedule, options) in schedules() {
        ORDER.lock().unwrap().clear();
        assert_eq!(Ordered::run_with(options).unwrap(), 2, "{schedule:?}");
        let order = ORDER.lock().unwrap().clone();
        let at = |name| order.iter().position(|&n| n == name).unwrap();
        assert!(at("a") < at("c"), "{schedule:?}: {order:?}");
        assert!(at("b") < at("last") && at("c") < at("last"), "{order:?}");
    }
    // `after` edges are edges of the plan: `c` waits for `a`, `last` for `b` and `c`.
    let plan = Ordered::plan();
    let deps: Vec<(&str, u32)> = plan
        .steps()
        .iter()
        .map(|s| (s.name(), s.dependency_count()))
        .collect();
    assert_eq!(deps, [("a", 0), ("b", 0), ("c", 1), ("last", 2)]);
}

#[routine]
fn price(amount: &u64) -> u64 {
    amount * 2
}

#[routine]
fn fraud_check(amount: &u64) -> bool {
    *amount > 100
}

#[routine]
fn describe(checked: &Option<bool>, discount: &Option<u64>) -> String {
    format!("{checked:?}/{discount:?}")
}

#[routine]
fn is_big(amount: &u64) -> bool {
    *amount >= 50
}

flow! {
    flow Conditional {
        input amount: u64;
        input vip: bool;
        step big = is_big(amount);
        step checked = fraud_check(amount) if big;
        step discount = price(amount) if !vip;
        step summary = describe(checked, discount);
        return summary;
    }
}

#[test]
fn a_false_condition_skips_the_step_and_its_consumers_see_none() {
    for (schedule, options) in schedules() {
        let run = |amount, vip| Conditional::run_with(options, amount, vip).unwrap();
        assert_eq!(run(10, true), "None/None", "{schedule:?}");
        assert_eq!(run(10, false), "None/Some(20)", "{schedule:?}");
        assert_eq!(run(500, true), "Some(true)/None", "{schedule:?}");
        assert_eq!(run(60, false), "Some(false)/Some(120)", "{schedule:?}");
    }
    assert_eq!(
        Conditional::run(500, false).unwrap(),
        "Some(true)/Some(1000)"
    );
}

#[test]
fn observers_and_the_tracker_see_skipped_steps() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        Conditional::run_with(options.observer(&log), 10, true).unwrap();
        let mut events = log.events();
        // Steps of one layer may start in any order on the parallel schedules.
        events.sort();
        assert_eq!(
            events,
            lines(&[
                "end ok",
                "finish big#1",
                "finish summary#1",
                "run",
                "skip checked",
                "skip discount",
                "start big#1",
                "start summary#1",
            ]),
            "{schedule:?}"
        );
    }
    let tracker = Tracker::new();
    Conditional::run_with(routilux::RunOptions::new().observer(&tracker), 90, false).unwrap();
    Conditional::run_with(routilux::RunOptions::new().observer(&tracker), 10, false).unwrap();
    let of = |name: &str| tracker.stats("Conditional", name).unwrap();
    assert_eq!((of("checked").calls(), of("checked").skipped()), (1, 1));
    assert_eq!((of("discount").calls(), of("discount").skipped()), (2, 0));
    let record = tracker.last_run().unwrap();
    let skipped: Vec<&str> = record
        .spans()
        .iter()
        .filter(|s| s.outcome == routilux::Outcome::Skipped)
        .map(|s| s.step.as_str())
        .collect();
    assert_eq!(skipped, ["checked"]);
}
