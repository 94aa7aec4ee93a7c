//! [`Schedule::Dataflow`](crate::Schedule::Dataflow): a step starts as soon as its own
//! dependencies are done, on whichever thread is free.
//!
//! The run keeps one queue of ready steps in its lane. A thread that finishes a step counts
//! down its successors' pending dependencies, continues with the tallest successor that became
//! ready (a chain never leaves its thread) and queues the others. Queued steps are taken by any
//! participant: the thread that called the run (its *owner*) and *helpers*, pool jobs that join
//! the run through the lane and leave when the queue is empty. So a ready step never waits
//! behind another step while a participant is free.
//!
//! When the owner is a plain thread, waking the pool would cost more than a small flow takes,
//! so the run is *promoted* only once steps have waited: the owner checks its clock between
//! its steps, and the heartbeat watcher notices an owner stuck in one long or blocking step.
//! A promoted run's owner hands its remaining steps to the helpers and waits, so the run never
//! has more threads than the pool. A run started on a thread of the pool its options name is
//! promoted the same way (the watcher spawns its helpers on that pool), but its owner keeps
//! working once helpers come: each helper spawned costs the pool a job, shared counters and,
//! with idle threads, a wake-up, more than a small flow's steps. A pool thread's run that
//! names no pool asks for helpers as soon as steps are queued (the watcher could not reach
//! that pool), and so does one moved onto its pool from another thread (whose caller only
//! waits: large flows lost up to 8% promoted lazily there).
//!
//! When a plain thread's run calls the pool is `promote`'s to decide.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

use super::lane::spawn_helper_on;
use super::parked::{OwnerWaker, unpark};
use super::promote::Heartbeat;
use super::{Exec, Run, watcher};
use crate::error::{ErrorKind, FlowError, Internal};

impl<'a, E: Exec> Run<'a, E> {
    /// Runs the flow with the current thread as owner: `in_pool` when it is a pool thread.
    pub(super) fn dataflow(&self, in_pool: bool) {
        let roots = &self.hot.roots;
        if roots.is_empty() {
            return;
        }
        let threads = rayon::current_num_threads();
        // A pool thread is one of the pool's threads; a plain thread comes on top of them.
        let max_helpers = if in_pool { threads - 1 } else { threads };
        let lane = self.lane;
        if self.tracked {
            self.work.store(roots.len(), Ordering::SeqCst);
        }
        // Promoted lazily (see the module docs): a plain thread's run, or a pool thread's that
        // names its pool (and does not park steps).
        let lazy_pool = if in_pool && !self.parks {
            self.spawn_on
        } else {
            None
        };
        let lazy = !in_pool || lazy_pool.is_some();
        let watched = lazy && self.hot.watchable();
        let epoch = lane.open(
            std::ptr::from_ref(self).cast(),
            (help::<E>, unpark::<E>),
            max_helpers,
            (watched, lazy_pool.filter(|_| watched)),
        );
        let cancel_key = self.id;
        if self.parks
            && let Some(token) = self.cancel
        {
            // Every step may be parked: a cancellation must wake the owner.
            let waker = std::task::Waker::from(std::sync::Arc::new(OwnerWaker(lane)));
            token.signal().register(cancel_key, &waker);
        }
        let mut first = None;
        let mut queued = 0;
        for &root in roots {
            if !self.ready_here(root) {
                self.wait_elsewhere(root, epoch);
            } else if first.is_none() {
                first = Some(root);
            } else {
                self.push(root);
                queued += 1;
            }
        }
        if queued > 0 {
            self.queued(queued, in_pool, epoch);
        }
        let mut beat = Heartbeat::owner(lazy && self.hot.fresh.load(Ordering::Relaxed));
        if let Some(first) = first {
            self.run_chain(first, in_pool, epoch, &mut beat);
        }
        loop {
            // A plain thread whose run was promoted leaves the steps to the pool's threads
            // (the watcher keeps calling helpers while steps are queued).
            if !in_pool && self.hand_off(epoch, &mut beat, None) {
                lane.wait_until(true, || self.quiet());
                break;
            }
            // A pool thread calls helpers for the steps that waited, and goes on.
            if in_pool && watched {
                self.keep_pace(epoch, &mut beat, None);
            }
            if let Some(step) = self.pop() {
                self.run_chain(step, in_pool, epoch, &mut beat);
                continue;
            }
            if self.quiet() {
                break;
            }
            lane.wait_until(false, || {
                self.quiet()
                    || (lane.queued() > 0 && !self.stopped.load(Ordering::Relaxed))
                    || (!in_pool && lane.is_promoted(epoch) && self.pool_busy())
            });
        }
        if self.parks
            && let Some(token) = self.cancel
        {
            token.signal().unregister(cancel_key);
        }
        self.settle_marks(&beat);
        lane.close();
        if beat.fresh {
            self.hot.fresh.store(false, Ordering::Relaxed);
        }
        if self.parks {
            self.drop_parked();
        }
    }

    /// Asked by the owner between its own steps: whether no helper runs a step and none can
    /// start: every reachable step is done, or the run stopped and its running steps have
    /// finished. (Only helpers count themselves in `active`: the owner asks when it runs
    /// nothing, and nobody else asks.)
    pub(super) fn settled(&self) -> bool {
        let lane = self.lane;
        lane.active.load(Ordering::SeqCst) == 0
            && (lane.queued() == 0 || self.stopped.load(Ordering::Relaxed))
    }

