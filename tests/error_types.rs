//! The error types a routine may fail with: error types, boxed errors and `anyhow::Error`.
//! Each reaches `FlowError::source` as the error the routine made.

use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context as _;
use routilux::{ErrorKind, flow, routine};

type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug, PartialEq)]
struct Overdrawn(u64);

impl fmt::Display for Overdrawn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "overdrawn by {}", self.0)
    }
}

impl Error for Overdrawn {}

fn withdraw(balance: u64, amount: u64) -> Result<u64, Overdrawn> {
    balance
        .checked_sub(amount)
        .ok_or_else(|| Overdrawn(amount - balance))
}

#[routine]
fn boxed(amount: &u64) -> Result<u64, BoxError> {
    if *amount == 0 {
        return Err("nothing to withdraw".into());
    }
    Ok(withdraw(10, *amount)?)
}

#[routine]
fn reported(amount: &u64) -> anyhow::Result<u64> {
    Ok(withdraw(10, *amount)?)
}

#[routine]
fn reported_with_context(amount: &u64) -> anyhow::Result<u64> {
    withdraw(10, *amount).with_context(|| format!("withdrawing {amount}"))
}

#[routine]
fn bailed(amount: &u64) -> anyhow::Result<u64> {
    anyhow::ensure!(*amount < 10, "limit is 10, asked for {amount}");
    Ok(*amount)
}

flow! {
    flow Boxed {
        input amount: u64;
        step left = boxed(amount);
        return left;
    }
}

flow! {
    flow Reported {
        input amount: u64;
        step left = reported(amount);
        return left;
    }
}

flow! {
    flow ReportedWithContext {
        input amount: u64;
        step left = reported_with_context(amount);
        return left;
    }
}

flow! {
    flow Bailed {
        input amount: u64;
        step ok = bailed(amount);
        return ok;
    }
}

#[test]
fn a_boxed_error_is_the_source_as_it_was_boxed() {
    assert_eq!(Boxed::run(4).unwrap(), 6);

    let err = Boxed::run(12).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert_eq!(err.step(), Some("left"));
    let source = err.source().expect("a source");
    assert_eq!(source.downcast_ref::<Overdrawn>(), Some(&Overdrawn(2)));
    assert_eq!(
        err.to_string(),
        "flow `Boxed` failed at step `left`: overdrawn by 2"
    );
    let boxed = err.into_source().expect("a source");
    assert_eq!(*boxed.downcast::<Overdrawn>().unwrap(), Overdrawn(2));

    let err = Boxed::run(0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "flow `Boxed` failed at step `left`: nothing to withdraw"
    );
}

#[test]
fn an_anyhow_error_lends_the_error_it_was_made_from() {
    assert_eq!(Reported::run(4).unwrap(), 6);

    let err = Reported::run(13).unwrap_err();
    assert_eq!(err.step(), Some("left"));
    let source = err.source().expect("a source");
    assert_eq!(source.downcast_ref::<Overdrawn>(), Some(&Overdrawn(3)));
    assert_eq!(
        err.to_string(),
        "flow `Reported` failed at step `left`: overdrawn by 3"
    );
    // Debug output is anyhow's own.
    assert!(format!("{err:?}").contains("overdrawn by 3"));
}

#[test]
fn anyhow_context_shows_and_the_cause_stays_in_the_chain() {
    let err = ReportedWithContext::run(15).unwrap_err();
    assert_eq!(
        err.to_string(),
        "flow `ReportedWithContext` failed at step `left`: withdrawing 15"
    );
    // `{:#}` shows the chain of causes, as anyhow's own `{:#}` does.
    assert_eq!(
        format!("{err:#}"),
        "flow `ReportedWithContext` failed at step `left`: withdrawing 15: overdrawn by 5"
    );
    let context = err.source().expect("a source");
    assert_eq!(context.to_string(), "withdrawing 15");
    let cause = context.source().expect("the error under the context");
    assert_eq!(cause.downcast_ref::<Overdrawn>(), Some(&Overdrawn(5)));
}

#[test]
fn an_anyhow_message_is_the_source_message() {
    let err = Bailed::run(11).unwrap_err();
    assert_eq!(
        err.to_string(),
        "flow `Bailed` failed at step `ok`: limit is 10, asked for 11"
    );
    assert_eq!(
        err.source().map(ToString::to_string).as_deref(),
        Some("limit is 10, asked for 11")
    );
}

#[test]
fn the_alternate_display_of_a_plain_error_is_the_plain_display() {
    let err = Boxed::run(12).unwrap_err();
    assert_eq!(format!("{err:#}"), err.to_string());
}

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails twice, then succeeds.
#[routine(retries = 2)]
fn flaky(amount: &u64) -> anyhow::Result<u64> {
    let call = FLAKY_CALLS.fetch_add(1, Ordering::SeqCst);
    anyhow::ensure!(call >= 2, "attempt {call} failed");
    Ok(*amount)
}

flow! {
    flow Flaky {
        input amount: u64;
        step value = flaky(amount);
        return value;
    }
}

#[test]
fn anyhow_routines_are_retried() {
    assert_eq!(Flaky::run(7).unwrap(), 7);
    assert_eq!(FLAKY_CALLS.load(Ordering::SeqCst), 3);
}

#[routine(retries = 1, fallback = 0)]
fn with_fallback(amount: &u64) -> Result<u64, BoxError> {
    Ok(withdraw(10, *amount)?)
}

flow! {
    flow Fallback {
        input amount: u64;
        step left = with_fallback(amount);
        return left;
    }
}

#[test]
fn boxed_errors_take_a_fallback() {
    assert_eq!(Fallback::run(3).unwrap(), 7);
    assert_eq!(Fallback::run(30).unwrap(), 0);
}
