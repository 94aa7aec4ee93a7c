use routilux::{flow, routine};

#[routine]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

flow! {
    flow Shout {
        input message: String;
        step loud = shout(mesage);
        return loud;
    }
}

fn main() {}
