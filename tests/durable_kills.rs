//! Workers killed (SIGKILL) at random moments: worker processes (this test binary, re-run on
//! its `kills_child` test) take turns on the runs of one PostgreSQL schema, each killed a
//! random delay (0–40 ms) after it started working, until a last worker finishes what is left. A third of the runs fail at
//! their last step and undo the three steps before it. Then (`workers_support::sagas::check`)
//! every run ended once, as its job says; no step whose checkpoint was stored ran again; a
//! failing run undid each completed step, once per undo record, and only a killed worker's
//! undo ran again.
//!
//! The delays come from a seed (printed; `ROUTILUX_KILL_SEED` replays one). Needs a server:
//! `cargo test -p routilux-suite --features postgres --test durable_kills`

#[path = "durable_support/mod.rs"]
mod durable_support;
#[path = "workers_support/mod.rs"]
mod workers_support;

use std::time::{Duration, Instant};

use durable_support::pg::{postgres, url};
use routilux::durable::{PostgresStore, RunId, WorkerOptions};
use workers_support::process::{self, Children, env, finish, wait_for};
use workers_support::sagas::{self, Sagas};
use workers_support::{Job, log_path, set_worker};

/// Runs in the schema.
const JOBS: u64 = 300;
/// Workers killed one after the other before the last one.
const KILLS: usize = 16;
/// The workers' lease: a killed worker's run waits this long for the next worker.
const LEASE_MS: &str = "300";

/// The child process: worker `ROUTILUX_WORKER_NAME` on schema `ROUTILUX_WORKER_SCHEMA` runs
/// waiting runs until every run is finished, and prints how many it ended. Does nothing when
/// run on its own.
#[test]
#[ignore = "the child process of the kill test, run by it"]
fn kills_child() {
    let Ok(schema) = std::env::var("ROUTILUX_WORKER_SCHEMA") else {
        return;
    };
    let name = env("ROUTILUX_WORKER_NAME");
    set_worker(&name, &log_path(&env("ROUTILUX_WORKER_TAG"), &name));
    let store = PostgresStore::connect_in_schema(&url(), &schema).unwrap();
    let lease = Duration::from_millis(env("ROUTILUX_WORKER_LEASE_MS").parse().unwrap());
    let runs = Sagas::durable(&store);
    let worker = Sagas::durable(&store).worker(
        WorkerOptions::new()
            .name(&name)
            .lease(lease)
            .poll(Duration::from_millis(20)),
    );
    let mut ended = 0;
    loop {
        let report = worker.run_pending().unwrap();
        assert_eq!(report.left, 0, "{report:?}");
        ended += report.completed;
        if runs.unfinished().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("worker {name} completed {ended}");
}

/// A small deterministic generator (xorshift64*), so that a seed replays the same delays.
struct Delays(u64);

impl Delays {
    /// A delay from 0 to 40 ms, in steps of 100 µs.
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        Duration::from_micros(100 * (r % 401))
    }
}

#[test]
fn workers_killed_at_random_moments_leave_every_run_ended_once() {
    let store = postgres();
    let tag = RunId::new().to_string();
    let seed = std::env::var("ROUTILUX_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            u64::from(nanos) | 1
        });
    eprintln!("ROUTILUX_KILL_SEED={seed}");
    let mut delays = Delays(seed);
    let runs = Sagas::durable(&*store);
    let ids: Vec<(RunId, u64)> = (0..JOBS)
        .map(|n| (runs.start(&Job { n }).unwrap(), n))
        .collect();
    let started = Instant::now();
    let lease = [("ROUTILUX_WORKER_LEASE_MS", LEASE_MS)];
    let mut names = Vec::new();
    let mut killed = Vec::new();
    for round in 0..KILLS {
        let name = format!("killed{round}");
        let child = process::spawn("kills_child", &store.schema, &tag, &name, &lease);
        let mut children = Children(vec![(name.clone(), child)]);
        // Killed once it works (it logged an execution), after a random delay.
        let log = log_path(&tag, &name);
        wait_for(&format!("{name} to start working"), || {
            std::fs::metadata(&log).is_ok_and(|m| m.len() > 0)
        });
        std::thread::sleep(delays.next());
        let (_, child) = &mut children.0[0];
        child.kill().unwrap();
        child.wait().unwrap();
        names.push(name.clone());
        killed.push(name);
    }
    let unfinished = runs.unfinished().unwrap().len();
    assert!(
        unfinished > 0,
        "every run ended before the last kill: raise JOBS"
    );
    let last = "last".to_owned();
    let mut children = Children(vec![(
        last.clone(),
        process::spawn("kills_child", &store.schema, &tag, &last, &lease),
    )]);
    let (_, child) = &mut children.0[0];
    let ended_by_last = finish(&last, child);
    names.push(last);
    let again = sagas::check(&store, &tag, &names, &ids, &killed);
    eprintln!(
        "{JOBS} runs, {KILLS} workers killed at random moments: {unfinished} runs left for the \
         last worker, which ended {ended_by_last}; steps and undos run again: {again}; \
         all done in {:?}",
        started.elapsed()
    );
    for name in &names {
        let _ = std::fs::remove_file(log_path(&tag, name));
    }
}
