//! Async steps: `#[routine] async fn` mixed with sync steps, run with `run` (the built-in
//! executor), `run_async` on tokio's runtimes and on `futures::executor::block_on`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use routilux::{Context, ErrorKind, RunOptions, Schedule, flow, routine};

#[routine]
fn double(x: &u64) -> u64 {
    x * 2
}

#[routine]
async fn add_later(a: &u64, b: &u64) -> u64 {
    yield_once().await;
    a + b
}

#[routine]
async fn checked_sub(a: &u64, b: &u64, ctx: &Context) -> Result<u64, routilux::BoxError> {
    yield_once().await;
    assert_eq!(ctx.step(), "diff");
    a.checked_sub(*b)
        .ok_or_else(|| format!("{a} - {b} underflows").into())
}

#[routine]
fn describe(total: &u64, diff: &u64) -> String {
    format!("{total}/{diff}")
}

/// A future that is pending once: the step really suspends.
async fn yield_once() {
    let mut first = true;
    std::future::poll_fn(|cx| {
        if first {
            first = false;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
}

flow! {
    flow Mixed {
        input x: u64;
        input y: u64;
        step dx = double(x);
        step total = add_later(dx, y);
        step diff = checked_sub(dx, y);
        step text = describe(total, diff);
        return text;
    }
}

fn expected(x: u64, y: u64) -> Result<String, ErrorKind> {
    let dx = x * 2;
    match dx.checked_sub(y) {
        Some(diff) => Ok(format!("{}/{diff}", dx + y)),
        None => Err(ErrorKind::Failed),
    }
}

fn outcome(result: Result<String, routilux::FlowError>) -> Result<String, ErrorKind> {
    result.map_err(|e| e.kind())
}

#[test]
fn blocking_run_drives_async_steps_under_every_schedule() {
    for schedule in [Schedule::Dataflow, Schedule::Layered, Schedule::Sequential] {
        for (x, y) in [(5, 3), (1, 7), (0, 0)] {
            assert_eq!(
                outcome(Mixed::run_with(schedule, x, y)),
                expected(x, y),
                "{schedule:?} {x} {y}"
            );
        }
    }
    assert_eq!(Mixed::run(5, 3).unwrap(), "13/7");
}

#[test]
fn a_failing_async_step_names_itself() {
    let error = Mixed::run(1, 7).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failed);
    assert_eq!(error.step(), Some("diff"));
    assert_eq!(
        std::error::Error::source(&error).unwrap().to_string(),
        "2 - 7 underflows"
    );
}

#[test]
fn run_async_works_on_a_minimal_executor() {
    assert_eq!(
        futures_executor::block_on(Mixed::run_async(5, 3)).unwrap(),
        "13/7"
    );
    assert_eq!(
        outcome(futures_executor::block_on(Mixed::run_async(1, 7))),
        Err(ErrorKind::Failed)
    );
}

#[test]
fn run_async_works_on_tokio_current_thread_and_multi_thread() {
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(current.block_on(Mixed::run_async(5, 3)).unwrap(), "13/7");
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handles: Vec<_> = (0..32u64)
        .map(|i| multi.spawn(Mixed::run_async(i, 3)))
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let i = i as u64;
        assert_eq!(outcome(multi.block_on(handle).unwrap()), expected(i, 3));
    }
}

#[test]
fn sync_steps_of_an_async_run_never_run_on_the_polling_thread() {
    static POLLER: std::sync::Mutex<Option<std::thread::ThreadId>> = std::sync::Mutex::new(None);
    static ON_POLLER: AtomicUsize = AtomicUsize::new(0);
    #[routine]
    fn where_am_i(x: &u64) -> u64 {
        if *POLLER.lock().unwrap() == Some(std::thread::current().id()) {
            ON_POLLER.fetch_add(1, Ordering::SeqCst);
        }
        *x
    }
    flow! {
        flow Placed {
            input x: u64;
            step a = where_am_i(x);
            step b = where_am_i(a);
            step c = add_later(a, b);
            step d = where_am_i(c);
            return d;
        }
    }
    *POLLER.lock().unwrap() = Some(std::thread::current().id());
    for _ in 0..20 {
        assert_eq!(futures_executor::block_on(Placed::run_async(4)).unwrap(), 8);
    }
    assert_eq!(ON_POLLER.load(Ordering::SeqCst), 0);
}

#[test]
fn run_async_with_a_pool_runs_sync_steps_there() {
    static OUTSIDE: AtomicUsize = AtomicUsize::new(0);
    #[routine]
    fn in_pool(x: &u64) -> u64 {
        if rayon::current_thread_index().is_none() {
            OUTSIDE.fetch_add(1, Ordering::SeqCst);
        }
        *x + 1
    }
    flow! {
        flow Pooled {
            input x: u64;
            step a = in_pool(x);
            step b = add_later(a, x);
            step c = in_pool(b);
            return c;
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let options = RunOptions::new().pool(&pool);
    for x in 0..10 {
        assert_eq!(
            futures_executor::block_on(Pooled::run_async_with(options, x)).unwrap(),
            2 * x + 2
        );
    }
    assert_eq!(OUTSIDE.load(Ordering::SeqCst), 0);
}

/// Counts drops of the futures it guards.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_future_of_a_run_drops_its_async_steps() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    #[routine]
    async fn forever(x: &u64) -> u64 {
        let _guard = DropCounter(Arc::new(AtomicUsize::new(0)));
        struct Count;
        impl Drop for Count {
            fn drop(&mut self) {
                DROPPED.fetch_add(1, Ordering::SeqCst);
            }
        }
        let _count = Count;
        STARTED.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
        *x
    }
    flow! {
        flow Stuck {
            input x: u64;
            step a = forever(x);
            step b = forever(x);
            return (a, b);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let timed_out = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(20), Stuck::run_async(1)).await
    });
    assert!(timed_out.is_err());
    assert_eq!(STARTED.load(Ordering::SeqCst), 2);
    assert_eq!(DROPPED.load(Ordering::SeqCst), 2);
}

#[test]
fn dropping_the_future_of_a_run_undoes_its_completed_steps() {
    static UNDONE: AtomicUsize = AtomicUsize::new(0);
    fn release(_: &u64) {
        UNDONE.fetch_add(1, Ordering::SeqCst);
    }
    #[routine(undo = release)]
    fn reserve(x: &u64) -> u64 {
        *x
    }
    #[routine]
    async fn wait_forever(x: &u64) -> u64 {
        std::future::pending::<()>().await;
        *x
    }
    flow! {
        flow Booking {
            input x: u64;
            step held = reserve(x);
            step confirmed = wait_forever(held);
            return confirmed;
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let timed_out = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(20), Booking::run_async(1)).await
    });
    assert!(timed_out.is_err());
    assert_eq!(UNDONE.load(Ordering::SeqCst), 1);
}

