//! The run-time `Builder` has what `flow!` has: arguments of different types, constants,
//! `after`, conditional steps, map steps with per-element retries and undo, under every
//! schedule; its mistakes are `BuildError`s.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Boom, Log, lines, schedules};
use routilux::{Backoff, BuildError, Builder, ErrorKind, Handle, RunOptions, Schedule};

type Events = Arc<Mutex<Vec<String>>>;

fn push(events: &Events, event: impl Into<String>) {
    events.lock().unwrap().push(event.into());
}

fn taken(events: &Events) -> Vec<String> {
    std::mem::take(&mut *events.lock().unwrap())
}

/// Every schedule, and the default options (a plain thread, no pool: chains and `Sequential`
/// take the straight-line path).
fn all_options() -> Vec<(String, RunOptions<'static>)> {
    let mut all: Vec<(String, RunOptions<'static>)> = schedules()
        .into_iter()
        .map(|(s, o)| (format!("{s:?} on a pool"), o))
        .collect();
    for s in [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow] {
        all.push((format!("{s:?}"), RunOptions::from(s)));
    }
    all
}

#[test]
fn steps_take_arguments_of_different_types() {
    let mut b = Builder::new("Mixed");
    let n = b.input::<u64>("n").unwrap();
    let word = b.input::<String>("word").unwrap();
    let loud = b.input::<bool>("loud").unwrap();
    let twice = b.step("twice", n, |n| Ok::<_, Infallible>(n * 2)).unwrap();
    let label = b
        .step(
            "label",
            (word, twice, loud),
            |(w, t, l): (&String, &u64, &bool)| {
                let text = format!("{w}:{t}");
                Ok::<_, Infallible>(if *l { text.to_uppercase() } else { text })
            },
        )
        .unwrap();
    let len = b
        .step("len", (label,), |(l,): (&String,)| {
            Ok::<_, Infallible>(l.len())
        })
        .unwrap();
    let sum = b
        .step("sum", &[n, twice], |v: &[&u64]| {
            Ok::<_, Infallible>(v.iter().copied().sum::<u64>())
        })
        .unwrap();
    let many: Vec<Handle<u64>> = vec![n; 10];
    let ten = b
        .step("ten", &many, |v: &[&u64]| {
            Ok::<_, Infallible>(v.iter().copied().sum::<u64>())
        })
        .unwrap();
    let unit = b.step("unit", (), |()| Ok::<_, Infallible>(7u8)).unwrap();
    for h in [sum, ten] {
        b.output(h);
    }
    b.output(label);
    b.output(len);
    b.output(unit);
    let flow = b.build();
    for (name, options) in all_options() {
        let mut inputs = flow.inputs();
        inputs.set(n, 3).set(word, "ab".to_owned()).set(loud, true);
        let mut out = flow.run(inputs, options).unwrap();
        assert_eq!(out.take(label).as_deref(), Some("AB:6"), "{name}");
        assert_eq!(out.take(len), Some(4), "{name}");
        assert_eq!(
            (out.take(sum), out.take(ten)),
            (Some(9), Some(30)),
            "{name}"
        );
        assert_eq!(out.take(unit), Some(7), "{name}");
    }
}

fn add(a: &u64, b: &u64) -> Result<u64, Infallible> {
    Ok(a + b)
}

#[test]
fn constants_are_arguments_cloned_once_per_run() {
    let clones = Arc::new(AtomicUsize::new(0));
    /// A value that counts its clones.
    struct Counted(u64, Arc<AtomicUsize>);
    impl Clone for Counted {
        fn clone(&self) -> Self {
            self.1.fetch_add(1, Ordering::SeqCst);
            Counted(self.0, Arc::clone(&self.1))
        }
    }
    let mut b = Builder::new("Constants");
    let x = b.input::<u64>("x").unwrap();
    let ten = b.constant("ten", 10u64).unwrap();
    let hundred = b.constant("hundred", 100u64).unwrap();
    let counted = b
        .constant("counted", Counted(1, Arc::clone(&clones)))
        .unwrap();
    // One function, called with different constants.
    let a = b.step("a", (x, ten), |(x, c)| add(x, c)).unwrap();
    let c = b.step("c", (a, hundred), |(x, c)| add(x, c)).unwrap();
    let d = b
        .step("d", (c, counted), |(c, k): (&u64, &Counted)| {
            Ok::<_, Infallible>(c + k.0)
        })
        .unwrap();
    b.output(d);
    let flow = b.build();
    let routine = |name: &str| {
        let step = flow.plan().steps().iter().find(|s| s.name() == name);
        step.unwrap().routine().to_owned()
    };
    assert_eq!(routine("ten"), "constant");
    assert_eq!(routine("a"), "closure");
    let runs = all_options();
    for (name, options) in &runs {
        let mut inputs = flow.inputs();
        inputs.set(x, 1);
        let mut out = flow.run(inputs, *options).unwrap();
        assert_eq!(out.take(d), Some(112), "{name}");
    }
    assert_eq!(clones.load(Ordering::SeqCst), runs.len());
}

/// A value that records when it is dropped.
struct Noted(&'static str, Events);

impl Drop for Noted {
    fn drop(&mut self) {
        push(&self.1, format!("drop {}", self.0));
    }
}

#[test]
fn after_orders_steps_and_keeps_the_value_until_the_waiting_step_has_finished() {
    let events = Events::default();
    let mut b = Builder::new("Ordered");
    let e = Arc::clone(&events);
    let a = b
        .step("a", (), move |()| {
            std::thread::sleep(Duration::from_millis(2));
            push(&e, "a");
            Ok::<_, Infallible>(Noted("a", Arc::clone(&e)))
        })
        .unwrap();
    let e = Arc::clone(&events);
    let c = b
        .step("c", (), move |()| {
            push(&e, "c");
            Ok::<_, Infallible>(1u32)
        })
        .unwrap();
    let e = Arc::clone(&events);
    let last = b
        .step("last", c, move |c| {
            push(&e, "last");
            Ok::<_, Infallible>(c + 1)
        })
        .unwrap();
    b.after(c, a).unwrap();
    b.after(last, (a, c)).unwrap();
    b.output(last);
    let flow = b.build();
    // `after` edges are edges of the plan: `c` waits for `a`, `last` for `a` and `c`.
    let deps: Vec<(&str, u32)> = flow
        .plan()
        .steps()
        .iter()
        .map(|s| (s.name(), s.dependency_count()))
        .collect();
    assert_eq!(deps, [("a", 0), ("c", 1), ("last", 2)]);
    for (name, options) in all_options() {
        let mut out = flow.run(flow.inputs(), options).unwrap();
        assert_eq!(out.take(last), Some(2), "{name}");
        // `a`'s value is read by nobody, but kept until `last`, its last waiter, finished.
        assert_eq!(taken(&events), ["a", "c", "last", "drop a"], "{name}");
    }
}

/// `Conditional` of tests/step_language.rs, built at run time.
fn conditional() -> (routilux::DynFlow, Handle<u64>, Handle<bool>, Handle<String>) {
    let mut b = Builder::new("Conditional");
    let amount = b.input::<u64>("amount").unwrap();
    let vip = b.input::<bool>("vip").unwrap();
    let big = b
        .step("big", amount, |a| Ok::<_, Infallible>(*a >= 50))
        .unwrap();
    let checked = b
        .when(big)
        .step("checked", amount, |a| Ok::<_, Infallible>(*a > 100))
        .unwrap();
    let discount = b
        .when(!vip)
        .step("discount", amount, |a| Ok::<_, Infallible>(a * 2))
        .unwrap();
    let summary = b
        .step("summary", (checked, discount), |(c, d)| {
            Ok::<_, Infallible>(format!("{c:?}/{d:?}"))
        })
        .unwrap();
    b.output(summary);
    (b.build(), amount, vip, summary)
}

#[test]
fn a_false_condition_skips_the_step_and_its_consumers_see_none() {
    let (flow, amount, vip, summary) = conditional();
    for (name, options) in all_options() {
        let run = |a, v| {
            let mut inputs = flow.inputs();
            inputs.set(amount, a).set(vip, v);
            flow.run(inputs, options).unwrap().take(summary).unwrap()
        };
        assert_eq!(run(10, true), "None/None", "{name}");
        assert_eq!(run(10, false), "None/Some(20)", "{name}");
        assert_eq!(run(500, true), "Some(true)/None", "{name}");
        assert_eq!(run(60, false), "Some(false)/Some(120)", "{name}");
    }
    // Conditional steps are marked in the plan.
    let conditional: Vec<&str> = flow
        .plan()
        .steps()
        .iter()
        .filter(|s| s.policy().is_conditional())
        .map(|s| s.name())
        .collect();
    assert_eq!(conditional, ["discount", "checked"]);
}

#[test]
fn observers_see_skipped_steps() {
    let (flow, amount, vip, _) = conditional();
    for (schedule, options) in schedules() {
        let log = Log::default();
        let mut inputs = flow.inputs();
        inputs.set(amount, 10).set(vip, true);
        flow.run(inputs, options.observer(&log)).unwrap();
        let mut events = log.events();
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
}

#[test]
fn a_skipped_step_is_never_undone_a_run_one_is() {
    let events = Events::default();
    let mut b = Builder::new("Saga");
    let flag = b.input::<bool>("flag").unwrap();
    let ran = b
        .when(flag)
        .step("ran", (), |()| Ok::<_, Infallible>(1u32))
        .unwrap();
    let skipped = b
        .when(!flag)
        .step("skipped", (), |()| Ok::<_, Infallible>(2u32))
        .unwrap();
    for (h, name) in [(ran, "ran"), (skipped, "skipped")] {
        let e = Arc::clone(&events);
        b.undo(h, move |v: &Option<u32>| {
            push(&e, format!("undo {name} {v:?}"));
            Ok::<_, Infallible>(())
        })
        .unwrap();
    }
    b.step("fails", (ran, skipped), |_| Err::<u32, _>(Boom("late")))
        .unwrap();
    let flow = b.build();
    for (name, options) in all_options() {
        let mut inputs = flow.inputs();
        inputs.set(flag, true);
        let err = flow.run(inputs, options).unwrap_err();
        assert_eq!(err.step(), Some("fails"), "{name}");
        assert_eq!(taken(&events), ["undo ran Some(1)"], "{name}");
    }
}

#[test]
fn map_steps_keep_the_order_run_each_element_once_and_honour_the_limit() {
    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut b = Builder::new("Limited");
    let xs = b.input::<Vec<u64>>("xs").unwrap();
    let factor = b.input::<u64>("factor").unwrap();
    let s = Arc::clone(&seen);
    let ys = b
        .map_with("ys", xs, factor, move |x: &u64, f: &u64| {
            let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
            MOST.fetch_max(now, Ordering::SeqCst);
            std::thread::yield_now();
            s.lock().unwrap().push(*x);
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Infallible>(x * f)
        })
        .unwrap();
    b.max_concurrency(ys, 2).unwrap();
    b.batch(ys, 3).unwrap();
    let total = b
        .step("total", ys, |ys| {
            Ok::<_, Infallible>(ys.iter().sum::<u64>())
        })
        .unwrap();
    b.output(ys);
    b.output(total);
    let flow = b.build();
    for (name, options) in all_options() {
        for n in [0, 1, 7, 500] {
            seen.lock().unwrap().clear();
            MOST.store(0, Ordering::SeqCst);
            let input: Vec<u64> = (0..n).collect();
            let mut inputs = flow.inputs();
            inputs.set(xs, input.clone()).set(factor, 3);
            let mut out = flow.run(inputs, options).unwrap();
            let expected: Vec<u64> = input.iter().map(|x| x * 3).collect();
            assert_eq!(out.take(total), Some(expected.iter().sum()), "{name}");
            assert_eq!(out.take(ys), Some(expected), "{name}");
            let mut seen = seen.lock().unwrap().clone();
            seen.sort_unstable();
            assert_eq!(seen, input, "{name}: every element once");
            assert!(MOST.load(Ordering::SeqCst) <= 2, "{name}");
        }
    }
}

#[test]
fn map_retries_apply_per_element_and_arrays_can_be_mapped() {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let mut b = Builder::new("Retried");
    let xs = b.input::<[u64; 4]>("xs").unwrap();
    let a = Arc::clone(&attempts);
    let ys = b
        .map("ys", xs, move |x: &u64| {
            let mut seen = a.lock().unwrap();
            let attempt = 1 + seen.iter().filter(|&&(y, _)| y == *x).count() as u32;
            seen.push((*x, attempt));
            drop(seen);
            // Odd elements fail their first attempt.
            if x % 2 == 1 && attempt == 1 {
                Err(Boom("first attempt"))
            } else {
                Ok(x * 10)
            }
        })
        .unwrap();
    b.retries(ys, 2, Backoff::NONE).unwrap();
    b.output(ys);
    let flow = b.build();
    // Retries belong to the elements: the step itself runs once.
    assert_eq!(flow.plan().steps()[0].policy().get_retries(), 0);
    for (name, options) in all_options() {
        let mut inputs = flow.inputs();
        inputs.set(xs, [1, 2, 3, 4]);
        let mut out = flow.run(inputs, options).unwrap();
        assert_eq!(out.take(ys), Some(vec![10, 20, 30, 40]), "{name}");
        let mut seen = std::mem::take(&mut *attempts.lock().unwrap());
        seen.sort_unstable();
        assert_eq!(
            seen,
            [(1, 1), (1, 2), (2, 1), (3, 1), (3, 2), (4, 1)],
            "{name}"
        );
    }
}

/// A map of bookings, undone element by element; `fail_at` fails that element, `later` a
/// step after the map.
fn bookings(events: &Events, later: bool) -> (routilux::DynFlow, Handle<Vec<u64>>) {
    let mut b = Builder::new("Bookings");
    let xs = b.input::<Vec<u64>>("xs").unwrap();
    let booked = b
        .map("booked", xs, |x: &u64| {
            if *x == 13 {
                Err(Boom("unlucky"))
            } else {
                Ok(*x)
            }
        })
        .unwrap();
    b.max_concurrency(booked, 1).unwrap();
    b.batch(booked, 1).unwrap();
    let e = Arc::clone(events);
    b.undo_each(booked, move |x: &u64| {
        push(&e, format!("undo {x}"));
        Ok::<_, Infallible>(())
    })
    .unwrap();
    if later {
        b.step("fails", booked, |_| Err::<u64, _>(Boom("later step")))
            .unwrap();
    }
    (b.build(), xs)
}

#[test]
fn a_failed_element_fails_the_step_names_its_index_and_undoes_the_completed_ones() {
    let events = Events::default();
    let (flow, xs) = bookings(&events, false);
    for (name, options) in all_options() {
        let mut inputs = flow.inputs();
        inputs.set(xs, vec![1, 2, 13, 4]);
        let err = flow.run(inputs, options).unwrap_err();
        assert_eq!(err.step(), Some("booked"), "{name}");
        assert_eq!(err.element(), Some(2), "{name}");
        assert_eq!(err.kind(), ErrorKind::Failed);
        let cause = std::error::Error::source(&err).unwrap();
        assert_eq!(cause.downcast_ref::<Boom>(), Some(&Boom("unlucky")));
        // One element at a time, in order: 1 and 2 completed, then 13 failed; newest first.
        assert_eq!(taken(&events), ["undo 2", "undo 1"], "{name}");
    }
}

#[test]
fn a_completed_map_is_undone_element_by_element_when_a_later_step_fails() {
    let events = Events::default();
    let (flow, xs) = bookings(&events, true);
    for (name, options) in all_options() {
        let mut inputs = flow.inputs();
        inputs.set(xs, vec![5, 6, 7]);
        let err = flow.run(inputs, options).unwrap_err();
        assert_eq!((err.step(), err.element()), (Some("fails"), None), "{name}");
        assert_eq!(taken(&events), ["undo 7", "undo 6", "undo 5"], "{name}");
    }
}

#[test]
fn conditional_map_steps_store_none_when_skipped() {
    let mut b = Builder::new("MaybeMap");
    let xs = b.input::<Vec<u64>>("xs").unwrap();
    let go = b.input::<bool>("go").unwrap();
    let one = b.constant("one", 1u64).unwrap();
    let ys = b
        .when(go)
        .map_with("ys", xs, one, |x: &u64, one: &u64| {
            Ok::<_, Infallible>(x + one)
        })
        .unwrap();
    let zs = b
        .when(!go)
        .map("zs", xs, |x: &u64| Ok::<_, Infallible>(x * 2))
        .unwrap();
    b.output(ys);
    b.output(zs);
    let flow = b.build();
    for (name, options) in all_options() {
        for go_on in [true, false] {
            let mut inputs = flow.inputs();
            inputs.set(xs, vec![1, 2]).set(go, go_on);
            let mut out = flow.run(inputs, options).unwrap();
            let (ys, zs) = (out.take(ys).unwrap(), out.take(zs).unwrap());
            if go_on {
                assert_eq!((ys, zs), (Some(vec![2, 3]), None), "{name}");
            } else {
                assert_eq!((ys, zs), (None, Some(vec![2, 4])), "{name}");
            }
        }
    }
}

#[test]
fn new_declarations_report_mistakes_as_build_errors_naming_the_step() {
    let mut other = Builder::new("Other");
    let foreign = other.input::<u64>("f").unwrap();
    let foreign_flag = other.input::<bool>("g").unwrap();
    let foreign_list = other.input::<Vec<u64>>("h").unwrap();

    let mut b = Builder::new("Main");
    let x = b.input::<u64>("x").unwrap();
    let xs = b.input::<Vec<u64>>("xs").unwrap();
    let flag = b.input::<bool>("flag").unwrap();
    let ok = |_: (&u64, &u64)| Ok::<u64, Infallible>(1);
    let foreign_step = |step: &str| BuildError::ForeignHandle { step: step.into() };
    assert_eq!(
        b.step("t", (x, foreign), ok).unwrap_err(),
        foreign_step("t")
    );
    assert_eq!(
        b.when(foreign_flag)
            .step("w", x, |_| Ok::<u64, Infallible>(1))
            .unwrap_err(),
        foreign_step("w")
    );
    let double = |x: &u64| Ok::<_, Infallible>(x * 2);
    assert_eq!(
        b.map("m", foreign_list, double).unwrap_err(),
        foreign_step("m")
    );
    assert_eq!(
        b.map_with("m", xs, foreign, |x: &u64, _: &u64| Ok::<_, Infallible>(*x))
            .unwrap_err(),
        foreign_step("m")
    );
    // None of the refused declarations took its name.
    let a = b.step("t", (x, x), ok).unwrap();
    let m = b.map("m", xs, double).unwrap();
    let w = b
        .when(flag)
        .step("w", a, |a| Ok::<u64, Infallible>(*a))
        .unwrap();
    let v = b.step("v", x, |x| Ok::<_, Infallible>(vec![*x])).unwrap();
    assert_eq!(
        b.constant("t", 1u8).unwrap_err(),
        BuildError::DuplicateName("t".into())
    );

    // `after`.
    let error = b.after(a, foreign).unwrap_err();
    assert!(matches!(
        &error,
        BuildError::OtherFlow { flow, operation: "Builder::after", .. } if flow == "Main"
    ));
    let error = b.after(a, x).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`Builder::after` was given `x`, an input of flow `Main`, not a step"
    );
    let error = b.after(x, a).unwrap_err();
    assert!(matches!(error, BuildError::NotAStep { ref name, .. } if name == "x"));
    let error = b.after(a, (m, w)).unwrap_err();
    assert_eq!(
        error,
        BuildError::NotEarlier {
            flow: "Main".into(),
            step: "t".into(),
            after: "m".into()
        }
    );
    assert!(
        error
            .to_string()
            .contains("step `t` of flow `Main` cannot wait for `m`")
    );
    assert!(matches!(b.after(a, a), Err(BuildError::NotEarlier { .. })));
    b.after(w, (a, m)).unwrap();

    // Map settings on steps that are not maps, and whole-step undo of a map.
    let error = b.batch(a, 4).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`Builder::batch` was given `t` of flow `Main`, which is not a map step"
    );
    assert!(matches!(
        b.max_concurrency(x, 1),
        Err(BuildError::NotAStep { .. })
    ));
    let no_undo = |_: &u64| Ok::<_, Infallible>(());
    assert!(matches!(
        b.undo_each(v, no_undo),
        Err(BuildError::NotAMap {
            operation: "Builder::undo_each",
            ..
        })
    ));
    let error = b
        .undo(m, |_: &Vec<u64>| Ok::<_, Infallible>(()))
        .unwrap_err();
    assert_eq!(
        error,
        BuildError::UndoOfMap {
            flow: "Main".into(),
            name: "m".into()
        }
    );
    assert!(
        error.to_string().contains("use `Builder::undo_each`"),
        "{error}"
    );
    b.undo_each(m, no_undo).unwrap();
    b.batch(m, 0).unwrap();
    b.output(w);
    let flow = b.try_build().unwrap();
    let mut inputs = flow.inputs();
    inputs.set(x, 1).set(xs, vec![1]).set(flag, false);
    let mut out = flow.run(inputs, Schedule::Sequential).unwrap();
    assert_eq!(out.take(w), Some(None));
}
