use routilux::flow;

flow! {
    flow Semi {
        input x: u64
        step y = f(x);
    }
}

fn main() {}
