use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Looping {
        input x: u64;
        step a = inc(x);
        step again = Looping(a);
        return again;
    }
}

fn main() {}
