use routilux::{flow, routine};

#[routine]
fn inc(x: &u64) -> Result<u64, std::io::Error> {
    Ok(x + 1)
}

flow! {
    flow Retrying {
        input x: u64;
        #[step(retry = 2)]
        step a = inc(x);
        return a;
    }
}

fn main() {}
