//! Steps of a blocking run that wait for a permit hold no thread: they park in the limit's
//! queue and start as soon as the permit comes back, whoever gives it back and whatever the
//! run's own thread is doing; a run whose steps all wait can still be cancelled or time out,
//! and leaves no claim behind. A gated run starts on the calling thread, as any other run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use routilux::{CancelToken, ErrorKind, Limit, RunOptions, flow, routine};

/// Runs `work` on its own thread and fails (instead of hanging) if it takes over a minute.
fn within_a_minute<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(work()).unwrap());
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the run did not finish within a minute: a deadlock")
}

/// Waits (at most 30 s, then fails the step) until `flag` is raised.
fn wait_for(flag: &AtomicBool, what: &str) -> Result<(), Failed> {
    for _ in 0..30_000 {
        if flag.load(Ordering::SeqCst) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(format!("{what} never happened").into())
}

type Failed = Box<dyn std::error::Error + Send + Sync>;

// A step whose permit comes back while another step blocks the thread that owns the run.

static ONE: Limit = Limit::new(1);
static WAITER_STARTED: AtomicBool = AtomicBool::new(false);
static HOLDER_MAY_GO: AtomicBool = AtomicBool::new(false);

/// Holds the only permit until `blocker` runs.
#[routine(limit = ONE)]
fn holder() -> Result<u32, Failed> {
    wait_for(&HOLDER_MAY_GO, "the blocking step")?;
    Ok(1)
}

/// Needs the permit `holder` has: parks until it comes back.
#[routine(limit = ONE)]
fn waiter() -> u32 {
    WAITER_STARTED.store(true, Ordering::SeqCst);
    2
}

/// Blocks its thread until `waiter` has run.
#[routine]
fn blocker() -> Result<u32, Failed> {
    HOLDER_MAY_GO.store(true, Ordering::SeqCst);
    wait_for(&WAITER_STARTED, "the waiting step")?;
    Ok(3)
}

flow! {
    flow Rendezvous {
        step a = holder();
        step b = waiter();
        step c = blocker();
        return (a, b, c);
    }
}

#[test]
fn a_step_whose_permit_comes_back_starts_while_other_steps_block_their_threads() {
    // Whichever thread runs `blocker` (the caller's or a pool thread) is blocked until
    // `waiter` runs, and `waiter` can only start once `holder` gives the permit back on yet
    // another thread: nobody but the permit's giver can start it.
    let result = within_a_minute(|| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        Rendezvous::run_with(RunOptions::new().pool(&pool))
    });
    assert_eq!(result.unwrap(), (1, 2, 3));
    assert_eq!((ONE.in_use(), ONE.waiting()), (0, 0));
}

// A gated run called from a plain thread starts there, as an ungated one does.

static SEEN: Mutex<Vec<(&str, ThreadId)>> = Mutex::new(Vec::new());

#[routine]
fn first() -> u64 {
    SEEN.lock()
        .unwrap()
        .push(("first", std::thread::current().id()));
    1
}

#[routine]
fn next(x: &u64) -> u64 {
    x + 1
}

#[routine]
fn join(x: &u64, y: &u64) -> u64 {
    x + y
}

flow! {
    flow Diamond {
        step a = first();
        step b = next(a);
        step c = next(a);
        step d = join(b, c);
        return d;
    }
}

#[test]
fn a_gated_run_called_from_a_plain_thread_starts_on_that_thread_every_time() {
    let caller = std::thread::current().id();
    for options in [
        RunOptions::new().max_concurrency(4),
        RunOptions::new().max_concurrency(1),
    ] {
        for _ in 0..3 {
            SEEN.lock().unwrap().clear();
            assert_eq!(Diamond::run_with(options).unwrap(), 4);
            assert_eq!(*SEEN.lock().unwrap(), [("first", caller)]);
        }
    }
}

// A run whose every ready step waits for a permit another run holds.

static TAKEN: Limit = Limit::new(1);
static TAKEN_HELD: AtomicBool = AtomicBool::new(false);
static TAKEN_RELEASE: AtomicBool = AtomicBool::new(false);
static TAKEN_RAN: AtomicBool = AtomicBool::new(false);

#[routine(limit = TAKEN)]
fn take_and_hold() -> Result<u32, Failed> {
    TAKEN_HELD.store(true, Ordering::SeqCst);
    wait_for(&TAKEN_RELEASE, "the release")?;
    Ok(0)
}

flow! {
    flow Hold {
        step held = take_and_hold();
        return held;
    }
}

#[routine(limit = TAKEN)]
fn needs_taken() -> u32 {
    TAKEN_RAN.store(true, Ordering::SeqCst);
    1
}

flow! {
    flow AllWaiting {
        step a = needs_taken();
        step b = needs_taken();
        return (a, b);
    }
}

