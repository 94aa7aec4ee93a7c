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

#[test]
fn strict_flows_run() {
    assert_eq!(Strict::run(" 21 ".into()).unwrap(), (21, 42));
    assert_eq!(Private::run(4).unwrap(), 8);
}
