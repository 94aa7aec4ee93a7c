//! [`Slot`]: where a run keeps one input or one step result.

use std::cell::UnsafeCell;

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::CLEARING;
use crate::error::{FlowError, Internal};
use crate::plan::Hot;

/// A cell holding one value of a run, written once by its producer, read by its consumers and
/// cleared after the last of them.
///
/// Every slot belongs to one run (its [`Brand`]) and has one index in that run's plan, both
/// fixed when it is made. Every access goes through an [`Access`] token, which only the engine
/// hands out, for one step or one drop of one run at a time: a read is allowed only for the
/// slots the plan says the step reads (or its own), a write only for the step's own slot, a
/// clear only for the slot the engine clears. The engine orders those by index (atomics, and a
/// plan it checks before its first run), so whatever code holds a token, safe code cannot make
/// two threads touch a slot at once; an access the plan does not allow panics (the run fails).
///
/// Within one call, the borrow checker does the rest: a value read with [`get`](Self::get)
/// lives only as long as the shared borrow of the token, and [`set`](Self::set) and
/// [`clear`](Self::clear) need it mutably, so no code can hold a value across a write or a
/// clear.
pub struct Slot<T> {
    value: UnsafeCell<Option<T>>,
    run: u64,
    index: u32,
}

// SAFETY: values are only reached through `Access`, which allows an access only under the
// protocol above: writes and clears never overlap other accesses of the same run and index, and
// shared reads hand out `&T` across threads, which needs `T: Sync` (and `T: Send`, because the
// value may be dropped on another thread).
unsafe impl<T: Send + Sync> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// An empty slot of run `brand` with index `index`, for a step result.
    #[must_use]
    pub const fn empty(brand: &Brand, index: u32) -> Self {
        Slot {
            value: UnsafeCell::new(None),
            run: brand.run,
            index,
        }
    }

    /// A filled slot of run `brand` with index `index`, for an input.
    #[must_use]
    pub const fn new(brand: &Brand, index: u32, value: T) -> Self {
        Slot {
            value: UnsafeCell::new(Some(value)),
            run: brand.run,
            index,
        }
    }

    /// The value. Panics (caught by the engine and reported as an internal error) if the slot
    /// is empty, which the engine's ordering rules out, or if `access` does not allow reading
    /// it.
    #[inline]
    pub fn get<'a>(&'a self, access: &'a Access<'_>) -> &'a T {
        access.check(self.run, self.index, Use::Read);
        // SAFETY: `access` allows reading this run's slot `index` now: no write or clear of it
        // overlaps this read (see the type's docs), and the borrow ends before the holder of
        // `access` can write or clear anything.
        match unsafe { &*self.value.get() } {
            Some(value) => value,
            None => empty_slot(),
        }
    }

    /// Stores the value.
    #[inline]
    pub fn set(&self, access: &mut Access<'_>, value: T) {
        access.check(self.run, self.index, Use::Write);
        // SAFETY: `access` allows writing: the producer is the only step that touches the slot
        // until it finishes.
        unsafe { *self.value.get() = Some(value) }
    }

    /// Drops the value, if any.
    #[inline]
    pub fn clear(&self, access: &mut Access<'_>) {
        access.check(self.run, self.index, Use::Clear);
        // SAFETY: `access` allows clearing: every consumer has finished; nobody reads the slot
        // any more.
        let value = unsafe { (*self.value.get()).take() };
        drop(value);
    }

    /// The value, if any, through exclusive access (before or after the run).
    pub(crate) fn value_mut(&mut self) -> &mut Option<T> {
        self.value.get_mut()
    }

    /// The value, if any, once the run is over.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value of a slot the run returns, after the run.
    ///
    /// # Errors
    /// An internal [`FlowError`] if the slot is empty, which a successful run rules out.
    pub fn take_result(&mut self, flow: &'static str) -> Result<T, FlowError> {
        self.value.get_mut().take().ok_or_else(|| {
            FlowError::new(
                crate::ErrorKind::Internal,
                flow.into(),
                None,
                Some(Box::new(Internal("a returned result is missing"))),
            )
        })
    }
}

#[cold]
#[inline(never)]
fn empty_slot() -> ! {
    panic!("routilux internal error: a step read a result that was not produced")
}

/// The identity of one run, which its slots carry: made fresh for every run, used once.
pub struct Brand {
    run: u64,
}

