// A `#[durable]` flow stores its inputs and step results: a step whose result type lacks
// serde's traits is an error naming the type, at the step's routine.
use routilux::{flow, routine};

pub struct Card {
    pub number: String,
}

#[routine]
fn read(raw: &str) -> Card {
    Card { number: raw.to_owned() }
}

#[routine]
fn digits(card: &Card) -> usize {
    card.number.len()
}

flow! {
    #[durable]
    pub flow Pay {
        input raw: String;
        step card = read(raw);
        step n = digits(card);
        return n;
    }
}

fn main() {}
