//! Durable runs (issue #14): what a checkpointed 4-step flow costs against the bare commits of
//! the same database, on SQLite (a temp file) and PostgreSQL (a schema of its own, dropped at
//! the end); jobs per second with 1, 2 and 4 worker *processes* on one PostgreSQL; and how long
//! a run waits after its worker is SIGKILLed while holding its lease.
//!
//! A plain `harness = false` bench that prints Markdown tables (criterion's model of one
//! closure timed in one process does not fit worker processes, a server, or a kill). Worker
//! processes are this binary again, told their role by environment variables.
//!
//! Needs the `durable` feature of `routilux-benches` and a PostgreSQL server (`DATABASE_URL`,
//! or `postgres` on 127.0.0.1:5432, database `test`):
//!
//! `cargo bench -p routilux-benches --features durable --bench durable`
//!
//! `ROUTILUX_BENCH_SCALE` (default 1) multiplies the number of jobs and commits timed.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use routilux::durable::{
    Checkpoint, Completion, Lease, NewRun, PostgresStore, RunId, SqliteStore, Store, StoreError,
    StoredRun, WorkerOptions,
};
use routilux_benches::durable_jobs::{Chain4, STALL};

// ---------------------------------------------------------------------------------------------
// Counting what a job asks of its store: each `Store` method is one transaction (the trait's
// contract), so the counts are the job's transactions, by kind.

struct Counting<'s> {
    inner: &'s dyn Store,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    /// When the last `claim` that found a run returned.
    claimed_at: Mutex<Option<Instant>>,
}

impl<'s> Counting<'s> {
    fn new(inner: &'s dyn Store) -> Self {
        Counting {
            inner,
            calls: Mutex::new(BTreeMap::new()),
            claimed_at: Mutex::new(None),
        }
    }

    fn note(&self, method: &'static str) {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
    }

    fn take(&self) -> BTreeMap<&'static str, u64> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Store for Counting<'_> {
    fn create_run(&self, run: &NewRun<'_>) -> Result<(), StoreError> {
        self.note("create_run");
        self.inner.create_run(run)
    }
    fn load_run(&self, id: &RunId) -> Result<Option<StoredRun>, StoreError> {
        self.note("load_run");
        self.inner.load_run(id)
    }
    fn save_checkpoint(&self, id: &RunId, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
        self.note("save_checkpoint");
        self.inner.save_checkpoint(id, checkpoint)
    }
    fn mark_failing(&self, id: &RunId, failure: &str) -> Result<(), StoreError> {
        self.note("mark_failing");
        self.inner.mark_failing(id, failure)
    }
    fn halt(&self, id: &RunId, step: &str, reason: &str) -> Result<(), StoreError> {
        self.note("halt");
        self.inner.halt(id, step, reason)
    }
    fn unhalt(&self, id: &RunId) -> Result<bool, StoreError> {
        self.note("unhalt");
        self.inner.unhalt(id)
    }
    fn record_undo(&self, id: &RunId, step: &str) -> Result<(), StoreError> {
        self.note("record_undo");
        self.inner.record_undo(id, step)
    }
    fn complete(&self, id: &RunId, completion: &Completion) -> Result<bool, StoreError> {
        self.note("complete");
        self.inner.complete(id, completion)
    }
    fn unfinished(&self, flow: &str) -> Result<Vec<RunId>, StoreError> {
        self.note("unfinished");
        self.inner.unfinished(flow)
    }
    fn claim(
        &self,
        flow: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let claimed = self.inner.claim(flow, worker, lease);
        if let Ok(Some(_)) = claimed {
            *self.claimed_at.lock().unwrap() = Some(Instant::now());
        }
        self.note(match claimed {
            Ok(Some(_)) => "claim",
            _ => "claim (none)",
        });
        claimed
    }
    fn renew(&self, lease: &Lease, duration: Duration) -> Result<bool, StoreError> {
        self.note("renew");
        self.inner.renew(lease, duration)
    }
    fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.note("release");
        self.inner.release(lease)
    }
    fn complete_leased(&self, lease: &Lease, completion: &Completion) -> Result<bool, StoreError> {
        self.note("complete_leased");
        self.inner.complete_leased(lease, completion)
    }
}

