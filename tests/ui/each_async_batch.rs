use routilux::{flow, routine};

#[routine]
async fn fetch(id: &u64) -> u64 {
    *id
}

flow! {
    flow Many {
        input ids: Vec<u64>;
        #[step(batch = 8)]
        step pages = fetch(each ids);
        return pages;
    }
}

fn main() {}
