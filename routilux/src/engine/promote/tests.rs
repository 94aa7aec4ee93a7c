//! The one piece of history runs keep (`Hot::long`): a step thought long has the pool called
//! before it starts while other steps wait.

use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::builder::{Builder, DynFlow, Handle};
use crate::{RunOptions, Schedule};

/// What `rendezvous()` computes from 5: 1 from each side, 5 + k from `t0` to `t5`.
const RENDEZVOUS_TOTAL: u64 = 2 + 6 * 5 + 15;

/// Long enough that only a missing promotion makes a step wait this long.
const PATIENCE: Duration = Duration::from_secs(10);

/// One side's end of a rendezvous: where it says hello, and where the other side's comes.
type Link = Mutex<(Sender<()>, Receiver<()>)>;

/// The two ends of a rendezvous (see [`side`]).
fn links() -> (Link, Link) {
    let (to_b, from_a) = mpsc::channel();
    let (to_a, from_b) = mpsc::channel();
    (Mutex::new((to_b, from_b)), Mutex::new((to_a, from_a)))
}

/// One side of a rendezvous: says hello, then waits for the other side's.
fn side(link: &Link) -> Result<u64, RecvTimeoutError> {
    let link = link.lock().unwrap();
    // The other side may have failed already: then our wait fails too.
    let _ = link.0.send(());
    link.1.recv_timeout(PATIENCE).map(|()| 1)
}

/// `Rendezvous`: steps `a` and `b` wait for each other, six trivial steps beside them, and
/// their total.
fn rendezvous() -> (DynFlow, Handle<u64>, Handle<u64>) {
    rendezvous_calling(|| {})
}

/// [`rendezvous`], with `b` calling `at_b` before it says hello.
fn rendezvous_calling(
    at_b: impl Fn() + Send + Sync + 'static,
) -> (DynFlow, Handle<u64>, Handle<u64>) {
    let (a_link, b_link) = links();
    let mut builder = Builder::new("Rendezvous");
    let x = builder.input::<u64>("x").unwrap();
    let a = builder
        .step("a", &[x], move |_: &[&u64]| side(&a_link))
        .unwrap();
    let b = builder
        .step("b", &[x], move |_: &[&u64]| {
            at_b();
            side(&b_link)
        })
        .unwrap();
    with_total(builder, x, vec![a, b], "t", 6)
}

/// Adds `trivial` steps named `{prefix}{k}` (each computing `x + k`) beside `steps`, and
/// their `total` as the flow's output; returns the flow, `x` and `total`.
fn with_total(
    mut builder: Builder,
    x: Handle<u64>,
    mut steps: Vec<Handle<u64>>,
    prefix: &str,
    trivial: u64,
) -> (DynFlow, Handle<u64>, Handle<u64>) {
    for k in 0..trivial {
        let step = builder
            .step(format!("{prefix}{k}"), &[x], move |v: &[&u64]| {
                Ok::<_, Infallible>(*v[0] + k)
            })
            .unwrap();
        steps.push(step);
    }
    let total = builder
        .step("total", &steps[..], |v: &[&u64]| {
            Ok::<_, Infallible>(v.iter().copied().sum())
        })
        .unwrap();
    builder.output(total);
    (builder.build(), x, total)
}

fn run(flow: &DynFlow, (x, total): (Handle<u64>, Handle<u64>)) -> u64 {
    let mut inputs = flow.inputs();
    inputs.set(x, 5);
    let mut outputs = flow
        .run(inputs, RunOptions::from(Schedule::Dataflow))
        .unwrap();
    outputs.take(total).unwrap()
}

/// The position of step `name` in `flow`'s plan.
fn step(flow: &DynFlow, name: &str) -> usize {
    flow.plan()
        .steps()
        .iter()
        .position(|s| s.name() == name)
        .unwrap()
}

#[test]
fn the_first_run_of_a_static_flow_calls_the_pool_before_a_step_that_blocks() {
    // The test's thread is not a pool thread: it owns the run and starts with `a` (the
    // first root), which blocks until a pool thread runs `b`.
    assert!(rayon::current_thread_index().is_none());
    let (flow, x, total) = rendezvous();
    let hot = flow.plan().hot();
    let a = step(&flow, "a");
    // Without the heartbeat, the run finishes only if the owner calls the pool before `a`.
    hot.unwatched.store(true, Ordering::Relaxed);
    // A `Builder` flow is not fresh (it may be built for each call); one from `flow!` is.
    assert!(!hot.fresh.load(Ordering::Relaxed));
    hot.fresh.store(true, Ordering::Relaxed);
    for _ in 0..5 {
        assert_eq!(run(&flow, (x, total)), RENDEZVOUS_TOTAL);
        assert!(!hot.fresh.load(Ordering::Relaxed), "the flow ran once");
        assert!(
            hot.long[a].load(Ordering::Relaxed),
            "calling the pool early paid off"
        );
    }
}

