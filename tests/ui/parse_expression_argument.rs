use routilux::flow;

flow! {
    flow Expr {
        input x: u64;
        step y = f(x + 1);
    }
}

fn main() {}
