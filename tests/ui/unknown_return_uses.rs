// A `return` of an unknown name is one error: the flow's `run` still type-checks wherever it
// is used, so the uses below add no error of their own (`run` returns `Result<!, _>` until the
// name is fixed, so rustc only warns that code after a `?` on it is unreachable).
use routilux::{FlowError, flow, routine};

#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow Ret {
        input x: u64;
        step result = inc(x);
        return finale;
    }
}

fn ignored() {
    let _ = Ret::run(1);
    let _ = Ret::run_with(routilux::Schedule::Sequential, 1);
}

fn propagated() -> Result<(), FlowError> {
    Ret::run(1)?;
    Ok(())
}

fn typed() -> Result<u64, FlowError> {
    let value: u64 = Ret::run(1)?;
    Ok(value)
}

fn main() {
    ignored();
    let _ = propagated();
    let _ = typed();
}
