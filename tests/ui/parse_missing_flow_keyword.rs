use routilux::flow;

flow! {
    pub struct NotAFlow {
        input x: u64;
    }
}

fn main() {}
