//! User code that misbehaves — a `Drop` or an observer that panics, an undo that never
//! succeeds, a step that gives up because the run is cancelled — ends the run with an error
//! that says what happened, and the run still stops, undoes and cleans up.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Boom, Log, Reserve, schedules};
use routilux::{
    CancelToken, Context, ErrorKind, Observer, RunInfo, RunOptions, StepPlan, Tracker, flow,
    routine,
};

/// Counts drops of [`Counted`] values; [`Bomb`] values also panic when dropped.
static DROPS: AtomicUsize = AtomicUsize::new(0);
/// The tests that count drops take turns.
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(Debug)]
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
        panic!("bomb went off");
    }
}

#[routine]
fn counted(_: &u32) -> Counted {
    Counted
}

#[routine]
fn bomb(_: &u32) -> Bomb {
    Bomb
}

#[routine]
fn look_at_bomb(_: &Bomb, _: &u32) -> u32 {
    7
}

#[routine]
fn look_at_counted(_: &Counted) -> u32 {
    1
}

flow! {
    /// A consumed result whose drop panics, beside an undoable step and counted values.
    flow ReadBomb {
        input x: u32;
        step reserved = Reserve(x);
        step keep = counted(x);
        step b = bomb(x);
        step seen = look_at_bomb(b, reserved);
        step also = look_at_counted(keep);
        return (seen, also);
    }
}

#[routine]
fn look_at_both(_: &Bomb, _: &Bomb) -> u32 {
    2
}

flow! {
    /// Two results that panic when dropped, both released by the same step: no abort.
    flow TwoBombs {
        input x: u32;
        step one = bomb(x);
        step two = bomb(x);
        step both = look_at_both(one, two);
        step kept = counted(both);
        return kept;
    }
}

flow! {
    /// An input nobody reads, whose drop panics.
    flow UnreadInput {
        input ignored: Bomb;
        input x: u32;
        step c = counted(x);
        return c;
    }
}

#[test]
fn a_drop_that_panics_fails_the_run_and_everything_else_is_dropped_once_and_undone() {
    let _turn = COUNTING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (schedule, options) in schedules() {
        DROPS.store(0, Ordering::SeqCst);
        let log = Log::default();
        let err = ReadBomb::run_with(options.observer(&log), 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Panicked, "{schedule:?}: {err}");
        assert_eq!(err.step(), Some("b"), "{schedule:?}");
        assert!(err.to_string().contains("bomb went off"), "{err}");
        // `keep`'s Counted and `b`'s Bomb: each dropped exactly once.
        assert_eq!(DROPS.load(Ordering::SeqCst), 2, "{schedule:?}");
        assert!(
            log.events().contains(&"undone reserved#1".to_owned()),
            "{schedule:?}"
        );
    }
}

#[test]
fn values_whose_drop_panics_give_an_error_not_an_abort() {
    let _turn = COUNTING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (schedule, options) in schedules() {
        DROPS.store(0, Ordering::SeqCst);
        let err = TwoBombs::run_with(options, 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Panicked, "{schedule:?}");
        assert!(matches!(err.step(), Some("one" | "two")), "{err}");
        // Both bombs, and the counted result if `kept` ran before the run stopped (it was
        // to be returned, but the run failed).
        let drops = DROPS.load(Ordering::SeqCst);
        assert!(drops == 2 || drops == 3, "{schedule:?}: {drops}");

        DROPS.store(0, Ordering::SeqCst);
        let err = UnreadInput::run_with(options, Bomb, 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Panicked);
        assert_eq!(err.step(), Some("ignored"));
        assert!(err.to_string().contains("input `ignored`"), "{err}");
        // The run stopped before any step: only the bomb was ever made and dropped.
        assert_eq!(DROPS.load(Ordering::SeqCst), 1, "{schedule:?}");
    }
}

