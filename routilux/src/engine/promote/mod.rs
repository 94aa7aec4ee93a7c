//! When a run owned by a plain thread, or by a pool thread with its pool named in the run's
//! options, calls the pool (*promotion*; see `dataflow` and `watcher`).
//!
//! Such a run starts on its owner, so a small flow never pays for waking the pool (or, on a pool
//! thread, for spawning helpers it would not need). Steps that wait in its queue get helpers from
//! the pool once they have waited: the owner checks its clock between its steps
//! ([`PROMOTE_AFTER`]), and the heartbeat watcher notices an owner stuck in one long or blocking
//! step (at its next tick).
//!
//! Decisions follow from the current run, with one piece of history: whether a step is thought long
//! (`Hot::long`). An owner about to start a step thought long while others wait calls the pool
//! first, so those steps wait for the pool's wake-up (tens of microseconds) rather than for the
//! heartbeat's tick. In the first run of a `flow!` flow promoted this way every step is
//! presumed long, so that run calls the pool once its owner starts a step with others waiting (not
//! for [`Builder`](crate::Builder) flows, which may be built for each call: there, every run would
//! pay for the wake-up). Once a run is promoted, steps its owner queues call helpers of their own
//! (up to the run's maximum). A step is thought long after calling the pool before it gained
//! something (the pool took a waiting step before it ended, or a helper ran a step of the run by
//! its end), after the heartbeat had to promote a run during it (it ran long, or blocked, while
//! others waited), or when it was the first step the owner ran while others waited in a run its
//! own clock promoted; it is not after calling the pool before it gained nothing. So a wrong mark
//! costs one needless wake-up of the pool, a missing one at most the heartbeat's tick, never a
//! serialized run; where steps run does not depend on it.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Exec, Run};

#[cfg(test)]
mod tests;

impl<E: Exec> Run<'_, E> {
    /// Called by a plain thread that owns the run, between two of its steps: whether it should
    /// leave the rest of the run to the pool. It does once the run is promoted and every
    /// thread of the pool is running one of its steps; until the helpers arrive (a pool
    /// wakes in microseconds, a small run may be over by then), it keeps working.
    /// `next`: the step it is about to run, if it knows it.
    pub(super) fn hand_off(&self, epoch: u64, beat: &mut Heartbeat, next: Option<u32>) -> bool {
        (self.lane.is_promoted(epoch) || self.promote_if_due(epoch, beat, next)) && self.pool_busy()
    }

    /// Called by a plain thread that owns the run before it runs step `i`: if the step is
    /// thought long (`Hot::long`, or every step in a flow's first run: `fresh`) and other
    /// steps wait, calls the pool now rather than leaving them to the heartbeat's next tick.
    #[inline]
    pub(super) fn before_own_step(&self, i: u32, epoch: u64, fresh: bool) -> OwnStep {
        let lane = self.lane;
        let promoted = lane.is_promoted(epoch);
        let mut own = OwnStep {
            promoted,
            head: None,
        };
        if promoted {
            return own;
        }
        if !(fresh || self.hot.long[i as usize].load(Ordering::Relaxed)) {
            return own;
        }
        let queued = lane.queued() as usize;
        if queued == 0 {
            return own;
        }
        // Before any helper is called: one may take a step at once.
        let head = lane.head.load(Ordering::SeqCst);
        if lane.call_helpers(epoch, queued) {
            own.head = Some(head);
        }
        own
    }

    /// Called by a plain thread that owns the run after it ran step `i`: whether the step is
    /// thought long from now on. If the pool was called before it, it is if the pool took one
    /// of the steps that waited before it ended, or else if a helper ran any step of the run
    /// by its end (see [`settle_marks`](Self::settle_marks): a pool that wakes a little after
    /// a 10 µs step ended still takes half of a large flow); otherwise it is if the heartbeat
    /// promoted the run meanwhile, and the mark stays as it was if nothing happened.
    #[inline]
    pub(super) fn after_own_step(&self, i: u32, epoch: u64, own: OwnStep, beat: &mut Heartbeat) {
        let long = &self.hot.long[i as usize];
        match own.head {
            Some(head) => {
                if self.lane.head.load(Ordering::SeqCst) == head {
                    beat.undecided = Some(i);
                } else {
                    long.store(true, Ordering::Relaxed);
                }
            }
            None if !own.promoted && self.lane.is_promoted(epoch) => {
                long.store(true, Ordering::Relaxed);
            }
            None => {}
        }
    }

    /// Called by the owner at the end of its run: a step before which it called the pool, and
    /// during which the pool took nothing, stays thought long if a helper ran any step of the
    /// run (the call was worth its wake-up), and is not otherwise.
    pub(super) fn settle_marks(&self, beat: &Heartbeat) {
        if let Some(step) = beat.undecided {
            let helped = self.lane.helped.load(Ordering::Relaxed);
            self.hot.long[step as usize].store(helped, Ordering::Relaxed);
        }
    }

    /// Called by a pool thread that owns a lazily promoted run (see `dataflow`), between two
    /// of its steps: calls helpers once steps have waited for [`PROMOTE_AFTER`], and keeps
    /// working. `next`: the step it is about to run, if it knows it.
    #[inline]
    pub(super) fn keep_pace(&self, epoch: u64, beat: &mut Heartbeat, next: Option<u32>) {
        if !self.lane.is_promoted(epoch) {
            self.promote_if_due(epoch, beat, next);
        }
    }

    /// Whether every helper the run may have is running one of its steps.
    pub(super) fn pool_busy(&self) -> bool {
        self.lane.active.load(Ordering::SeqCst) >= self.lane.max_helpers()
    }

    /// Called by a plain thread that owns the run, between two of its steps: when steps have
    /// been waiting in the queue for [`PROMOTE_AFTER`], calls helpers from the pool and marks
    /// the run promoted (the owner then hands its steps over). Returns whether it did.
    /// `next` is the step the owner is about to run: the first such step that others wait
    /// behind is thought long once the clock promotes the run, so that the next run calls the
    /// pool before it rather than after the clock's checks.
    fn promote_if_due(&self, epoch: u64, beat: &mut Heartbeat, next: Option<u32>) -> bool {
        let lane = self.lane;
        let queued = lane.queued() as usize;
        if queued == 0 {
            return false;
        }
        if beat.checks == 0 {
            beat.first_waited_behind = next;
        }
        if !beat.due() {
            return false;
        }
        // One more than is queued: the owner's own next step joins the queue.
        let called = lane.call_helpers(epoch, queued + 1);
        if called && let Some(step) = beat.first_waited_behind {
            self.hot.long[step as usize].store(true, Ordering::Relaxed);
        }
        called
    }
}

