//! The elements of an async map step (`step pages = fetch(each urls);` with an `async fn`
//! routine): futures polled by the step's own future, so waiting elements hold no thread.
//!
//! Elements start in input order, up to the step's `max_concurrency` at once (every element
//! at once without it; under a [`Limit`](crate::Limit), as many as the step's permit and the
//! free permits it can take without waiting). Each attempt runs with a context of its own
//! and, when the routine has a timeout, fails with [`StepTimedOut`] past it; retries wait
//! on the timer, not on a thread. The first element that fails for good stops new elements
//! from starting; elements in flight finish (so that what they did can be undone), then
//! completed elements are undone newest first (an async undo is awaited) and the step fails
//! with the element's error and index, as a sync map step does.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::asynchronous::{Sleep, StepFuture};
use crate::context::Context;
use crate::error::{BoxError, ElementFailed, StepPanicked, StepTimedOut};
use crate::step::Compensation;

use super::{MapOptions, backoff, element_context};

/// The future of one attempt of one element: the routine's call, given the attempt's
/// context to own (an async routine that takes `&Context` borrows it from there).
pub type ElementFuture<'a, O> = Pin<Box<dyn Future<Output = Result<O, BoxError>> + Send + 'a>>;

/// What an element ended with: its value (and whether compensation gave it), or its error
/// (and whether it panicked).
type Ended<O> = (usize, Result<(O, bool), (bool, BoxError)>);

/// Runs an async map step: `call` once per element of `items`, up to the step's bound at
/// once, results in input order. `step` is the map step's own context.
///
/// # Errors
/// The error of the first element that failed for good, with its index (an
/// `ElementFailed`); [`Cancelled`](crate::Cancelled) when the run stopped first.
#[allow(clippy::too_many_arguments)]
pub async fn map_later<'a, T: Sync, O: Send>(
    items: &'a [T],
    options: MapOptions,
    step: &'a Context,
    call: &'a (dyn Fn(&'a T, Context) -> ElementFuture<'a, O> + Sync),
    compensate: fn(&BoxError) -> Compensation<O>,
    undo_later: for<'o> fn(&'o O) -> Option<StepFuture<'o>>,
    undo: fn(&O) -> Result<(), BoxError>,
    continued: &'a OnceLock<Box<[usize]>>,
) -> Result<Vec<O>, BoxError> {
    let n = items.len();
    let bound = options.limit.unwrap_or(n).clamp(1, n.max(1));
    // Under a limit, each element in flight holds a permit: the step's own, and the free
    // ones taken now (a map step never waits for its elements' permits).
    let extra = step.lent().map(|lending| lending.take_free(bound - 1));
    let bound = extra.as_ref().map_or(bound, |sets| sets.len() + 1);
    let elements = Elements {
        items,
        options,
        step,
        call,
        compensate,
        stop: AtomicBool::new(false),
    };
    let mut done = Done {
        values: std::iter::repeat_with(|| None).take(n).collect(),
        completed: Vec::new(),
        undo: options.policy.is_undoable().then_some(undo),
    };
    let mut kept: Vec<usize> = Vec::new();
    let mut failure: Option<(usize, bool, BoxError)> = None;
    let mut in_flight = FuturesUnordered::new();
    let mut next = 0;
    loop {
        while failure.is_none() && next < n && in_flight.len() < bound {
            in_flight.push(elements.run(next));
            next += 1;
        }
        // The run stopping (a cancellation, a deadline, another step's failure) is seen at
        // every poll: the engine polls a map step once more when the run stops.
        let ended = std::future::poll_fn(|cx| {
            if step.is_cancelled() {
                return Poll::Ready(Err(()));
            }
            in_flight.poll_next_unpin(cx).map(Ok)
        })
        .await;
        let (i, ended) = match ended {
            Ok(Some(ended)) => ended,
            Ok(None) => break,
            Err(()) => {
                // Elements in flight are dropped (they never finish); the completed ones
                // are undone below.
                in_flight.clear();
                elements.stop.store(true, Ordering::Relaxed);
                failure.get_or_insert((usize::MAX, false, Box::new(crate::Cancelled)));
                break;
            }
        };
        match ended {
            Ok((value, compensated)) => {
                done.values[i] = Some(value);
                // A value from compensation is never undone: nothing happened to undo.
                if compensated {
                    kept.push(i);
                } else {
                    done.completed.push(i);
                }
            }
            Err((panicked, error)) => {
                elements.stop.store(true, Ordering::Relaxed);
                failure.get_or_insert((i, panicked, error));
            }
        }
    }
    drop(in_flight);
    drop(extra);
    kept.sort_unstable();
    let Some((index, panicked, error)) = failure else {
        if !kept.is_empty() {
            let _ = continued.set(kept.into_boxed_slice());
        }
        return Ok(done.take().into_iter().flatten().collect());
    };
    // Newest first; every failed undo is reported with the step's error, never dropped.
    let mut undo_failures: Vec<(usize, BoxError)> = Vec::new();
    while let Some(i) = done.completed.pop() {
        if done.undo.is_none() {
            continue;
        }
        if let Some(value) = &done.values[i]
            && let Err(error) = undo_one(value, undo_later, undo).await
        {
            undo_failures.push((i, error));
        }
    }
    if error.is::<crate::Cancelled>() && index == usize::MAX && undo_failures.is_empty() {
        return Err(error);
    }
    Err(Box::new(
        ElementFailed::new(index, panicked, error).with_undo_failures(undo_failures),
    ))
}

