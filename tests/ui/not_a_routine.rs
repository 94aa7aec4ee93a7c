use routilux::flow;

fn double(x: &u64) -> u64 {
    x * 2
}

flow! {
    flow Plain {
        input x: u64;
        step d = double(x);
        return d;
    }
}

fn main() {}
