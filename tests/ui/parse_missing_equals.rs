use routilux::flow;

flow! {
    flow Eq {
        input x: u64;
        step y f(x);
    }
}

fn main() {}
