use routilux::{Context, Step, routine};

struct Reserve;

#[routine]
impl Step for Reserve {
    type Args = (u32,);
    type Output = u32;
    type Error = std::io::Error;

    fn run((n,): (&u32,), _: &Context) -> Result<u32, std::io::Error> {
        Ok(*n)
    }
}

fn main() {}
