use routilux::routine;

#[routine(retries = "three")]
fn flaky(x: &u64) -> Result<u64, std::io::Error> {
    Ok(x + 1)
}

fn main() {}
