//! Seeing a flow: its graph as DOT, Mermaid and JSON, a run's timeline as Chrome trace JSON
//! and an SVG Gantt chart, and per-step statistics over many runs.
//!
//! Run it with `cargo run --release --example observe`. It writes its files under
//! `target/routilux-observe/` and prints where, then the tracker's report.
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use routilux::{RunOptions, Tracker, flow, routine};

/// Stands in for real work: `ms` milliseconds of arithmetic.
fn busy(ms: u64, seed: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_millis(ms);
    let mut acc = seed;
    while std::time::Instant::now() < deadline {
        for i in 0..1000u64 {
            acc = std::hint::black_box(acc.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
        }
    }
    acc
}

#[routine]
fn fetch_orders(day: &u32) -> Vec<u64> {
    busy(3, u64::from(*day));
    (1..=200).map(|i| i * u64::from(*day) % 997).collect()
}

#[routine]
fn fetch_rates(day: &u32) -> f64 {
    busy(5, u64::from(*day));
    1.08
}

#[routine]
fn revenue(orders: &[u64], rate: &f64) -> f64 {
    busy(4, orders.len() as u64);
    #[allow(clippy::cast_precision_loss)]
    let total = orders.iter().sum::<u64>() as f64;
    total * rate
}

#[routine]
fn top_customers(orders: &[u64]) -> Vec<u64> {
    busy(6, orders.len() as u64);
    let mut sorted = orders.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.truncate(5);
    sorted
}

#[routine]
fn refunds(orders: &[u64]) -> usize {
    busy(2, orders.len() as u64);
    orders.iter().filter(|&&o| o % 17 == 0).count()
}

#[routine]
fn report(revenue: &f64, top: &[u64], refunds: &usize) -> String {
    busy(1, *refunds as u64);
    format!("revenue {revenue:.2}, top orders {top:?}, {refunds} refunds")
}

flow! {
    /// The daily sales report.
    pub flow DailyReport {
        input day: u32;
        step orders = fetch_orders(day);
        step rate = fetch_rates(day);
        /// Order totals converted at the day's rate.
        step income = revenue(orders, rate);
        step top = top_customers(orders);
        step returned = refunds(orders);
        step text = report(income, top, returned);
        return text;
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, contents)?;
    Ok(path)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The repository's target/ (this example's package is examples/).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let dir = root.join("target/routilux-observe");
    std::fs::create_dir_all(&dir)?;

    // The flow's picture, without running it.
    let graph = DailyReport::graph();
    let mut written = vec![
        write(&dir, "daily_report.dot", &graph.to_dot())?,
        write(&dir, "daily_report.mmd", &graph.to_mermaid())?,
        write(
            &dir,
            "daily_report.json",
            &serde_json::to_string_pretty(&graph)?,
        )?,
    ];

    // Twenty runs under a tracker; the last one's timeline.
    let tracker = Tracker::new().with_history(100);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build()?;
    let mut text = String::new();
    for day in 1..=20 {
        text = DailyReport::run_with(RunOptions::from(&pool).observer(&tracker), day)?;
    }
    let run = tracker.last_run().ok_or("the tracker kept no run")?;
    written.push(write(
        &dir,
        "daily_report.trace.json",
        &run.to_chrome_trace(),
    )?);
    written.push(write(&dir, "daily_report.svg", &run.to_svg())?);

    println!("{text}\n");
    println!(
        "last run: {:.2} ms on {} threads; critical path: {}\n",
        run.duration().as_secs_f64() * 1e3,
        run.lanes().len(),
        run.critical_path().join(" -> ")
    );
    println!("{}", tracker.report());
    println!("wrote:");
    for path in &written {
        println!("  {}", path.display());
    }
    println!("\nOpen the .trace.json in https://ui.perfetto.dev, the .svg in a browser;");
    println!("render the .dot with `dot -Tsvg daily_report.dot > graph.svg`.");
    Ok(())
}
