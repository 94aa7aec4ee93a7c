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
        input xs: Vec<String>;
        step ys = inc(each xs);
        return ys;
    }
}

fn main() {}
