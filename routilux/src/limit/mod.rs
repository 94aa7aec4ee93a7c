//! Concurrency limits: a [`Limit`] bounds how many steps hold one of its permits at once,
//! across every step, run and flow that names it (Reactor's `concurrency_key`).
//!
//! Steps opt in with `#[step(limit = NAME)]` in a `flow!` or `#[routine(limit = NAME)]`, where
//! `NAME` is a `static Limit`; a whole run opts in with [`RunOptions::limit`] (a shared limit)
//! or [`RunOptions::max_concurrency`] (a limit of its own).
//!
//! The rules:
//! - A step takes one permit of each limit that applies to it before it starts, and gives them
//!   back when its last attempt ends: on success, failure, panic or cancellation. A map step's
//!   extra workers take a permit each, without waiting (see [`RunOptions::max_concurrency`]).
//! - A step whose permits are free takes them where it becomes ready and starts there, as any
//!   step does. Waiting for a permit never holds a thread: the step is parked in the limit's
//!   queue (first come, first served) and started, on the pool, by whoever gives the permit
//!   back. A blocking `run` called from a pool thread helps with the pool's other jobs while
//!   it waits; a run that has one thread anyway (`Schedule::Sequential`, a chain of steps)
//!   waits on it, and a cancellation or its deadline ends the wait.
//! - A flow run inside a step that holds permits runs *within* them: its steps that need the
//!   same limit take turns on the step's permit (and take free ones without waiting), so flows
//!   nested in steps that share a limit never deadlock. Count the work of such a step in the
//!   steps of its inner flow, not in the step itself.
//!
//! [`RunOptions::limit`]: crate::RunOptions::limit
//! [`RunOptions::max_concurrency`]: crate::RunOptions::max_concurrency

mod acquire;
mod lend;

#[cfg(test)]
use acquire::Acquire;
pub(crate) use acquire::Claiming;
pub(crate) use lend::{Held, Lending};

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

/// A number of permits shared by every step, run and flow that names it.
///
/// `Limit::new` is `const`, so a limit shared across a program is a `static`:
///
/// ```
/// use routilux::{Limit, flow, routine};
///
/// /// At most 4 calls to the hotel's API at once, across every run.
/// static HOTEL_API: Limit = Limit::new(4);
///
/// #[routine]
/// fn book(guest: &str) -> String { format!("room for {guest}") }
///
/// flow! {
///     flow Stay {
///         input guest: String;
///         #[step(limit = HOTEL_API)]
///         step room = book(guest);
///         return room;
///     }
/// }
///
/// assert_eq!(Stay::run("Ada".to_string()).unwrap(), "room for Ada");
/// assert_eq!(HOTEL_API.in_use(), 0);
/// ```
pub struct Limit {
    permits: usize,
    state: Mutex<State>,
}

/// The permits in use and who waits for one, first come, first served.
struct State {
    in_use: usize,
    waiters: VecDeque<Arc<Waiter>>,
}

/// One parked acquisition: granted a permit by whoever gives one back.
pub(crate) struct Waiter {
    granted: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Limit {
    /// A limit of `permits` at once. A limit of 0 lets nothing run: a step that needs it fails
    /// its run at once with an error that says so, rather than waiting forever.
    #[must_use]
    pub const fn new(permits: usize) -> Self {
        Limit {
            permits,
            state: Mutex::new(State {
                in_use: 0,
                waiters: VecDeque::new(),
            }),
        }
    }

    /// How many permits the limit has.
    #[must_use]
    pub const fn permits(&self) -> usize {
        self.permits
    }

    /// How many permits are held now.
    #[must_use]
    pub fn in_use(&self) -> usize {
        self.lock().in_use
    }

    /// How many acquisitions wait for a permit now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.lock().waiters.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a permit if one is free and nobody waits for one.
    pub(crate) fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut state = self.lock();
        (state.in_use < self.permits && state.waiters.is_empty()).then(|| {
            state.in_use += 1;
            Permit { limit: self }
        })
    }

    /// Takes a free permit, or joins the queue with `waker` (returns the place to poll).
    fn acquire_or_wait(&self, waker: &Waker) -> Result<Permit<'_>, Arc<Waiter>> {
        let mut state = self.lock();
        if state.in_use < self.permits && state.waiters.is_empty() {
            state.in_use += 1;
            return Ok(Permit { limit: self });
        }
        let waiter = Arc::new(Waiter {
            granted: AtomicBool::new(false),
            waker: Mutex::new(Some(waker.clone())),
        });
        state.waiters.push_back(Arc::clone(&waiter));
        Err(waiter)
    }

    /// Leaves the queue: a permit granted meanwhile is given back.
    fn cancel_wait(&self, waiter: &Arc<Waiter>) {
        let mut state = self.lock();
        if let Some(at) = state.waiters.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            state.waiters.remove(at);
            return;
        }
        drop(state);
        if waiter.granted.load(Ordering::Acquire) {
            self.release();
        }
    }

    /// Gives a permit back: to the first waiter, if any.
    fn release(&self) {
        let mut state = self.lock();
        match state.waiters.pop_front() {
            Some(next) => {
                // Granted under the lock: one that leaves the queue meanwhile (`cancel_wait`)
                // sees it and gives the permit on.
                next.granted.store(true, Ordering::Release);
                drop(state);
                let waker = next
                    .waker
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            None => state.in_use -= 1,
        }
    }
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Limit")
            .field("permits", &self.permits)
            .field("in_use", &state.in_use)
            .field("waiting", &state.waiters.len())
            .finish()
    }
}

/// The error of a step that needs a permit of a limit of 0 permits: it can never run.
#[derive(Debug)]
pub(crate) struct NoPermits;

impl fmt::Display for NoPermits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the step needs a permit of a limit of 0 permits, so it can never run")
    }
}

impl std::error::Error for NoPermits {}

/// A permit of a [`Limit`], given back when dropped.
pub(crate) struct Permit<'l> {
    limit: &'l Limit,
}

impl Permit<'_> {
    /// The limit the permit is of.
    pub(crate) fn limit(&self) -> &Limit {
        self.limit
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limit.release();
    }
}

#[cfg(test)]
mod tests;