#[test]
fn a_step_the_heartbeat_promoted_is_thought_long_again() {
    let (flow, x, total) = rendezvous();
    let hot = flow.plan().hot();
    let a = step(&flow, "a");
    // A `Builder` flow that has not run: `a` is not thought long.
    assert!(!hot.fresh.load(Ordering::Relaxed));
    assert!(!hot.long[a].load(Ordering::Relaxed));
    // This run needs the heartbeat: it marks `a`.
    assert_eq!(run(&flow, (x, total)), RENDEZVOUS_TOTAL);
    assert!(
        hot.long[a].load(Ordering::Relaxed),
        "`a` blocked while `b` waited"
    );
    hot.unwatched.store(true, Ordering::Relaxed);
    for _ in 0..5 {
        assert_eq!(run(&flow, (x, total)), RENDEZVOUS_TOTAL);
    }
}

/// Occupies every thread of the global pool until the returned sender is dropped.
fn occupy_the_pool() -> Sender<()> {
    let threads = rayon::current_num_threads();
    let (started, all_started) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = std::sync::Arc::new(Mutex::new(released));
    for _ in 0..threads {
        let started = started.clone();
        let released = std::sync::Arc::clone(&released);
        rayon::spawn(move || {
            started.send(()).unwrap();
            // Every blocker waits for the sender to go (one at a time through the lock).
            let _ = released.lock().unwrap().recv();
        });
    }
    for _ in 0..threads {
        all_started.recv_timeout(PATIENCE).unwrap();
    }
    release
}

#[test]
fn the_mark_goes_when_calling_the_pool_early_gained_nothing() {
    let mut builder = Builder::new("Quick");
    let x = builder.input::<u64>("x").unwrap();
    let (flow, x, total) = with_total(builder, x, Vec::new(), "q", 4);
    let hot = flow.plan().hot();
    let first = step(&flow, "q0");
    // As if `q0` had run long before.
    hot.long[first].store(true, Ordering::Relaxed);
    // The pool's threads are busy: the helpers called before `q0` cannot take a waiting
    // step before it ends (the owner runs them all).
    let release = occupy_the_pool();
    assert_eq!(run(&flow, (x, total)), 4 * 5 + 6);
    drop(release);
    assert!(!hot.long[first].load(Ordering::Relaxed));
}

#[test]
fn a_promoted_run_calls_helpers_for_the_steps_its_owner_queues_later() {
    // `a` (thought long) starts with only `b` waiting: the owner calls one helper, which
    // takes `b`, and `b` waits for `c2`. After `a`, the owner goes on with `c1`, which waits
    // for `c2` too, and queues `c2`: only a helper called for it can run it.
    // Two helpers are needed besides the owner.
    if rayon::current_num_threads() < 2 {
        return;
    }
    let (to_b, b_hears) = mpsc::channel::<()>();
    let (to_c1, c1_hears) = mpsc::channel::<()>();
    let b_hears = Mutex::new(b_hears);
    let c1_hears = Mutex::new(c1_hears);
    let senders = Mutex::new((to_b, to_c1));
    let mut builder = Builder::new("Later");
    let x = builder.input::<u64>("x").unwrap();
    let a = builder
        .step("a", &[x], |v: &[&u64]| Ok::<_, Infallible>(*v[0]))
        .unwrap();
    let b = builder
        .step("b", &[x], move |_: &[&u64]| {
            b_hears.lock().unwrap().recv_timeout(PATIENCE).map(|()| 1)
        })
        .unwrap();
    let c1 = builder
        .step("c1", &[a], move |_: &[&u64]| {
            c1_hears.lock().unwrap().recv_timeout(PATIENCE).map(|()| 1)
        })
        .unwrap();
    let c2 = builder
        .step("c2", &[a], move |_: &[&u64]| {
            let senders = senders.lock().unwrap();
            let _ = senders.0.send(());
            let _ = senders.1.send(());
            Ok::<_, Infallible>(1)
        })
        .unwrap();
    let (flow, x, total) = with_total(builder, x, vec![b, c1, c2], "t", 0);
    let hot = flow.plan().hot();
    hot.unwatched.store(true, Ordering::Relaxed);
    hot.long[step(&flow, "a")].store(true, Ordering::Relaxed);
    assert_eq!(run(&flow, (x, total)), 3);
}

