//! [`Slot`]: where a run keeps one input or one step result.

use std::cell::UnsafeCell;

use crate::engine::Access;
use crate::error::{FlowError, Internal};

/// A cell holding one value of a run, written once by its producer, read by its consumers and
/// cleared after the last of them.
///
/// All access goes through an [`Access`] token, which only the engine hands out, while it
/// upholds the protocol of a run: a slot is written by exactly one step before any of that
/// step's consumers starts, is never written while read, and is cleared only after every
/// consumer has finished. Those orderings come from the engine's atomics and its plan, which
/// it checks when it first runs it.
///
/// Within one call, the borrow checker keeps the token honest: a value read with
/// [`get`](Self::get) lives only as long as the shared borrow of the token, and
/// [`set`](Self::set) and [`clear`](Self::clear) need it mutably, so no code can hold a
/// value across its own write or clear.
pub struct Slot<T>(UnsafeCell<Option<T>>);

// SAFETY: values are only reached through `Access`, under the protocol above: writes and
// clears never overlap other accesses, and shared reads hand out `&T` across threads, which
// needs `T: Sync` (and `T: Send`, because the value may be dropped on another thread).
unsafe impl<T: Send + Sync> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// An empty slot, for a step result.
    #[must_use]
    pub const fn empty() -> Self {
        Slot(UnsafeCell::new(None))
    }

    /// A filled slot, for an input.
    #[must_use]
    pub const fn new(value: T) -> Self {
        Slot(UnsafeCell::new(Some(value)))
    }

    /// The value. Panics (caught by the engine and reported as an internal error) if the slot
    /// is empty, which the engine's ordering rules out.
    #[inline]
    pub fn get<'a>(&'a self, _: &'a Access) -> &'a T {
        // SAFETY: `Access` proves we run under the engine's protocol: no write or clear
        // overlaps this read.
        match unsafe { &*self.0.get() } {
            Some(value) => value,
            None => empty_slot(),
        }
    }

    /// Stores the value.
    #[inline]
    pub fn set(&self, _: &mut Access, value: T) {
        // SAFETY: the producer is the only step that touches the slot until it finishes.
        unsafe { *self.0.get() = Some(value) }
    }

    /// Drops the value, if any.
    #[inline]
    pub fn clear(&self, _: &mut Access) {
        // SAFETY: called once every consumer has finished; nobody reads the slot any more.
        let value = unsafe { (*self.0.get()).take() };
        drop(value);
    }

    /// The value, if any, once the run is over.
    pub fn into_inner(self) -> Option<T> {
        self.0.into_inner()
    }

    /// Takes the value of a slot the run returns, after the run.
    ///
    /// # Errors
    /// An internal [`FlowError`] if the slot is empty, which a successful run rules out.
    pub fn take_result(&mut self, flow: &'static str) -> Result<T, FlowError> {
        self.0.get_mut().take().ok_or_else(|| {
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
