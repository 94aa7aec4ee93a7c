//! How a worker keeps its lease while it runs a run: a renewal thread, one per claimed run,
//! renews the lease every `renew_every` (a third of the lease by default), independently of
//! how long the steps take. A renewal that finds the lease lost (another worker claimed the
//! run after it expired), or that the store fails, stops the run as a store failure does:
//! no new step starts, nothing is undone, and the run is left to the worker holding it.

use std::cell::Cell;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use super::error::DurableError;
use super::failpoint::failpoint;
use super::state::RunState;
use super::store::Lease;

/// A lease held by this process while it runs the lease's run.
pub(super) struct Held<'a> {
    /// The lease.
    pub(super) lease: &'a Lease,
    /// How long each renewal extends it, from the renewal on.
    pub(super) duration: Duration,
    /// How often it is renewed.
    pub(super) renew_every: Duration,
    /// Whether this call wrote the run's completion record.
    pub(super) completed: Cell<bool>,
}

impl Held<'_> {
    /// Runs `run` while a thread renews the lease; the thread ends with it.
    pub(super) fn keep_while<R>(&self, state: &RunState<'_>, run: impl FnOnce() -> R) -> R {
        let (lease, duration, every) = (self.lease, self.duration, self.renew_every);
        thread::scope(|scope| {
            let (done, wait) = mpsc::channel::<()>();
            scope.spawn(move || renew_until_done(state, lease, duration, every, &wait));
            // Dropping the sender (also when `run` panics) ends the renewals.
            let result = run();
            drop(done);
            result
        })
    }
}

/// Renews `lease` every `every` until `done` is dropped, or until the lease is lost.
fn renew_until_done(
    state: &RunState<'_>,
    lease: &Lease,
    duration: Duration,
    every: Duration,
    done: &Receiver<()>,
) {
    while let Err(RecvTimeoutError::Timeout) = done.recv_timeout(every) {
        failpoint(|| "lease.renew".to_owned());
        match state.store.renew(lease, duration) {
            Ok(true) => {}
            Ok(false) => {
                state.break_with(DurableError::LeaseLost(lease.run.clone()));
                return;
            }
            Err(error) => {
                state.break_with(error.into());
                return;
            }
        }
    }
}
