use routilux::{flow, routine};

#[routine]
fn total(values: &[u64]) -> u64 {
    values.iter().sum()
}

#[routine]
fn render(sum: &u64) -> String {
    sum.to_string()
}

flow! {
    flow Summary {
        input values: Vec<u64>;
        step total = total(values);
        step report = render(total_sum);
        return report;
    }
}

fn main() {}
