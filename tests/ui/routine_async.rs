use routilux::routine;

#[routine]
async fn fetch(url: &str) -> String {
    url.to_owned()
}

fn main() {}
