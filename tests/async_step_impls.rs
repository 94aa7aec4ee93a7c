//! Hand-written async steps: `#[routine] impl AsyncStep for T`, called in `flow!` like a
//! routine, with async `run` and `undo`, compensation, retries and a timeout.

use std::sync::{Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use routilux::{AsyncStep, Compensation, Context, ErrorKind, Schedule, flow, routine};

/// What the steps did and undid, in order.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The tests share [`LOG`]: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn log(line: String) {
    LOG.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(line);
}

fn logged() -> Vec<String> {
    std::mem::take(&mut *LOG.lock().unwrap_or_else(PoisonError::into_inner))
}

/// A future that is pending once: the step really suspends.
async fn yield_once() {
    let mut first = true;
    std::future::poll_fn(|cx| {
        if first {
            first = false;
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// No arguments: a booking number.
struct Open;

#[routine]
impl AsyncStep for Open {
    type Args = ();
    type Output = u32;
    type Error = Refused;

    async fn run((): (), ctx: &Context) -> Result<u32, Refused> {
        yield_once().await;
        log(format!("open in {}", ctx.step()));
        Ok(7)
    }

    async fn undo(number: &u32, _: &Context) -> Result<(), Refused> {
        yield_once().await;
        log(format!("close {number}"));
        Ok(())
    }
}

/// Two arguments; busy on its first attempt, retried once.
struct Hold;

#[routine]
impl AsyncStep for Hold {
    type Args = (u32, String);
    type Output = String;
    type Error = Refused;
    const RETRIES: u32 = 1;

    async fn run((number, what): (&u32, &String), ctx: &Context) -> Result<String, Refused> {
        yield_once().await;
        if ctx.attempt() == 1 {
            return Err(Refused(format!("{what} busy")));
        }
        log(format!("hold {what} for {number}"));
        Ok(format!("{what}#{number}"))
    }

    async fn undo(hold: &String, ctx: &Context) -> Result<(), Refused> {
        yield_once().await;
        log(format!("release {hold} in {}", ctx.step()));
        Ok(())
    }
}

/// Refuses cards over 100; a refusal of "gift" cards continues with a voucher instead.
struct Charge;

#[routine]
impl AsyncStep for Charge {
    type Args = (String, u64);
    type Output = String;
    type Error = Refused;

    async fn run((hold, amount): (&String, &u64), _: &Context) -> Result<String, Refused> {
        yield_once().await;
        if *amount > 100 {
            return Err(Refused(format!("{amount} declined for {hold}")));
        }
        log(format!("charge {amount}"));
        Ok(format!("paid {amount}"))
    }

    fn compensate(error: &Refused, _: &Context) -> Compensation<String> {
        if error.0.contains("gift") {
            Compensation::Continue("voucher".to_owned())
        } else {
            Compensation::Fail
        }
    }
}

flow! {
    flow Booking {
        input what: String;
        input amount: u64;
        step number = Open();
        step held = Hold(number, what);
        step paid = Charge(held, amount);
        return paid;
    }
}

#[test]
fn async_steps_run_retry_and_succeed_under_every_schedule_and_executor() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    for schedule in [Schedule::Dataflow, Schedule::Layered, Schedule::Sequential] {
        logged();
        assert_eq!(
            Booking::run_with(schedule, "room".into(), 50).unwrap(),
            "paid 50"
        );
        assert_eq!(logged(), ["open in number", "hold room for 7", "charge 50"]);
    }
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(
        tokio
            .block_on(Booking::run_async("seat".into(), 10))
            .unwrap(),
        "paid 10"
    );
    assert_eq!(logged(), ["open in number", "hold seat for 7", "charge 10"]);
}

#[test]
fn a_failure_undoes_the_async_steps_newest_first() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    logged();
    let error = routilux::block_on(Booking::run_async("room".into(), 500)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failed);
    assert_eq!(error.step(), Some("paid"));
    assert!(error.to_string().contains("500 declined"), "{error}");
    assert_eq!(
        logged(),
        [
            "open in number",
            "hold room for 7",
            "release room#7 in held",
            "close 7"
        ]
    );
    // The blocking run drives the async undos on the calling thread.
    let error = Booking::run("room".into(), 500).unwrap_err();
    assert_eq!(error.step(), Some("paid"));
    assert_eq!(
        logged(),
        [
            "open in number",
            "hold room for 7",
            "release room#7 in held",
            "close 7"
        ]
    );
}

#[test]
fn compensation_decides_from_the_error() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    logged();
    assert_eq!(Booking::run("gift".into(), 500).unwrap(), "voucher");
    assert_eq!(logged(), ["open in number", "hold gift for 7"]);
}

/// Never answers on its first attempt; the timeout drops it and the retry answers.
struct Slow;

#[routine]
impl AsyncStep for Slow {
    type Args = (u64,);
    type Output = u64;
    type Error = Refused;
    const RETRIES: u32 = 1;
    const TIMEOUT: Option<Duration> = Some(Duration::from_millis(20));
    const UNDOABLE: bool = false;

    async fn run((x,): (&u64,), ctx: &Context) -> Result<u64, Refused> {
        if ctx.attempt() == 1 {
            std::future::pending::<()>().await;
        }
        Ok(x + 1)
    }
}

flow! {
    flow Timed {
        input x: u64;
        step y = Slow(x);
        return y;
    }
}

#[test]
fn the_timeout_bounds_each_attempt() {
    assert_eq!(Timed::run(1).unwrap(), 2);
    assert!(
        Booking::plan()
            .steps()
            .iter()
            .all(|s| s.policy().is_async())
    );
    assert_eq!(
        Timed::plan().steps()[0].policy().get_timeout(),
        Some(Duration::from_millis(20))
    );
}
