use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Shadow {
        input x: u64;
        step x = inc(x);
        return x;
    }
}

fn main() {}
