//! Durable workers that wait for work (issue #14, "bounded polling, measured"): how long a run
//! submitted to an idle worker waits before it is finished, for several poll intervals.
//!
//! A worker thread (its own PostgreSQL connection) serves a 4-step flow with
//! `serve_until`, looking for runs every `poll` when none waits; the bench's thread submits
//! runs one at a time with `start`, each after the previous one finished plus a pseudo-random
//! pause (so that submissions fall anywhere in the worker's sleep). The latency of a run is
//! read from the server's own clock: its completion record's `created_at` minus the run's
//! (both `now()` of their transactions), so the bench's polling for the result adds nothing.
//!
//! `cargo bench -p routilux-benches --features durable --bench durable_idle` (needs a server:
//! `DATABASE_URL`, or `postgres` on 127.0.0.1:5432, database `test`).

use std::time::Duration;

use routilux::CancelToken;
use routilux::durable::{PostgresStore, RunId, WorkerOptions};
use routilux_benches::durable_jobs::Chain4;

/// Runs submitted per poll interval.
const RUNS: u64 = 40;

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

fn connect(schema: &str) -> PostgresStore {
    let url = url();
    PostgresStore::connect_in_schema(&url, schema).unwrap_or_else(|e| {
        panic!("this bench needs a PostgreSQL server; `{url}` (set DATABASE_URL): {e}")
    })
}

/// Submit-to-finished latencies (ms, server clock) of [`RUNS`] runs with an idle worker
/// polling every `poll`.
fn latencies(poll: Duration) -> Vec<f64> {
    let schema = format!("routilux_bench_idle_{}", RunId::new());
    let store = connect(&schema);
    let stop = CancelToken::new();
    let latencies = std::thread::scope(|s| {
        let worker_store = connect(&schema);
        let stop = &stop;
        s.spawn(move || {
            let worker =
                Chain4::durable(&worker_store).worker(WorkerOptions::new().name("idle").poll(poll));
            worker.serve_until(stop).expect("the worker serves");
        });
        let runs = Chain4::durable(&store);
        let mut pause = 0x9e37_79b9_7f4a_7c15_u64;
        for x in 0..RUNS {
            // A pause of 0 to 1.5 polls (xorshift), so that runs arrive at any moment of the
            // worker's sleep.
            pause ^= pause << 13;
            pause ^= pause >> 7;
            pause ^= pause << 17;
            let micros = u64::try_from(poll.as_micros()).unwrap_or(u64::MAX);
            std::thread::sleep(Duration::from_micros(pause % (micros * 3 / 2 + 1)));
            let id = runs.start(&x).expect("submitted");
            while runs.output(&id).expect("read back").is_none() {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        stop.cancel();
        let rows = store
            .with_client(|c| {
                c.query(
                    "SELECT EXTRACT(EPOCH FROM (c.created_at - r.created_at))::float8 * 1000.0
                     FROM routilux_runs r JOIN routilux_completions c ON c.run_id = r.id",
                    &[],
                )
            })
            .expect("latencies");
        rows.iter()
            .map(|r| r.get::<_, f64>(0))
            .collect::<Vec<f64>>()
    });
    let drop_schema = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    store
        .with_client(|c| c.batch_execute(&drop_schema))
        .expect("drop the bench's schema");
    latencies
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    println!("## Idle worker: submit → finished, PostgreSQL (server clock), {RUNS} runs each\n");
    println!("| poll | p50 | p90 | max | mean |\n|---:|---:|---:|---:|---:|");
    for poll_ms in [5, 20, 100] {
        let mut l = latencies(Duration::from_millis(poll_ms));
        assert_eq!(
            l.len(),
            usize::try_from(RUNS).unwrap(),
            "every run finished"
        );
        l.sort_by(f64::total_cmp);
        let at = |q: f64| l[((l.len() - 1) as f64 * q).round() as usize];
        #[allow(clippy::cast_precision_loss)]
        let mean = l.iter().sum::<f64>() / l.len() as f64;
        println!(
            "| {poll_ms} ms | {:.1} ms | {:.1} ms | {:.1} ms | {mean:.1} ms |",
            at(0.5),
            at(0.9),
            l[l.len() - 1]
        );
    }
}
