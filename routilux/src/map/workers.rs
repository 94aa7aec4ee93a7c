//! The workers of a sync map step: runs of consecutive elements claimed from a shared
//! counter by rayon jobs, results written in place.

use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::context::{Context, with_current};
use crate::error::{BoxError, ElementFailed, StepPanicked};
use crate::policy::Policy;
use crate::step::Compensation;

use super::{MapOptions, backoff, element_context};

/// The output vector, written in place by the workers: each index is written at most once,
/// by the worker that claimed it.
struct Out<O>(*mut MaybeUninit<O>);

// SAFETY: workers write disjoint indices (claims from one counter never overlap); the values
// are `Send`, and nobody reads them before every worker has finished.
unsafe impl<O: Send> Sync for Out<O> {}
// SAFETY: as above.
unsafe impl<O: Send> Send for Out<O> {}

/// What the workers of one map share.
struct Shared<'a, T, O> {
    items: &'a [T],
    out: Out<O>,
    next: AtomicUsize,
    stop: AtomicBool,
    /// The first element that failed for good, and why.
    failure: Mutex<Option<(usize, bool, BoxError)>>,
    /// Completed runs of elements `[start, end)`, in completion order (to drop or undo them
    /// on failure).
    done: Mutex<Vec<(usize, usize)>>,
    /// Elements whose value came from compensation: never undone.
    continued: Mutex<Vec<usize>>,
    workers: usize,
    batch: Option<usize>,
    policy: Policy,
    /// No retries, compensation or context: elements run without a context each.
    plain: bool,
}

/// Runs a map step: `call` once per element of `items`, in parallel on the current rayon
/// pool, results in input order.
///
/// # Errors
/// The error of the first element that failed for good (its retries spent, its compensation
/// declined), with its index; or [`Cancelled`](crate::Cancelled) when the run stopped.
#[allow(clippy::needless_pass_by_value)]
pub fn map<T: Sync, O: Send>(
    items: &[T],
    options: MapOptions,
    call: &(dyn Fn(&T) -> Result<O, BoxError> + Sync),
    compensate: fn(&BoxError) -> Compensation<O>,
    undo: fn(&O) -> Result<(), BoxError>,
    continued: &OnceLock<Box<[usize]>>,
) -> Result<Vec<O>, BoxError> {
    let n = items.len();
    let mut out: Vec<O> = Vec::with_capacity(n);
    if n == 0 {
        return Ok(out);
    }
    let threads = rayon::current_num_threads().max(1);
    let workers = options.limit.unwrap_or(threads).clamp(1, n);
    let shared = Shared {
        items,
        out: Out(out.spare_capacity_mut().as_mut_ptr()),
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        failure: Mutex::new(None),
        done: Mutex::new(Vec::new()),
        continued: Mutex::new(Vec::new()),
        workers,
        batch: options.batch.map(|b| b.max(1)),
        policy: options.policy,
        plain: options.policy.attempts() == 1
            && !options.policy.compensates()
            && !options.policy.uses_context(),
    };
    // On a pool thread, this thread is one of the workers. Elsewhere (a run on the caller's
    // thread) every worker is a pool job and this thread waits, as a `par_iter` called from
    // outside the pool does: the caller's thread is not one of the pool's cores.
    let here = rayon::current_thread_index().is_some();
    with_current(|step| {
        // Under a limit, each worker holds a permit of it: the step's own, and one more per
        // extra worker, taken only if free now (so a map step never waits for its workers).
        let permits = step.lent().map(|lending| lending.take_free(workers - 1));
        let workers = permits.as_ref().map_or(workers, |sets| sets.len() + 1);
        rayon::in_place_scope(|scope| {
            for _ in usize::from(here)..workers {
                let shared = &shared;
                scope.spawn(move |_| shared.work(step, call, compensate));
            }
            if here {
                shared.work(step, call, compensate);
            }
        });
    });
    let failure = shared
        .failure
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let mut done = shared
        .done
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let mut kept = shared
        .continued
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    kept.sort_unstable();
    match failure {
        None => {
            // SAFETY: no failure and no stop: every claim ran to its end, so the claims
            // covered `0..n` and every element was written exactly once.
            unsafe { out.set_len(n) };
            if !kept.is_empty() {
                let _ = continued.set(kept.into_boxed_slice());
            }
            Ok(out)
        }
        Some((index, panicked, error)) => {
            let base = out.spare_capacity_mut().as_mut_ptr();
            // Newest first: the last completed run first, its elements from the end.
            done.reverse();
            // Undos that failed or panicked: reported with the step's error (as undo errors of
            // `step[i]`), never dropped.
            let mut undo_failures: Vec<(usize, BoxError)> = Vec::new();
            if options.policy.is_undoable() {
                for &(start, end) in &done {
                    for i in (start..end).rev() {
                        if kept.binary_search(&i).is_ok() {
                            continue;
                        }
                        // SAFETY: `i` lies in a completed run: written, not yet dropped.
                        let value = unsafe { (*base.add(i)).assume_init_ref() };
                        match catch_unwind(AssertUnwindSafe(|| undo(value))) {
                            Ok(Ok(())) => {}
                            Ok(Err(error)) => undo_failures.push((i, error)),
                            Err(payload) => undo_failures
                                .push((i, Box::new(StepPanicked::from_payload(&*payload)))),
                        }
                    }
                }
            }
            for &(start, end) in &done {
                for i in start..end {
                    // SAFETY: as above; each completed element is dropped once.
                    unsafe { (*base.add(i)).assume_init_drop() };
                }
            }
            if error.is::<crate::Cancelled>() && index == usize::MAX && undo_failures.is_empty() {
                return Err(error);
            }
            Err(Box::new(
                ElementFailed::new(index, panicked, error).with_undo_failures(undo_failures),
            ))
        }
    }
}

