//! What the scheduler promises whatever earlier runs did: ready steps start while a thread is
//! free (two steps that wait for each other both run), steps run on the pool given, and every
//! run of a flow behaves like the first.

mod common;

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Boom;
use routilux::{Builder, DynFlow, Handle, RunOptions, Schedule, flow, routine};

/// Long enough that a regression fails instead of hanging, never reached when steps overlap.
const PATIENCE: Duration = Duration::from_secs(20);

fn two_threads() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

/// One side of a rendezvous: each side sends, then waits for the other's message.
struct Side {
    to_other: SyncSender<()>,
    from_other: Mutex<Receiver<()>>,
}

fn rendezvous() -> (Side, Side) {
    let (a_tx, a_rx) = sync_channel(1);
    let (b_tx, b_rx) = sync_channel(1);
    let a = Side {
        to_other: a_tx,
        from_other: Mutex::new(b_rx),
    };
    let b = Side {
        to_other: b_tx,
        from_other: Mutex::new(a_rx),
    };
    (a, b)
}

/// What a side reports when the other side never ran.
const ALONE: Boom = Boom("the other side of the rendezvous never ran");

fn meet(side: &Side) -> Result<u32, Boom> {
    side.to_other.send(()).map_err(|_| ALONE)?;
    let from_other = side.from_other.lock().unwrap();
    from_other.recv_timeout(PATIENCE).map_err(|_| ALONE)?;
    Ok(1)
}

/// `trivial` trivial steps and the two sides of a rendezvous at positions `a` and `b` of the
/// declaration order.
fn rendezvous_flow(
    trivial: usize,
    a: usize,
    b: usize,
) -> (DynFlow, Handle<Arc<Side>>, Handle<Arc<Side>>) {
    let mut builder = Builder::new("Rendezvous");
    let side_a = builder.input::<Arc<Side>>("side_a").unwrap();
    let side_b = builder.input::<Arc<Side>>("side_b").unwrap();
    let mut trivial_left = trivial;
    for position in 0..trivial + 2 {
        if position == a {
            builder
                .step("a", &[side_a], |sides: &[&Arc<Side>]| meet(sides[0]))
                .unwrap();
        } else if position == b {
            builder
                .step("b", &[side_b], |sides: &[&Arc<Side>]| meet(sides[0]))
                .unwrap();
        } else {
            trivial_left -= 1;
            let name = format!("t{trivial_left}");
            builder
                .step(&name, &[], |_: &[&u32]| Ok::<u32, Boom>(1))
                .unwrap();
        }
    }
    (builder.build(), side_a, side_b)
}

fn run_rendezvous(
    flow: &DynFlow,
    side_a: Handle<Arc<Side>>,
    side_b: Handle<Arc<Side>>,
    options: RunOptions<'_>,
) {
    let (a, b) = rendezvous();
    let mut inputs = flow.inputs();
    inputs.set(side_a, Arc::new(a));
    inputs.set(side_b, Arc::new(b));
    if let Err(error) = flow.run(inputs, options) {
        panic!("{error}");
    }
}

#[test]
fn steps_that_wait_for_each_other_both_run_on_two_threads_on_every_run() {
    let pool = two_threads();
    for (a, b) in [(0, 1), (0, 9), (9, 0), (4, 5), (8, 9), (3, 7)] {
        let (flow, side_a, side_b) = rendezvous_flow(8, a, b);
        for schedule in [Schedule::Dataflow, Schedule::Layered] {
            for _ in 0..20 {
                let options = RunOptions::from(schedule).pool(&pool);
                run_rendezvous(&flow, side_a, side_b, options);
            }
        }
    }
}

#[test]
fn steps_that_wait_for_each_other_both_run_when_called_from_a_plain_thread() {
    // No pool given: the run starts on this thread and the heartbeat hands the other side of
    // the rendezvous to the global pool.
    for (a, b) in [(0, 1), (9, 0), (4, 5)] {
        let (flow, side_a, side_b) = rendezvous_flow(8, a, b);
        for _ in 0..20 {
            run_rendezvous(&flow, side_a, side_b, RunOptions::new());
        }
        // Also from a thread that is neither the test's nor a pool's.
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..5 {
                    run_rendezvous(&flow, side_a, side_b, RunOptions::new());
                }
            });
        });
    }
}

#[routine]
fn meet_side(side: &Arc<Side>) -> Result<u32, Boom> {
    meet(side)
}

#[routine]
fn one() -> u32 {
    1
}

flow! {
    /// The Pair8, with a rendezvous instead of two 20 ms steps.
    flow Pair8 {
        input x: Arc<Side>;
        input y: Arc<Side>;
        step a = meet_side(x);
        step b = meet_side(y);
        step t0 = one(); step t1 = one(); step t2 = one();
        step t3 = one(); step t4 = one(); step t5 = one();
        return a;
    }
}

#[test]
fn pair8_completes_on_every_run_from_a_plain_thread_and_on_a_pool() {
    let pool = two_threads();
    for run in 0..20 {
        let (a, b) = rendezvous();
        let options = if run % 2 == 0 {
            RunOptions::new()
        } else {
            RunOptions::new().pool(&pool)
        };
        assert_eq!(
            Pair8::run_with(options, Arc::new(a), Arc::new(b)).unwrap(),
            1
        );
    }
}

type Seen = Mutex<Vec<Option<usize>>>;