/// A token cancelled, by the returned thread, once `steps` wait for [`TAKEN`].
fn cancel_once_waiting(steps: usize) -> (Arc<CancelToken>, std::thread::JoinHandle<()>) {
    let token = Arc::new(CancelToken::new());
    let canceller = Arc::clone(&token);
    let cancelling = std::thread::spawn(move || {
        while TAKEN.waiting() < steps {
            std::thread::sleep(Duration::from_millis(1));
        }
        canceller.cancel();
    });
    (token, cancelling)
}

/// Runs `Hold` on its own thread until [`TAKEN_RELEASE`]; returns its thread.
fn hold_the_permit() -> std::thread::JoinHandle<u32> {
    TAKEN_RELEASE.store(false, Ordering::SeqCst);
    TAKEN_HELD.store(false, Ordering::SeqCst);
    let holder = std::thread::spawn(|| Hold::run().unwrap());
    wait_for(&TAKEN_HELD, "the holding run").unwrap();
    holder
}

#[test]
fn a_run_whose_steps_all_wait_can_be_cancelled_or_time_out_and_leaves_no_claim() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    TAKEN_RAN.store(false, Ordering::SeqCst);
    let holder = hold_the_permit();
    // Cancelled once both of its steps wait in the limit's queue.
    let (token, cancelling) = cancel_once_waiting(2);
    let error = within_a_minute(move || {
        AllWaiting::run_with(RunOptions::new().cancel(&token)).unwrap_err()
    });
    cancelling.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    assert_eq!(
        TAKEN.waiting(),
        0,
        "a cancelled run left a claim in the queue"
    );

    // Timed out while both wait.
    let error = within_a_minute(|| {
        AllWaiting::run_with(RunOptions::new().timeout(Duration::from_millis(20))).unwrap_err()
    });
    assert_eq!(error.kind(), ErrorKind::TimedOut, "{error}");
    assert_eq!(
        TAKEN.waiting(),
        0,
        "a timed-out run left a claim in the queue"
    );
    assert!(
        !TAKEN_RAN.load(Ordering::SeqCst),
        "a step ran without the permit"
    );

    // Once the permit comes back, a new run gets it: nothing was lost on the way.
    TAKEN_RELEASE.store(true, Ordering::SeqCst);
    assert_eq!(holder.join().unwrap(), 0);
    assert_eq!(TAKEN.in_use(), 0);
    assert_eq!(within_a_minute(|| AllWaiting::run().unwrap()), (1, 1));
    assert_eq!((TAKEN.in_use(), TAKEN.waiting()), (0, 0));
}

#[test]
fn a_waiting_run_starts_when_another_run_gives_the_permit_back() {
    // The other run holds the permit until both steps here wait for it; then gives it
    // back from its own thread, which starts one of them; that one hands it to the other.
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let holder = hold_the_permit();
    let releaser = std::thread::spawn(|| {
        while TAKEN.waiting() < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        TAKEN_RELEASE.store(true, Ordering::SeqCst);
    });
    let result = within_a_minute(AllWaiting::run);
    releaser.join().unwrap();
    assert_eq!(holder.join().unwrap(), 0);
    assert_eq!(result.unwrap(), (1, 1));
    assert_eq!((TAKEN.in_use(), TAKEN.waiting()), (0, 0));
}

/// The two tests above share `TAKEN`.
static SERIAL: Mutex<()> = Mutex::new(());

// A run on one thread (a chain, or `Sequential`) waits for its permits on that thread; a
// cancellation or its deadline still ends the wait.

flow! {
    flow WaitingChain {
        step a = needs_taken();
        return a;
    }
}

#[test]
fn a_one_thread_run_waiting_for_a_permit_can_be_cancelled_or_time_out() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    TAKEN_RAN.store(false, Ordering::SeqCst);
    let holder = hold_the_permit();
    let (token, cancelling) = cancel_once_waiting(1);
    let error = within_a_minute(move || WaitingChain::run_with(RunOptions::new().cancel(&token)))
        .unwrap_err();
    cancelling.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    let error = within_a_minute(|| {
        AllWaiting::run_with(
            RunOptions::new()
                .schedule(routilux::Schedule::Sequential)
                .timeout(Duration::from_millis(20)),
        )
    })
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut, "{error}");
    assert_eq!(
        TAKEN.waiting(),
        0,
        "a stopped run left a claim in the queue"
    );
    assert!(
        !TAKEN_RAN.load(Ordering::SeqCst),
        "a step ran without the permit"
    );
    TAKEN_RELEASE.store(true, Ordering::SeqCst);
    assert_eq!(holder.join().unwrap(), 0);
    assert_eq!((TAKEN.in_use(), TAKEN.waiting()), (0, 0));
}
