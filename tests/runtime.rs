//! The job runtime under load and its streams: 100,000 jobs from eight threads through a
//! small queue, `map` and `map_unordered` within their bound, batches. No timing
//! assertions; memory is bounded by drop counters. (Handles, cancellation, failures,
//! shutdown and jobs inside jobs: `runtime_jobs.rs`.)

mod runtime_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use routilux::{Context, FlowError, RunOptions, Runtime, flow, routine};
use runtime_support::{Live, Token, finishes};

/// An order: its number and a token counting live inputs.
struct Order {
    n: u64,
    _token: Token,
}

/// A receipt: the order's number and a token counting live outputs.
struct Receipt {
    n: u64,
    _token: Token,
}

/// What the orders flow's steps share: how often each order ran, and the receipts' counter.
struct Books {
    runs: Vec<AtomicU8>,
    receipts: Arc<Live>,
}

#[routine]
fn number(order: &Order) -> u64 {
    order.n
}

#[routine]
fn doubled(n: &u64) -> u64 {
    n * 2
}

#[routine]
fn plus_one(n: &u64) -> u64 {
    n + 1
}

#[routine]
fn receipt(a: &u64, b: &u64, ctx: &Context) -> Receipt {
    let books = ctx.state::<Books>().expect("the runtime's state");
    let n = (a + b - 1) / 3;
    books.runs[usize::try_from(n).unwrap()].fetch_add(1, Ordering::SeqCst);
    Receipt {
        n,
        _token: Token::new(&books.receipts),
    }
}

flow! {
    /// Four trivial steps: a diamond from an order to its receipt.
    flow Orders {
        input order: Order;
        step n = number(order);
        step a = doubled(n);
        step b = plus_one(n);
        step r = receipt(a, b);
        return r;
    }
}

#[test]
fn a_hundred_thousand_jobs_from_eight_threads_through_a_queue_of_64() {
    const JOBS: u64 = 100_000;
    const THREADS: u64 = 8;
    const WINDOW: usize = 16;
    let inputs = Arc::new(Live::default());
    let receipts = Arc::new(Live::default());
    let books = Books {
        runs: (0..JOBS).map(|_| AtomicU8::new(0)).collect(),
        receipts: Arc::clone(&receipts),
    };
    let runtime = Runtime::builder()
        .threads(2)
        .capacity(64)
        .state(books)
        .build(|order: Order, options: RunOptions<'_>| Orders::run_with(options, order))
        .unwrap();
    let runtime = Arc::new(runtime);
    let (r, i) = (Arc::clone(&runtime), Arc::clone(&inputs));
    finishes(move || {
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (runtime, inputs) = (&r, &i);
                s.spawn(move || {
                    let mut window = std::collections::VecDeque::new();
                    let check = |(n, handle): (u64, routilux::JobHandle<Receipt>)| {
                        assert_eq!(handle.wait().unwrap().n, n);
                    };
                    for n in (t..JOBS).step_by(THREADS as usize) {
                        let order = Order {
                            n,
                            _token: Token::new(inputs),
                        };
                        window.push_back((n, runtime.submit(order).unwrap()));
                        if window.len() == WINDOW {
                            check(window.pop_front().unwrap());
                        }
                    }
                    window.into_iter().for_each(check);
                });
            }
        });
    });
    let books = runtime.state::<Books>().unwrap();
    assert!(books.runs.iter().all(|r| r.load(Ordering::SeqCst) == 1));
    let m = runtime.metrics();
    assert_eq!(
        (m.submitted, m.completed, m.failed, m.cancelled),
        (JOBS, JOBS, 0, 0)
    );
    assert_eq!((inputs.now(), receipts.now()), (0, 0));
    // Inputs: the queue, the two running jobs and one in each submitter's hand.
    assert!(
        inputs.peak() <= 64 + 2 + THREADS as i64,
        "{}",
        inputs.peak()
    );
    // Receipts: those not yet taken from the submitters' windows, plus the two running.
    let most = (THREADS as i64) * (WINDOW as i64) + 2;
    assert!(receipts.peak() <= most, "{} > {most}", receipts.peak());
}

/// An input that carries a token; the job moves the token into its output.
struct Item(u64, Token);

fn tokens(threads: usize) -> Runtime<Item, (u64, Token)> {
    Runtime::builder()
        .threads(threads)
        .capacity(8)
        .build(|Item(n, token): Item, _: RunOptions<'_>| Ok::<_, FlowError>((n * 3, token)))
        .unwrap()
}

#[test]
fn a_million_inputs_through_map_keep_at_most_the_bound_alive_in_order() {
    let live = Arc::new(Live::default());
    let runtime = tokens(2);
    let l = Arc::clone(&live);
    let mut expected = 0;
    for result in runtime.map((0..1_000_000).map(|n| Item(n, Token::new(&l))), 32) {
        let (n, _token) = result.unwrap();
        assert_eq!(n, expected * 3);
        expected += 1;
    }
    assert_eq!(expected, 1_000_000);
    assert_eq!(live.now(), 0);
    assert!(live.peak() <= 32, "{} values alive at once", live.peak());
}

#[test]
fn map_unordered_yields_every_input_once_within_the_bound() {
    let live = Arc::new(Live::default());
    let runtime = tokens(2);
    let l = Arc::clone(&live);
    let mut seen = vec![false; 100_000];
    for (at, result) in runtime.map_unordered((0..100_000).map(|n| Item(n, Token::new(&l))), 32) {
        let (n, _token) = result.unwrap();
        assert_eq!(n, at as u64 * 3);
        assert!(!std::mem::replace(&mut seen[at], true));
    }
    assert!(seen.iter().all(|s| *s));
    assert!(live.peak() <= 32, "{} values alive at once", live.peak());
}

#[test]
fn batches_run_as_one_job_each() {
    let runtime = Runtime::builder()
        .threads(2)
        .build(|batch: Vec<u64>, _: RunOptions<'_>| Ok::<_, FlowError>(batch.iter().sum::<u64>()))
        .unwrap();
    let sums: Vec<u64> = runtime
        .map_batched(1..=10, 4, 2)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sums, [10, 26, 19]);
    assert_eq!(runtime.metrics().completed, 3);
}
