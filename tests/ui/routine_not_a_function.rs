use routilux::routine;

#[routine]
struct Step;

fn main() {}
