//! Map steps: `step ys = f(each xs, rate);` calls `f` once per element of `xs` and stores the
//! results in input order.
//!
//! The engine sees a map step as one step (run once, undone as a whole); inside it, elements
//! run in parallel on the run's pool. Workers claim runs of consecutive elements from a shared
//! counter: a fixed `batch` when the step sets one, otherwise a guided size (what is left
//! divided by twice the workers, at least one), which starts with large claims and ends with
//! single elements, so long and short elements balance without a claim per element. Each
//! worker runs one element at a time, so `max_concurrency` workers bound the elements in
//! flight. Results are written in place into the output vector.
//!
//! Retries, backoff and compensation apply per element, each element with its own
//! [`Context`] (attempt numbers of its own; the run's data and cancellation). The first
//! element that fails for good stops the step: elements in flight finish, no new one
//! starts, completed elements are undone newest first when the routine can be undone, and
//! the step fails with the element's error and index ([`FlowError::element`]).
//!
//! An async routine mapped with `each` ([`later`]) runs its elements as futures polled by
//! the step's own future, up to `max_concurrency` at once (every element at once without
//! it), with the same per-element retries, compensation, undo and error as above.
//!
//! [`FlowError::element`]: crate::FlowError::element

mod later;
mod workers;

use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::time::Duration;

use crate::asynchronous::StepFuture;
use crate::context::Context;
use crate::error::{BoxError, ElementFailed};
use crate::policy::Policy;

pub use later::{ElementFuture, map_later};
pub use workers::map;

/// How a map step runs its elements: the element policy (retries, backoff, undo), the batch
/// size and the bound on elements in flight.
#[derive(Clone, Copy, Debug)]
pub struct MapOptions {
    pub(super) policy: Policy,
    pub(super) batch: Option<usize>,
    pub(super) limit: Option<usize>,
}

impl MapOptions {
    /// Options from the step's policy and its `batch` and `max_concurrency` (zero is taken
    /// as one).
    #[must_use]
    pub const fn new(policy: Policy, batch: Option<usize>, limit: Option<usize>) -> Self {
        MapOptions {
            policy,
            batch,
            limit,
        }
    }
}

/// What a map step can map over: anything that is `AsRef<[T]>` (`Vec<T>`, arrays, boxed
/// slices).
#[diagnostic::on_unimplemented(
    message = "`each` cannot map over `{Self}`: it is not a `Vec`, an array or a slice",
    label = "`each` takes a value that is `AsRef<[T]>`: `Vec<T>`, `[T; N]`, `Box<[T]>`",
    note = "to call the routine once with the whole value, drop `each`"
)]
pub trait Elements<T> {
    /// The elements, in order.
    fn elements(&self) -> &[T];
}

impl<T, C: AsRef<[T]> + ?Sized> Elements<T> for C {
    #[inline]
    fn elements(&self) -> &[T] {
        self.as_ref()
    }
}

/// Undoes every element of a completed map step, newest (highest index) first, skipping the
/// elements in `continued` (their values came from compensation). Every element is tried;
/// the first error is returned, with how many failed.
///
/// # Errors
/// The first undo error, when any element's undo failed.
pub fn undo_each<O>(
    values: &[O],
    undo: fn(&O) -> Result<(), BoxError>,
    continued: &OnceLock<Box<[usize]>>,
) -> Result<(), BoxError> {
    let mut failures = UndoFailures::default();
    for i in to_undo(values, continued) {
        if let Err(error) = undo(&values[i]) {
            failures.push(i, error);
        }
    }
    failures.into_result()
}

/// [`undo_each`] for a run owned by a future: each element's async undo awaited (a sync one
/// called), newest first. A panicking undo is that element's error; the others still run.
pub fn undo_each_later<'a, O: Sync>(
    values: &'a [O],
    undo_later: for<'o> fn(&'o O) -> Option<StepFuture<'o>>,
    undo: fn(&O) -> Result<(), BoxError>,
    continued: &'a OnceLock<Box<[usize]>>,
) -> Option<StepFuture<'a>> {
    Some(Box::pin(async move {
        let mut failures = UndoFailures::default();
        for i in to_undo(values, continued) {
            if let Err(error) = later::undo_one(&values[i], undo_later, undo).await {
                failures.push(i, error);
            }
        }
        failures.into_result()
    }))
}

/// The elements to undo, newest (highest index) first, without those whose values came from
/// compensation.
fn to_undo<'a, O>(
    values: &[O],
    continued: &'a OnceLock<Box<[usize]>>,
) -> impl Iterator<Item = usize> + Send + 'a {
    let kept = continued.get().map_or(&[][..], |k| &k[..]);
    (0..values.len())
        .rev()
        .filter(move |i| kept.binary_search(i).is_err())
}

/// The failed undos of a map step's elements: the first error, and how many failed.
#[derive(Default)]
struct UndoFailures {
    first: Option<BoxError>,
    failed: usize,
}

impl UndoFailures {
    fn push(&mut self, i: usize, error: BoxError) {
        self.failed += 1;
        self.first
            .get_or_insert_with(|| Box::new(ElementFailed::new(i, false, error)));
    }

    fn into_result(self) -> Result<(), BoxError> {
        match self.first {
            None => Ok(()),
            Some(error) if self.failed == 1 => Err(error),
            Some(error) => Err(format!("{error} (and {} other elements)", self.failed - 1).into()),
        }
    }
}

/// The context of one attempt of an element: the step's run, names, data and nesting (so
/// that elements that run sub-flows pass on what the step would), with the element's own
/// attempt numbers and stop check.
fn element_context(
    step: &Context,
    attempt: (u32, u32),
    stopped: &(dyn Fn() -> bool + Sync),
) -> Context {
    let ctx = Context::new(
        step.run_id(),
        (step.flow(), step.step()),
        attempt,
        stopped,
        step.data(),
    );
    match step.nest() {
        Some(nest) => ctx.nested(nest),
        None => ctx,
    }
}

/// The wait before retry `attempt` of element `i`: the policy's backoff, jittered by a random
/// fraction.
fn backoff(policy: &Policy, step: &Context, i: usize, attempt: u32) -> Duration {
    let unit = std::hash::RandomState::new().hash_one((step.run_id(), i, attempt));
    #[allow(clippy::cast_precision_loss)]
    let unit = (unit >> 11) as f64 / (1u64 << 53) as f64;
    policy.get_backoff().jittered(attempt, unit)
}
