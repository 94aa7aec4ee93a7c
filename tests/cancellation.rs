//! Cancellation and timeouts: a cancelled or timed-out run undoes like a failed one.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Boom, Log, Reserve, lines, schedules};
use routilux::{Backoff, CancelToken, Context, ErrorKind, flow, routine};

/// Fails, then waits an hour before each retry: only a cancellation or deadline ends it.
#[routine(retries = 5, backoff = Backoff::exponential(Duration::from_secs(3600)))]
fn patient(_: &u32) -> Result<u32, Boom> {
    Err(Boom("busy"))
}

flow! {
    flow Patient {
        input x: u32;
        step a = Reserve(x);
        step b = patient(a);
        return b;
    }
}

#[test]
fn cancelling_during_a_backoff_wakes_the_sleep_and_undoes() {
    for (schedule, options) in schedules() {
        let token = CancelToken::new();
        let canceller = token.clone();
        // Cancels from another thread, as a user would, once b's retry is announced.
        let log = Log::on_retry(move || {
            let token = canceller.clone();
            std::thread::spawn(move || token.cancel()).join().unwrap();
        });
        let err = Patient::run_with(options.observer(&log).cancel(&token), 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{schedule:?}");
        assert_eq!(err.step(), None);
        assert_eq!(err.to_string(), "flow `Patient` was cancelled");
        assert_eq!(
            log.events(),
            lines(&[
                "run",
                "start a#1",
                "finish a#1",
                "start b#1",
                "retry b#1 after 3600s: busy",
                "cancelled Cancelled",
                "undo a#1",
                "undone a#1",
                "end err",
            ]),
            "{schedule:?}"
        );
    }
}

#[test]
fn a_deadline_ends_a_backoff_and_undoes() {
    for (schedule, options) in schedules() {
        let log = Log::default();
        let options = options.observer(&log).timeout(Duration::from_millis(200));
        let err = Patient::run_with(options, 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{schedule:?}");
        assert_eq!(err.to_string(), "flow `Patient` timed out");
        // Normally the deadline passes during b's hour-long backoff; on a machine slow enough
        // to spend 200 ms before that, it passes earlier. Either way the run stops there, and
        // whatever finished is undone.
        let events = log.events();
        let expected = lines(&[
            "run",
            "start a#1",
            "finish a#1",
            "start b#1",
            "retry b#1 after 3600s: busy",
        ]);
        let at = events
            .iter()
            .position(|e| e == "cancelled TimedOut")
            .expect("a timeout event");
        assert_eq!(events[..at], expected[..at], "{schedule:?}");
        let undo: &[&str] = if at >= 3 {
            &["undo a#1", "undone a#1"]
        } else {
            &[]
        };
        let mut tail = vec!["cancelled TimedOut"];
        tail.extend(undo);
        tail.push("end err");
        assert_eq!(events[at..], lines(&tail)[..], "{schedule:?}");
    }
}

#[test]
fn a_cancelled_token_or_a_zero_timeout_starts_nothing() {
    for (schedule, options) in schedules() {
        let token = CancelToken::new();
        token.cancel();
        let log = Log::default();
        let err = Patient::run_with(options.observer(&log).cancel(&token), 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{schedule:?}");
        assert_eq!(
            log.events(),
            lines(&["run", "cancelled Cancelled", "end err"])
        );

        let log = Log::default();
        let err = Patient::run_with(options.observer(&log).timeout(Duration::ZERO), 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{schedule:?}");
        assert_eq!(
            log.events(),
            lines(&["run", "cancelled TimedOut", "end err"])
        );
    }
}

static SAW_CANCEL: AtomicBool = AtomicBool::new(false);

/// Cancels the run itself, then checks that its context says so.
#[routine]
fn self_cancelling(ctx: &Context, token: &CancelToken) -> Result<u32, routilux::Cancelled> {
    token.cancel();
    SAW_CANCEL.store(ctx.is_cancelled(), Ordering::SeqCst);
    ctx.check()?;
    Ok(1)
}

#[routine]
fn after(x: &u32) -> u32 {
    x + 1
}

flow! {
    flow SelfCancel {
        input token: CancelToken;
        step s = self_cancelling(token);
        step t = after(s);
        return t;
    }
}

#[test]
fn a_step_sees_the_cancellation_through_its_context() {
    for (schedule, options) in schedules() {
        SAW_CANCEL.store(false, Ordering::SeqCst);
        let token = CancelToken::new();
        let err = SelfCancel::run_with(options.cancel(&token), token.clone()).unwrap_err();
        assert!(SAW_CANCEL.load(Ordering::SeqCst), "{schedule:?}");
        // The step gave up because of the cancel: the cancel is the cause, not the step.
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{schedule:?}: {err}");
        assert_eq!(err.step(), None, "{schedule:?}");
        assert_eq!(err.to_string(), "flow `SelfCancel` was cancelled");
    }
}

flow! {
    flow Quick {
        input x: u32;
        step a = Reserve(x);
        step b = after(a);
        return b;
    }
}

#[test]
fn a_token_and_deadline_that_never_fire_change_nothing() {
    let token = CancelToken::new();
    for (schedule, options) in schedules() {
        let log = Log::default();
        let options = options
            .observer(&log)
            .cancel(&token)
            .timeout(Duration::from_secs(3600));
        assert_eq!(Quick::run_with(options, 1).unwrap(), 3, "{schedule:?}");
        assert_eq!(
            log.events(),
            lines(&[
                "run",
                "start a#1",
                "finish a#1",
                "start b#1",
                "finish b#1",
                "end ok"
            ]),
            "{schedule:?}"
        );
    }
}

static LATER_RAN: AtomicBool = AtomicBool::new(false);

/// A plain step (no context, no policy) that cancels the run's token.
#[routine]
fn cancels(token: &CancelToken) -> u32 {
    token.cancel();
    1
}

#[routine]
fn later(x: &u32) -> u32 {
    LATER_RAN.store(true, Ordering::SeqCst);
    x + 1
}

flow! {
    flow PlainCancel {
        input token: CancelToken;
        step s = cancels(token);
        step t = later(s);
        step u = later(s);
        step v = after(t);
        return v;
    }
}

#[test]
fn a_run_of_plain_steps_stops_before_the_next_step_once_cancelled() {
    // Plain steps run without the guarded path, also with a token: they must still see it.
    for (schedule, options) in schedules() {
        LATER_RAN.store(false, Ordering::SeqCst);
        let token = CancelToken::new();
        let err = PlainCancel::run_with(options.cancel(&token), token.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{schedule:?}: {err}");
        assert_eq!(err.step(), None, "{schedule:?}");
        assert!(
            !LATER_RAN.load(Ordering::SeqCst),
            "{schedule:?}: a step started after the cancel"
        );
    }
}
