use std::cell::Cell;

use routilux::routine;

#[routine]
fn counter(start: &u64) -> Cell<u64> {
    Cell::new(*start)
}

fn main() {}
