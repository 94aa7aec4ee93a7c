use routilux::{flow, routine};

#[routine]
fn add(x: &u64, y: &u64) -> u64 {
    x + y
}

flow! {
    flow Messy {
        input x: u64;
        step a = add(x, missing);
        step b = add(c, x);
        step c = add(b, x);
        step a = add(x, x);
        step d = add(d, x);
        return (a, nothing);
    }
}

fn main() {
    // The flow still declares `run` and `plan`: these uses add no errors of their own.
    let _ = Messy::run(1);
    let _ = Messy::plan();
}
