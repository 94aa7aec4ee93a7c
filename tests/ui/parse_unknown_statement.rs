use routilux::flow;

flow! {
    flow Typo {
        input x: u64;
        stp y = f(x);
    }
}

fn main() {}
