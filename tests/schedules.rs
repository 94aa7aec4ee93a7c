//! Every schedule, on the default pool and on a caller's pool: results, exactly-once
//! execution, early drops of results, and failure semantics.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use routilux::{ErrorKind, FlowError, RunOptions, Schedule, StepPanicked, flow, routine};

const SCHEDULES: [Schedule; 3] = [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow];

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

/// Every option combination a test should pass under.
fn all_options(pool: &rayon::ThreadPool) -> Vec<RunOptions<'_>> {
    SCHEDULES
        .iter()
        .flat_map(|&s| {
            [
                RunOptions::from(s),
                RunOptions::from(s).pool(pool),
                RunOptions::from(s).pool(pool),
            ]
        })
        .collect()
}

/// A log shared by the steps of one run.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn position(&self, event: &str) -> usize {
        self.events()
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("no `{event}` in {:?}", self.events()))
    }
}

/// A value that records its own drop.
struct Tracked {
    name: &'static str,
    log: Log,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
}

fn make(log: &Log, name: &'static str) -> Tracked {
    log.push(format!("run {name}"));
    Tracked {
        name,
        log: log.clone(),
    }
}

#[routine]
fn source_a(log: &Log) -> Tracked {
    make(log, "a")
}

#[routine]
fn left(log: &Log, _a: &Tracked) -> Tracked {
    make(log, "b")
}

#[routine]
fn right(log: &Log, _a: &Tracked) -> Tracked {
    make(log, "c")
}

#[routine]
fn join_d(log: &Log, _b: &Tracked, _c: &Tracked) -> Tracked {
    make(log, "d")
}

#[routine]
fn unused_e(log: &Log) -> Tracked {
    make(log, "e")
}

flow! {
    flow Diamond {
        input log: Log;
        step a = source_a(log);
        step b = left(log, a);
        step c = right(log, a);
        step d = join_d(log, b, c);
        step e = unused_e(log);
        return d;
    }
}

#[test]
fn results_are_dropped_after_their_last_consumer_and_returned_ones_are_kept() {
    let pool = pool(3);
    for options in all_options(&pool) {
        let log = Log::default();
        let d = Diamond::run_with(options, log.clone()).expect("the run succeeds");
        // `a` goes once both of its consumers finished, before `d` starts.
        let drop_a = log.position("drop a");
        assert!(log.position("run b") < drop_a && log.position("run c") < drop_a);
        assert!(drop_a < log.position("run d"), "{:?}", log.events());
        // `b` and `c` go once `d` finished; `e`, read by nobody, right after it ran.
        assert!(log.position("run d") < log.position("drop b"));
        assert!(log.position("run d") < log.position("drop c"));
        assert!(log.position("run e") < log.position("drop e"));
        // `d` is returned: still alive.
        assert!(!log.events().contains(&"drop d".to_string()));
        drop(d);
        assert_eq!(log.events().last().map(String::as_str), Some("drop d"));
        // Every step ran exactly once, even `e`, which nobody consumes.
        for step in ["a", "b", "c", "d", "e"] {
            let runs = log
                .events()
                .iter()
                .filter(|e| **e == format!("run {step}"))
                .count();
            assert_eq!(runs, 1, "step {step} under {options:?}");
        }
    }
}

// A wide flow with many independent steps: same results under every schedule.
#[routine]
fn inc(x: &u64) -> u64 {
    x + 1
}

#[routine]
fn sum4(a: &u64, b: &u64, c: &u64, d: &u64) -> u64 {
    a + b + c + d
}

flow! {
    flow Wide {
        input x: u64;
        step a1 = inc(x);
        step a2 = inc(a1);
        step b1 = inc(x);
        step b2 = inc(b1);
        step b3 = inc(b2);
        step c1 = inc(x);
        step d1 = inc(c1);
        step total = sum4(a2, b3, c1, d1);
        return total;
    }
}

#[test]
fn every_schedule_gives_the_same_results() {
    let pool = pool(2);
    for options in all_options(&pool) {
        assert_eq!(Wide::run_with(options, 10).unwrap(), 12 + 13 + 11 + 12);
    }
}

#[test]
fn plans_list_steps_by_layer() {
    let plan = Wide::plan();
    assert_eq!(plan.flow(), "Wide");
    assert_eq!(plan.inputs().collect::<Vec<_>>(), ["x"]);
    let layers: Vec<Vec<&str>> = plan
        .layers()
        .map(|l| l.iter().map(routilux::StepPlan::name).collect())
        .collect();
    assert_eq!(
        layers,
        [
            vec!["a1", "b1", "c1"],
            vec!["a2", "b2", "d1"],
            vec!["b3"],
            vec!["total"]
        ]
    );
    assert_eq!(plan.steps()[0].routine(), "inc");
}

