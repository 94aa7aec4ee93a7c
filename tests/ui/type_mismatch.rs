use routilux::{flow, routine};

#[routine]
fn count(text: &str) -> usize {
    text.len()
}

#[routine]
fn double(x: &u64) -> u64 {
    x * 2
}

flow! {
    flow Mismatch {
        input text: String;
        step n = count(text);
        step d = double(n);
        return d;
    }
}

fn main() {}
