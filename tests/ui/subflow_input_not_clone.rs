use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

pub struct Ticket(pub u64);

#[routine]
fn number(t: &Ticket) -> u64 {
    t.0
}

flow! {
    flow Inner {
        input t: Ticket;
        step n = number(t);
        return n;
    }
}

flow! {
    flow Outer {
        input t: Ticket;
        step y = Inner(t);
        return y;
    }
}

fn main() {}
