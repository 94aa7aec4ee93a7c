use std::rc::Rc;

use routilux::routine;

async fn later() {}

#[routine]
async fn fetch(url: &String) -> String {
    let shared = Rc::new(url.clone());
    later().await;
    (*shared).clone()
}

fn main() {}
