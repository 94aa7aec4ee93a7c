//! Async routines mapped with `each`: elements are futures polled by the step's future, in
//! input order, bounded by `max_concurrency` and limits, with per-element retries,
//! timeouts, compensation and undo.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use routilux::{Context, ErrorKind, Limit, RunOptions, Schedule, flow, routine};

/// Elements in flight now, the most at once, and the wakers of elements that wait for a
/// number of others to be in flight (no timing: a waiting element is woken by the arrival
/// it waits for).
struct Gauge {
    state: Mutex<(usize, usize, Vec<Waker>)>,
}

impl Gauge {
    const fn new() -> Self {
        Gauge {
            state: Mutex::new((0, 0, Vec::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, usize, Vec<Waker>)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enter(&self) {
        let mut state = self.lock();
        state.0 += 1;
        state.1 = state.1.max(state.0);
        for waker in state.2.drain(..) {
            waker.wake();
        }
    }

    fn leave(&self) {
        self.lock().0 -= 1;
    }

    /// Pending until `n` elements have been in flight at once.
    async fn reached(&self, n: usize) {
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            if state.1 >= n {
                Poll::Ready(())
            } else {
                state.2.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }

    fn peak(&self) -> usize {
        self.lock().1
    }

    fn reset(&self) {
        *self.lock() = (0, 0, Vec::new());
    }
}

/// A future that is pending once: the element really suspends.
async fn yield_once() {
    let mut first = true;
    std::future::poll_fn(|cx| {
        if first {
            first = false;
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

#[routine]
fn numbers(n: &u64) -> Vec<u64> {
    (0..*n).collect()
}

#[routine]
async fn scaled(x: &u64, factor: &u64) -> u64 {
    yield_once().await;
    x * factor
}

#[routine]
fn total(values: &[u64]) -> u64 {
    values.iter().sum()
}

flow! {
    flow Scaled {
        input n: u64;
        input factor: u64;
        step xs = numbers(n);
        step ys = scaled(each xs, factor);
        step sum = total(ys);
        return (ys, sum);
    }
}

fn expected(n: u64, factor: u64) -> (Vec<u64>, u64) {
    let ys: Vec<u64> = (0..n).map(|x| x * factor).collect();
    let sum = ys.iter().sum();
    (ys, sum)
}

#[test]
fn elements_come_back_in_input_order_under_every_schedule_and_executor() {
    for n in [0, 1, 7, 100] {
        for schedule in [Schedule::Dataflow, Schedule::Layered, Schedule::Sequential] {
            assert_eq!(
                Scaled::run_with(schedule, n, 3).unwrap(),
                expected(n, 3),
                "{schedule:?}"
            );
        }
        assert_eq!(
            futures_executor::block_on(Scaled::run_async(n, 5)).unwrap(),
            expected(n, 5)
        );
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        assert_eq!(
            tokio.block_on(Scaled::run_async(n, 2)).unwrap(),
            expected(n, 2)
        );
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        assert_eq!(
            tokio
                .block_on(tokio.spawn(Scaled::run_async(n, 7)))
                .unwrap()
                .unwrap(),
            expected(n, 7)
        );
    }
}

static ALL_AT_ONCE: Gauge = Gauge::new();

/// Finishes only once every element of the map is in flight at once.
#[routine]
async fn waits_for_all(x: &u64, n: &u64) -> u64 {
    ALL_AT_ONCE.enter();
    ALL_AT_ONCE.reached(usize::try_from(*n).unwrap()).await;
    ALL_AT_ONCE.leave();
    *x
}

flow! {
    flow AllAtOnce {
        input n: u64;
        step xs = numbers(n);
        step ys = waits_for_all(each xs, n);
        return ys;
    }
}

#[test]
fn without_a_bound_every_element_is_in_flight_at_once_on_one_thread() {
    // On a single-threaded executor: the elements are polled together, none holds a thread
    // (sequential elements would wait for each other forever; a watchdog fails instead).
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        ALL_AT_ONCE.reset();
        let ys = futures_executor::block_on(AllAtOnce::run_async(64));
        done.send(ys.map(|ys| (ys.len(), ALL_AT_ONCE.peak())))
            .unwrap();
    });
    let outcome = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("64 elements that wait for each other never finished: they did not run at once");
    assert_eq!(outcome.unwrap(), (64, 64));
}

static BOUNDED: Gauge = Gauge::new();

/// The first three elements wait until three are in flight; the rest only count.
#[routine]
async fn bounded(x: &u64) -> u64 {
    BOUNDED.enter();
    if *x < 3 {
        BOUNDED.reached(3).await;
    }
    yield_once().await;
    BOUNDED.leave();
    *x
}

flow! {
    flow Bounded {
        input n: u64;
        step xs = numbers(n);
        #[step(max_concurrency = 3)]
        step ys = bounded(each xs);
        return ys;
    }
}

#[test]
fn max_concurrency_bounds_the_elements_in_flight() {
    for run in 0..5 {
        BOUNDED.reset();
        let ys = if run % 2 == 0 {
            Bounded::run(40).unwrap()
        } else {
            futures_executor::block_on(Bounded::run_async(40)).unwrap()
        };
        assert_eq!(ys, (0..40).collect::<Vec<_>>());
        assert_eq!(BOUNDED.peak(), 3, "run {run}");
    }
}

static HOSTS: Limit = Limit::new(2);
static LIMITED: Gauge = Gauge::new();

#[routine(limit = HOSTS)]
async fn limited(x: &u64) -> u64 {
    LIMITED.enter();
    if *x < 2 {
        LIMITED.reached(2).await;
    }
    yield_once().await;
    LIMITED.leave();
    *x
}

flow! {
    flow Limited {
        input n: u64;
        step xs = numbers(n);
        step ys = limited(each xs);
        return ys;
    }
}

#[test]
fn a_limit_bounds_the_elements_in_flight_and_every_permit_comes_back() {
    LIMITED.reset();
    assert_eq!(
        futures_executor::block_on(Limited::run_async(30)).unwrap(),
        (0..30).collect::<Vec<_>>()
    );
    assert_eq!(LIMITED.peak(), 2);
    assert_eq!(HOSTS.in_use(), 0);
    // A run limit of one: one element at a time (elements that wait for two in flight would
    // hang; none does here).
    LIMITED.reset();
    let options = RunOptions::new().max_concurrency(1);
    assert_eq!(Scaled::run_with(options, 10, 1).unwrap(), expected(10, 1));
}

/// Attempt numbers per element: odd elements fail their first attempt.
#[routine(retries = 2)]
async fn flaky(x: &u64, ctx: &Context) -> Result<(u64, u32), routilux::BoxError> {
    yield_once().await;
    if x % 2 == 1 && ctx.attempt() == 1 {
        Err(format!("{x} failed once").into())
    } else {
        Ok((*x, ctx.attempt()))
    }
}

flow! {
    flow Flaky {
        input n: u64;
        step xs = numbers(n);
        step ys = flaky(each xs);
        return ys;
    }
}

#[test]
fn each_element_retries_on_its_own() {
    let ys = futures_executor::block_on(Flaky::run_async(9)).unwrap();
    let want: Vec<(u64, u32)> = (0..9)
        .map(|x| (x, if x % 2 == 1 { 2 } else { 1 }))
        .collect();
    assert_eq!(ys, want);
    assert_eq!(Flaky::run(9).unwrap(), want);
}

/// Element 1's first attempt never finishes; its timeout drops it and the retry answers.
#[routine(retries = 1, timeout = Duration::from_millis(50))]
async fn stuck_once(x: &u64, ctx: &Context) -> u64 {
    if *x == 1 && ctx.attempt() == 1 {
        std::future::pending::<()>().await;
    }
    *x + 10
}

flow! {
    flow StuckOnce {
        input n: u64;
        step xs = numbers(n);
        step ys = stuck_once(each xs);
        return ys;
    }
}

#[test]
fn a_timeout_applies_to_each_attempt_of_each_element() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(
        tokio.block_on(StuckOnce::run_async(4)).unwrap(),
        vec![10, 11, 12, 13]
    );
    assert_eq!(StuckOnce::run(3).unwrap(), vec![10, 11, 12]);
}

/// What the booking elements did and undid, in order.
static BOOKINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The tests that book seats share [`BOOKINGS`]: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn booked() -> Vec<String> {
    std::mem::take(&mut *BOOKINGS.lock().unwrap_or_else(PoisonError::into_inner))
}

fn book_log(line: String) {
    BOOKINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(line);
}

/// Books seat `x`; seat 3 is taken, seat 5 panics.
#[routine(undo = release)]
async fn book(x: &u64) -> Result<u64, routilux::BoxError> {
    yield_once().await;
    match *x {
        3 => Err("seat 3 is taken".into()),
        5 => panic!("seat 5 broke"),
        _ => {
            book_log(format!("book {x}"));
            Ok(*x)
        }
    }
}

async fn release(seat: &u64) -> Result<(), routilux::BoxError> {
    yield_once().await;
    book_log(format!("release {seat}"));
    Ok(())
}

flow! {
    flow Seats {
        input seats: Vec<u64>;
        #[step(max_concurrency = 1)]
        step booked = book(each seats);
        return booked;
    }
}

#[test]
fn a_failed_element_fails_the_step_and_undoes_the_others_newest_first() {
    let _serial = one_at_a_time();
    booked();
    let error = futures_executor::block_on(Seats::run_async(vec![0, 1, 2, 3, 4])).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failed);
    assert_eq!(error.step(), Some("booked"));
    assert_eq!(error.element(), Some(3));
    assert!(error.to_string().contains("seat 3 is taken"), "{error}");
    assert_eq!(
        booked(),
        [
            "book 0",
            "book 1",
            "book 2",
            "release 2",
            "release 1",
            "release 0"
        ]
    );
    // The same with the blocking `run`, and a panic instead of an error.
    let error = Seats::run(vec![7, 8, 5, 9]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Panicked);
    assert_eq!(error.element(), Some(2));
    assert_eq!(booked(), ["book 7", "book 8", "release 8", "release 7"]);
}

#[routine]
fn after_booking(seats: &[u64]) -> Result<u64, routilux::BoxError> {
    Err(format!("no payment for {} seats", seats.len()).into())
}

flow! {
    flow SeatsThenPay {
        input seats: Vec<u64>;
        step booked = book(each seats);
        step paid = after_booking(booked);
        return paid;
    }
}

#[test]
fn a_later_failure_undoes_every_element_with_its_async_undo() {
    let _serial = one_at_a_time();
    booked();
    let error = futures_executor::block_on(SeatsThenPay::run_async(vec![10, 11, 12])).unwrap_err();
    assert_eq!(error.step(), Some("paid"));
    let mut log = booked();
    // Booked in any order (they ran at once); released newest (highest index) first.
    let releases = log.split_off(3);
    log.sort();
    assert_eq!(log, ["book 10", "book 11", "book 12"]);
    assert_eq!(releases, ["release 12", "release 11", "release 10"]);
}

/// Fails for odd elements; the fallback stands in.
#[routine(fallback = 0)]
async fn or_zero(x: &u64) -> Result<u64, routilux::BoxError> {
    yield_once().await;
    if x % 2 == 1 {
        Err(format!("{x} is odd").into())
    } else {
        Ok(*x)
    }
}

flow! {
    flow OrZero {
        input n: u64;
        step xs = numbers(n);
        step ys = or_zero(each xs);
        return ys;
    }
}

#[test]
fn compensation_applies_per_element() {
    assert_eq!(
        futures_executor::block_on(OrZero::run_async(6)).unwrap(),
        vec![0, 0, 2, 0, 4, 0]
    );
}

/// Counts the element futures dropped before they finished.
static DROPPED: AtomicUsize = AtomicUsize::new(0);

struct DropGuard;

impl Drop for DropGuard {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Seats below 2 are booked at once; the others wait forever (until dropped).
#[routine(undo = release)]
async fn book_or_wait(x: &u64) -> Result<u64, routilux::BoxError> {
    if *x >= 2 {
        let guard = DropGuard;
        std::future::pending::<()>().await;
        drop(guard);
    }
    book_log(format!("book {x}"));
    Ok(*x)
}

flow! {
    flow Waiting {
        input seats: Vec<u64>;
        step booked = book_or_wait(each seats);
        return booked;
    }
}

#[test]
fn cancelling_drops_waiting_elements_and_undoes_the_booked_ones() {
    let _serial = one_at_a_time();
    booked();
    DROPPED.store(0, Ordering::SeqCst);
    let token = routilux::CancelToken::new();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let error = tokio.block_on(async {
        let cancel = token.clone();
        let canceller = tokio::spawn(async move {
            // Until both seats below 2 are booked.
            while BOOKINGS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
                < 2
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            cancel.cancel();
        });
        let options = RunOptions::new().cancel(&token);
        let result = Waiting::run_async_with(options, vec![0, 1, 2, 3, 4]).await;
        canceller.await.unwrap();
        result.unwrap_err()
    });
    assert_eq!(error.kind(), ErrorKind::Cancelled);
    assert_eq!(DROPPED.load(Ordering::SeqCst), 3);
    let mut log = booked();
    let releases = log.split_off(2);
    log.sort();
    assert_eq!(log, ["book 0", "book 1"]);
    let mut releases = releases;
    releases.sort();
    assert_eq!(releases, ["release 0", "release 1"]);
}

/// A map step whose elements are async, beside sync steps, on a given pool: the sync steps
/// run on the pool, the elements on the caller's executor.
#[test]
fn a_pool_runs_the_sync_steps_and_the_executor_polls_the_elements() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let options = RunOptions::new().pool(&pool);
    let out: Pin<Box<dyn Future<Output = _> + Send>> =
        Box::pin(Scaled::run_async_with(options, 20, 4));
    assert_eq!(futures_executor::block_on(out).unwrap(), expected(20, 4));
    let shared = Arc::new(pool);
    assert_eq!(
        Scaled::run_with(RunOptions::new().pool(&shared), 20, 4).unwrap(),
        expected(20, 4)
    );
}

/// Seat 1's release fails.
async fn release_but_one(seat: &u64) -> Result<(), routilux::BoxError> {
    if *seat == 1 {
        return Err("seat 1 cannot be released".into());
    }
    book_log(format!("release {seat}"));
    Ok(())
}

#[routine(undo = release_but_one)]
async fn book_or_wait_stuck(x: &u64) -> Result<u64, routilux::BoxError> {
    if *x >= 2 {
        std::future::pending::<()>().await;
    }
    book_log(format!("book {x}"));
    Ok(*x)
}

flow! {
    flow WaitingStuck {
        input seats: Vec<u64>;
        step booked = book_or_wait_stuck(each seats);
        return booked;
    }
}

#[test]
fn an_element_undo_that_fails_on_cancellation_is_reported() {
    let _serial = one_at_a_time();
    booked();
    let token = routilux::CancelToken::new();
    let cancel = token.clone();
    let error = futures_executor::block_on(async {
        let options = RunOptions::new().cancel(&token);
        let run = WaitingStuck::run_async_with(options, vec![0, 1, 2, 3]);
        let watch = async {
            // Until both seats below 2 are booked; then cancel.
            std::future::poll_fn(|cx| {
                if BOOKINGS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len()
                    < 2
                {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    cancel.cancel();
                    Poll::Ready(())
                }
            })
            .await;
        };
        let (result, ()) = futures_util::future::join(run, watch).await;
        result.unwrap_err()
    });
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    let mut log = booked();
    log.sort();
    assert_eq!(log, ["book 0", "book 1", "release 0"]);
    let undo: Vec<String> = error
        .undo_errors()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(undo.len(), 1, "{error}: {undo:?}");
    assert!(undo[0].contains("seat 1 cannot be released"), "{undo:?}");
}

#[test]
fn dropping_the_run_mid_map_undoes_the_booked_elements() {
    let _serial = one_at_a_time();
    booked();
    let mut run = Box::pin(Waiting::run_async(vec![0, 1, 2, 3]));
    let waker = Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    // Polled until both seats below 2 are booked (the others wait forever), then dropped.
    for _ in 0..1000 {
        assert!(run.as_mut().poll(&mut cx).is_pending());
        if BOOKINGS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
            == 2
        {
            break;
        }
    }
    drop(run);
    let mut log = booked();
    let releases = log.split_off(2);
    log.sort();
    assert_eq!(log, ["book 0", "book 1"]);
    assert_eq!(releases, ["release 1", "release 0"]);
}
