use routilux::routine;

#[routine(retires = 3)]
fn inc(x: &u64) -> u64 {
    x + 1
}

fn main() {}