/// The completed elements of an async map. If the step's future is dropped before it is
/// over (the run's own future dropped), the drop undoes them, newest first, with the
/// routine's blocking undo: nobody is left to await an async one, nor to hear its error.
struct Done<O> {
    values: Vec<Option<O>>,
    /// Completed elements, in completion order; those left here when dropped are undone.
    completed: Vec<usize>,
    undo: Option<Undo<O>>,
}

/// A routine's blocking undo.
type Undo<O> = fn(&O) -> Result<(), BoxError>;

impl<O> Done<O> {
    /// The values, with nothing left to undo.
    fn take(&mut self) -> Vec<Option<O>> {
        self.completed.clear();
        std::mem::take(&mut self.values)
    }
}

impl<O> Drop for Done<O> {
    fn drop(&mut self) {
        let Some(undo) = self.undo else { return };
        while let Some(i) = self.completed.pop() {
            if let Some(value) = &self.values[i] {
                let _ = catch_unwind(AssertUnwindSafe(|| undo(value)));
            }
        }
    }
}

/// Undoes one element: its async undo awaited, or its sync undo called; a panic is an error.
pub(super) async fn undo_one<O>(
    value: &O,
    undo_later: for<'o> fn(&'o O) -> Option<StepFuture<'o>>,
    undo: fn(&O) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let panicked = |payload: Box<dyn std::any::Any + Send>| -> BoxError {
        Box::new(StepPanicked::from_payload(&*payload))
    };
    match catch_unwind(AssertUnwindSafe(|| undo_later(value))) {
        Ok(Some(future)) => Caught(future).await.unwrap_or_else(|p| Err(panicked(p))),
        Ok(None) => {
            catch_unwind(AssertUnwindSafe(|| undo(value))).unwrap_or_else(|p| Err(panicked(p)))
        }
        Err(payload) => Err(panicked(payload)),
    }
}

/// What every element of one async map shares.
struct Elements<'a, T, O> {
    items: &'a [T],
    options: MapOptions,
    step: &'a Context,
    call: &'a (dyn Fn(&'a T, Context) -> ElementFuture<'a, O> + Sync),
    compensate: fn(&BoxError) -> Compensation<O>,
    /// Set when an element failed for good: retries stop.
    stop: AtomicBool,
}

impl<'a, T: Sync, O: Send> Elements<'a, T, O> {
    /// Element `i` with its attempts, timeouts, retries and compensation.
    async fn run(&self, i: usize) -> Ended<O> {
        let policy = self.options.policy;
        let attempts = policy.attempts();
        let step = self.step;
        let stopped = || step.is_cancelled() || self.stop.load(Ordering::Relaxed);
        let mut attempt = 1;
        loop {
            let ctx = element_context(step, (attempt, attempts), &stopped);
            let future = ctx.enter(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    (self.call)(
                        &self.items[i],
                        element_context(step, (attempt, attempts), &stopped),
                    )
                }))
            });
            let outcome = match future {
                Ok(future) => {
                    let entered = InContext { ctx: &ctx, future };
                    match policy.get_timeout() {
                        None => entered.await,
                        Some(limit) => {
                            let mut entered = std::pin::pin!(entered);
                            let mut sleep = Sleep::new(limit);
                            std::future::poll_fn(|cx| {
                                if let Poll::Ready(outcome) = entered.as_mut().poll(cx) {
                                    return Poll::Ready(outcome);
                                }
                                Pin::new(&mut sleep).poll(cx).map(|()| {
                                    Ok(Err(Box::new(StepTimedOut::new(limit)) as BoxError))
                                })
                            })
                            .await
                        }
                    }
                }
                Err(payload) => Err(payload),
            };
            let error = match outcome {
                Ok(Ok(value)) => return (i, Ok((value, false))),
                Ok(Err(error)) => error,
                Err(payload) => {
                    return (
                        i,
                        Err((true, Box::new(StepPanicked::from_payload(&*payload)))),
                    );
                }
            };
            if policy.compensates() {
                match catch_unwind(AssertUnwindSafe(|| ctx.enter(|| (self.compensate)(&error)))) {
                    Ok(Compensation::Continue(value)) => return (i, Ok((value, true))),
                    Ok(Compensation::Fail) => return (i, Err((false, error))),
                    Ok(Compensation::Retry) => {}
                    Err(payload) => {
                        return (
                            i,
                            Err((true, Box::new(StepPanicked::from_payload(&*payload)))),
                        );
                    }
                }
            }
            if attempt >= attempts || stopped() {
                return (i, Err((false, error)));
            }
            let delay = backoff(&policy, step, i, attempt);
            if !delay.is_zero() {
                Sleep::new(delay).await;
            }
            attempt += 1;
        }
    }
}

/// An element's attempt, polled with its context current (for code that reads it through
/// the thread: a fallback, a flow run inside the routine) and its panics caught.
struct InContext<'c, 'f, O> {
    ctx: &'c Context,
    future: ElementFuture<'f, O>,
}

impl<O> Future for InContext<'_, '_, O> {
    type Output = std::thread::Result<Result<O, BoxError>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let future = &mut this.future;
        match this
            .ctx
            .enter(|| catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))))
        {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// An undo's future with its panics caught.
struct Caught<'f>(StepFuture<'f>);

impl Future for Caught<'_> {
    type Output = std::thread::Result<Result<(), BoxError>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = &mut self.get_mut().0;
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
