use routilux::routine;

#[routine]
fn show(value: &impl std::fmt::Display) -> String {
    value.to_string()
}

#[routine]
fn numbers(n: &u64) -> impl Iterator<Item = u64> {
    0..*n
}

fn main() {}
