use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

#[routine]
fn add(x: &u64, y: &u64) -> u64 {
    x + y
}

flow! {
    flow F {
        input x: u64;
        step a = inc(x) after a;
        return a;
    }
}

fn main() {}
