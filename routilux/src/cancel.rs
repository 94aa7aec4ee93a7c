//! [`CancelToken`]: stop a run from another thread; and the signal the engine's backoff
//! sleeps wait on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::Waker;
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
    /// Besides threads, futures wait on it: the owners of async runs, by run id.
    lock: Mutex<Vec<(u64, Waker)>>,
    wake: Condvar,
}

impl Signal {
    pub(crate) const fn new() -> Self {
        Signal {
            raised: AtomicBool::new(false),
            lock: Mutex::new(Vec::new()),
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
        let futures = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, waker) in futures.iter() {
            waker.wake_by_ref();
        }
        drop(futures);
        self.wake.notify_all();
    }

    /// Wakes `waker` (the owner of async run `key`) whenever the signal is notified, until
    /// [`unregister`](Self::unregister)ed.
    pub(crate) fn register(&self, key: u64, waker: &Waker) {
        let mut futures = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        match futures.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) if old.will_wake(waker) => {}
            Some((_, old)) => old.clone_from(waker),
            None => futures.push((key, waker.clone())),
        }
    }

    /// Stops waking the owner of async run `key`.
    pub(crate) fn unregister(&self, key: u64) {
        let mut futures = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        futures.retain(|(k, _)| *k != key);
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