/// Counts how many futures of `sleepy` were dropped before they finished.
static SLEEPY_DROPPED: AtomicUsize = AtomicUsize::new(0);

#[routine]
async fn sleepy(x: &u64) -> u64 {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            SLEEPY_DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let guard = Guard;
    tokio::time::sleep(Duration::from_secs(30)).await;
    std::mem::forget(guard);
    *x
}

#[test]
fn cancelling_or_timing_out_a_run_drops_the_step_awaiting_and_undoes_the_rest() {
    static UNDONE: AtomicUsize = AtomicUsize::new(0);
    fn release(_: &u64) {
        UNDONE.fetch_add(1, Ordering::SeqCst);
    }
    #[routine(undo = release)]
    fn hold(x: &u64) -> u64 {
        *x
    }
    flow! {
        flow Slow {
            input x: u64;
            step held = hold(x);
            step slept = sleepy(held);
            return slept;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A timeout: the run ends as timed out, long before the step's 30 s.
    let options = RunOptions::new().timeout(Duration::from_millis(20));
    let error = runtime
        .block_on(Slow::run_async_with(options, 1))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert_eq!(SLEEPY_DROPPED.load(Ordering::SeqCst), 1);
    assert_eq!(UNDONE.load(Ordering::SeqCst), 1);
    // A cancel token, cancelled from another task while the step awaits.
    let token = routilux::CancelToken::new();
    let cancel = token.clone();
    let error = runtime
        .block_on(async move {
            let canceller = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                cancel.cancel();
            });
            let options = RunOptions::new().cancel(&token);
            let result = Slow::run_async_with(options, 2).await;
            canceller.await.unwrap();
            result
        })
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Cancelled);
    assert_eq!(SLEEPY_DROPPED.load(Ordering::SeqCst), 2);
    assert_eq!(UNDONE.load(Ordering::SeqCst), 2);
}

