use routilux::routine;

#[routine(fallback = 0)]
fn inc(x: &u64) -> u64 {
    x + 1
}

fn main() {}