/// Run identities are handed to threads in blocks, so that making one costs no shared atomic.
static BLOCKS: AtomicU64 = AtomicU64::new(1);
const BLOCK: u64 = 1 << 20;

thread_local! {
    static NEXT: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl Brand {
    /// A brand no other run has.
    #[must_use]
    pub fn new() -> Self {
        let run = NEXT
            .try_with(|next| {
                let (mut at, mut end) = next.get();
                if at == end {
                    at = BLOCKS.fetch_add(1, Ordering::Relaxed) * BLOCK;
                    end = at + BLOCK;
                }
                next.set((at + 1, end));
                at
            })
            .unwrap_or_else(|_| BLOCKS.fetch_add(1, Ordering::Relaxed) * BLOCK);
        Brand { run }
    }

    pub(crate) fn run(&self) -> u64 {
        self.run
    }
}

impl Default for Brand {
    fn default() -> Self {
        Brand::new()
    }
}

/// What a token is asked to allow.
#[derive(Clone, Copy)]
enum Use {
    Read,
    Write,
    Clear,
}

/// No slot.
const NONE: u32 = u32::MAX;

/// Permission to touch some slots of one run for the length of one call; only the engine makes
/// one (see [`Slot`]). Not `Send`: it stays on the thread it was given to (an async step's
/// token travels as a [`StepAccess`]). `Sync`: a shared token only reads.
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
    fn check(&self, run: u64, index: u32, what: Use) {
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

#[cfg(test)]
mod tests {
    use super::{Brand, Slot};
    use crate::engine::{Access, Exec, execute};
    use crate::error::BoxError;
    use crate::{Builder, DynFlow, ErrorKind, RunOptions};

    /// A flow with one input (slot 0) and two steps (slots 1 and 2), `b` reading `a`.
    fn plan() -> DynFlow {
        let mut b = Builder::new("Guarded");
        let x = b.input::<u64>("x").unwrap();
        let a = b
            .step("a", &[x], |v: &[&u64]| Ok::<u64, std::fmt::Error>(*v[0]))
            .unwrap();
        b.step("b", &[a], |v: &[&u64]| Ok::<u64, std::fmt::Error>(*v[0]))
            .unwrap();
        b.build()
    }

    /// A hand-written `Exec` that misbehaves in one of several ways.
    struct Rogue {
        slots: [Slot<u64>; 3],
        wrong: &'static str,
    }

    impl Exec for Rogue {
        fn run_step(&self, step: usize, access: &mut Access<'_>) -> Result<(), BoxError> {
            match (self.wrong, step) {
                // Reads `b`'s result from step `a`, which does not read it.
                ("read", 0) => {
                    let _ = self.slots[2].get(access);
                }
                // Writes `b`'s slot from step `a`.
                ("write", 0) => self.slots[2].set(access, 7),
                _ => {
                    let value = *self.slots[step].get(access);
                    self.slots[step + 1].set(access, value);
                }
            }
            Ok(())
        }

        fn clear(&self, slot: usize, access: &mut Access<'_>) {
            self.slots[slot].clear(access);
        }
    }

    fn rogue(brand: &Brand, wrong: &'static str) -> Rogue {
        Rogue {
            slots: [
                Slot::new(brand, 0, 1),
                Slot::empty(brand, 1),
                Slot::empty(brand, 2),
            ],
            wrong,
        }
    }

    #[test]
    fn accesses_the_plan_does_not_allow_fail_the_run_instead_of_racing() {
        let flow = plan();
        for wrong in ["read", "write"] {
            let brand = Brand::new();
            let exec = rogue(&brand, wrong);
            let err = execute(flow.plan(), &exec, brand, &RunOptions::new()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Panicked, "{wrong}: {err}");
            assert!(
                err.to_string().contains("outside the run's plan"),
                "{wrong}: {err}"
            );
        }
        // A well-behaved run of the same `Exec` succeeds.
        let brand = Brand::new();
        let exec = rogue(&brand, "none");
        execute(flow.plan(), &exec, brand, &RunOptions::new()).unwrap();
    }

    #[test]
    fn slots_of_another_run_cannot_be_touched() {
        let flow = plan();
        let other = Brand::new();
        let exec = rogue(&other, "none");
        let err = execute(flow.plan(), &exec, Brand::new(), &RunOptions::new()).unwrap_err();
        assert!(err.to_string().contains("outside the run's plan"), "{err}");
    }
}
