//! Runs a builder flow of one benchmark shape in a loop, for profilers:
//! `cargo run --release --example profile_builder -- chain256 sequential 20000 [slices]`.

use routilux::Schedule;
use routilux_benches::shapes;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("chain256", String::as_str);
    let schedule = match args.get(2).map_or("sequential", String::as_str) {
        "dataflow" => Schedule::Dataflow,
        "layered" => Schedule::Layered,
        _ => Schedule::Sequential,
    };
    let runs: u64 = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(20_000);
    let shape = shapes::builder_shapes()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no shape `{name}`"));
    let (flow, last) = if args.get(4).is_some_and(|a| a == "slices") {
        routilux_benches::builder::sliced(&shape)
    } else {
        routilux_benches::builder::typed(&shape)
    };
    let start = std::time::Instant::now();
    let mut result = 0;
    for _ in 0..runs {
        let mut out = flow.run(flow.inputs(), schedule).expect("runs");
        result = out.take(last).expect("a result");
    }
    let per_step = start.elapsed().as_nanos() as f64 / (runs as f64 * shape.len() as f64);
    println!("{name} {schedule:?}: {per_step:.2} ns/step (result {result})");
}