/// The transactions that write (and so wait for a durable commit): every method but
/// `load_run` and `unfinished`, which read, and a `claim` that found no run (it wrote nothing).
fn writes(counts: &BTreeMap<&'static str, u64>) -> u64 {
    counts
        .iter()
        .filter(|(m, _)| !matches!(**m, "load_run" | "unfinished" | "claim (none)"))
        .map(|(_, n)| n)
        .sum()
}

fn describe(counts: &BTreeMap<&'static str, u64>, jobs: u64) -> String {
    counts
        .iter()
        .map(|(m, n)| format!("{m} {}", fmt_count(*n as f64 / jobs as f64)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fmt_count(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

// ---------------------------------------------------------------------------------------------
// Timing.

#[derive(Clone, Copy)]
struct Timed {
    n: usize,
    total: Duration,
    median: Duration,
    p99: Duration,
}

impl Timed {
    fn mean(&self) -> Duration {
        self.total / u32::try_from(self.n).unwrap()
    }
    fn per_second(&self) -> f64 {
        self.n as f64 / self.total.as_secs_f64()
    }
}

/// Times `n` calls of `f` one by one.
fn time_each(n: usize, mut f: impl FnMut(usize)) -> Timed {
    let mut each = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        f(i);
        each.push(t.elapsed());
    }
    let total = start.elapsed();
    each.sort_unstable();
    Timed {
        n,
        total,
        median: each[n / 2],
        p99: each[(n * 99 / 100).min(n - 1)],
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn scale() -> usize {
    std::env::var("ROUTILUX_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL.

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A store in a schema of its own, dropped with it.
struct Schema {
    store: PostgresStore,
    name: String,
}

impl Schema {
    fn new(tag: &str) -> Self {
        let name = format!("routilux_bench_{tag}_{}", RunId::new());
        let url = url();
        let store = PostgresStore::connect_in_schema(&url, &name).unwrap_or_else(|e| {
            panic!("this bench needs a PostgreSQL server; `{url}` (set DATABASE_URL): {e}")
        });
        Schema { store, name }
    }

    fn exec(&self, sql: &str) {
        self.store
            .with_client(|c| c.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn count(&self, sql: &str) -> i64 {
        self.store
            .with_client(|c| c.query_one(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }

    fn show(&self, setting: &str) -> String {
        self.store
            .with_client(|c| c.query_one(&format!("SHOW {setting}"), &[]))
            .unwrap()
            .get(0)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let _ = self.store.with_client(|c| c.batch_execute(&sql));
    }
}

// ---------------------------------------------------------------------------------------------
// Results of one database's single-connection part.

struct Single {
    db: &'static str,
    /// `BEGIN; INSERT; COMMIT` in one round trip, before and after the durable runs.
    bare: [Timed; 2],
    /// The same through the client's transaction API with a bound parameter.
    bare_tx: Timed,
    /// `Store::save_checkpoint` alone (one checkpoint, one transaction).
    checkpoint: Timed,
    /// `Chain4::durable(&store).run(x)`.
    durable: Timed,
    /// `Chain4::run(x)`, not durable.
    plain: Timed,
    /// One round trip to the server (`SELECT 1`), PostgreSQL only.
    round_trip: Option<Timed>,
    /// Store transactions per job, by method.
    counts: BTreeMap<&'static str, u64>,
    count_jobs: u64,
}

impl Single {
    /// The bare commit time the targets are measured against: the mean of the two runs of
    /// the one-round-trip `BEGIN; INSERT; COMMIT` (the faster of the two bare forms).
    fn bare_commit(&self) -> Duration {
        (self.bare[0].mean() + self.bare[1].mean()) / 2
    }
    fn commits_per_job(&self) -> u64 {
        writes(&self.counts) / self.count_jobs
    }
}

fn durable_part(
    db: &'static str,
    store: &dyn Store,
    n_bare: usize,
    n_jobs: usize,
    mut bare_once: impl FnMut(u64),
    mut bare_tx_once: impl FnMut(u64),
) -> Single {
    let runs = Chain4::durable(store);
    // Warm up: connection, tables' first pages, and (SQLite) a WAL file grown to its
    // steady size, so that the commits timed before and after the runs are alike.
    for i in 0..n_bare as u64 {
        bare_once(i);
    }
    for i in 0..50 {
        runs.run(i).unwrap();
    }
    let bare0 = time_each(n_bare, |i| bare_once(i as u64));
    let bare_tx = time_each(n_bare, |i| bare_tx_once(i as u64));
    let durable = time_each(n_jobs, |i| {
        assert_eq!(runs.run(i as u64).unwrap(), i as u64 + 4);
    });
    let id = runs.start(&0).unwrap();
    let checkpoint = time_each(n_bare, |i| {
        let checkpoint = Checkpoint {
            step: format!("s{i}"),
            value: "1".to_owned(),
            compensated: false,
        };
        assert!(store.save_checkpoint(&id, &checkpoint).unwrap());
    });
    let bare1 = time_each(n_bare, |i| bare_once(i as u64));
    let plain = time_each(100_000, |i| {
        black_box(Chain4::run(i as u64).unwrap());
    });
    let counting = Counting::new(store);
    let count_jobs = 10;
    for i in 0..count_jobs {
        Chain4::durable(&counting).run(i).unwrap();
    }
    Single {
        db,
        bare: [bare0, bare1],
        bare_tx,
        checkpoint,
        durable,
        plain,
        round_trip: None,
        counts: counting.take(),
        count_jobs,
    }
}

fn sqlite_part(dir: &Path, n_bare: usize, n_jobs: usize) -> Single {
    let path = dir.join("durable.db");
    let store = SqliteStore::open(&path).unwrap();
    // A second connection to the same file, set as the store sets its own (SqliteStore keeps
    // its connection private): WAL, `synchronous = FULL`.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         CREATE TABLE bare (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);",
    )
    .unwrap();
    let conn = std::cell::RefCell::new(conn);
    let single = durable_part(
        "SQLite",
        &store,
        n_bare,
        n_jobs,
        |_| {
            conn.borrow()
                .execute_batch("BEGIN; INSERT INTO bare (v) VALUES (1); COMMIT")
                .unwrap();
        },
        |i| {
            let mut conn = conn.borrow_mut();
            let tx = conn.transaction().unwrap();
            tx.execute(
                "INSERT INTO bare (v) VALUES (?1)",
                [i64::try_from(i).unwrap()],
            )
            .unwrap();
            tx.commit().unwrap();
        },
    );
    drop(store);
    single
}

fn postgres_part(schema: &Schema, n_bare: usize, n_jobs: usize) -> Single {
    schema.exec("CREATE TABLE bare (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)");
    let store = &schema.store;
    let mut single = durable_part(
        "PostgreSQL",
        store,
        n_bare,
        n_jobs,
        |_| {
            store
                .with_client(|c| c.batch_execute("BEGIN; INSERT INTO bare (v) VALUES (1); COMMIT"))
                .unwrap();
        },
        |i| {
            let v = i64::try_from(i).unwrap();
            store
                .with_client(|c| {
                    let mut tx = c.transaction()?;
                    tx.execute("INSERT INTO bare (v) VALUES ($1)", &[&v])?;
                    tx.commit()
                })
                .unwrap();
        },
    );
    single.round_trip = Some(time_each(n_bare, |_| {
        store.with_client(|c| c.batch_execute("SELECT 1")).unwrap();
    }));
    single
}

// ---------------------------------------------------------------------------------------------
// Worker processes.

const ROLE: &str = "ROUTILUX_BENCH_ROLE";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// A child process: `worker` (waits for the go, runs every waiting run, prints how many it
/// completed) or `victim` (claims one run and parks in its step `c`, until it is killed).
fn child(role: &str) {
    let schema = env("ROUTILUX_BENCH_SCHEMA");
    let name = env("ROUTILUX_BENCH_NAME");
    let lease = Duration::from_millis(env("ROUTILUX_BENCH_LEASE_MS").parse().unwrap());
    let store = PostgresStore::connect_in_schema(&url(), &schema).unwrap();
    let worker = Chain4::durable(&store).worker(
        WorkerOptions::new()
            .name(&name)
            .lease(lease)
            .poll(Duration::from_millis(5)),
    );
    match role {
        "victim" => {
            STALL.store(true, Ordering::Relaxed);
            let _ = worker.work_once();
            unreachable!("the victim parks in step `c`");
        }
        "worker" => {
            store
                .with_client(|c| c.execute("INSERT INTO bench_ready VALUES ($1)", &[&name]))
                .unwrap();
            let count =
                |sql: &str| -> i64 { store.with_client(|c| c.query_one(sql, &[])).unwrap().get(0) };
            while count("SELECT count(*) FROM bench_go") == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            let runs = Chain4::durable(&store);
            let mut completed = 0;
            loop {
                let report = worker.run_pending().unwrap();
                assert_eq!((report.failed, report.left), (0, 0), "{report:?}");
                completed += report.completed;
                if runs.unfinished().unwrap().is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            println!("completed {completed}");
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn(role: &str, schema: &str, name: &str, lease_ms: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .env("ROUTILUX_BENCH_SCHEMA", schema)
        .env("ROUTILUX_BENCH_NAME", name)
        .env("ROUTILUX_BENCH_LEASE_MS", lease_ms.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Children, killed if the bench panics.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "waited 2 minutes for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

struct Shared {
    workers: usize,
    jobs: usize,
    submit: Duration,
    elapsed: Duration,
    by_worker: Vec<u64>,
}

/// `jobs` jobs submitted with `start`, then run by `workers` worker processes.
fn workers_part(workers: usize, jobs: usize) -> Shared {
    let schema = Schema::new("workers");
    schema.exec("CREATE TABLE bench_ready (name TEXT); CREATE TABLE bench_go (at TIMESTAMPTZ)");
    let runs = Chain4::durable(&schema.store);
    let start = Instant::now();
    for i in 0..jobs {
        runs.start(&(i as u64)).unwrap();
    }
    let submit = start.elapsed();
    let mut children = Children(
        (0..workers)
            .map(|i| spawn("worker", &schema.name, &format!("w{i}"), 30_000))
            .collect(),
    );
    let want = i64::try_from(workers).unwrap();
    wait_until("the workers to connect", || {
        schema.count("SELECT count(*) FROM bench_ready") >= want
    });
    schema.exec("INSERT INTO bench_go VALUES (now())");
    let go = Instant::now();
    let mut by_worker = Vec::new();
    for child in &mut children.0 {
        let status = child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(status.success(), "a worker failed: {out}");
        let n = out
            .split("completed ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no report: {out}"));
        by_worker.push(n);
    }
    let elapsed = go.elapsed();
    children.0.clear();
    let done = schema.count("SELECT count(*) FROM routilux_completions");
    assert_eq!(
        done,
        i64::try_from(jobs).unwrap(),
        "every job completed once"
    );
    assert_eq!(by_worker.iter().sum::<u64>(), jobs as u64);
    Shared {
        workers,
        jobs,
        submit,
        elapsed,
        by_worker,
    }
}

/// Transactions per job of a worker: 10 jobs started, then run by one worker in this
/// process, through [`Counting`].
fn worker_counts() -> (BTreeMap<&'static str, u64>, u64) {
    let schema = Schema::new("count");
    let counting = Counting::new(&schema.store);
    let jobs = 10;
    for i in 0..jobs {
        Chain4::durable(&counting).start(&i).unwrap();
    }
    let worker = Chain4::durable(&counting).worker(WorkerOptions::new().name("counted"));
    let report = worker.run_pending().unwrap();
    assert_eq!(report.completed, jobs);
    (counting.take(), jobs)
}

struct Recovery {
    delay: Duration,
    /// Lease left at the kill (by the server's clock).
    lease_left: Duration,
    /// From the kill until the heir's claim returned the run.
    claimed: Duration,
    /// From the kill until the heir's `work_once` returned the finished run.
    recovered: Duration,
}

/// A victim process claims a run with lease `lease`, stores the checkpoints of `a` and `b`,
/// and parks in `c`; `delay` after the second checkpoint it is SIGKILLed; a worker in this
/// process, trying `work_once` every 10 ms, takes the run over and finishes it.
fn recovery_part(lease: Duration, delays: &[Duration]) -> Vec<Recovery> {
    let schema = Schema::new("recovery");
    let runs = Chain4::durable(&schema.store);
    let counting = Counting::new(&schema.store);
    let heir = Chain4::durable(&counting).worker(WorkerOptions::new().name("heir").lease(lease));
    let lease_ms = u64::try_from(lease.as_millis()).unwrap();
    delays
        .iter()
        .enumerate()
        .map(|(i, &delay)| {
            let id = runs.start(&(i as u64)).unwrap();
            let mut victim = Children(vec![spawn(
                "victim",
                &schema.name,
                &format!("victim{i}"),
                lease_ms,
            )]);
            let stored = format!(
                "SELECT count(*) FROM routilux_checkpoints WHERE run_id = '{}'",
                id.as_str()
            );
            wait_until("the victim's two checkpoints", || {
                schema.count(&stored) == 2
            });
            std::thread::sleep(delay);
            victim.0[0].kill().unwrap();
            let killed = Instant::now();
            victim.0[0].wait().unwrap();
            victim.0.clear();
            let left: f64 = schema
                .store
                .with_client(|c| {
                    c.query_one(
                        "SELECT GREATEST(EXTRACT(EPOCH FROM lease_until - now()), 0)::float8
                         FROM routilux_runs WHERE id = $1",
                        &[&id.as_str()],
                    )
                })
                .unwrap()
                .get(0);
            let worked = loop {
                if let Some(worked) = heir.work_once().unwrap() {
                    break worked;
                }
                assert!(killed.elapsed() < Duration::from_secs(60), "no takeover");
                std::thread::sleep(Duration::from_millis(10));
            };
            let recovered = killed.elapsed();
            let claimed = counting.claimed_at.lock().unwrap().expect("claimed") - killed;
            assert_eq!(worked.run, id);
            assert!(worked.completed);
            assert_eq!(worked.result.unwrap(), i as u64 + 4);
            Recovery {
                delay,
                lease_left: Duration::from_secs_f64(left),
                claimed,
                recovered,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Report.

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("routilux-bench-durable-{}", RunId::new()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn print_single(s: &Single) {
    let bare = s.bare_commit();
    let commits = s.commits_per_job();
    let job = s.durable.mean();
    let budget = bare * u32::try_from(commits).unwrap();
    let job_rate = s.durable.per_second();
    let bound = 1.0 / bare.as_secs_f64() / commits as f64;
    println!("### {}\n", s.db);
    println!("| measure | mean | median | p99 | per second |");
    println!("|---|---:|---:|---:|---:|");
    let row = |name: &str, t: &Timed| {
        println!(
            "| {name} ({} times) | {:.1} µs | {:.1} µs | {:.1} µs | {:.0} |",
            t.n,
            us(t.mean()),
            us(t.median),
            us(t.p99),
            t.per_second()
        );
    };
    row(
        "bare commit `BEGIN; INSERT; COMMIT`, one round trip (before)",
        &s.bare[0],
    );
    row("bare commit, the same (after)", &s.bare[1]);
    row(
        "bare commit, client transaction + bound `INSERT`",
        &s.bare_tx,
    );
    row(
        "`Store::save_checkpoint` alone (one checkpoint)",
        &s.checkpoint,
    );
    row(
        "durable 4-step job, `Chain4::durable(&store).run(x)`",
        &s.durable,
    );
    row("the same flow not durable, `Chain4::run(x)`", &s.plain);
    if let Some(rt) = &s.round_trip {
        row("one round trip, `SELECT 1`", rt);
    }
    println!();
    println!(
        "Store transactions per durable job (counted through a `Store` wrapper over {} jobs): \
         {}; of them writing commits: **{commits}**.",
        s.count_jobs,
        describe(&s.counts, s.count_jobs)
    );
    println!(
        "Per step: {:.1} µs of durable job ({:.1} µs beyond the plain run); one checkpoint alone: {:.1} µs.",
        us(job) / 4.0,
        (us(job) - us(s.plain.mean())) / 4.0,
        us(s.checkpoint.mean())
    );
    println!(
        "Target 1, job ≤ 2 × {commits} bare commits = {:.1} µs: job {:.1} µs = {:.2} × the bare commits: **{}**.",
        2.0 * us(budget),
        us(job),
        job.as_secs_f64() / budget.as_secs_f64(),
        if job <= budget * 2 { "met" } else { "missed" }
    );
    println!(
        "Target 2, jobs/s ≥ 50% of bare rate / {commits} = {:.0}: {job_rate:.0} jobs/s = {:.0}% of {bound:.0}: **{}**.\n",
        bound / 2.0,
        100.0 * job_rate / bound,
        if job_rate >= bound / 2.0 {
            "met"
        } else {
            "missed"
        }
    );
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        child(&role);
        return;
    }
    let scale = scale();
    let n_bare = 1000 * scale;
    let n_jobs = 500 * scale;
    let n_queue = 2000 * scale;

    let schema = Schema::new("single");
    let version = schema.show("server_version");
    let settings: Vec<String> = [
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "commit_delay",
        "full_page_writes",
    ]
    .iter()
    .map(|s| format!("`{s}` = {}", schema.show(s)))
    .collect();
    println!(
        "## Durable runs ({} profile, {} CPUs, rayon threads {})\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        rayon::current_num_threads()
    );
    println!(
        "PostgreSQL {version} at `{}`: {}. SQLite {} (bundled): WAL, `synchronous = FULL`, \
         a file in {}.\n",
        url(),
        settings.join(", "),
        rusqlite::version(),
        std::env::temp_dir().display()
    );

    let dir = temp_dir();
    let sqlite = sqlite_part(&dir, n_bare, n_jobs);
    let _ = std::fs::remove_dir_all(&dir);
    print_single(&sqlite);
    let postgres = postgres_part(&schema, n_bare, n_jobs);
    drop(schema);
    print_single(&postgres);

    let (counts, counted) = worker_counts();
    // `start` (`create_run`) is not timed below: the jobs are submitted before the workers
    // start.
    let worker_commits = (writes(&counts) - counts["create_run"]) / counted;
    println!("### Workers on one PostgreSQL (separate processes)\n");
    println!(
        "{n_queue} jobs of `Chain4` submitted with `start` (one connection, not timed in \
         jobs/s), then run by worker processes (this binary; connected and waiting before the \
         clock starts; 30 s leases; `run_pending()` until no run is unfinished). Transactions \
         per job, `start` included (counted over {counted} jobs, one `run_pending()`): {}; \
         writing commits in the timed part (the worker's): **{worker_commits}**, plus 1 for \
         `start` before it.\n",
        describe(&counts, counted)
    );
    let bare = postgres.bare_commit();
    let bound = 1.0 / bare.as_secs_f64() / worker_commits as f64;
    println!(
        "| workers | jobs | submit (jobs/s) | run time | jobs/s | vs bare rate / {worker_commits} commits ({bound:.0}/s) | jobs per worker |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---|");
    for workers in [1, 2, 4] {
        let shared = workers_part(workers, n_queue);
        let rate = shared.jobs as f64 / shared.elapsed.as_secs_f64();
        println!(
            "| {} | {} | {:.0} | {:.2} s | {rate:.0} | {:.0}% | {:?} |",
            shared.workers,
            shared.jobs,
            shared.jobs as f64 / shared.submit.as_secs_f64(),
            shared.elapsed.as_secs_f64(),
            100.0 * rate / bound,
            shared.by_worker
        );
    }
    println!();

    let lease = Duration::from_secs(1);
    let delays: Vec<Duration> = (0..6).map(|i| Duration::from_millis(i * 100)).collect();
    let recoveries = recovery_part(lease, &delays);
    println!(
        "### Recovery after SIGKILL (lease {} ms, renewed every third)\n",
        lease.as_millis()
    );
    println!(
        "A worker process claims a run, stores the checkpoints of steps `a` and `b` and parks in \
         `c`; it is SIGKILLed a delay after the second checkpoint; a worker in the bench process \
         tries `work_once` every 10 ms, takes the run over when the lease has expired, runs `c` \
         and `d` and writes the completion record.\n"
    );
    println!(
        "| kill after checkpoint `b` | lease left at the kill | kill → claimed by another worker | kill → run completed by it |"
    );
    println!("|---:|---:|---:|---:|");
    for r in &recoveries {
        println!(
            "| {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            ms(r.delay),
            ms(r.lease_left),
            ms(r.claimed),
            ms(r.recovered)
        );
    }
    let mut times: Vec<Duration> = recoveries.iter().map(|r| r.recovered).collect();
    times.sort_unstable();
    let excess: Vec<f64> = recoveries
        .iter()
        .map(|r| ms(r.recovered) - ms(r.lease_left))
        .collect();
    println!(
        "\nRecovery: median {:.0} ms (min {:.0}, max {:.0}); beyond the lease left: {:.0}–{:.0} ms.",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        excess.iter().copied().fold(f64::INFINITY, f64::min),
        excess.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
}
