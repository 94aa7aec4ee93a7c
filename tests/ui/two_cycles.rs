use routilux::{flow, routine};

#[routine]
fn add(x: &u64, y: &u64) -> u64 {
    x + y
}

flow! {
    flow Loops {
        input x: u64;
        step a = add(x, b);
        step b = add(x, a);
        step p = add(q, x);
        step q = add(r, x);
        step r = add(p, x);
        return a;
    }
}

fn main() {}
