//! [`CancelToken`]: stop a run from another thread; and the signal the engine's backoff
//! sleeps wait on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Cancels runs from any thread. Clone it freely; every clone cancels the same runs.
///
/// Attach it with [`RunOptions::cancel`](crate::RunOptions::cancel). Cancelling stops new
/// steps from starting and wakes steps sleeping before a retry; steps already running finish
/// (they can poll [`Context::is_cancelled`](crate::Context::is_cancelled)); then every
/// completed undoable step is undone and the run returns a [`FlowError`](crate::FlowError) of
/// kind [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled). A run that finished every
/// step before noticing returns its result.
///
/// ```
/// use routilux::CancelToken;
///
/// let token = CancelToken::new();
/// let remote = token.clone();
/// std::thread::spawn(move || remote.cancel()).join().unwrap();
/// assert!(token.is_cancelled());
/// ```
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    signal: Arc<Signal>,
}

impl CancelToken {
    /// A token that is not cancelled.
    #[must_use]
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Cancels every run this token is attached to, now and later.
    pub fn cancel(&self) {
        self.signal.raise();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.signal.is_raised()
    }

    pub(crate) fn signal(&self) -> &Signal {
        &self.signal
    }
}

/// A flag that sleepers can wait on.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    raised: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Signal {
    pub(crate) const fn new() -> Self {
        Signal {
            raised: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    pub(crate) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify();
    }

    /// Wakes every sleeper without raising the flag (they re-check their own conditions).
    pub(crate) fn notify(&self) {
        // Taking the lock orders this wake-up after a sleeper's last check.
        drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
        self.wake.notify_all();
    }

    /// Sleeps for `duration` or until notified and `done()` holds.
    pub(crate) fn sleep(&self, duration: Duration, done: impl Fn() -> bool) {
        let Some(until) = Instant::now().checked_add(duration) else {
            // Longer than the clock can count: wait for a wake-up only.
            let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            while !done() {
                guard = self
                    .wake
                    .wait(guard)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            return;
        };
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if done() {
                return;
            }
            let now = Instant::now();
            if now >= until {
                return;
            }
            guard = self
                .wake
                .wait_timeout(guard, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
