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
        input ok: bool;
        step a = inc(x) if okay;
        return a;
    }
}

fn main() {}
