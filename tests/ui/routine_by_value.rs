use routilux::routine;

#[routine]
fn consume(text: String) -> usize {
    text.len()
}

fn main() {}
