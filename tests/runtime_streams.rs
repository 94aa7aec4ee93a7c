//! The runtime's async streams, `map_stream` and `map_stream_unordered`, under tokio's
//! multi-thread and current-thread runtimes and `futures::executor::block_on`: every result
//! once (in order when asked), at most `bound` jobs' values alive (drop counters), failures
//! and panics as errors, and what dropping a stream early does. No timing assertions.

mod runtime_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt};
use routilux::{
    Cancelled, Context, ErrorKind, FlowError, JobError, RunOptions, Runtime, Shutdown, flow,
    routine,
};
use runtime_support::{Live, Token, finishes};

/// An input that carries a token; the job moves the token into its output.
struct Item(u64, Token);

fn tokens(threads: usize, capacity: usize) -> Runtime<Item, (u64, Token)> {
    Runtime::builder()
        .threads(threads)
        .capacity(capacity)
        .build(|Item(n, token): Item, _: RunOptions<'_>| Ok::<_, FlowError>((n * 3, token)))
        .unwrap()
}

/// `count` items, each counted in `live` from the moment the stream makes it.
fn items(count: u64, live: &Arc<Live>) -> impl Stream<Item = Item> + Send + 'static {
    let live = Arc::clone(live);
    stream::iter(0..count).map(move |n| Item(n, Token::new(&live)))
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Consumes an ordered stream, checking each result; returns how many there were.
async fn check_in_order(
    mut results: impl Stream<Item = Result<(u64, Token), JobError>> + Unpin,
) -> u64 {
    let mut expected = 0;
    while let Some(result) = results.next().await {
        let (n, _token) = result.unwrap();
        assert_eq!(n, expected * 3);
        expected += 1;
    }
    expected
}

/// Consumes an unordered stream; returns which positions were seen (each at most once).
async fn check_unordered(
    mut results: impl Stream<Item = (usize, Result<(u64, Token), JobError>)> + Unpin,
    count: usize,
) -> Vec<bool> {
    let mut seen = vec![false; count];
    while let Some((at, result)) = results.next().await {
        let (n, _token) = result.unwrap();
        assert_eq!(n, at as u64 * 3);
        assert!(!std::mem::replace(&mut seen[at], true), "{at} twice");
    }
    seen
}

#[test]
fn a_hundred_thousand_inputs_in_order_on_tokio_multi_thread_within_the_bound() {
    let live = Arc::new(Live::default());
    let runtime = tokens(2, 1024);
    let results = runtime.map_stream(items(100_000, &live), 32);
    // The stream owns what it needs: it can move into a spawned task.
    let tokio = multi_thread();
    let count = finishes(move || {
        tokio.block_on(async { tokio::spawn(check_in_order(results)).await.unwrap() })
    });
    assert_eq!(count, 100_000);
    assert_eq!(live.now(), 0);
    assert!(live.peak() <= 32, "{} values alive at once", live.peak());
}

#[test]
fn a_queue_smaller_than_the_bound_makes_the_stream_wait_for_room_not_block() {
    // Capacity 2, bound 64: most inputs find the queue full and wait for room with the
    // task's waker; on a current-thread runtime, a blocked thread would never wake.
    let live = Arc::new(Live::default());
    let runtime = tokens(2, 2);
    let tokio = current_thread();
    let count = finishes(move || {
        tokio.block_on(check_in_order(runtime.map_stream(items(20_000, &live), 64)))
    });
    assert_eq!(count, 20_000);
}

#[test]
fn unordered_on_tokio_current_thread_yields_every_input_once_within_the_bound() {
    let live = Arc::new(Live::default());
    let runtime = tokens(2, 16);
    let l = Arc::clone(&live);
    let tokio = current_thread();
    let seen = finishes(move || {
        tokio.block_on(check_unordered(
            runtime.map_stream_unordered(items(50_000, &l), 32),
            50_000,
        ))
    });
    assert!(seen.iter().all(|s| *s));
    assert_eq!(live.now(), 0);
    assert!(live.peak() <= 32, "{} values alive at once", live.peak());
}

#[test]
fn both_streams_work_on_a_minimal_executor() {
    let live = Arc::new(Live::default());
    let runtime = tokens(2, 8);
    let count =
        futures_executor::block_on(check_in_order(runtime.map_stream(items(10_000, &live), 16)));
    assert_eq!(count, 10_000);
    let seen = futures_executor::block_on(check_unordered(
        runtime.map_stream_unordered(items(10_000, &live), 16),
        10_000,
    ));
    assert!(seen.iter().all(|s| *s));
    assert_eq!(live.now(), 0);
    assert!(live.peak() <= 16, "{} values alive at once", live.peak());
}

#[test]
fn inputs_that_arrive_slowly_are_taken_as_they_come() {
    // The input stream is a channel fed by another task: it is often pending, and its waker
    // must wake the map.
    let live = Arc::new(Live::default());
    let runtime = tokens(2, 8);
    let l = Arc::clone(&live);
    let tokio = multi_thread();
    let count = finishes(move || {
        tokio.block_on(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            tokio::spawn(async move {
                for n in 0..2_000 {
                    tx.send(Item(n, Token::new(&l))).await.unwrap();
                    if n % 7 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            });
            let inputs =
                stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
            check_in_order(runtime.map_stream(Box::pin(inputs), 8)).await
        })
    });
    assert_eq!(count, 2_000);
    assert_eq!(live.now(), 0);
}

#[derive(Debug)]
struct Odd(u64);

impl std::fmt::Display for Odd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is odd", self.0)
    }
}

