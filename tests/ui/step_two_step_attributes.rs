use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> Result<u64, std::io::Error> {
    Ok(x + 1)
}

flow! {
    flow Retrying {
        input x: u64;
        #[step(retries = 2)]
        #[step(backoff = routilux::Backoff::fixed(std::time::Duration::from_millis(5)))]
        step a = inc(x);
        return a;
    }
}

fn main() {}
