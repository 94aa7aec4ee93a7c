use routilux::{Context, Step, flow};

#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

struct Charge;

impl Step for Charge {
    type Args = (u64,);
    type Output = u64;
    type Error = Failed;

    fn run((cents,): (&u64,), _: &Context) -> Result<u64, Failed> {
        Ok(*cents)
    }
}

flow! {
    flow Checkout {
        input card: String;
        step charged = Charge(card);
        return charged;
    }
}

fn main() {}
