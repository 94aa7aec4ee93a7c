use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

#[routine]
fn add(x: &u64, y: &u64) -> u64 {
    x + y
}

#[routine]
fn positive(x: &u64) -> bool {
    *x > 0
}

flow! {
    flow F {
        input x: u64;
        input check: bool;
        step p = positive(x) if check;
        step a = inc(x) if p;
        return a;
    }
}

fn main() {}