    /// Queues ready step `step`.
    #[inline]
    pub(super) fn push(&self, step: u32) {
        let k = self.lane.tail.fetch_add(1, Ordering::SeqCst);
        // Each step becomes ready once per run, so the queue never holds more than the steps.
        self.ready[k as usize].store(step + 1, Ordering::Release);
    }

    /// Takes the oldest queued step, unless the run has stopped.
    #[inline]
    fn pop(&self) -> Option<u32> {
        let lane = self.lane;
        let mut head = lane.head.load(Ordering::SeqCst);
        loop {
            if self.stopped.load(Ordering::Relaxed) || head >= lane.tail.load(Ordering::SeqCst) {
                return None;
            }
            match lane.head.compare_exchange_weak(
                head,
                head + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        // The pusher has reserved this entry; its store may still be on its way.
        let entry = &self.ready[head as usize];
        loop {
            let step = entry.load(Ordering::Acquire);
            if step != 0 {
                return Some(step - 1);
            }
            std::hint::spin_loop();
        }
    }

    /// `count` steps were just queued: make sure someone will take them.
    #[inline]
    pub(super) fn queued(&self, count: usize, in_pool: bool, epoch: u64) {
        let lane = self.lane;
        lane.wake_owner(false);
        if in_pool && !lane.watched.load(Ordering::Relaxed) {
            for _ in 0..lane.reserve_helpers(epoch, count) {
                spawn_helper_on(self.spawn_on, lane, epoch);
            }
        } else if lane.is_promoted(epoch) {
            // The pool helps already (perhaps with fewer helpers than there are steps now).
            lane.call_helpers(epoch, count);
        } else {
            watcher::queued(lane);
        }
    }

    /// Runs step `i`, then whatever it makes ready: continues with the tallest successor that
    /// became ready and queues the others.
    fn run_chain(&self, mut i: u32, in_pool: bool, epoch: u64, beat: &mut Heartbeat) {
        // Whether the run is promoted lazily (see the module docs): its owner, or a helper of
        // it, looks after that (a helper finds the run promoted and does nothing).
        let lazy = !in_pool || self.lane.watched.load(Ordering::Relaxed);
        loop {
            let own = if lazy {
                Some(self.before_own_step(i, epoch, beat.fresh))
            } else {
                None
            };
            let ok = self.run_step(i);
            if let Some(own) = own {
                self.after_own_step(i, epoch, own, beat);
            }
            if !ok {
                self.retire();
                return;
            }
            let mut next = None;
            let mut queued = 0;
            for &successor in self.hot.successors(i) {
                if self.dependency_done(successor) {
                    if !self.ready_here(successor) {
                        // An async step, or one whose permits are taken.
                        self.count_work(1);
                        self.wait_elsewhere(successor, epoch);
                    } else if next.is_none() {
                        // Takes over step `i`'s count of work.
                        next = Some(successor);
                    } else {
                        self.count_work(1);
                        self.push(successor);
                        queued += 1;
                    }
                }
            }
            let Some(step) = next else {
                if queued > 0 {
                    self.queued(queued, in_pool, epoch);
                }
                self.retire();
                return;
            };
            // A plain thread whose run was promoted hands its next step to the pool; a pool
            // thread calls helpers for the steps that waited, and goes on.
            if !in_pool && self.hand_off(epoch, beat, Some(step)) {
                self.push(step);
                self.queued(queued + 1, in_pool, epoch);
                return;
            }
            if in_pool && lazy {
                self.keep_pace(epoch, beat, Some(step));
            }
            if queued > 0 {
                self.queued(queued, in_pool, epoch);
            }
            i = step;
        }
    }

    /// The helper side: takes queued steps until the queue is empty.
    fn help(&self) {
        let lane = self.lane;
        let epoch = lane.open_epoch();
        loop {
            lane.active.fetch_add(1, Ordering::SeqCst);
            let step = self.pop();
            if let Some(step) = step {
                if !lane.helped.load(Ordering::Relaxed) {
                    lane.helped.store(true, Ordering::Relaxed);
                }
                self.run_chain(step, true, epoch, &mut Heartbeat::default());
            }
            if lane.active.fetch_sub(1, Ordering::SeqCst) == 1 {
                lane.wake_owner(true);
            }
            if step.is_none() {
                lane.leave_helpers();
                // A step queued while we left, by a thread that saw no room for another
                // helper: take our place back (both sides check after writing, so one of
                // them sees the other).
                if lane.queued() > 0
                    && !self.stopped.load(Ordering::Relaxed)
                    && lane.reserve_helpers(epoch, 1) == 1
                {
                    continue;
                }
                return;
            }
        }
    }
}

/// What a helper job calls, through the lane.
///
/// # Safety
/// `run` points to a live `Run<'_, E>` (the lane guarantees it while the helper is inside).
pub(super) unsafe fn help<E: Exec>(run: *const ()) {
    // SAFETY: the caller's contract.
    let run = unsafe { &*run.cast::<Run<'_, E>>() };
    // Steps, drops and observers are already caught; anything else is a bug of ours, and a
    // panic must not escape into the pool (rayon would abort the process).
    if catch_unwind(AssertUnwindSafe(|| run.help())).is_err() {
        run.stop(FlowError::new(
            ErrorKind::Internal,
            run.flow_name(),
            None,
            Some(Box::new(Internal("a helper thread of the run panicked"))),
        ));
    }
}
