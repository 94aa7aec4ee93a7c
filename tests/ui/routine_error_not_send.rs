use routilux::routine;

#[routine]
fn parse(raw: &str) -> Result<u64, Box<dyn std::error::Error>> {
    Ok(raw.parse()?)
}

fn main() {}
