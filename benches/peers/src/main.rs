//! Durable runs against their peers (issue #14): the same job (four trivial steps, each
//! result stored) through routilux's `#[durable]` flows, durare (DBOS's model: each step
//! checkpointed) and apalis (a Postgres job queue: the four steps as one job, and as an
//! `apalis-workflow` stepped flow with a task per step), on one PostgreSQL server, beside the
//! server's bare commit.
//!
//! `cargo run --release --manifest-path benches/peers/Cargo.toml` (a package outside the
//! workspace: see its Cargo.toml). `DATABASE_URL` (default: the local server, database
//! `test`); `PEERS_SCALE=N` multiplies the job counts. Prints Markdown tables.

mod apalis_jobs;
mod db;
mod durare_jobs;
mod ours;

use std::time::Duration;

use db::Schema;

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let scale: usize = std::env::var("PEERS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let one = 300 * scale;
    let many = 2000 * scale;
    let ks = [1usize, 2, 4];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");

    let schema = Schema::new("main");
    println!(
        "server: synchronous_commit = {}, fsync = {}, commit_delay = {}; {} jobs one at a time, {} queued",
        schema.show("synchronous_commit"),
        schema.show("fsync"),
        schema.show("commit_delay"),
        one,
        many
    );
    let bare = schema.bare_commit(1000);

    // One job at a time, one caller.
    let ours_one = ours::one_at_a_time(&schema, one);
    let durare = rt.block_on(durare_jobs::Engine::new("one"));
    let durare_one = rt.block_on(durare.one_at_a_time(one));
    println!("\n| one caller, one job at a time | per job | / bare commit |");
    println!("|---|---:|---:|");
    println!(
        "| bare commit (`BEGIN; INSERT; COMMIT`) | {} | 1.00 |",
        us(bare)
    );
    for (name, d) in [("routilux", ours_one), ("durare", durare_one)] {
        println!(
            "| {name} | {} | {:.2} |",
            us(d),
            d.as_secs_f64() / bare.as_secs_f64()
        );
    }

    // Throughput.
    println!("\n| jobs per second (k = callers, workers or concurrency) | k = 1 | k = 2 | k = 4 |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, f: &mut dyn FnMut(usize) -> f64| {
        let cells: Vec<String> = ks.iter().map(|&k| format!("{:.0}", f(k))).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("routilux: k callers, `run` one job at a time", &mut |k| {
        ours::callers(&Schema::new("callers"), k, many)
    });
    row(
        "routilux: queued with `start`, k worker threads",
        &mut |k| ours::queue(&Schema::new("queue"), k, many),
    );
    row(
        "routilux: the four steps as one step (one checkpoint), queued, k worker threads",
        &mut |k| ours::queue_whole(&Schema::new("whole"), k, many),
    );
    row(
        "durare: k tasks, start and await one job at a time",
        &mut |k| rt.block_on(durare.callers(k, many)),
    );
    let pool = rt.block_on(apalis_jobs::pool());
    let mut submits = Vec::new();
    row(
        "apalis: one job of four steps in memory, concurrency k",
        &mut |k| {
            let q = rt.block_on(apalis_jobs::jobs(&pool, k, many));
            submits.push(("apalis jobs (`push_bulk`)", k, q.submit));
            q.jobs_per_s
        },
    );
    row(
        "apalis-workflow: a task per step, concurrency k",
        &mut |k| {
            let q = rt.block_on(apalis_jobs::stepped(&pool, k, many));
            submits.push(("apalis stepped flows (`push` each)", k, q.submit));
            q.jobs_per_s
        },
    );
    println!("\nsubmitting {many} jobs (not in the figures above):");
    for (what, k, d) in submits {
        println!("- {what}, k = {k}: {:.0} ms", d.as_secs_f64() * 1e3);
    }
    schema.exec(&format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        durare.schema()
    ));
    // apalis keeps every queue in its own schema: this run's jobs and workers go.
    let mine = format!("peers-%-{}", std::process::id());
    schema.exec(&format!(
        "DELETE FROM apalis.jobs WHERE job_type LIKE '{mine}'; \
         DELETE FROM apalis.workers WHERE worker_type LIKE '{mine}'"
    ));
}
