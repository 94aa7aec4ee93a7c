//! Putting a failed run back in order: every completed undoable step is undone, in reverse
//! completion order, after every step has stopped, within the run's undo budget
//! ([`RunOptions::undo_timeout`](crate::RunOptions::undo_timeout)).
//!
//! A run owned by a thread undoes on that thread (an `async fn` undo is driven there). A run
//! owned by a future awaits async undos in that future, so that they are polled by the
//! caller's executor (with its reactor), never blocking its thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::guarded::panicked;
use super::notify::{UNDO_FAILED, UNDO_FINISHED, UNDO_STARTED};
use super::step_async::Entered;
use super::{Exec, Run};
use crate::context::Context;
use crate::error::{BoxError, Internal, UndoError};
use crate::slot::{Access, StepAccess};
use crate::subflow::Nest;

/// What one attempt of an undo came to: `Ok` or its error, `Err` when it panicked.
type Attempt = std::thread::Result<Result<(), BoxError>>;

impl<E: Exec> Run<'_, E> {
    /// Undoes the completed undoable steps, newest first, on this thread; returns the undos
    /// that failed.
    pub(super) fn undo_completed(&self) -> Vec<UndoError> {
        let mut errors = Vec::new();
        let deadline = Instant::now().checked_add(self.undo_budget);
        for i in self.undo_order() {
            let mut attempt = 1;
            while let Some((ctx, _nest)) = self.undo_begin(i, attempt, deadline, &mut errors) {
                let outcome = ctx.enter(|| {
                    catch_unwind(AssertUnwindSafe(|| {
                        self.exec
                            .undo_step(i as usize, &Access::undo(self.brand, self.hot, i))
                    }))
                });
                if self.undo_end(i, attempt, outcome, deadline, &mut errors) {
                    break;
                }
                attempt += 1;
            }
        }
        errors
    }

    /// [`undo_completed`](Self::undo_completed) for a run owned by a future: async undos are
    /// awaited here (their context entered around each poll), sync ones called in place.
    pub(super) async fn undo_completed_later(&self) -> Vec<UndoError> {
        let mut errors = Vec::new();
        let deadline = Instant::now().checked_add(self.undo_budget);
        for i in self.undo_order() {
            let mut attempt = 1;
            while let Some((ctx, _nest)) = self.undo_begin(i, attempt, deadline, &mut errors) {
                // A token the future may carry across threads (and awaits).
                let access = StepAccess::undo(self.brand, self.hot, i);
                let started = ctx.enter(|| {
                    catch_unwind(AssertUnwindSafe(|| {
                        self.exec.undo_step_later(i as usize, access.get())
                    }))
                });
                let outcome = match started {
                    Ok(Some(future)) => {
                        Entered {
                            ctx: &ctx,
                            future,
                            tell: None,
                        }
                        .await
                    }
                    Ok(None) => ctx.enter(|| {
                        catch_unwind(AssertUnwindSafe(|| {
                            self.exec.undo_step(i as usize, access.get())
                        }))
                    }),
                    Err(payload) => Err(payload),
                };
                if self.undo_end(i, attempt, outcome, deadline, &mut errors) {
                    break;
                }
                attempt += 1;
            }
        }
        errors
    }

    /// The steps to undo: those that completed, newest first.
    fn undo_order(&self) -> impl Iterator<Item = u32> + '_ {
        let completed = self.completed.load(Ordering::Acquire).min(self.done.len());
        let undone = self.undone.load(Ordering::Acquire).min(completed);
        (0..completed - undone).rev().map(|k| {
            // Counted before the undo: one cut short is not attempted again.
            self.undone.fetch_add(1, Ordering::AcqRel);
            self.done[k].load(Ordering::Relaxed)
        })
    }

    /// Before attempt `attempt` of step `i`'s undo: its context, or `None` (recorded in
    /// `errors`) when the budget is spent.
    fn undo_begin(
        &self,
        i: u32,
        attempt: u32,
        deadline: Option<Instant>,
        errors: &mut Vec<UndoError>,
    ) -> Option<(Context, Option<Box<Nest<'_>>>)> {
        let step = &self.plan.steps()[i as usize];
        if attempt == 1 && deadline.is_some_and(|d| Instant::now() >= d) {
            errors.push(UndoError::new(
                step.name_cow(),
                0,
                Box::new(Internal(OUT_OF_TIME)),
            ));
            return None;
        }
        let info = self.info();
        self.emit(UNDO_STARTED, Some(i), |o| {
            o.undo_started(&info, step, attempt);
        });
        // An undo runs to completion whatever happened to the run.
        let ctx = Context::new(
            self.id,
            (self.plan.flow(), step.name()),
            (attempt, step.policy().undo_attempts()),
            &NEVER,
            self.data(),
        );
        if step.policy().is_subflow() {
            // Sub-flow steps undo through their kept inner runs, which read the nest (boxed:
            // the context points to it, and it moves to the caller with it).
            let nest = Box::new(self.nest(i, &NEVER));
            return Some((ctx.nested(&nest), Some(nest)));
        }
        Some((ctx, None))
    }

    /// After attempt `attempt` of step `i`'s undo ended with `outcome`: tells observers and
    /// records a final failure. Returns whether the step's undo is over.
    fn undo_end(
        &self,
        i: u32,
        attempt: u32,
        outcome: Attempt,
        deadline: Option<Instant>,
        errors: &mut Vec<UndoError>,
    ) -> bool {
        let step = &self.plan.steps()[i as usize];
        let info = self.info();
        let (error, retry) = match outcome {
            Ok(Ok(())) => {
                self.emit(UNDO_FINISHED, Some(i), |o| {
                    o.undo_finished(&info, step, attempt);
                });
                return true;
            }
            Ok(Err(error)) => (error, attempt < step.policy().undo_attempts()),
            // A panicking undo is reported, not retried.
            Err(payload) => (panicked(&*payload), false),
        };
        self.emit(UNDO_FAILED, Some(i), |o| {
            o.undo_failed(&info, step, attempt, &*error);
        });
        if !retry || deadline.is_some_and(|d| Instant::now() >= d) {
            errors.push(UndoError::new(step.name_cow(), attempt, error));
            return true;
        }
        false
    }
}

/// The stop check of an undo: never.
static NEVER: fn() -> bool = || false;

/// Why an undo that was never attempted failed.
const OUT_OF_TIME: &str = "not attempted: the run's undo budget was spent";
