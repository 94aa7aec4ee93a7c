//! [`Sleep`]: a wait that holds no thread, for retries of async steps and deadlines of async
//! runs. One process-wide timer thread, started on first use, wakes the sleepers whose time
//! has come; it waits on a condition variable while nothing is due, so it costs nothing idle.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Sleepers by deadline (ties broken by id), and their wakers.
#[derive(Default)]
struct Timers {
    due: BTreeSet<(Instant, u64)>,
    wakers: HashMap<u64, Waker>,
    next_id: u64,
}

struct Timer {
    timers: Mutex<Timers>,
    changed: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    static THREAD: OnceLock<()> = OnceLock::new();
    let timer = TIMER.get_or_init(|| Timer {
        timers: Mutex::new(Timers::default()),
        changed: Condvar::new(),
    });
    THREAD.get_or_init(|| {
        // Without its thread no sleeper would wake: a process that cannot start one more
        // thread has bigger problems, and the sleep then ends at its next poll.
        let _started = std::thread::Builder::new()
            .name("routilux-timer".into())
            .spawn(move || tick(timer));
    });
    timer
}

fn tick(timer: &'static Timer) {
    let mut timers = timer.timers.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let now = Instant::now();
        while let Some(&(when, id)) = timers.due.first() {
            if when > now {
                break;
            }
            timers.due.remove(&(when, id));
            if let Some(waker) = timers.wakers.remove(&id) {
                waker.wake();
            }
        }
        timers = match timers.due.first() {
            Some(&(when, _)) => {
                timer
                    .changed
                    .wait_timeout(timers, when.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => timer
                .changed
                .wait(timers)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

/// A future that is ready once its deadline has passed.
#[derive(Debug)]
pub(crate) struct Sleep {
    until: Option<Instant>,
    /// Its entry in the timer, once registered.
    id: Option<u64>,
}

impl Sleep {
    /// Ready after `duration` (never, if the clock cannot count that far).
    pub(crate) fn new(duration: Duration) -> Self {
        Sleep {
            until: Instant::now().checked_add(duration),
            id: None,
        }
    }

    /// Ready at `until`.
    pub(crate) fn until(until: Instant) -> Self {
        Sleep {
            until: Some(until),
            id: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(until) = this.until else {
            return Poll::Pending;
        };
        if Instant::now() >= until {
            this.cancel();
            return Poll::Ready(());
        }
        let timer = timer();
        let mut timers = timer.timers.lock().unwrap_or_else(PoisonError::into_inner);
        let id = match this.id {
            Some(id) => id,
            None => {
                let id = timers.next_id;
                timers.next_id += 1;
                timers.due.insert((until, id));
                this.id = Some(id);
                timer.changed.notify_one();
                id
            }
        };
        match timers.wakers.get_mut(&id) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => waker.clone_from(cx.waker()),
            None => {
                timers.wakers.insert(id, cx.waker().clone());
                // Woken already (the entry left `due`): register again.
                if timers.due.insert((until, id)) {
                    timer.changed.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Sleep {
    fn cancel(&mut self) {
        if let (Some(id), Some(until)) = (self.id.take(), self.until) {
            let mut timers = timer()
                .timers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            timers.due.remove(&(until, id));
            timers.wakers.remove(&id);
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}