/// Panics in one chosen event.
struct Panicky(&'static str);

impl Panicky {
    fn maybe(&self, event: &str) {
        assert!(self.0 != event, "observer failure in {event}");
    }
}

impl Observer for Panicky {
    fn run_started(&self, _: &RunInfo<'_>) {
        self.maybe("run_started");
    }
    fn step_started(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        if step.name() == "after" {
            self.maybe("step_started");
        }
    }
    fn step_finished(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        if step.name() == "reserved" {
            self.maybe("step_finished");
        }
    }
    fn run_finished(&self, _: &RunInfo<'_>, _: Result<(), &routilux::FlowError>) {
        self.maybe("run_finished");
    }
}

#[routine]
fn plus_one(x: &u32) -> u32 {
    x + 1
}

flow! {
    flow Observed {
        input x: u32;
        step reserved = Reserve(x);
        step after = plus_one(reserved);
        return after;
    }
}

#[test]
fn an_observer_that_panics_fails_the_run_which_still_undoes_and_finishes() {
    for (schedule, options) in schedules() {
        for event in ["run_started", "step_started", "step_finished"] {
            let panicky = Panicky(event);
            let tracker = Arc::new(Tracker::new());
            Observed::plan().attach_observer(tracker.clone());
            let err = Observed::run_with(options.observer(&panicky), 1).unwrap_err();
            Observed::plan().detach_observer();
            assert_eq!(err.kind(), ErrorKind::Panicked, "{schedule:?} {event}");
            let text = err.to_string();
            assert!(text.contains(&format!("`{event}`")), "{text}");
            assert!(text.contains("observer failure"), "{text}");
            // The flow's tracker heard the end of the run: its entry is freed.
            assert_eq!(tracker.runs(), 1, "{schedule:?} {event}");
            if event != "run_started" {
                let record = tracker.last_run().unwrap();
                let undone = record
                    .spans()
                    .iter()
                    .any(|s| s.step == "reserved" && s.outcome == routilux::Outcome::Undone);
                assert!(undone, "{schedule:?} {event}: reserved was not undone");
            }
        }
        // A panic once the run succeeded does not change the result.
        let panicky = Panicky("run_finished");
        assert_eq!(
            Observed::run_with(options.observer(&panicky), 1).unwrap(),
            3
        );
    }
}

/// An undo that never succeeds, retried (almost) forever.
struct Stubborn;

impl routilux::Step for Stubborn {
    type Args = (u32,);
    type Output = u32;
    type Error = Boom;
    const UNDO_RETRIES: u32 = u32::MAX;

    fn run((x,): (&u32,), _: &Context) -> Result<u32, Boom> {
        Ok(*x)
    }

    fn undo(_: &u32, _: &Context) -> Result<(), Boom> {
        Err(Boom("still booked"))
    }
}

#[routine]
fn fail_after(_: &u32, _: &u32) -> Result<u32, Boom> {
    Err(Boom("late failure"))
}

flow! {
    flow NeverUndone {
        input x: u32;
        step first = Reserve(x);
        step stubborn = Stubborn(first);
        step end = fail_after(stubborn, first);
        return end;
    }
}

#[test]
fn an_undo_that_never_succeeds_ends_within_the_undo_budget_and_the_rest_is_reported() {
    for (schedule, options) in schedules() {
        let options = options.undo_timeout(Duration::from_millis(20));
        let err = NeverUndone::run_with(options, 1).unwrap_err();
        assert_eq!(err.step(), Some("end"), "{schedule:?}");
        let undo: Vec<(&str, u32)> = err
            .undo_errors()
            .iter()
            .map(|e| (e.step(), e.attempts()))
            .collect();
        assert_eq!(undo.len(), 2, "{schedule:?}: {undo:?}");
        // The stubborn undo was tried at least once; `first` was never reached.
        assert_eq!(undo[0].0, "stubborn");
        assert!(undo[0].1 >= 1);
        assert_eq!(undo[1], ("first", 0));
        assert!(
            err.undo_errors()[1].to_string().contains("budget"),
            "{}",
            err.undo_errors()[1]
        );
    }
}

#[routine]
fn wait_for_timeout(ctx: &Context) -> Result<u32, routilux::Cancelled> {
    while !ctx.is_cancelled() {
        std::thread::sleep(Duration::from_millis(1));
    }
    ctx.check()?;
    Ok(1)
}

flow! {
    flow Checks {
        step w = wait_for_timeout();
        return w;
    }
}

#[test]
fn a_step_giving_up_on_a_timeout_makes_the_run_timed_out() {
    for (schedule, options) in schedules() {
        let err = Checks::run_with(options.timeout(Duration::from_millis(5))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{schedule:?}: {err}");
        assert_eq!(err.to_string(), "flow `Checks` timed out");
    }
}

#[routine(retries = 3)]
fn cancel_then_fail(token: &CancelToken) -> Result<u32, Boom> {
    token.cancel();
    Err(Boom("failed while cancelling"))
}

flow! {
    flow RetriedDuringCancel {
        input token: CancelToken;
        step s = cancel_then_fail(token);
        return s;
    }
}

#[test]
fn a_failure_that_would_have_been_retried_is_not_the_cause_of_a_cancel() {
    for (schedule, options) in schedules() {
        let token = CancelToken::new();
        let log = Log::default();
        let options = options.cancel(&token).observer(&log);
        let err = RetriedDuringCancel::run_with(options, token.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{schedule:?}: {err}");
        assert_eq!(err.step(), None);
        // The failed attempt is still in the events.
        assert!(
            log.events()
                .contains(&"fail s#1: failed while cancelling".to_owned()),
            "{:?}",
            log.events()
        );
    }
}

#[test]
fn runs_end_cleanly_when_an_observer_panics_in_every_run() {
    // The tracker attached to the flow sees every run end, however the observer fails.
    let tracker = Arc::new(Tracker::new().with_history(0));
    Observed::plan().attach_observer(tracker.clone());
    let panicky = Panicky("step_started");
    for _ in 0..200 {
        let _ = Observed::run_with(RunOptions::new().observer(&panicky), 1);
    }
    Observed::plan().detach_observer();
    assert_eq!(tracker.runs(), 200);
}
