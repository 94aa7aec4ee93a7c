use routilux::routine;

#[routine]
fn parse(raw: &str) -> Result<u64, String> {
    raw.parse().map_err(|_| format!("not a number: {raw}"))
}

fn main() {}
