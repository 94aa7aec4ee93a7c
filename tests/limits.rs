//! Concurrency limits: `RunOptions::max_concurrency`, `RunOptions::limit` and
//! `#[step(limit = ...)]` / `#[routine(limit = ...)]` never let more steps (or map elements)
//! run at once than the limit has permits, whatever the schedule, the executor, failures,
//! panics or cancellation; every permit comes back; flows nested in steps that share a limit
//! never deadlock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use routilux::{
    Builder, CancelToken, ErrorKind, Limit, Observer, RunInfo, RunOptions, Schedule, StepPlan,
    flow, routine,
};

/// Counts the steps inside it now, and the most there ever were.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
    entered: AtomicUsize,
}

impl Gauge {
    const fn new() -> Self {
        Gauge {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            entered: AtomicUsize::new(0),
        }
    }

    /// Counts the caller in while `work` runs.
    fn inside<R>(&self, work: impl FnOnce() -> R) -> R {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.entered.fetch_add(1, Ordering::SeqCst);
        // Long enough for others to start meanwhile if the engine let them.
        spin(Duration::from_micros(200));
        let out = work();
        self.now.fetch_sub(1, Ordering::SeqCst);
        out
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

fn spin(time: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < time {
        std::hint::spin_loop();
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// Runs `work` on its own thread and fails (instead of hanging) if it takes over a minute.
fn within_a_minute<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(work()).unwrap());
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the runs did not finish within a minute: a deadlock")
}

static WIDE: Gauge = Gauge::new();

#[routine]
fn wide_step(x: &u64) -> u64 {
    WIDE.inside(|| x + 1)
}

flow! {
    flow Wide {
        input x: u64;
        step a = wide_step(x);
        step b = wide_step(x);
        step c = wide_step(x);
        step d = wide_step(x);
        step e = wide_step(x);
        step f = wide_step(x);
        step g = wide_step(a);
        step h = wide_step(b);
        return (c, d, e, f, g, h);
    }
}

#[test]
fn max_concurrency_bounds_the_steps_of_a_run_under_every_schedule() {
    let pool = pool(4);
    for n in [1, 2, 3] {
        for schedule in [Schedule::Dataflow, Schedule::Layered, Schedule::Sequential] {
            for on_pool in [true, false] {
                WIDE.peak.store(0, Ordering::SeqCst);
                let mut options = RunOptions::new().schedule(schedule).max_concurrency(n);
                if on_pool {
                    options = options.pool(&pool);
                }
                for _ in 0..5 {
                    assert_eq!(Wide::run_with(options, 1).unwrap(), (2, 2, 2, 2, 3, 3));
                }
                assert!(
                    WIDE.peak() <= n,
                    "{schedule:?}, pool {on_pool}: {} steps at once with max_concurrency({n})",
                    WIDE.peak()
                );
            }
        }
    }
}

#[test]
fn max_concurrency_of_zero_fails_the_run_instead_of_hanging() {
    let error = Wide::run_with(RunOptions::new().max_concurrency(0), 1).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failed);
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("0 permits"), "{cause}");
}

static SHARED: Limit = Limit::new(2);
static SHARED_GAUGE: Gauge = Gauge::new();

#[routine(limit = SHARED)]
fn limited(x: &u64) -> u64 {
    SHARED_GAUGE.inside(|| x * 2)
}

#[routine]
fn free(x: &u64) -> u64 {
    x + 1
}

flow! {
    flow SharedA {
        input x: u64;
        step a = limited(x);
        step b = limited(x);
        step c = free(x);
        step d = limited(c);
        return (a, b, d);
    }
}

flow! {
    flow SharedB {
        input x: u64;
        step a = free(x);
        step b = limited(a);
        #[step(limit = SHARED)]
        step c = free(a);
        step d = limited(x);
        return (b, c, d);
    }
}

#[test]
fn a_static_limit_bounds_its_steps_across_runs_flows_and_threads() {
    let pool = pool(4);
    let done = within_a_minute(move || {
        std::thread::scope(|scope| {
            for t in 0..8u64 {
                let pool = &pool;
                scope.spawn(move || {
                    for i in 0..20 {
                        let options = match i % 3 {
                            0 => RunOptions::new(),
                            1 => RunOptions::new().pool(pool),
                            _ => RunOptions::new().schedule(Schedule::Sequential),
                        };
                        if t % 2 == 0 {
                            assert_eq!(
                                SharedA::run_with(options, t).unwrap(),
                                (2 * t, 2 * t, 2 * t + 2)
                            );
                        } else {
                            assert_eq!(
                                SharedB::run_with(options, t).unwrap(),
                                (2 * t + 2, t + 2, 2 * t)
                            );
                        }
                    }
                });
            }
        });
        (SHARED_GAUGE.peak(), SHARED.in_use(), SHARED.waiting())
    });
    assert!(done.0 <= 2, "{} steps held a limit of 2 at once", done.0);
    assert_eq!(
        (done.1, done.2),
        (0, 0),
        "permits left in use / waiters left"
    );
}

