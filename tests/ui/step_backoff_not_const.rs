use std::time::Duration;

use routilux::{Backoff, flow, routine};

#[routine]
fn inc(x: &u64) -> Result<u64, std::io::Error> {
    Ok(x + 1)
}

fn configured_delay() -> Duration {
    Duration::from_millis(5)
}

flow! {
    flow Retrying {
        input x: u64;
        #[step(retries = 2, backoff = Backoff::fixed(configured_delay()))]
        step a = inc(x);
        return a;
    }
}

fn main() {}
