//! [`Access`]: the engine's permission to touch some slots of one run, and [`StepAccess`],
//! an async step's.

use std::marker::PhantomData;

use crate::engine::CLEARING;
use crate::plan::Hot;

/// What a token is asked to allow.
#[derive(Clone, Copy)]
pub(super) enum Use {
    Read,
    Write,
    Clear,
}

/// No slot.
const NONE: u32 = u32::MAX;

/// Permission to touch some slots of one run for the length of one call; only the engine makes
/// one (see [`Slot`](super::Slot)). Not `Send`: it stays on the thread it was given to (an
/// async step's token travels as a [`StepAccess`]). `Sync`: a shared token only reads.
pub struct Access<'a> {
    run: u64,
    hot: &'a Hot,
    /// The slots the current step reads.
    reads: &'a [u32],
    /// The step's own slot: written by it, read by its undo.
    own: u32,
    /// The slot being cleared.
    clear: u32,
    /// Whether the holder runs the flow straight through and so may move from step to step.
    straight: bool,
    /// In a straight run: the plan position of the current step, or `CLEARING | slot`.
    position: u32,
    /// Not `Send`, but `Sync`.
    _thread: PhantomData<std::sync::MutexGuard<'static, ()>>,
}

/// The [`Access`] of one async step, which the step's future carries across threads and
/// awaits: only the engine makes one, for one attempt of one step.
pub struct StepAccess<'a>(Access<'a>);

// SAFETY: a step's token allows only that step's reads and the write of its own result, and
// the engine makes one per attempt; moving it to another thread moves the permission, it does
// not copy it. (Only straight-line tokens, which allow every slot, must stay on their thread,
// and those are never wrapped.)
unsafe impl Send for StepAccess<'_> {}

impl<'a> StepAccess<'a> {
    /// For one attempt of async step `step`.
    pub(crate) fn step(run: u64, hot: &'a Hot, step: u32) -> Self {
        StepAccess(Access::step(run, hot, step))
    }

    /// For undoing step `step` with an async undo (reading its own result).
    pub(crate) fn undo(run: u64, hot: &'a Hot, step: u32) -> Self {
        StepAccess(Access::undo(run, hot, step))
    }

    /// The token, to read the step's arguments.
    #[must_use]
    pub fn get(&self) -> &Access<'a> {
        &self.0
    }

    /// The token, to store the step's result.
    pub fn get_mut(&mut self) -> &mut Access<'a> {
        &mut self.0
    }
}

impl<'a> Access<'a> {
    fn new(run: u64, hot: &'a Hot) -> Self {
        Access {
            run,
            hot,
            reads: &[],
            own: NONE,
            clear: NONE,
            straight: false,
            position: 0,
            _thread: PhantomData,
        }
    }

    /// For running step `step` (and compensating it).
    pub(crate) fn step(run: u64, hot: &'a Hot, step: u32) -> Self {
        let mut access = Access::new(run, hot);
        access.allow_step(step);
        access
    }

    /// For undoing step `step`: reading its own result.
    pub(crate) fn undo(run: u64, hot: &'a Hot, step: u32) -> Self {
        let mut access = Access::new(run, hot);
        access.own = hot.inputs + step;
        access
    }

    /// For dropping the value in `slot`.
    pub(crate) fn clear(run: u64, hot: &'a Hot, slot: u32) -> Self {
        let mut access = Access::new(run, hot);
        access.clear = slot;
        access
    }

    /// For running the whole flow straight through, step after step.
    pub(crate) fn straight(run: u64, hot: &'a Hot) -> Self {
        let mut access = Access::new(run, hot);
        access.straight = true;
        access
    }

    /// In a straight run: the plan position of the current step, or `CLEARING | slot`.
    pub(crate) fn position(&self) -> u32 {
        self.position
    }

    fn allow_step(&mut self, step: u32) {
        self.reads = self.hot.reads(step);
        self.own = self.hot.inputs + step;
        self.clear = NONE;
    }

    /// Records that a straight run moves on to step `step` (plan position). Panics for any
    /// other token.
    #[inline]
    pub fn enter_step(&mut self, step: u32) {
        assert!(self.straight, "{DENIED}");
        self.position = step;
    }

    /// Records that a straight run drops the value in `slot`. Panics for any other token.
    #[inline]
    pub fn enter_clear(&mut self, slot: u32) {
        assert!(self.straight, "{DENIED}");
        self.position = CLEARING | slot;
    }

    /// Panics unless the token allows `what` on slot `index` of run `run`.
    ///
    /// A straight run's token allows every slot of its run: the run has one thread, the token
    /// cannot leave it (neither `Send` nor `Sync`), and the borrow checker keeps a read from
    /// overlapping a write or clear through it, so only other runs' slots need refusing.
    #[inline]
    pub(super) fn check(&self, run: u64, index: u32, what: Use) {
        let allowed = run == self.run
            && (self.straight
                || match what {
                    Use::Read => index == self.own || self.reads.contains(&index),
                    Use::Write => index == self.own,
                    Use::Clear => index == self.clear,
                });
        if !allowed {
            denied();
        }
    }
}

/// The message of an access the plan does not allow.
const DENIED: &str = "routilux internal error: a slot was accessed outside the run's plan";

#[cold]
#[inline(never)]
fn denied() -> ! {
    panic!("{DENIED}")
}
