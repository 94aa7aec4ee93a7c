use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Attributed {
        #[step(retries = 2)]
        input x: u64;
        step a = inc(x);
        return a;
    }
}

fn main() {}
