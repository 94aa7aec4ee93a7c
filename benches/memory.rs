//! Peak memory of a 100-step `flow!` chain whose steps each produce a 10 MB buffer: results are
//! dropped after their last consumer, so the peak should stay within a few buffers of the
//! baseline, not grow to 100 of them. Reads the peak resident set (`VmHWM`) from
//! `/proc/self/status` (Linux); writes `<target dir>/routilux-bench/memory.json`.

use routilux::Schedule;
use routilux_benches::generated::Buffers100;

const BUFFER: f64 = (10 << 20) as f64;

fn peak_rss_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// Runs the flow once under `schedule` and prints its peak above the baseline, in buffers.
fn child(schedule: &str) {
    let schedule = match schedule {
        "Sequential" => Schedule::Sequential,
        "Layered" => Schedule::Layered,
        _ => Schedule::Dataflow,
    };
    let baseline = peak_rss_bytes().expect("/proc/self/status");
    let last = Buffers100::run_with(schedule).expect("the run succeeds");
    let peak = peak_rss_bytes().unwrap_or(baseline);
    assert_eq!(last.len(), 10 << 20);
    println!("{:.3}", (peak - baseline) / BUFFER);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        return child(&args[pos + 1]);
    }
    if peak_rss_bytes().is_none() {
        println!("no /proc/self/status: peak memory is measured on Linux only");
        return;
    }
    // Each schedule in a fresh process: the peak resident set only ever grows.
    let exe = std::env::current_exe().expect("the bench binary");
    let mut rows = Vec::new();
    println!("peak memory of a 100-step chain of 10 MB buffers, above the process baseline:");
    for label in ["Sequential", "Dataflow", "Layered"] {
        let out = std::process::Command::new(&exe)
            .args(["--child", label])
            .output()
            .expect("run the child");
        let above = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        println!("  {label:<10} {above} buffers (the returned buffer included)");
        rows.push(format!(
            "{{\"schedule\": \"{label}\", \"buffers_above_baseline\": {above}}}"
        ));
    }
    // Cargo's target directory (CARGO_TARGET_DIR or build.target-dir included): the parent
    // of the scratch directory cargo gives benches.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("routilux-bench");
    std::fs::create_dir_all(&dir).expect("a results directory");
    std::fs::write(
        dir.join("memory.json"),
        format!("[\n{}\n]\n", rows.join(",\n")),
    )
    .expect("write memory.json");
}
