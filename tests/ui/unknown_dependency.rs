use routilux::{flow, routine};

#[routine]
fn parse(raw: &str) -> Vec<u64> {
    raw.bytes().map(u64::from).collect()
}

#[routine]
fn total(values: &[u64]) -> u64 {
    values.iter().sum()
}

flow! {
    flow Summary {
        input raw: String;
        step values = parse(raw);
        step sum = total(valeus);
        return sum;
    }
}

fn main() {}