/// How long steps may wait in the queue of a run owned by a plain thread before the owner
/// calls the pool (checked between the owner's steps; a step that runs long or blocks is the
/// watcher's to notice).
const PROMOTE_AFTER: Duration = Duration::from_micros(30);

/// What the owner noted before running one of its steps (see `before_own_step`).
pub(super) struct OwnStep {
    /// Whether the run was promoted already.
    promoted: bool,
    /// The queue's head when the step started, if the owner called the pool before it.
    head: Option<u32>,
}

/// The owner's clock for [`PROMOTE_AFTER`], read between the owner's steps while others wait:
/// not at the first two (a small flow such as a diamond never reads it), then at each of the
/// next eight, then at every eighth, so that runs of trivial steps hardly pay for it. A queued
/// step so waits at most three of the owner's steps plus `PROMOTE_AFTER` (or the watcher's
/// bound, if that comes first).
#[derive(Default)]
pub(super) struct Heartbeat {
    since: Option<Instant>,
    checks: u32,
    /// The step the owner was about to run when it first found steps waiting (if it knew).
    first_waited_behind: Option<u32>,
    /// A step before which the owner called the pool, and during which the pool took
    /// nothing: its mark is settled at the run's end (see `settle_marks`).
    undecided: Option<u32>,
    /// Whether the run is the first of its flow that a plain thread owns: every step is
    /// thought long.
    pub(super) fresh: bool,
}

impl Heartbeat {
    /// The clock of a run's owner, a plain thread: `fresh` if no plain thread has owned a
    /// run of the flow yet.
    pub(super) fn owner(fresh: bool) -> Self {
        Heartbeat {
            fresh,
            ..Heartbeat::default()
        }
    }

    /// Whether steps have waited long enough, counted from the first time this was asked.
    #[inline]
    fn due(&mut self) -> bool {
        self.checks += 1;
        if self.checks <= 2 || (self.checks > 10 && !self.checks.is_multiple_of(8)) {
            return false;
        }
        let now = Instant::now();
        now.duration_since(*self.since.get_or_insert(now)) >= PROMOTE_AFTER
    }
}
