use std::rc::Rc;

use routilux::{flow, routine};

#[routine]
fn len(x: &Rc<String>) -> usize {
    x.len()
}

flow! {
    flow NotSend {
        input text: Rc<String>;
        step n = len(text);
        return n;
    }
}

fn main() {}
