use routilux::routine;

#[routine(retries = 1, retries = 2)]
fn flaky(x: &u64) -> Result<u64, std::io::Error> {
    Ok(x + 1)
}

fn main() {}
