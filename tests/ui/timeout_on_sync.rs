use std::time::Duration;

use routilux::{flow, routine};

#[routine(timeout = Duration::from_secs(1))]
fn blocking(x: &u64) -> u64 {
    *x
}

#[routine]
fn plain(x: &u64) -> u64 {
    *x
}

flow! {
    flow Timed {
        input x: u64;
        #[step(timeout = Duration::from_secs(1))]
        step y = plain(x);
        return y;
    }
}

fn main() {}
