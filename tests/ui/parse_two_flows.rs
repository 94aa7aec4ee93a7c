use routilux::flow;

flow! {
    flow First {
        input x: u64;
    }
    flow Second {
        input y: u64;
    }
}

fn main() {}