// Failures.
#[derive(Debug)]
struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused {}", self.0)
    }
}

impl std::error::Error for Refused {}

#[routine]
fn refuse(log: &Log) -> Result<u64, Refused> {
    log.push("run refuse");
    Err(Refused("politely"))
}

#[routine]
fn after(log: &Log, _x: &u64) -> u64 {
    log.push("run after");
    1
}

#[routine]
fn explode(log: &Log) -> u64 {
    log.push("run explode");
    panic!("step exploded")
}

flow! {
    flow Fails {
        input log: Log;
        step bad = refuse(log);
        step next = after(log, bad);
        step later = after(log, next);
        return later;
    }
}

flow! {
    flow Panics {
        input log: Log;
        step boom = explode(log);
        step next = after(log, boom);
        return next;
    }
}

#[test]
fn a_failure_is_reported_and_its_dependents_never_start() {
    let pool = pool(2);
    for options in all_options(&pool) {
        let log = Log::default();
        let err = Fails::run_with(options, log.clone()).unwrap_err();
        assert_eq!(err.step(), Some("bad"));
        assert_eq!(err.kind(), ErrorKind::Failed);
        assert_eq!(
            err.to_string(),
            "flow `Fails` failed at step `bad`: refused politely"
        );
        assert_eq!(log.events(), ["run refuse"]);
    }
}

#[test]
fn a_panicking_step_is_an_error_and_the_pool_keeps_working() {
    let pool = pool(2);
    for options in all_options(&pool) {
        let log = Log::default();
        let err: FlowError = Panics::run_with(options, log.clone()).unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.step(), Some("boom"));
        assert_eq!(
            err.to_string(),
            "flow `Panics` failed at step `boom`: panicked: step exploded"
        );
        let panic = std::error::Error::source(&err)
            .unwrap()
            .downcast_ref::<StepPanicked>()
            .unwrap();
        assert_eq!(panic.message(), "step exploded");
        assert_eq!(log.events(), ["run explode"]);
        // The same pool runs the next flow normally.
        assert_eq!(Wide::run_with(options, 0).unwrap(), 2 + 3 + 1 + 2);
    }
}

// Steps already running when another fails run to completion before `run` returns.
// Each root waits for the other to have started, so neither order of starting them can let
// the failure come before the slow step is running.
static FAILED: AtomicBool = AtomicBool::new(false);
static SLOW_STARTED: AtomicBool = AtomicBool::new(false);
static SLOW_DONE: AtomicUsize = AtomicUsize::new(0);

#[routine]
fn fail_and_signal() -> Result<u64, Refused> {
    while !SLOW_STARTED.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    FAILED.store(true, Ordering::SeqCst);
    Err(Refused("now"))
}

#[routine]
fn wait_for_failure() -> u64 {
    SLOW_STARTED.store(true, Ordering::SeqCst);
    while !FAILED.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    SLOW_DONE.fetch_add(1, Ordering::SeqCst);
    5
}

#[routine]
fn never(_x: &u64) -> u64 {
    unreachable!("depends on a failed step")
}

flow! {
    flow InFlight {
        step slow = wait_for_failure();
        step bad = fail_and_signal();
        step dependent = never(bad);
        return (slow, dependent);
    }
}

#[test]
fn steps_in_flight_finish_before_run_returns() {
    // Both roots must run at once: parallel schedules on a pool of two threads.
    let pool = pool(2);
    for schedule in [Schedule::Layered, Schedule::Dataflow] {
        FAILED.store(false, Ordering::SeqCst);
        SLOW_STARTED.store(false, Ordering::SeqCst);
        let before = SLOW_DONE.load(Ordering::SeqCst);
        let options = RunOptions::from(schedule).pool(&pool);
        let err = InFlight::run_with(options).unwrap_err();
        assert_eq!(err.step(), Some("bad"));
        assert_eq!(SLOW_DONE.load(Ordering::SeqCst), before + 1);
    }
}

#[test]
fn flows_can_run_inside_rayon_and_concurrently() {
    use rayon::prelude::*;
    let results: Vec<u64> = (0..64u64)
        .into_par_iter()
        .map(|x| Wide::run(x).unwrap())
        .collect();
    for (x, r) in results.into_iter().enumerate() {
        assert_eq!(r, 4 * x as u64 + 8);
    }
}
