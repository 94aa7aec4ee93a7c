//! Distributed workers on PostgreSQL, with real processes: worker processes (this test
//! binary, re-run on its `worker_child` test) share the runs of one database schema.
//!
//! - 4 workers process a queue of jobs of a 4-step flow: none is lost, none completed twice
//!   (each completion record names the worker that wrote it, and those counts match what
//!   each worker reports), every worker completes some, every step runs once.
//! - The same with one worker killed (SIGKILL) mid-way: every job still completes exactly
//!   once, and no step whose checkpoint was stored runs again (each step's result names the
//!   worker that computed it, so a stored checkpoint tells whose execution it kept).
//! - A worker that stops renewing its lease (a failpoint parks it) loses its run to another
//!   worker, which finishes it from the checkpoints.
//!
//! Needs a server, as `durable_postgres`:
//! `cargo test -p routilux-suite --features postgres --test durable_workers`

#[path = "durable_support/mod.rs"]
mod durable_support;
#[path = "workers_support/mod.rs"]
mod workers_support;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use durable_support::pg::{postgres, url};
use routilux::durable::{PostgresStore, RunId, WorkerOptions};
use workers_support::process::{self, Children, env, finish, wait_for};
use workers_support::{Jobs, STEPS, expected, log_path, set_worker};

/// How many jobs the 4 workers share (each job: 4 steps, 4 checkpoints, 1 completion).
const JOBS: u64 = 10_000;
/// The two tests of [`JOBS`] jobs take turns (each loads both cores on its own).
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The failpoints at which a child parks its thread for good (`ROUTILUX_WORKER_STALL`).
static STALL: OnceLock<Vec<String>> = OnceLock::new();

fn stall_point(name: &str) {
    if STALL
        .get()
        .is_some_and(|points| points.iter().any(|p| p == name))
    {
        loop {
            std::thread::park();
        }
    }
}

