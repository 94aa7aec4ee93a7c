//! Steps of a blocking run that wait for permits without a thread: *parked* in their limits'
//! queues, and started by whoever gives the permit back.
//!
//! A step that needs permits takes them where it becomes ready when they are free (the fast
//! path: a gated run then costs about what an ungated one does). Otherwise it parks: its claim
//! is kept in the run with a waker that, when a permit comes back, enters the run as a helper
//! does (through the lane, so the run cannot end meanwhile), goes on claiming, and once the
//! step holds every permit, queues it and calls a helper. No thread waits, and a ready step
//! starts as soon as its permits are free, whatever the run's owner is doing.
//!
//! A run that parks steps knows when it is over from its count of outstanding work (`work`:
//! steps ready, queued, parked or running): parked steps are work that no thread holds.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use super::lane::Lane;
use super::notify::STEP_WAITING;
use super::{Exec, Run};
use crate::error::{ErrorKind, FlowError, Internal};
use crate::limit::{Claiming, Held};

/// A parked step's claim, with its lifetime erased (see `Limits::held`), and its waker.
pub(crate) struct Parked {
    claiming: Claiming<'static>,
    waker: Waker,
}

/// The waker of a parked step: goes on with its claim through the lane.
struct Unparker {
    lane: &'static Lane,
    epoch: u64,
    step: u32,
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.lane.unpark(self.epoch, self.step);
    }
}

/// The waker a run's owner registers with its cancel token while steps are parked: a
/// cancellation wakes the owner, which then stops the run.
pub(super) struct OwnerWaker(pub(super) &'static Lane);

impl Wake for OwnerWaker {
    fn wake(self: Arc<Self>) {
        self.0.wake_owner(true);
    }
}

impl<'a, E: Exec> Run<'a, E> {
    /// One more step is outstanding (in runs that count them: see `work`).
    #[inline]
    pub(super) fn count_work(&self, steps: usize) {
        if self.tracked {
            self.work.fetch_add(steps, Ordering::SeqCst);
        }
    }

    /// A step is over, and the steps it made ready are counted.
    #[inline]
    pub(super) fn retire(&self) {
        if self.tracked {
            self.work.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Ready step `i`, counted as work, cannot start where it became ready: the owner starts
    /// it (an async run's owner, a future) or it parks until its permits are free.
    pub(super) fn wait_elsewhere(&self, i: u32, epoch: u64) {
        if self.parks {
            self.park(i, epoch);
        } else {
            self.defer(i);
        }
    }

    /// Whether the run of an owner whose steps may park is over: no work is outstanding, or
    /// the run stopped and no helper runs a step (the owner closes the lane next, which waits
    /// for any helper still inside).
    pub(super) fn quiet(&self) -> bool {
        if !self.parks {
            return self.settled();
        }
        self.work.load(Ordering::SeqCst) == 0
            || (self.interrupted() && self.lane.active.load(Ordering::SeqCst) == 0)
    }

    /// Parks step `i` of run `epoch` until it holds its permits.
    #[cold]
    fn park(&self, i: u32, epoch: u64) {
        if self.observed() {
            let (info, step) = (self.info(), &self.plan.steps()[i as usize]);
            self.emit(STEP_WAITING, Some(i), |o| o.step_waiting(&info, step));
        }
        let waker = Waker::from(Arc::new(Unparker {
            lane: self.lane,
            epoch,
            step: i,
        }));
        // SAFETY: only the lifetime changes; the claim is dropped before the run ends
        // (`drop_parked`) or handed back as a `Held<'a>` (`unparked`).
        let mut claiming =
            unsafe { std::mem::transmute::<Claiming<'a>, Claiming<'static>>(self.claiming(i)) };
        // Locked before the first poll: a permit granted at once finds the claim stored.
        let mut slot = self.limits.parked[i as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match claiming.poll(&mut Context::from_waker(&waker)) {
            Poll::Pending => *slot = Some(Parked { claiming, waker }),
            Poll::Ready(held) => {
                drop(slot);
                self.unparked(i, held, epoch);
            }
        }
    }

    /// A permit came back to parked step `i`: goes on claiming.
    fn unpark(&self, i: u32, epoch: u64) {
        let mut slot = self.limits.parked[i as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(parked) = slot.as_mut() else {
            return;
        };
        let waker = parked.waker.clone();
        if let Poll::Ready(held) = parked.claiming.poll(&mut Context::from_waker(&waker)) {
            *slot = None;
            drop(slot);
            self.unparked(i, held, epoch);
        }
    }

    /// Parked step `i` holds its permits (or never can): queues it for a helper.
    fn unparked(&self, i: u32, held: Option<Held<'static>>, epoch: u64) {
        match held {
            Some(held) => {
                // SAFETY: the claim was made by this run, for limits that outlive it.
                let held = unsafe { std::mem::transmute::<Held<'static>, Held<'a>>(held) };
                self.hold(i, held);
                self.push(i);
                self.queued(1, true, epoch);
            }
            None => {
                self.no_permits(i);
                self.retire();
                self.lane.wake_owner(true);
            }
        }
    }

    /// Drops the claims of steps still parked when the run ended (it stopped): they leave
    /// their limits' queues, and a permit granted meanwhile goes to the next in line.
    pub(super) fn drop_parked(&self) {
        for slot in &self.limits.parked {
            let parked = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            drop(parked);
        }
    }
}

/// What a parked step's waker calls through the lane.
///
/// # Safety
/// `run` points to a live `Run<'_, E>` (the lane guarantees it while the caller is inside).
pub(super) unsafe fn unpark<E: Exec>(run: *const (), step: u32, epoch: u64) {
    // SAFETY: the caller's contract.
    let run = unsafe { &*run.cast::<Run<'_, E>>() };
    // The waker runs on whichever thread gave the permit back: nothing may unwind into it.
    if catch_unwind(AssertUnwindSafe(|| run.unpark(step, epoch))).is_err() {
        run.stop(FlowError::new(
            ErrorKind::Internal,
            run.flow_name(),
            None,
            Some(Box::new(Internal(
                "claiming a waiting step's permits panicked",
            ))),
        ));
        run.lane.wake_owner(true);
    }
}
