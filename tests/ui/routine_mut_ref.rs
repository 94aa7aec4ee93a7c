use routilux::routine;

#[routine]
fn push(values: &mut Vec<u64>) -> usize {
    values.push(1);
    values.len()
}

fn main() {}
