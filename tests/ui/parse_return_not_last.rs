use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Late {
        input x: u64;
        return x;
        step y = inc(x);
    }
}

fn main() {}