impl std::error::Error for Odd {}

#[routine]
fn halve(n: &u64) -> Result<u64, Odd> {
    assert!(n % 10 != 4, "{n} ends in 4");
    if n % 2 == 1 {
        return Err(Odd(*n));
    }
    Ok(n / 2)
}

flow! {
    flow Halve {
        input n: u64;
        step half = halve(n);
        return half;
    }
}

/// What each input should give: a value, a failed step, a panicking step, a panicking closure.
#[derive(Debug, PartialEq)]
enum Expect {
    Value(u64),
    Failed,
    StepPanicked,
    ClosurePanicked,
}

fn expect(n: u64) -> Expect {
    if n.is_multiple_of(25) {
        Expect::ClosurePanicked
    } else if n % 10 == 4 {
        Expect::StepPanicked
    } else if n % 2 == 1 {
        Expect::Failed
    } else {
        Expect::Value(n / 2)
    }
}

fn seen(result: Result<u64, JobError>) -> Expect {
    match result {
        Ok(v) => Expect::Value(v),
        Err(JobError::Flow(e)) if e.kind() == ErrorKind::Failed => {
            assert_eq!(e.step(), Some("half"));
            Expect::Failed
        }
        Err(JobError::Flow(e)) if e.kind() == ErrorKind::Panicked => Expect::StepPanicked,
        Err(JobError::Panicked(message)) => {
            assert!(message.contains("closure"), "{message}");
            Expect::ClosurePanicked
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn failing_and_panicking_jobs_reach_the_output_as_errors_in_place() {
    let runtime = Runtime::builder()
        .threads(2)
        .build(|n: u64, options: RunOptions<'_>| {
            assert!(!n.is_multiple_of(25), "the closure panics on {n}");
            Halve::run_with(options, n)
        })
        .unwrap();
    let tokio = multi_thread();
    let (ordered, unordered) = tokio.block_on(async {
        let ordered: Vec<Expect> = runtime
            .map_stream(stream::iter(0..500), 16)
            .map(seen)
            .collect()
            .await;
        let unordered: Vec<(usize, Expect)> = runtime
            .map_stream_unordered(stream::iter(0..500), 16)
            .map(|(at, result)| (at, seen(result)))
            .collect()
            .await;
        (ordered, unordered)
    });
    let expected: Vec<Expect> = (0..500).map(expect).collect();
    assert_eq!(ordered, expected);
    let mut unordered = unordered;
    unordered.sort_by_key(|(at, _)| *at);
    assert_eq!(unordered.len(), 500);
    for (at, got) in unordered {
        assert_eq!(got, expect(at as u64), "input {at}");
    }
    let metrics = runtime.metrics();
    assert_eq!(metrics.completed + metrics.failed, 1000);
}

#[test]
fn inputs_after_shutdown_are_dropped_and_reported_not_submitted() {
    let live = Arc::new(Live::default());
    let runtime = tokens(1, 4);
    runtime.shutdown(Shutdown::Drain).unwrap();
    let results: Vec<_> =
        futures_executor::block_on(runtime.map_stream(items(10, &live), 4).collect());
    assert_eq!(results.len(), 10);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(JobError::NotSubmitted)))
    );
    let unordered: Vec<_> =
        futures_executor::block_on(runtime.map_stream_unordered(items(10, &live), 4).collect());
    let mut at: Vec<usize> = unordered.iter().map(|(at, _)| *at).collect();
    at.sort_unstable();
    assert_eq!(at, (0..10).collect::<Vec<_>>());
    assert!(
        unordered
            .iter()
            .all(|(_, r)| matches!(r, Err(JobError::NotSubmitted)))
    );
    assert_eq!(live.now(), 0);
}