/// The child process: worker `ROUTILUX_WORKER_NAME` on schema `ROUTILUX_WORKER_SCHEMA`. It
/// waits until `ROUTILUX_WORKER_COUNT` workers are ready (if set), runs waiting runs until
/// every run of the flow is finished, and prints how many completion records it wrote.
/// Does nothing when run on its own.
#[test]
#[ignore = "the child process of the worker tests, run by them"]
fn worker_child() {
    let Ok(schema) = std::env::var("ROUTILUX_WORKER_SCHEMA") else {
        return;
    };
    let name = env("ROUTILUX_WORKER_NAME");
    set_worker(&name, &log_path(&env("ROUTILUX_WORKER_TAG"), &name));
    let stall = std::env::var("ROUTILUX_WORKER_STALL").unwrap_or_default();
    STALL.get_or_init(|| stall.split(',').map(str::to_owned).collect());
    routilux::durable::install_failpoint_hook(stall_point);
    let store = PostgresStore::connect_in_schema(&url(), &schema).unwrap();
    if let Ok(count) = std::env::var("ROUTILUX_WORKER_COUNT") {
        let count: i64 = count.parse().unwrap();
        store
            .with_client(|c| c.execute("INSERT INTO worker_ready VALUES ($1)", &[&name]))
            .unwrap();
        wait_for("the other workers", || {
            let row = store.with_client(|c| c.query_one("SELECT count(*) FROM worker_ready", &[]));
            row.unwrap().get::<_, i64>(0) >= count
        });
    }
    let lease = Duration::from_millis(env("ROUTILUX_WORKER_LEASE_MS").parse().unwrap());
    let runs = Jobs::durable(&store);
    let worker = Jobs::durable(&store).worker(
        WorkerOptions::new()
            .name(&name)
            .lease(lease)
            .poll(Duration::from_millis(20)),
    );
    let mut completed = 0;
    loop {
        let report = worker.run_pending().unwrap();
        assert_eq!((report.failed, report.left), (0, 0), "{report:?}");
        completed += report.completed;
        // The runs still unfinished are leased by others (or by a dead worker, until its
        // lease expires): look again.
        if runs.unfinished().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("worker {name} completed {completed}");
}

fn spawn(schema: &str, tag: &str, name: &str, extra: &[(&str, &str)]) -> std::process::Child {
    process::spawn("worker_child", schema, tag, name, extra)
}

/// Completion records by worker.
fn completions_by_worker(store: &PostgresStore) -> HashMap<String, u64> {
    let rows = store.with_client(|c| {
        c.query(
            "SELECT COALESCE(worker, ''), count(*) FROM routilux_completions GROUP BY 1",
            &[],
        )
    });
    rows.unwrap()
        .iter()
        .map(|r| (r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap()))
        .collect()
}

#[test]
fn four_workers_share_the_queue() {
    share(false);
}

#[test]
fn a_killed_workers_runs_complete_once() {
    share(true);
}

/// 4 workers share [`JOBS`] jobs; with `kill`, the first is killed once it has completed
/// some and a quarter of the jobs are done.
fn share(kill: bool) {
    let _turn = HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let store = postgres();
    let tag = RunId::new().to_string();
    store
        .with_client(|c| c.batch_execute("CREATE TABLE worker_ready (name TEXT)"))
        .unwrap();
    let runs = Jobs::durable(&*store);
    let started = Instant::now();
    let ids: Vec<(RunId, u64)> = (0..JOBS)
        .map(|n| (runs.start(&workers_support::Job { n }).unwrap(), n))
        .collect();
    let submitted = started.elapsed();
    let names: Vec<String> = (0..4).map(|i| format!("w{i}")).collect();
    let mut children = Children(
        names
            .iter()
            .map(|name| {
                let child = spawn(&store.schema, &tag, name, &[("ROUTILUX_WORKER_COUNT", "4")]);
                (name.clone(), child)
            })
            .collect(),
    );
    let mut killed = None;
    if kill {
        let victim = &names[0];
        wait_for("the first worker to complete some", || {
            let done = completions_by_worker(&store);
            let total: u64 = done.values().sum();
            assert!(total < JOBS, "every job was done before the kill");
            done.get(victim).is_some_and(|&n| n > 0) && total >= JOBS / 4
        });
        let (_, child) = &mut children.0[0];
        child.kill().unwrap();
        child.wait().unwrap();
        killed = Some(victim.clone());
    }
    let mut reports = HashMap::new();
    for (name, child) in &mut children.0 {
        if killed.as_ref() != Some(name) {
            reports.insert(name.clone(), finish(name, child));
        }
    }
    let elapsed = started.elapsed();
    let again =
        workers_support::checks::check(&store, &tag, &names, &ids, killed.as_deref(), &reports);
    eprintln!(
        "{JOBS} jobs, 4 workers{}: submitted in {submitted:?}, all done in {elapsed:?}; \
         completions by worker {:?}; steps run again after the kill: {again}",
        if kill { ", one killed" } else { "" },
        completions_by_worker(&store),
    );
    for name in &names {
        let _ = std::fs::remove_file(log_path(&tag, name));
    }
}

/// A worker that stops renewing its lease loses its run once the lease expires; another
/// worker claims it and finishes it from the checkpoints. Twice: a worker parked right after
/// its claim (at the `worker.claimed` failpoint: no step ran), and one whose renewals stop
/// (parked at `lease.renew`) while its run is parked after the checkpoint of step `b`.
#[test]
fn a_stalled_worker_loses_its_run() {
    let store = postgres();
    let tag = RunId::new().to_string();
    set_worker("heir", &log_path(&tag, "heir"));
    let cases = [("worker.claimed", 0), ("lease.renew,checkpoint.after:b", 2)];
    for (n, (stall, stalled_steps)) in (7..).zip(cases) {
        let name = format!("stalled{n}");
        let id = stalled_run(&store, &tag, &name, n, stall, stalled_steps);
        let names = [name.clone(), "heir".to_owned()];
        let executions = workers_support::executions(&tag, &names);
        for (i, step) in STEPS.iter().enumerate() {
            let worker = if i < stalled_steps { &name } else { "heir" };
            let key = (id.to_string(), (*step).to_owned());
            assert_eq!(
                executions[&key],
                [worker],
                "{stall}: executions of `{step}`"
            );
        }
    }
    for name in ["stalled7", "stalled8", "heir"] {
        let _ = std::fs::remove_file(log_path(&tag, name));
    }
}

/// Job `n`, claimed by worker `name` that stalls at the failpoints `stall` after running
/// `stalled_steps` steps, then taken over by worker `heir` in this process: its run id.
fn stalled_run(
    store: &PostgresStore,
    tag: &str,
    name: &str,
    n: u64,
    stall: &str,
    stalled_steps: usize,
) -> RunId {
    let runs = Jobs::durable(store);
    let id = runs.start(&workers_support::Job { n }).unwrap();
    let schema = store
        .with_client(|c| c.query_one("SELECT current_schema()", &[]))
        .unwrap()
        .get::<_, String>(0);
    let child = spawn(
        &schema,
        tag,
        name,
        &[
            ("ROUTILUX_WORKER_STALL", stall),
            ("ROUTILUX_WORKER_LEASE_MS", "1000"),
        ],
    );
    let _children = Children(vec![(name.to_owned(), child)]);
    wait_for("the stalled worker to claim its run and stall", || {
        let row = store.with_client(|c| {
            c.query_one(
                "SELECT r.claims, (SELECT count(*) FROM routilux_checkpoints k
                                   WHERE k.run_id = r.id)
                 FROM routilux_runs r WHERE r.id = $1",
                &[&id.as_str()],
            )
        });
        let row = row.unwrap();
        let stored = usize::try_from(row.get::<_, i64>(1)).unwrap();
        row.get::<_, i64>(0) == 1 && stored == stalled_steps
    });

    let heir = Jobs::durable(store).worker(WorkerOptions::new().name("heir"));
    let mut worked = None;
    wait_for("the lease to expire", || {
        worked = heir.work_once().unwrap();
        worked.is_some()
    });
    let worked = worked.unwrap();
    assert_eq!(worked.run, id);
    assert!(worked.completed);
    let stamp = worked.result.unwrap();
    assert_eq!((stamp.value, stamp.worker.as_str()), (expected(n), "heir"));
    assert_eq!(runs.output(&id).unwrap(), Some(stamp));
    let row = store.with_client(|c| {
        c.query_one(
            "SELECT r.claims, c.worker FROM routilux_runs r
             JOIN routilux_completions c ON c.run_id = r.id WHERE r.id = $1",
            &[&id.as_str()],
        )
    });
    let row = row.unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, String>(1)),
        (2, "heir".to_owned())
    );
    id
}
