use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Inner {
        input a: u64;
        step b = inc(a);
        return b;
    }
}

flow! {
    flow Outer {
        input name: String;
        step y = Inner(name);
        return y;
    }
}

fn main() {}
