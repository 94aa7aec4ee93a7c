//! How a run's owner waits for its helpers and is woken: a condvar for a thread (which runs
//! the pool's other jobs meanwhile when it is a pool thread), a waker for a future.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::task::Waker;

use super::Lane;

/// The owner does not sleep.
pub(super) const AWAKE: u8 = 0;
/// The owner sleeps until the run settles or steps are queued.
pub(super) const FOR_ANYTHING: u8 = 1;
/// The owner sleeps until the run settles.
pub(super) const FOR_THE_END: u8 = 2;

impl Lane {
    /// Wakes the owner if it sleeps waiting for what just happened: the end of the helpers'
    /// work (`end`), or else more queued work (which an owner that handed its steps over
    /// does not wait for: waking it for every step would only take a core from the helpers).
    #[inline]
    pub(crate) fn wake_owner(&self, end: bool) {
        if self.async_owner.load(Ordering::Relaxed) {
            self.wake_future();
            return;
        }
        let sleeping = self.sleeping.load(Ordering::SeqCst);
        if sleeping == FOR_ANYTHING || (end && sleeping == FOR_THE_END) {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.wakeup.notify_all();
        }
    }

    /// Wakes an owner that is a future.
    #[cold]
    pub(crate) fn wake_future(&self) {
        let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waker) = waker.as_ref() {
            waker.wake_by_ref();
        }
    }

    /// An owner that is a future: wake it through `waker` from now on. It must set its waker
    /// before it checks anything it waits for.
    pub(crate) fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(old) if old.will_wake(waker) => {}
            Some(old) => old.clone_from(waker),
            None => *slot = Some(waker.clone()),
        }
    }

    /// Blocks the owner until `done()` holds; helpers call [`Lane::wake_owner`] after every
    /// change that can make it hold (only at the end of their work with `only_the_end`). An
    /// owner that is a pool thread runs other jobs of its pool meanwhile, as rayon's own joins
    /// do, so a run waiting for its helpers never holds a pool thread idle (flows run inside
    /// steps of flows keep every thread busy).
    pub(crate) fn wait_until(&self, only_the_end: bool, done: impl Fn() -> bool) {
        for _ in 0..64 {
            if done() {
                return;
            }
            std::hint::spin_loop();
        }
        for _ in 0..16 {
            if done() {
                return;
            }
            std::thread::yield_now();
        }
        let in_pool = rayon::current_thread_index().is_some();
        let waiting = if only_the_end {
            FOR_THE_END
        } else {
            FOR_ANYTHING
        };
        loop {
            if in_pool {
                while let Some(rayon::Yield::Executed) = rayon::yield_now() {
                    if done() {
                        return;
                    }
                }
            }
            let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.sleeping.store(waiting, Ordering::SeqCst);
            if done() {
                self.sleeping.store(AWAKE, Ordering::SeqCst);
                return;
            }
            // Every change that matters notifies; the timeout lets a pool thread look for
            // other jobs, and is a safety net for the others.
            let timeout = if in_pool {
                std::time::Duration::from_micros(200)
            } else {
                std::time::Duration::from_millis(10)
            };
            let guard = self
                .wakeup
                .wait_timeout(guard, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            self.sleeping.store(AWAKE, Ordering::SeqCst);
            drop(guard);
            if done() {
                return;
            }
        }
    }
}
