//! `scripts/benchmarks_md.py` reads the results from cargo's target directory, wherever
//! `CARGO_TARGET_DIR` puts it (it used to read `./target` only).

use std::path::Path;
use std::process::Command;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn benchmarks_md_reads_results_from_cargo_target_dir() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("benchmarks-md-target");
    let _ = std::fs::remove_dir_all(&target);
    // One criterion result (4321 ns for 10 steps) and one bench JSON, with numbers no real run
    // gives.
    let function = target.join("criterion/chain10_t1/routilux-dataflow/new");
    write(
        &function.join("estimates.json"),
        r#"{"mean": {"point_estimate": 4321.0}}"#,
    );
    write(
        &function.join("benchmark.json"),
        r#"{"throughput": {"Elements": 10}}"#,
    );
    write(
        &target.join("routilux-bench/memory.json"),
        r#"[{"schedule": "probe-schedule", "buffers_above_baseline": 9876.5}]"#,
    );
    // Run from another directory, so that nothing is found relative to it by accident.
    let out = Command::new("python3")
        .arg(root.join("scripts/benchmarks_md.py"))
        .current_dir(target.parent().unwrap())
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("python3 runs scripts/benchmarks_md.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let md = String::from_utf8(out.stdout).unwrap();
    let chain = md
        .lines()
        .find(|l| l.starts_with("| chain10 |"))
        .unwrap_or_else(|| panic!("no chain10 row:\n{md}"));
    assert!(chain.contains("432"), "{chain}");
    assert!(md.contains("| probe-schedule | 9876.50 |"), "{md}");
}
