use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Attributed {
        input x: u64;
        #[inline]
        step a = inc(x);
        return a;
    }
}

fn main() {}