static ELEMENTS: Gauge = Gauge::new();

#[routine]
fn element(x: &u64) -> u64 {
    ELEMENTS.inside(|| x * 3)
}

#[routine]
fn numbers(n: &u64) -> Vec<u64> {
    (0..*n).collect()
}

flow! {
    flow Elements {
        input n: u64;
        step xs = numbers(n);
        step ys = element(each xs);
        step zs = element(each xs);
        return (ys, zs);
    }
}

#[test]
fn max_concurrency_counts_each_element_of_a_map_step() {
    let pool = pool(4);
    for n in [1, 2, 3] {
        ELEMENTS.peak.store(0, Ordering::SeqCst);
        let options = RunOptions::new().pool(&pool).max_concurrency(n);
        let (ys, zs) = Elements::run_with(options, 40).unwrap();
        assert_eq!(ys, (0..40).map(|x| x * 3).collect::<Vec<_>>());
        assert_eq!(ys, zs);
        assert!(
            ELEMENTS.peak() <= n,
            "{} elements at once with max_concurrency({n})",
            ELEMENTS.peak()
        );
    }
}

/// Several flows nested in steps, every level taking the same limit of 2: all the permits
/// are held by outer steps while their inner runs need the limit too.
static NESTED: Limit = Limit::new(2);
static LEAVES: Gauge = Gauge::new();

#[routine(limit = NESTED)]
fn leaf(x: &u64) -> u64 {
    LEAVES.inside(|| x + 1)
}

flow! {
    flow Inner {
        input x: u64;
        step a = leaf(x);
        step b = leaf(x);
        step c = leaf(a);
        return (b, c);
    }
}

/// Runs `Inner` by hand inside the step (not as a sub-flow step).
#[routine(limit = NESTED)]
fn calls_inner(x: &u64) -> Result<u64, routilux::FlowError> {
    let (b, c) = Inner::run(*x)?;
    Ok(b + c)
}

flow! {
    flow Outer {
        input x: u64;
        #[step(limit = NESTED)]
        step one = Inner(x);
        #[step(limit = NESTED)]
        step two = Inner(x);
        step three = calls_inner(x);
        step four = calls_inner(x);
        return (one, two, three, four);
    }
}

/// The tests that run `Outer` share [`NESTED`] and read it at their end: one at a time.
static OUTER: Mutex<()> = Mutex::new(());

#[test]
fn flows_nested_in_steps_that_share_a_limit_never_deadlock() {
    let _outer = OUTER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pool = pool(2);
    let done = within_a_minute(move || {
        std::thread::scope(|scope| {
            for t in 0..6u64 {
                let pool = &pool;
                scope.spawn(move || {
                    for i in 0..10 {
                        let options = if i % 2 == 0 {
                            RunOptions::new().pool(pool)
                        } else {
                            RunOptions::new()
                        };
                        let out = Outer::run_with(options, t).unwrap();
                        assert_eq!(out, ((t + 1, t + 2), (t + 1, t + 2), 2 * t + 3, 2 * t + 3));
                    }
                });
            }
        });
        (LEAVES.peak(), NESTED.in_use(), NESTED.waiting())
    });
    assert!(done.0 <= 2, "{} leaves at once under a limit of 2", done.0);
    assert_eq!((done.1, done.2), (0, 0));
}

static RUN_LIMIT: Limit = Limit::new(3);

#[test]
fn a_shared_run_limit_covers_sub_flows_and_is_given_back() {
    let _outer = OUTER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pool = pool(4);
    let done = within_a_minute(move || {
        let options = RunOptions::new().pool(&pool).limit(&RUN_LIMIT);
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                scope.spawn(move || {
                    for _ in 0..10 {
                        let out = Outer::run_with(options, t).unwrap();
                        assert_eq!(out.0, (t + 1, t + 2));
                    }
                });
            }
        });
        (RUN_LIMIT.in_use(), RUN_LIMIT.waiting(), NESTED.in_use())
    });
    assert_eq!(done, (0, 0, 0));
}

