use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Selfish {
        input x: u64;
        step a = inc(a);
        return a;
    }
}

fn main() {}
