use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    pub flow Inner {
        input a: u64;
        step b = inc(a);
        return b;
    }
}

flow! {
    flow Outer {
        input x: u64;
        step y = Inner(x);
        return y;
    }
}

fn main() {}
