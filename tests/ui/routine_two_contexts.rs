use routilux::{Context, routine};

#[routine]
fn inc(x: &u64, first: &Context, second: &Context) -> u64 {
    let _ = (first, second);
    x + 1
}

fn main() {}
