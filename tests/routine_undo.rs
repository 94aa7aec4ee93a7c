//! `#[routine(undo = f)]`: the undo of a routine, without a hand-written `Step`; and values
//! from a fallback or `Compensation::Continue`, which are never undone.

mod common;

use std::sync::Mutex;

use common::{Boom, Log, lines, schedules};
use routilux::{Compensation, Context, RunData, Step, flow, routine};

/// What the undos of a test did, in order.
fn take(log: &Mutex<Vec<String>>) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// The undo events an observer saw.
fn undo_events(log: &Log) -> Vec<String> {
    let events = log.events().into_iter();
    events.filter(|e| e.starts_with("undo")).collect()
}

#[routine]
fn hopeless(_: &u32) -> Result<u32, Boom> {
    Err(Boom("no luck"))
}

static RELEASED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug, PartialEq)]
struct Booking {
    room: u32,
}

/// Books room `trip + 100`.
#[routine(undo = release)]
fn reserve(trip: &u32) -> Result<Booking, Boom> {
    Ok(Booking { room: trip + 100 })
}

/// The undo of `reserve`, without a context.
fn release(booking: &Booking) -> Result<(), Boom> {
    RELEASED
        .lock()
        .unwrap()
        .push(format!("release room {}", booking.room));
    Ok(())
}

/// Charges for a booking (infallibly), undone with the step's context.
#[routine(undo = refund)]
fn charge(booking: &Booking) -> u32 {
    booking.room * 10
}

/// The undo of `charge`, with a context.
fn refund(amount: &u32, ctx: &Context) -> Result<(), Boom> {
    ctx.data().update::<u32, _>("refunds", |n| *n += 1);
    RELEASED.lock().unwrap().push(format!(
        "refund {amount} in {}.{} #{}/{}",
        ctx.flow(),
        ctx.step(),
        ctx.attempt(),
        ctx.max_attempts()
    ));
    Ok(())
}

flow! {
    flow Trip {
        input trip: u32;
        step booking = reserve(trip);
        step paid = charge(booking);
        step done = hopeless(paid);
        return done;
    }
}

flow! {
    flow Booked {
        input trip: u32;
        step booking = reserve(trip);
        step paid = charge(booking);
        return paid;
    }
}

#[test]
fn a_later_failure_undoes_each_value_newest_first_and_a_success_undoes_nothing() {
    for (schedule, options) in schedules() {
        let (log, data) = (Log::default(), RunData::new());
        data.insert("refunds", 0_u32);
        let err = Trip::run_with(options.observer(&log).data(&data), 1).unwrap_err();
        assert_eq!(err.step(), Some("done"), "{schedule:?}");
        assert!(err.undo_errors().is_empty());
        assert_eq!(
            take(&RELEASED),
            ["refund 1010 in Trip.paid #1/1", "release room 101"],
            "{schedule:?}"
        );
        assert_eq!(data.get::<u32>("refunds"), Some(1));
        assert_eq!(
            undo_events(&log),
            [
                "undo paid#1",
                "undone paid#1",
                "undo booking#1",
                "undone booking#1"
            ],
            "{schedule:?}"
        );

        let log = Log::default();
        assert_eq!(Booked::run_with(options.observer(&log), 2).unwrap(), 1020);
        assert!(take(&RELEASED).is_empty(), "{schedule:?}");
        assert!(undo_events(&log).is_empty());
    }
    let undoable: Vec<bool> = Trip::plan()
        .steps()
        .iter()
        .map(|s| s.policy().is_undoable())
        .collect();
    assert_eq!(undoable, [true, true, false]);
    // The functions stay callable as written.
    assert_eq!(reserve(&1), Ok(Booking { room: 101 }));
    release(&Booking { room: 0 }).unwrap();
    assert_eq!(take(&RELEASED), ["release room 0"]);
}

static UNDONE: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[routine(undo = undo_typed)]
fn typed(x: &u32) -> u32 {
    x + 1
}

fn undo_typed(x: &u32) -> Result<(), Boom> {
    UNDONE.lock().unwrap().push(format!("typed {x}"));
    Err(Boom("typed undo failed"))
}

#[routine(undo = undo_anyhow)]
fn reported(x: &u32) -> anyhow::Result<u32> {
    Ok(x + 1)
}

