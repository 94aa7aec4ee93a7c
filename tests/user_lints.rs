//! Generated code compiles warning-free in a crate that denies warnings and clippy's
//! pedantic lints (`cargo clippy --all-targets` checks this file), and in one that forbids
//! `unsafe` code.
#![deny(warnings, clippy::all, clippy::pedantic, missing_docs)]
// Generated code needs no `unsafe`: it compiles in crates that forbid it.
#![forbid(unsafe_code)]

use routilux::{flow, routine};

/// Doubles.
#[must_use]
#[routine]
pub fn double(x: &u64) -> u64 {
    x * 2
}

/// Parses.
///
/// # Errors
/// When `raw` is not a number.
#[routine]
pub fn parse(raw: &str) -> Result<u64, std::num::ParseIntError> {
    raw.trim().parse()
}

#[routine]
fn nothing() {}

flow! {
    /// A public flow in a crate that denies missing docs.
    pub flow Strict {
        input raw: String;
        step n = parse(raw);
        step d = double(n);
        step unit = nothing();
        return (n, d);
    }
}

/// A hold on something.
pub struct Hold(pub u64);

/// Holds `x`; undone by [`release`].
#[must_use]
#[routine(undo = release)]
pub fn hold(x: &u64) -> Hold {
    Hold(*x)
}

/// Releases a hold.
///
/// # Errors
/// When the hold is on nothing.
pub fn release(hold: &Hold, ctx: &routilux::Context) -> Result<(), std::io::Error> {
    if hold.0 == 0 || ctx.attempt() == 0 {
        return Err(std::io::Error::other("nothing held"));
    }
    Ok(())
}

flow! {
    flow Private {
        input x: u64;
        step d = double(x);
        step h = hold(d);
        return d;
    }
}

/// Scales.
#[must_use]
#[routine]
pub fn scale(x: &u64, by: &u64, label: &str) -> String {
    format!("{label}{}", x * by)
}

/// Whether there is something.
#[must_use]
#[routine]
pub fn any(xs: &[u64]) -> bool {
    !xs.is_empty()
}

const FACTOR: u64 = 3;

flow! {
    /// Every construct of the step language, in a strict crate.
    pub flow Language {
        input xs: Vec<u64>;
        input on: bool;
        step some = any(xs);
        #[step(batch = 2, max_concurrency = 2)]
        step scaled = scale(each xs, { FACTOR }, "x");
        step first = double(21) if some;
        step held = hold(7) after scaled if !on;
        step mapped = double(each xs) if on;
        return (scaled, first, mapped);
    }
}

/// Looks `x` up, later.
///
/// # Errors
/// Never; a lookup could.
#[routine(retries = 1, timeout = std::time::Duration::from_secs(5), undo = unlook)]
pub async fn look_up(x: &u64, ctx: &routilux::Context) -> Result<u64, std::num::ParseIntError> {
    std::future::ready(ctx.attempt()).await;
    Ok(x + 1)
}

/// Undoes a lookup, later.
pub async fn unlook(_: &u64) {
    std::future::ready(()).await;
}

flow! {
    /// Async routines mapped with `each`, plain and conditional, in a strict crate.
    pub flow AsyncEach {
        input xs: Vec<u64>;
        input on: bool;
        #[step(max_concurrency = 2)]
        step looked = look_up(each xs);
        step maybe = look_up(each looked) if on;
        return (looked, maybe);
    }
}

#[test]
fn strict_flows_run() {
    assert_eq!(
        routilux::block_on(AsyncEach::run_async(vec![1, 2], true)).unwrap(),
        (vec![2, 3], Some(vec![3, 4]))
    );
    let (scaled, first, mapped) = Language::run(vec![1, 2], true).unwrap();
    assert_eq!(scaled, ["x3", "x6"]);
    assert_eq!(first, Some(42));
    assert_eq!(mapped, Some(vec![2, 4]));
    assert_eq!(Strict::run(" 21 ".into()).unwrap(), (21, 42));
    assert_eq!(Private::run(4).unwrap(), 8);
}

/// A stored hold.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Stored(pub u64);

/// Stores `x`; undone by [`forget`].
#[must_use]
#[routine(undo = forget)]
pub fn store(x: &u64) -> Stored {
    Stored(*x)
}

/// Forgets a stored hold.
pub fn forget(_: &Stored) {}

flow! {
    /// Every construct of the step language in a durable flow, in a strict crate.
    #[durable]
    pub flow Stocked {
        input xs: Vec<u64>;
        input on: bool;
        step some = any(xs);
        step scaled = scale(each xs, { FACTOR }, "x");
        step first = double(21) if some;
        step kept = store(7) after scaled if !on;
        step mapped = double(each xs) if on;
        return (scaled, first, mapped);
    }
}

flow! {
    /// A durable flow of one input and one result.
    #[durable]
    pub flow DurableOne {
        input raw: String;
        step n = parse(raw);
        return n;
    }
}

flow! {
    #[durable]
    flow DurableNothing {
        step unit = nothing();
    }
}

#[test]
fn strict_durable_flows_run() {
    let store = routilux::durable::SqliteStore::in_memory().unwrap();
    let (scaled, first, mapped) = Stocked::durable(&store).run((vec![1, 2], true)).unwrap();
    assert_eq!(scaled, ["x3", "x6"]);
    assert_eq!(first, Some(42));
    assert_eq!(mapped, Some(vec![2, 4]));
    assert_eq!(DurableOne::durable(&store).run(" 5 ".into()).unwrap(), 5);
    DurableNothing::durable(&store).run(()).unwrap();
}
