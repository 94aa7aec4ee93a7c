use routilux::flow;

flow! {
    flow Missing {
        input x: u64;
        step d = tripple(x);
        return d;
    }
}

fn main() {}