fn undo_anyhow(x: &u32, ctx: &Context) -> anyhow::Result<()> {
    UNDONE.lock().unwrap().push(format!("anyhow {x}"));
    Err(anyhow::Error::new(Boom("anyhow undo failed")).context(format!("step {}", ctx.step())))
}

#[routine(undo = undo_boxed)]
fn boxed(x: &u32) -> u32 {
    x + 1
}

fn undo_boxed(x: &u32) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    UNDONE.lock().unwrap().push(format!("boxed {x}"));
    Err(format!("boxed undo of {x} failed").into())
}

#[routine(undo = undo_infallible)]
fn infallible(x: &u32) -> u32 {
    x + 1
}

fn undo_infallible(x: &u32) {
    UNDONE.lock().unwrap().push(format!("infallible {x}"));
}

flow! {
    flow EveryForm {
        input x: u32;
        step t = typed(x);
        step r = reported(t);
        step b = boxed(r);
        step i = infallible(b);
        step last = hopeless(i);
    }
}

#[test]
fn every_accepted_undo_form_runs_and_its_errors_are_reported() {
    for (schedule, options) in schedules() {
        let err = EveryForm::run_with(options, 1).unwrap_err();
        assert_eq!(err.step(), Some("last"), "{schedule:?}");
        assert_eq!(
            take(&UNDONE),
            ["infallible 5", "boxed 4", "anyhow 3", "typed 2"],
            "{schedule:?}"
        );
        let undo: Vec<_> = err
            .undo_errors()
            .iter()
            .map(|u| (u.step(), u.attempts(), u.error().to_string()))
            .collect();
        assert_eq!(
            undo,
            [
                ("b", 1, "boxed undo of 4 failed".to_owned()),
                ("r", 1, "step r".to_owned()),
                ("t", 1, "typed undo failed".to_owned()),
            ],
            "{schedule:?}"
        );
        let typed = &err.undo_errors()[2];
        assert_eq!(
            typed.error().downcast_ref::<Boom>(),
            Some(&Boom("typed undo failed"))
        );
        let anyhow = err.undo_errors()[1].error().source().unwrap();
        assert_eq!(
            anyhow.downcast_ref::<Boom>(),
            Some(&Boom("anyhow undo failed"))
        );
    }
}

static HELD: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Holds seat `trip`.
#[routine(undo = unhold)]
fn hold(trip: &u32) -> u32 {
    *trip
}

fn unhold(seat: &u32) {
    HELD.lock().unwrap().push(*seat);
}

/// Reserves a seat that never exists: the fallback is a placeholder.
#[routine(retries = 1, fallback = 0, undo = unreachable_undo)]
fn seat(_: &u32) -> Result<u32, Boom> {
    Err(Boom("no seat"))
}

fn unreachable_undo(seat: &u32) {
    unreachable!("the fallback seat {seat} was never reserved")
}

/// Fails, then continues with a waiting-list number.
struct Waitlist;

impl Step for Waitlist {
    type Args = (u32,);
    type Output = u32;
    type Error = Boom;

    fn run(_: (&u32,), _: &Context) -> Result<u32, Boom> {
        Err(Boom("full"))
    }

    fn compensate(_: &Boom, _: &Context) -> Compensation<u32> {
        Compensation::Continue(99)
    }

    fn undo(number: &u32, _: &Context) -> Result<(), Boom> {
        unreachable!("the waiting-list number {number} was never reserved")
    }
}

flow! {
    flow Replaced {
        input trip: u32;
        step held = hold(trip);
        step place = seat(held);
        step queued = Waitlist(held);
        // After `queued`: both compensations happen before the run fails.
        step done = hopeless(place) after queued;
        return queued;
    }
}

#[test]
fn values_from_a_fallback_or_continue_are_never_undone() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        let err = Replaced::run_with(options.observer(&log), 7).unwrap_err();
        assert_eq!(err.step(), Some("done"), "{schedule:?}");
        assert!(err.undo_errors().is_empty(), "{err}");
        let mut compensated = log.with_prefix("compensate ");
        compensated.sort();
        assert_eq!(
            compensated,
            ["place: no seat", "queued: full"],
            "{schedule:?}"
        );
        assert_eq!(
            undo_events(&log),
            lines(&["undo held#1", "undone held#1"]),
            "{schedule:?}"
        );
        assert_eq!(std::mem::take(&mut *HELD.lock().unwrap()), [7]);
    }
}
