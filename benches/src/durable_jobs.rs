//! The durable benches' job (`--features durable`): four trivial steps in a chain, four
//! checkpoints. Step `c` parks its thread for good in a process that is to be killed while it
//! holds a lease ([`STALL`]).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use routilux::{flow, routine};

/// Set in the process that is killed mid-run.
pub static STALL: AtomicBool = AtomicBool::new(false);

/// `x + 1`.
#[routine]
pub fn add1(x: &u64) -> u64 {
    black_box(*x + 1)
}

/// `x + 1`, or parks for good where [`STALL`] is set.
#[routine]
pub fn add1_or_stall(x: &u64) -> u64 {
    if STALL.load(Ordering::Relaxed) {
        loop {
            std::thread::park();
        }
    }
    black_box(*x + 1)
}

flow! {
    /// Four trivial steps in a chain: four checkpoints.
    #[durable]
    pub flow Chain4 {
        input x: u64;
        step a = add1(x);
        step b = add1(a);
        step c = add1_or_stall(b);
        step d = add1(c);
        return d;
    }
}
