use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Inputs {
        input x: u64;
        input x: u32;
        step a = inc(x);
        return a;
    }
}

fn main() {}
