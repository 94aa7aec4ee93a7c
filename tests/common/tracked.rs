//! Values that count themselves (every value made is dropped exactly once) and routines that
//! make them, fail or panic as a run's `Ctl` says: for the random-flow property tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use routilux::routine;

/// Counts values alive (+1 when made, -1 when dropped), and the steps in flight.
#[derive(Debug, Default)]
pub struct Live(pub AtomicI64, pub Steps);

/// Steps in flight now, and the most at once.
#[derive(Debug, Default)]
pub struct Steps {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// One step in flight, until dropped.
pub struct InFlight<'s>(&'s Steps);

impl Steps {
    pub fn enter(&self) -> InFlight<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    /// The most steps in flight at once since the last call (which starts a new count).
    pub fn take_peak(&self) -> usize {
        self.peak.swap(0, Ordering::SeqCst)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The run's control: which step values fail or panic, and the live-value counter.
#[derive(Clone, Debug)]
pub struct Ctl {
    pub seed: u64,
    pub modulus: u64,
    pub fail: u64,
    pub panic: u64,
    pub live: Arc<Live>,
}

#[derive(Debug)]
pub struct Tracked {
    pub value: u64,
    live: Arc<Live>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
pub struct Fail(u64);

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step value {} fails", self.0)
    }
}

impl std::error::Error for Fail {}

pub fn make(ctl: &Ctl, x: u64) -> Result<Tracked, Fail> {
    let value = (x ^ ctl.seed)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    match value % ctl.modulus {
        r if r == ctl.fail => Err(Fail(value)),
        r if r == ctl.panic => panic!("step value {value} panics"),
        _ => {
            ctl.live.0.fetch_add(1, Ordering::SeqCst);
            Ok(Tracked {
                value,
                live: Arc::clone(&ctl.live),
            })
        }
    }
}

#[routine]
pub fn r0(ctl: &Ctl) -> Result<Tracked, Fail> {
    let _step = ctl.live.1.enter();
    make(ctl, 1)
}

#[routine]
pub fn r1(a: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    let _step = ctl.live.1.enter();
    make(ctl, a.value)
}

#[routine]
pub fn r2(a: &Tracked, b: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    let _step = ctl.live.1.enter();
    make(ctl, a.value.wrapping_mul(31) ^ b.value)
}

#[routine]
pub fn r3(a: &Tracked, b: &Tracked, c: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    let _step = ctl.live.1.enter();
    make(
        ctl,
        a.value.wrapping_mul(31) ^ b.value.wrapping_mul(7) ^ c.value,
    )
}

/// Reads a conditional step's value (7 when it was skipped).
#[allow(clippy::ref_option)]
#[routine]
pub fn ro(a: &Option<Tracked>, ctl: &Ctl) -> Result<Tracked, Fail> {
    make(ctl, a.as_ref().map_or(7, |t| t.value))
}

/// One element of a map step.
#[routine]
pub fn rm(x: &u64, a: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    make(ctl, x.wrapping_mul(13) ^ a.value)
}

/// Reads a map step's values, in order.
#[routine]
pub fn rv(values: &[Tracked], ctl: &Ctl) -> Result<Tracked, Fail> {
    let folded = values
        .iter()
        .fold(3u64, |acc, t| acc.wrapping_mul(31) ^ t.value);
    make(ctl, folded)
}