/// Hears which steps waited for a permit.
#[derive(Default)]
struct Waits(Mutex<Vec<String>>, AtomicBool);

impl Observer for Waits {
    fn step_waiting(&self, _run: &RunInfo<'_>, step: &StepPlan) {
        self.0.lock().unwrap().push(step.name().to_owned());
        self.1.store(true, Ordering::SeqCst);
    }
}

static ONE: Limit = Limit::new(1);
static WAITS: Waits = Waits(Mutex::new(Vec::new()), AtomicBool::new(false));

/// Holds the only permit until the other step has been heard waiting for it.
#[routine(limit = ONE)]
fn holder(x: &u64) -> u64 {
    let start = std::time::Instant::now();
    while !WAITS.1.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the other step never waited"
        );
        std::thread::yield_now();
    }
    *x
}

flow! {
    flow Waiting {
        input x: u64;
        step first = holder(x);
        #[step(limit = ONE)]
        step second = free(x);
        return (first, second);
    }
}

#[test]
fn observers_hear_a_step_wait_for_a_permit() {
    // `holder` is the taller step (none after it either way), so ties go by plan order: make
    // the wait certain by letting the step that got the permit hold it until heard.
    let out = within_a_minute(|| {
        let pool = pool(2);
        Waiting::run_with(RunOptions::new().pool(&pool).observer(&WAITS), 4)
    });
    // `second` may take the permit first; then `holder` waits (and is heard) instead, and
    // spins only until then.
    assert_eq!(out.unwrap(), (4, 5));
    let heard = WAITS.0.lock().unwrap().clone();
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert!(heard[0] == "second" || heard[0] == "first", "{heard:?}");
    assert_eq!(ONE.in_use(), 0);
}

static CANCEL_LIMIT: Limit = Limit::new(1);
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// Holds the only permit until the run is cancelled.
#[routine(limit = CANCEL_LIMIT)]
fn blocks(x: &u64, ctx: &routilux::Context) -> Result<u64, routilux::Cancelled> {
    STARTED.fetch_add(1, Ordering::SeqCst);
    while !ctx.is_cancelled() {
        std::thread::sleep(Duration::from_millis(1));
    }
    ctx.check()?;
    Ok(*x)
}

flow! {
    flow Blocked {
        input x: u64;
        step a = blocks(x);
        step b = blocks(x);
        step c = blocks(x);
        return (a, b, c);
    }
}

#[test]
fn cancelling_a_run_whose_steps_wait_for_permits_gives_every_permit_back() {
    let token = Arc::new(CancelToken::new());
    let canceller = Arc::clone(&token);
    std::thread::spawn(move || {
        while STARTED.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        canceller.cancel();
    });
    let error = within_a_minute(move || {
        let pool = pool(4);
        Blocked::run_with(RunOptions::new().pool(&pool).cancel(&token), 1).unwrap_err()
    });
    assert_eq!(error.kind(), ErrorKind::Cancelled);
    assert_eq!(
        STARTED.load(Ordering::SeqCst),
        1,
        "only one step could hold the permit"
    );
    assert_eq!((CANCEL_LIMIT.in_use(), CANCEL_LIMIT.waiting()), (0, 0));
}

mod async_steps {
    use super::*;

    static IO: Limit = Limit::new(3);
    static IO_GAUGE: Gauge = Gauge::new();
    static IO_NOW: AtomicUsize = AtomicUsize::new(0);
    static IO_PEAK: AtomicUsize = AtomicUsize::new(0);

    #[routine(limit = IO)]
    async fn fetch(x: &u64) -> u64 {
        let now = IO_NOW.fetch_add(1, Ordering::SeqCst) + 1;
        IO_PEAK.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        IO_NOW.fetch_sub(1, Ordering::SeqCst);
        x + 1
    }

    #[routine(limit = IO)]
    fn compute(x: &u64) -> u64 {
        IO_GAUGE.inside(|| {
            let now = IO_NOW.fetch_add(1, Ordering::SeqCst) + 1;
            IO_PEAK.fetch_max(now, Ordering::SeqCst);
            IO_NOW.fetch_sub(1, Ordering::SeqCst);
            x * 2
        })
    }

    flow! {
        flow Io {
            input x: u64;
            step a = fetch(x);
            step b = fetch(x);
            step c = compute(x);
            step d = fetch(a);
            step e = compute(b);
            step f = fetch(x);
            return (d, e, c, f);
        }
    }

