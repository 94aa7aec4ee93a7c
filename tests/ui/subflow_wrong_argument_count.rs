use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Inner {
        input a: u64;
        input b: u64;
        step c = inc(a);
        return (b, c);
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
