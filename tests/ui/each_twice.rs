use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

#[routine]
fn add(x: &u64, y: &u64) -> u64 {
    x + y
}

flow! {
    flow F {
        input xs: Vec<u64>;
        input zs: Vec<u64>;
        step ys = add(each xs, each zs);
        return ys;
    }
}

fn main() {}
