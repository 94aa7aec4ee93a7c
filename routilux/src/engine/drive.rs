//! The owner of an async run: a future instead of a thread. It polls the run's async steps
//! and never runs a sync step itself — those go to helpers on the pool as soon as they are
//! ready, so CPU work never holds the executor's thread. Every schedule runs this way once a
//! run is async: steps start as soon as their dependencies are done (`Dataflow`).
//!
//! When the run stops (a failure, a cancellation, the deadline), the owner drops the futures
//! of the async steps in flight at once: they never finish, and are not undone. Map steps
//! are the exception: each is polled once more, drops its elements in flight and undoes
//! its completed ones, so that their undo errors are reported with the run's.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::task::Poll;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::dataflow::help;
use super::parked::unpark;
use super::{Exec, Run};
use crate::asynchronous::Sleep;

impl<E: Exec> Run<'_, E> {
    /// Runs the flow with this future as its owner; returns once the run has settled.
    pub(super) async fn drive(&self) {
        let lane = self.lane;
        let threads = self.spawn_on.map_or_else(
            rayon::current_num_threads,
            rayon::ThreadPool::current_num_threads,
        );
        self.work.store(self.hot.roots.len(), Ordering::SeqCst);
        let epoch = lane.open_async(
            std::ptr::from_ref(self).cast(),
            (help::<E>, unpark::<E>),
            threads,
        );
        let mut queued = 0;
        for &root in &self.hot.roots {
            if !self.ready_here(root) {
                self.defer(root);
            } else {
                self.push(root);
                queued += 1;
            }
        }
        if queued > 0 {
            self.queued(queued, true, epoch);
        }
        let mut in_flight = FuturesUnordered::new();
        // Map steps in flight: when the run stops they are polled once more, not dropped,
        // so that they undo their completed elements and report it.
        // Made on the first map step: `FuturesUnordered::new` allocates, and most runs have none.
        let mut maps = None;
        let mut winding = Vec::new();
        let mut starting: Vec<u32> = Vec::new();
        let mut deadline = self.deadline.map(Sleep::until);
        let cancel_key = self.id;
        poll_fn(|cx| {
            lane.set_waker(cx.waker());
            if let Some(token) = self.cancel {
                token.signal().register(cancel_key, cx.waker());
            }
            loop {
                if let Some(sleep) = deadline.as_mut()
                    && Pin::new(sleep).poll(cx).is_ready()
                {
                    deadline = None;
                }
                let mut progressed = false;
                if self.interrupted() {
                    // Dropped, not finished: the run is over for them.
                    in_flight.clear();
                    winding.extend(maps.take().into_iter().flatten());
                    self.deferred
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clear();
                } else {
                    self.take_deferred(&mut starting);
                    for step in starting.drain(..) {
                        // Polled once here: a step that finishes at once (most that do no
                        // I/O) never enters the set. One that waits enters it and is polled
                        // again there, with the set's own waker.
                        let mut attempt = Box::pin(async move {
                            if self.hot.steps[step as usize].asynchronous {
                                return (step, Some(self.run_step_async(step).await));
                            }
                            // A sync step that needs permits: the pool runs it once the
                            // owner has them (no pool thread waits for one).
                            match self.claim(step).await {
                                Some(held) => {
                                    self.hold(step, held);
                                    (step, None)
                                }
                                None => (step, Some(self.no_permits(step))),
                            }
                        });
                        match attempt.as_mut().poll(cx) {
                            Poll::Ready((step, outcome)) => {
                                progressed = true;
                                self.started(step, outcome, epoch);
                            }
                            Poll::Pending if self.plan.steps()[step as usize].policy().is_map() => {
                                maps.get_or_insert_with(FuturesUnordered::new).push(attempt);
                            }
                            Poll::Pending => in_flight.push(attempt),
                        }
                    }
                }
                while let Poll::Ready(Some((step, outcome))) = in_flight.poll_next_unpin(cx) {
                    progressed = true;
                    self.started(step, outcome, epoch);
                }
                while let Some(Poll::Ready(Some((step, outcome)))) = maps
                    .as_mut()
                    .map(|maps: &mut FuturesUnordered<_>| maps.poll_next_unpin(cx))
                {
                    progressed = true;
                    self.started(step, outcome, epoch);
                }
                // Polled whether woken or not: each sees that the run stopped.
                let before = winding.len();
                winding.retain_mut(|attempt| attempt.as_mut().poll(cx).is_pending());
                progressed |= winding.len() < before;
                if progressed {
                    continue;
                }
                // Helpers first: one that defers a step does so before it stops counting
                // itself active.
                if self.drained()
                    && self.deferred_is_empty()
                    && in_flight.is_empty()
                    && maps.as_ref().is_none_or(FuturesUnordered::is_empty)
                    && winding.is_empty()
                {
                    return Poll::Ready(());
                }
                if !self.deferred_is_empty() && !self.stopped.load(Ordering::Relaxed) {
                    continue;
                }
                return Poll::Pending;
            }
        })
        .await;
        drop(in_flight);
        drop(maps);
        drop(winding);
        if let Some(token) = self.cancel {
            token.signal().unregister(cancel_key);
        }
        lane.close();
    }

    /// Whether no step of the run is outstanding (see `work`), or the run stopped and no
    /// helper is out (reserved, running a step or looking for one): then no step runs on the
    /// pool, and none will start there. The last helper to leave wakes the owner
    /// (`Lane::help`); one that is still inside is waited for by `Lane::close`.
    fn drained(&self) -> bool {
        self.work.load(Ordering::SeqCst) == 0
            || (self.stopped.load(Ordering::Relaxed) && self.lane.helpers_out() == 0)
    }

    /// Async step `step` is ready: the owner will start it.
    pub(super) fn defer(&self, step: u32) {
        self.deferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(step);
        self.lane.wake_future();
    }

    /// Moves the deferred steps into `into` (both buffers keep their memory).
    fn take_deferred(&self, into: &mut Vec<u32>) {
        let mut deferred = self.deferred.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *deferred, into);
    }

    fn deferred_is_empty(&self) -> bool {
        self.deferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// What the owner's future for `step` came to: an async step over (whether it succeeded),
    /// or (`None`) a sync step with its permits, for the pool to run.
    fn started(&self, step: u32, outcome: Option<bool>, epoch: u64) {
        match outcome {
            Some(true) => self.finished(step, epoch),
            Some(false) => self.retire(),
            None => {
                self.push(step);
                self.queued(1, true, epoch);
            }
        }
    }

    /// Async step `step` succeeded: counts down its successors and hands out the ready ones.
    fn finished(&self, step: u32, epoch: u64) {
        let mut queued = 0;
        for &successor in self.hot.successors(step) {
            if self.dependency_done(successor) {
                self.count_work(1);
                if self.ready_here(successor) {
                    self.push(successor);
                    queued += 1;
                } else {
                    self.deferred
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(successor);
                }
            }
        }
        if queued > 0 {
            self.queued(queued, true, epoch);
        }
        self.retire();
    }

    /// If the owner's future is dropped before the run settled: stops the run, waits for its
    /// helpers to leave (they run on borrowed state), and undoes its completed steps.
    pub(super) fn abandon(&self) {
        self.stop(crate::error::FlowError::new(
            crate::ErrorKind::Cancelled,
            self.flow_name(),
            None,
            None,
        ));
        if let Some(token) = self.cancel {
            token.signal().unregister(self.id);
        }
        self.lane.close();
        // Nobody will see the run's result: its completed undoable steps are undone now
        // (observers hear of undos that fail), and observers hear that it ended.
        let _undo_errors = self.undo_completed();
        if let Some(error) = self.failure.get() {
            let info = self.info();
            self.emit_after(|o| o.run_finished(&info, Err(error)));
        }
    }
}
