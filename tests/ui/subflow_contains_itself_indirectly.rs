use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Ping {
        input x: u64;
        step p = Pong(x);
        return p;
    }
}

flow! {
    flow Pong {
        input x: u64;
        step p = Ping(x);
        return p;
    }
}

fn main() {}