#[test]
fn a_pool_threads_run_that_names_its_pool_gets_helpers_from_that_pool_when_it_blocks() {
    // The owner is a thread of the pool the run names: helpers come only once steps have
    // waited, here from the heartbeat (`a` blocks until `b` runs, and is not thought long).
    // They must come from that pool, not from the global one.
    let pool: &'static rayon::ThreadPool = Box::leak(Box::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    ));
    let where_b_ran = std::sync::Arc::new(Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&where_b_ran);
    let (flow, x, total) =
        rendezvous_calling(move || seen.lock().unwrap().push(pool.current_thread_index()));
    let a = step(&flow, "a");
    for _ in 0..5 {
        // Not thought long: only the heartbeat can call helpers for `b`.
        flow.plan().hot().long[a].store(false, Ordering::Relaxed);
        let out = pool.install(|| {
            let mut inputs = flow.inputs();
            inputs.set(x, 5);
            let mut outputs = flow.run(inputs, RunOptions::new().pool(pool)).unwrap();
            outputs.take(total).unwrap()
        });
        assert_eq!(out, RENDEZVOUS_TOTAL);
    }
    let where_b_ran = where_b_ran.lock().unwrap();
    assert_eq!(where_b_ran.len(), 5);
    assert!(
        where_b_ran.iter().all(Option::is_some),
        "`b` ran off the run's pool: {where_b_ran:?}"
    );
}

#[test]
fn the_mark_stays_when_helpers_called_before_the_step_run_a_later_one() {
    // `q` (thought long) starts while `a` and `b` wait: the owner calls the pool before it,
    // but the pool's threads are busy until `a` frees them, so nothing is taken during `q`.
    // `a` then waits for `b`, which only those helpers can run (the heartbeat is off): the
    // call was worth its wake-up, and `q` stays thought long.
    let release = std::sync::Arc::new(Mutex::new(None::<Sender<()>>));
    let (a_link, b_link) = links();
    let mut builder = Builder::new("Worth");
    let x = builder.input::<u64>("x").unwrap();
    let q = builder
        .step("q", &[x], |v: &[&u64]| Ok::<_, Infallible>(*v[0]))
        .unwrap();
    let frees = std::sync::Arc::clone(&release);
    let a = builder
        .step("a", &[x], move |_: &[&u64]| {
            drop(frees.lock().unwrap().take());
            side(&a_link)
        })
        .unwrap();
    let b = builder
        .step("b", &[x], move |_: &[&u64]| side(&b_link))
        .unwrap();
    let (flow, x, total) = with_total(builder, x, vec![q, a, b], "t", 0);
    let hot = flow.plan().hot();
    let q = step(&flow, "q");
    hot.long[q].store(true, Ordering::Relaxed);
    hot.unwatched.store(true, Ordering::Relaxed);
    *release.lock().unwrap() = Some(occupy_the_pool());
    assert_eq!(run(&flow, (x, total)), 5 + 1 + 1);
    assert!(
        hot.long[q].load(Ordering::Relaxed),
        "the helpers called before `q` ran `b` later in the run"
    );
}

#[test]
fn the_first_step_others_waited_behind_is_thought_long_once_the_owners_clock_promoted_the_run() {
    // After `r`, `c1` runs on the owner while `z` waits; the owner's clock promotes the run
    // a few 50 µs steps later (the heartbeat is off): `c1` is marked, so that later runs
    // call the pool before it rather than after the clock's checks.
    fn nap(v: &[&u64]) -> Result<u64, Infallible> {
        std::thread::sleep(Duration::from_micros(50));
        Ok(*v[0])
    }
    let mut builder = Builder::new("Clock");
    let x = builder.input::<u64>("x").unwrap();
    let r = builder.step("r", &[x], nap).unwrap();
    let mut link = r;
    for k in 1..=5 {
        link = builder.step(format!("c{k}"), &[link], nap).unwrap();
    }
    let z = builder.step("z", &[r], nap).unwrap();
    let (flow, x, total) = with_total(builder, x, vec![link, z], "t", 0);
    let hot = flow.plan().hot();
    hot.unwatched.store(true, Ordering::Relaxed);
    let c1 = step(&flow, "c1");
    assert!(!hot.long[c1].load(Ordering::Relaxed));
    assert_eq!(run(&flow, (x, total)), 10);
    assert!(
        hot.long[c1].load(Ordering::Relaxed),
        "`z` waited behind `c1` until the owner's clock called the pool"
    );
}
