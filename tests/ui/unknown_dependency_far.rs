use routilux::{flow, routine};

#[routine]
fn total(values: &[u64]) -> u64 {
    values.iter().sum()
}

flow! {
    flow Summary {
        input numbers: Vec<u64>;
        step sum = total(something_else);
        return sum;
    }
}

fn main() {}
