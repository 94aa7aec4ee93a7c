//! [`Held`]: a step's value kept in a local of a flow's straight-line form.

use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A value the straight-line form keeps in a local instead of a slot (see
/// `engine::straight`). [`release`](Held::release) drops it where the plan says (a panicking
/// `Drop` then fails the run as the value's step); dropped any other way (an early return
/// after a failed step, or unwinding from a panicking one), it drops its value and swallows a
/// panic of that `Drop`, so the run's first error stands and every value is dropped once, as
/// the engine's `clear_all` does with slots.
pub struct Held<T>(ManuallyDrop<T>);

impl<T> Held<T> {
    /// Holds `value`.
    #[inline(always)]
    pub fn new(value: T) -> Self {
        Held(ManuallyDrop::new(value))
    }

    /// The value.
    #[inline(always)]
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Whether releasing the value runs code (the straight line records the slot it clears
    /// only then).
    #[inline(always)]
    pub fn needs_drop(&self) -> bool {
        std::mem::needs_drop::<T>()
    }

    /// Drops the value; a panic of its `Drop` unwinds to the caller.
    #[inline(always)]
    pub fn release(self) {
        drop(self.into_inner());
    }

    /// The value, no longer held.
    #[inline(always)]
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its own `Drop` never runs, so the value is
        // taken out exactly once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl<T> Drop for Held<T> {
    #[inline]
    fn drop(&mut self) {
        if std::mem::needs_drop::<T>() {
            // SAFETY: `drop` runs once and the value is not used after it.
            let _caught = catch_unwind(AssertUnwindSafe(|| unsafe {
                ManuallyDrop::drop(&mut self.0);
            }));
        }
    }
}