impl<T: Sync, O: Send> Shared<'_, T, O> {
    /// Claims runs of elements and runs them until none is left or the map stops.
    fn work(
        &self,
        step: &Context,
        call: &(dyn Fn(&T) -> Result<O, BoxError> + Sync),
        compensate: fn(&BoxError) -> Compensation<O>,
    ) {
        let n = self.items.len();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            if step.is_cancelled() {
                self.fail(usize::MAX, false, Box::new(crate::Cancelled));
                return;
            }
            let claim = self.batch.unwrap_or_else(|| {
                let left = n.saturating_sub(self.next.load(Ordering::Relaxed));
                (left / (2 * self.workers)).max(1)
            });
            let start = self.next.fetch_add(claim, Ordering::Relaxed);
            if start >= n {
                return;
            }
            let end = (start + claim).min(n);
            let written = if self.plain {
                self.run_plain(start, end, call)
            } else {
                let mut written = start;
                for i in start..end {
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match self.element(step, i, call, compensate) {
                        Ok(value) => {
                            // SAFETY: `i` was claimed by this worker alone and is in bounds.
                            unsafe { (*self.out.0.add(i)).write(value) };
                            written = i + 1;
                        }
                        Err((panicked, error)) => {
                            self.fail(i, panicked, error);
                            break;
                        }
                    }
                }
                written
            };
            if written > start {
                self.done
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((start, written));
            }
            if written < end {
                return;
            }
        }
    }

    /// Runs elements `start..end` of a routine without retries, compensation or context:
    /// no context per element, one panic guard per claim. Returns the end of what was
    /// written.
    fn run_plain(
        &self,
        start: usize,
        end: usize,
        call: &(dyn Fn(&T) -> Result<O, BoxError> + Sync),
    ) -> usize {
        let mut written = start;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            for i in start..end {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                match call(&self.items[i]) {
                    Ok(value) => {
                        // SAFETY: `i` was claimed by this worker alone and is in bounds.
                        unsafe { (*self.out.0.add(i)).write(value) };
                        written = i + 1;
                    }
                    Err(error) => {
                        self.fail(i, false, error);
                        return;
                    }
                }
            }
        }));
        if let Err(payload) = outcome {
            // The element after the last one written panicked.
            self.fail(
                written,
                true,
                Box::new(StepPanicked::from_payload(&*payload)),
            );
        }
        written
    }

    /// Runs element `i` with its retries and compensation; the error says whether it
    /// panicked.
    fn element(
        &self,
        step: &Context,
        i: usize,
        call: &(dyn Fn(&T) -> Result<O, BoxError> + Sync),
        compensate: fn(&BoxError) -> Compensation<O>,
    ) -> Result<O, (bool, BoxError)> {
        let attempts = self.policy.attempts();
        let stopped = || step.is_cancelled() || self.stop.load(Ordering::Relaxed);
        let mut attempt = 1;
        loop {
            let ctx = element_context(step, (attempt, attempts), &stopped);
            let item = &self.items[i];
            let error = match catch_unwind(AssertUnwindSafe(|| ctx.enter(|| call(item)))) {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(payload) => {
                    return Err((true, Box::new(StepPanicked::from_payload(&*payload))));
                }
            };
            if self.policy.compensates() {
                match catch_unwind(AssertUnwindSafe(|| ctx.enter(|| compensate(&error)))) {
                    Ok(Compensation::Continue(value)) => {
                        self.continued
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(i);
                        return Ok(value);
                    }
                    Ok(Compensation::Fail) => return Err((false, error)),
                    Ok(Compensation::Retry) => {}
                    Err(payload) => {
                        return Err((true, Box::new(StepPanicked::from_payload(&*payload))));
                    }
                }
            }
            if attempt >= attempts || stopped() {
                return Err((false, error));
            }
            sleep(backoff(&self.policy, step, i, attempt), &stopped);
            attempt += 1;
        }
    }

    #[cold]
    fn fail(&self, i: usize, panicked: bool, error: BoxError) {
        self.stop.store(true, Ordering::Relaxed);
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            *failure = Some((i, panicked, error));
        }
    }
}

/// Sleeps `delay` before a retry, in slices, waking early when `stopped` says so.
fn sleep(delay: Duration, stopped: &dyn Fn() -> bool) {
    let until = Instant::now() + delay;
    loop {
        let now = Instant::now();
        if now >= until || stopped() {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(1)));
    }
}
