//! Putting a failed run back in order: every completed undoable step is undone, in reverse
//! completion order, on the calling thread, after every step has stopped, within the run's undo
//! budget ([`RunOptions::undo_timeout`](crate::RunOptions::undo_timeout)).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::guarded::panicked;
use super::notify::{UNDO_FAILED, UNDO_FINISHED, UNDO_STARTED};
use super::{Exec, Run};
use crate::context::Context;
use crate::error::{Internal, UndoError};
use crate::slot::Access;

impl<E: Exec> Run<'_, E> {
    /// Undoes the completed undoable steps, newest first; returns the undos that failed.
    pub(super) fn undo_completed(&self) -> Vec<UndoError> {
        let completed = self.completed.load(Ordering::Acquire).min(self.done.len());
        let info = self.info();
        let deadline = Instant::now().checked_add(self.undo_budget);
        let spent = || deadline.is_some_and(|d| Instant::now() >= d);
        // An undo runs to completion whatever happened to the run.
        let never = || false;
        let mut errors = Vec::new();
        for k in (0..completed).rev() {
            let i = self.done[k].load(Ordering::Relaxed);
            let step = &self.plan.steps()[i as usize];
            let attempts = step.policy().undo_attempts();
            let mut attempt = 1;
            if spent() {
                errors.push(UndoError::new(
                    step.name_cow(),
                    0,
                    Box::new(Internal(OUT_OF_TIME)),
                ));
                continue;
            }
            loop {
                self.emit(UNDO_STARTED, Some(i), |o| {
                    o.undo_started(&info, step, attempt)
                });
                let ctx = Context::new(
                    self.id,
                    (self.plan.flow(), step.name()),
                    (attempt, attempts),
                    &never,
                    self.data(),
                );
                let nest;
                let ctx = if step.policy().is_subflow() {
                    nest = self.nest(i, &never);
                    ctx.nested(&nest)
                } else {
                    ctx
                };
                let outcome = ctx.enter(|| {
                    catch_unwind(AssertUnwindSafe(|| {
                        self.exec
                            .undo_step(i as usize, &Access::undo(self.brand, self.hot, i))
                    }))
                });
                let (error, retry) = match outcome {
                    Ok(Ok(())) => {
                        self.emit(UNDO_FINISHED, Some(i), |o| {
                            o.undo_finished(&info, step, attempt);
                        });
                        break;
                    }
                    Ok(Err(error)) => (error, attempt < attempts),
                    // A panicking undo is reported, not retried.
                    Err(payload) => (panicked(&*payload), false),
                };
                self.emit(UNDO_FAILED, Some(i), |o| {
                    o.undo_failed(&info, step, attempt, &*error);
                });
                if !retry || spent() {
                    errors.push(UndoError::new(step.name_cow(), attempt, error));
                    break;
                }
                attempt += 1;
            }
        }
        errors
    }
}

/// Why an undo that was never attempted failed.
const OUT_OF_TIME: &str = "not attempted: the run's undo budget was spent";
