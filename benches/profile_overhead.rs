//! Runs one generated benchmark flow in a loop, for profilers (`perf record`, callgrind):
//! `cargo run --release --example profile_overhead -- chain1000 sequential 20000`.

use routilux::Schedule;
use routilux_benches::generated::OVERHEAD;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("chain1000", String::as_str);
    let schedule = match args.get(2).map_or("dataflow", String::as_str) {
        "sequential" => Schedule::Sequential,
        "layered" => Schedule::Layered,
        _ => Schedule::Dataflow,
    };
    let runs: u64 = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(10_000);
    let flow = OVERHEAD
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no generated flow `{name}`"));
    let start = std::time::Instant::now();
    let mut last = 0;
    for _ in 0..runs {
        last = (flow.run)(schedule.into());
    }
    let per_step = start.elapsed().as_nanos() as f64 / (runs as f64 * flow.steps as f64);
    println!("{name} {schedule:?}: {per_step:.2} ns/step (result {last})");
}