    #[test]
    fn async_and_sync_steps_share_a_limit_under_tokio() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let out = runtime.block_on(async {
            let runs: Vec<_> = (0..16u64).map(|x| tokio::spawn(Io::run_async(x))).collect();
            let mut out = Vec::new();
            for run in runs {
                out.push(run.await.unwrap().unwrap());
            }
            out
        });
        for (x, got) in (0..16u64).zip(out) {
            assert_eq!(got, (x + 2, 2 * (x + 1), 2 * x, x + 1));
        }
        assert!(IO_PEAK.load(Ordering::SeqCst) <= 3);
        assert_eq!((IO.in_use(), IO.waiting()), (0, 0));
    }
}

/// A random DAG of closure steps (some failing, some panicking) under `max_concurrency`.
fn random_flow(
    deps: &[Vec<usize>],
    fails: Option<(usize, bool)>,
    gauge: &Arc<Gauge>,
) -> routilux::DynFlow {
    let mut b = Builder::new("Random");
    let mut handles = Vec::new();
    for (i, earlier) in deps.iter().enumerate() {
        let gauge = Arc::clone(gauge);
        let step = b
            .step(format!("s{i}"), (), move |()| {
                gauge.inside(|| match fails {
                    Some((at, true)) if at == i => panic!("step {i} panics"),
                    Some((at, false)) if at == i => Err(std::io::Error::other("fails")),
                    _ => Ok::<_, std::io::Error>(i),
                })
            })
            .unwrap();
        for &e in earlier {
            b.after(step, handles[e]).unwrap();
        }
        handles.push(step);
    }
    for &h in &handles {
        b.output(h);
    }
    b.build()
}

fn dags() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..24).prop_flat_map(|n| {
        (0..n)
            .map(|i| proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(3)))
            .collect::<Vec<_>>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_dags_never_exceed_max_concurrency(
        deps in dags(),
        n in 1usize..4,
        fail in proptest::option::of((0usize..24, any::<bool>())),
        schedule in prop_oneof![Just(Schedule::Dataflow), Just(Schedule::Layered), Just(Schedule::Sequential)],
    ) {
        static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
        let pool = POOL.get_or_init(|| pool(4));
        let gauge = Arc::new(Gauge::default());
        let fail = fail.filter(|(at, _)| *at < deps.len());
        let flow = random_flow(&deps, fail, &gauge);
        let options = RunOptions::new().pool(pool).schedule(schedule).max_concurrency(n);
        let result = flow.run(flow.inputs(), options);
        match fail {
            None => prop_assert!(result.is_ok()),
            Some((_, panics)) => {
                let kind = result.err().map(|e| e.kind());
                prop_assert_eq!(kind, Some(if panics { ErrorKind::Panicked } else { ErrorKind::Failed }));
            }
        }
        prop_assert!(gauge.peak() <= n, "{} steps at once, max_concurrency({})", gauge.peak(), n);
        prop_assert!(gauge.entered.load(Ordering::SeqCst) <= deps.len());
    }
}

#[test]
fn limits_report_their_permits() {
    static L: Limit = Limit::new(5);
    assert_eq!((L.permits(), L.in_use(), L.waiting()), (5, 0, 0));
    assert!(format!("{L:?}").contains("permits: 5"));
}

#[routine]
fn one() -> u64 {
    1
}

#[routine]
fn plus(a: &u64, b: &u64) -> u64 {
    a + b
}

flow! {
    flow SmallDiamond {
        step a = one();
        step b = plus(a, a);
        step c = plus(a, a);
        step d = plus(b, c);
        return d;
    }
}

/// The owner of a gated run once took the run for settled while a helper it had just called
/// was taking the last queued step (it read the helpers' `active` count before the queue):
/// about one run in a thousand returned without its result.
#[test]
fn gated_runs_of_a_small_flow_called_back_to_back_always_return_their_result() {
    for (name, options) in [
        (
            "max_concurrency(1000)",
            RunOptions::new().max_concurrency(1000),
        ),
        ("max_concurrency(1)", RunOptions::new().max_concurrency(1)),
    ] {
        for run in 0..20_000 {
            let result = SmallDiamond::run_with(options);
            assert_eq!(
                result.as_ref().ok(),
                Some(&4),
                "{name}, run {run}: {result:?}"
            );
        }
        for run in 0..5_000 {
            let result = futures_executor::block_on(SmallDiamond::run_async_with(options));
            assert_eq!(
                result.as_ref().ok(),
                Some(&4),
                "{name}, async run {run}: {result:?}"
            );
        }
    }
}