/// Items at or past `OPEN_UP_TO` wait until their run is cancelled.
const OPEN_UP_TO: u64 = 3;

#[routine]
fn wait_unless_early(item: &Item, ctx: &Context) -> Result<u64, Cancelled> {
    if item.0 >= OPEN_UP_TO {
        loop {
            ctx.check()?;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(item.0)
}

flow! {
    flow Gated {
        input item: Item;
        step out = wait_unless_early(item);
        return out;
    }
}

/// Takes the first results of a stream over gated items, drops it, and checks that every
/// job still in flight was cancelled, nothing leaked, and shutdown does not hang.
fn drop_early(ordered: bool) {
    const BOUND: usize = 8;
    let live = Arc::new(Live::default());
    let made = Arc::new(AtomicUsize::new(0));
    let runtime = Runtime::builder()
        .threads(2)
        .capacity(64)
        .build(|item: Item, options: RunOptions<'_>| Gated::run_with(options, item))
        .unwrap();
    let (l, m) = (Arc::clone(&live), Arc::clone(&made));
    let inputs = stream::iter(0..1_000).map(move |n| {
        m.fetch_add(1, Ordering::SeqCst);
        Item(n, Token::new(&l))
    });
    let first: Vec<u64> = futures_executor::block_on(async {
        if ordered {
            let mut results = runtime.map_stream(inputs, BOUND);
            let mut first = Vec::new();
            for _ in 0..OPEN_UP_TO {
                first.push(results.next().await.unwrap().unwrap());
            }
            // `results` is dropped here, with jobs in flight that never end unless cancelled.
            first
        } else {
            let results = runtime.map_stream_unordered(inputs, BOUND);
            let mut first: Vec<u64> = results
                .take(OPEN_UP_TO as usize)
                .map(|(_, r)| r.unwrap())
                .collect()
                .await;
            first.sort_unstable();
            first
        }
    });
    assert_eq!(first, [0, 1, 2]);
    // The input stream was read no further than the window.
    let made = made.load(Ordering::SeqCst) as u64;
    assert!(made <= OPEN_UP_TO + BOUND as u64, "{made} inputs taken");
    // Every job left was cancelled: shutdown (draining, not cancelling) returns.
    let runtime = finishes(move || {
        runtime.shutdown(Shutdown::Drain).unwrap();
        runtime
    });
    let metrics = runtime.metrics();
    assert_eq!(metrics.submitted, made);
    assert_eq!(metrics.completed, OPEN_UP_TO);
    assert_eq!(metrics.cancelled, made - OPEN_UP_TO);
    assert_eq!(live.now(), 0, "inputs leaked");
}

#[test]
fn dropping_the_ordered_stream_early_cancels_its_jobs_in_flight() {
    drop_early(true);
}

#[test]
fn dropping_the_unordered_stream_early_cancels_its_jobs_in_flight() {
    drop_early(false);
}

#[test]
fn the_streams_are_send_and_static() {
    fn send_static<T: Send + 'static>(_: &T) {}
    let runtime = tokens(1, 4);
    let live = Arc::new(Live::default());
    send_static(&runtime.map_stream(items(1, &live), 1));
    send_static(&runtime.map_stream_unordered(items(1, &live), 1));
    // Nothing was polled: no input was taken.
    assert_eq!(live.peak(), 0);
}
