//! [`Slot`]: where a run keeps one input or one step result.

mod access;
mod brand;
#[cfg(test)]
mod tests;

use std::cell::UnsafeCell;

use access::Use;
pub use access::{Access, StepAccess};
pub use brand::Brand;

use crate::error::{FlowError, Internal};

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