/// Records which thread of `pool` runs each step.
fn record_flow(
    shape: &str,
    pool: &'static rayon::ThreadPool,
    seen: &Arc<Seen>,
) -> (DynFlow, Handle<u32>) {
    let mut b = Builder::new(shape);
    let x = b.input::<u32>("x").unwrap();
    let step = |b: &mut Builder, name: &str, deps: &[Handle<u32>]| {
        let seen = Arc::clone(seen);
        b.step(name, deps, move |_: &[&u32]| {
            seen.lock().unwrap().push(pool.current_thread_index());
            Ok::<u32, Boom>(1)
        })
        .unwrap()
    };
    match shape {
        "chain" => {
            let mut last = x;
            for i in 0..5 {
                last = step(&mut b, &format!("c{i}"), &[last]);
            }
        }
        _ => {
            let top = step(&mut b, "top", &[x]);
            let left = step(&mut b, "left", &[top]);
            let right = step(&mut b, "right", &[top]);
            step(&mut b, "bottom", &[left, right]);
        }
    }
    (b.build(), x)
}

#[test]
fn with_a_pool_every_step_of_every_run_runs_on_that_pool() {
    let pool: &'static rayon::ThreadPool = Box::leak(Box::new(two_threads()));
    for shape in ["chain", "diamond"] {
        let seen = Arc::new(Seen::default());
        let (flow, x) = record_flow(shape, pool, &seen);
        for schedule in [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow] {
            for _ in 0..10 {
                let mut inputs = flow.inputs();
                inputs.set(x, 1);
                flow.run(inputs, RunOptions::from(schedule).pool(pool))
                    .unwrap();
            }
        }
        let seen = seen.lock().unwrap();
        assert!(!seen.is_empty());
        assert!(seen.iter().all(Option::is_some), "{shape}: {seen:?}");
    }
}

#[test]
fn run_on_caller_false_keeps_steps_off_the_calling_thread() {
    let seen = Arc::new(Seen::default());
    let mut b = Builder::new("Off");
    let x = b.input::<u32>("x").unwrap();
    for name in ["a", "b", "c"] {
        let seen = Arc::clone(&seen);
        b.step(name, &[x], move |_: &[&u32]| {
            seen.lock().unwrap().push(rayon::current_thread_index());
            Ok::<u32, Boom>(1)
        })
        .unwrap();
    }
    let flow = b.build();
    for schedule in [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow] {
        for _ in 0..5 {
            let mut inputs = flow.inputs();
            inputs.set(x, 1);
            let options = RunOptions::from(schedule).run_on_caller(false);
            flow.run(inputs, options).unwrap();
        }
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 45);
    assert!(seen.iter().all(Option::is_some), "{seen:?}");
}

/// Recursion that needs about `depth` KiB of stack.
fn deep(depth: u32) -> u64 {
    let frame = std::hint::black_box([depth as u8; 1024]);
    if depth == 0 {
        return u64::from(frame[0]);
    }
    deep(depth - 1) + u64::from(std::hint::black_box(frame)[7])
}

#[routine]
fn recurse(depth: &u32) -> u64 {
    deep(*depth)
}

#[routine]
fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

flow! {
    flow Deep {
        input depth: u32;
        step left = recurse(depth);
        step right = recurse(depth);
        step sum = add(left, right);
        return sum;
    }
}

flow! {
    flow DeepChain {
        input depth: u32;
        step once = recurse(depth);
        return once;
    }
}

#[test]
fn steps_that_need_the_pools_large_stack_work_on_every_run() {
    // 8 MiB of recursion: more than a test thread's 2 MiB or a main thread's 8 MiB.
    let depth = 8 * 1024;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .stack_size(64 << 20)
        .build()
        .unwrap();
    let once: u64 = (1..=depth).map(|k| u64::from(k as u8)).sum();
    for schedule in [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow] {
        for _ in 0..5 {
            let options = RunOptions::from(schedule).pool(&pool);
            assert_eq!(DeepChain::run_with(options, depth).unwrap(), once);
            assert_eq!(Deep::run_with(options, depth).unwrap(), 2 * once);
        }
    }
}

#[routine]
fn leaf(x: &u64) -> u64 {
    x + 1
}

#[routine]
fn sum4(a: &u64, b: &u64, c: &u64, d: &u64) -> u64 {
    a + b + c + d
}

flow! {
    /// A small fan-out, run inside the steps of [`Outer`].
    flow Inner {
        input x: u64;
        step a = leaf(x);
        step b = leaf(x);
        step c = leaf(x);
        step d = leaf(x);
        step total = sum4(a, b, c, d);
        return total;
    }
}

#[routine]
fn run_inner(x: &u64) -> Result<u64, routilux::FlowError> {
    Inner::run(*x)
}

flow! {
    /// Four steps that each run a flow of their own.
    flow Outer {
        input x: u64;
        step a = run_inner(x);
        step b = run_inner(x);
        step c = run_inner(x);
        step d = run_inner(x);
        step total = sum4(a, b, c, d);
        return total;
    }
}

#[test]
fn flows_run_inside_steps_of_flows_on_a_small_pool_and_from_many_threads() {
    let pool = two_threads();
    // Each inner run: 4 × (x + 1); the outer run: 4 inner runs.
    let expected = |x: u64| 16 * (x + 1);
    for x in 0..50 {
        assert_eq!(Outer::run_with(&pool, x).unwrap(), expected(x));
        assert_eq!(Outer::run(x).unwrap(), expected(x));
    }
    // Many plain threads calling at once, each with its own runs (and lanes).
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let pool = &pool;
            s.spawn(move || {
                for x in 0..50 {
                    assert_eq!(Outer::run(x + t).unwrap(), expected(x + t));
                    assert_eq!(Outer::run_with(pool, x + t).unwrap(), expected(x + t));
                }
            });
        }
    });
}
