use routilux::{flow, routine};

#[routine]
fn double(x: &u64) -> u64 {
    x * 2
}

flow! {
    flow Arity {
        input x: u64;
        input y: u64;
        step d = double(x, y);
        return d;
    }
}

fn main() {}
