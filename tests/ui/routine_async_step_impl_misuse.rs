use routilux::{AsyncStep, Context, routine};

struct Fetch<T>(T);

#[routine(retries = 2)]
impl<T: 'static> AsyncStep for Fetch<T> {
    type Args = (u32,);
    type Output = u32;
    type Error = std::io::Error;

    async fn run((n,): (&u32,), _: &Context) -> Result<u32, std::io::Error> {
        Ok(*n)
    }
}

fn main() {}
