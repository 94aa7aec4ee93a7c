use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Loop {
        input x: u64;
        step a = inc(c);
        step b = inc(a);
        step c = inc(b);
        step d = inc(x);
        return d;
    }
}

fn main() {}