#[test]
fn retries_of_async_steps_wait_without_holding_a_thread() {
    static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
    static TICKS: AtomicUsize = AtomicUsize::new(0);
    static SEEN: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    #[routine(retries = 3, backoff = routilux::Backoff::fixed(Duration::from_millis(5)))]
    async fn flaky(x: &u64) -> Result<u64, routilux::BoxError> {
        SEEN.lock().unwrap().push(TICKS.load(Ordering::SeqCst));
        if ATTEMPTS.fetch_add(1, Ordering::SeqCst) < 2 {
            Err("not yet".into())
        } else {
            Ok(*x)
        }
    }
    flow! {
        flow Flaky {
            input x: u64;
            step y = flaky(x);
            return y;
        }
    }
    // One thread: if the wait before a retry blocked it, no other task could run between an
    // attempt and the next; the ticker shows that it did.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let value = runtime.block_on(async {
        let ticker = tokio::spawn(async {
            loop {
                TICKS.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        });
        let value = Flaky::run_async(7).await;
        ticker.abort();
        value
    });
    assert_eq!(value.unwrap(), 7);
    assert_eq!(ATTEMPTS.load(Ordering::SeqCst), 3);
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.windows(2).all(|w| w[1] > w[0]),
        "another task ran during each backoff: {seen:?}"
    );
}

#[test]
fn async_routines_without_arguments_with_and_without_a_context() {
    #[routine]
    async fn seven() -> u64 {
        7
    }
    #[routine]
    async fn named(ctx: &Context) -> String {
        ctx.step().to_owned()
    }
    flow! {
        flow NoArgs {
            step a = seven();
            step b = named();
            return (a, b);
        }
    }
    assert_eq!(NoArgs::run().unwrap(), (7, "b".to_owned()));
    assert_eq!(
        futures_executor::block_on(NoArgs::run_async()).unwrap(),
        (7, "b".to_owned())
    );
}

#[test]
fn a_step_past_its_timeout_fails_alone_and_is_retried() {
    static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    #[routine(timeout = Duration::from_millis(10), retries = 2)]
    async fn slow_then_fast(x: &u64) -> u64 {
        struct Guard;
        impl Drop for Guard {
            fn drop(&mut self) {
                DROPPED.fetch_add(1, Ordering::SeqCst);
            }
        }
        let _guard = Guard;
        if ATTEMPTS.fetch_add(1, Ordering::SeqCst) == 0 {
            std::future::pending::<()>().await;
        }
        *x + 1
    }
    #[routine]
    async fn stuck(x: &u64) -> u64 {
        std::future::pending::<()>().await;
        *x
    }
    flow! {
        flow Timed {
            input x: u64;
            step y = slow_then_fast(x);
            #[step(timeout = Duration::from_millis(5))]
            step z = stuck(x);
            return (y, z);
        }
    }
    let error = futures_executor::block_on(Timed::run_async(1)).unwrap_err();
    // `z` has no retries: its timeout fails the run, as an error of the step, not of the run.
    assert_eq!(error.kind(), ErrorKind::Failed);
    assert_eq!(error.step(), Some("z"));
    let cause = std::error::Error::source(&error)
        .unwrap()
        .downcast_ref::<routilux::StepTimedOut>()
        .expect("the cause is the timeout");
    assert_eq!(cause.after(), Duration::from_millis(5));
    flow! {
        flow Retried {
            input x: u64;
            step y = slow_then_fast(x);
            return y;
        }
    }
    ATTEMPTS.store(0, Ordering::SeqCst);
    DROPPED.store(0, Ordering::SeqCst);
    assert_eq!(
        futures_executor::block_on(Retried::run_async(1)).unwrap(),
        2
    );
    assert_eq!(ATTEMPTS.load(Ordering::SeqCst), 2);
    // The first attempt's future was dropped at its timeout; the second finished.
    assert_eq!(DROPPED.load(Ordering::SeqCst), 2);
}
