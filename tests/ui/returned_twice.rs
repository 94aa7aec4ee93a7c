use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Ret {
        input x: u64;
        step a = inc(x);
        return (a, x, a);
    }
}

fn main() {}
