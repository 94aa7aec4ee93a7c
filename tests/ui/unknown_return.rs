use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Ret {
        input x: u64;
        step result = inc(x);
        return reslut;
    }
}

fn main() {}
