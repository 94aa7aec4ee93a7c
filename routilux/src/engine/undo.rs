//! Putting a failed run back in order: every completed undoable step is undone, in reverse
//! completion order, on the calling thread, after every step has stopped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

use super::guarded::panicked;
use super::{ACCESS, Exec, Run};
use crate::context::Context;
use crate::error::UndoError;

impl<E: Exec> Run<'_, E> {
    /// Undoes the completed undoable steps, newest first; returns the undos that failed.
    pub(super) fn undo_completed(&self) -> Vec<UndoError> {
        let completed = self.completed.load(Ordering::Acquire).min(self.done.len());
        let info = self.info();
        // An undo runs to completion whatever happened to the run.
        let never = || false;
        let mut errors = Vec::new();
        for k in (0..completed).rev() {
            let i = self.done[k].load(Ordering::Relaxed);
            let step = &self.plan.steps()[i as usize];
            let attempts = step.policy().get_undo_retries().saturating_add(1);
            let mut attempt = 1;
            loop {
                if let Some(observer) = self.observer {
                    observer.undo_started(&info, step, attempt);
                }
                let ctx = Context::new(
                    self.id,
                    (self.plan.flow(), step.name()),
                    (attempt, attempts),
                    &never,
                    self.data(),
                );
                let outcome = ctx.enter(|| {
                    catch_unwind(AssertUnwindSafe(|| {
                        self.exec.undo_step(i as usize, &ACCESS)
                    }))
                });
                let (error, retry) = match outcome {
                    Ok(Ok(())) => {
                        if let Some(observer) = self.observer {
                            observer.undo_finished(&info, step, attempt);
                        }
                        break;
                    }
                    Ok(Err(error)) => (error, attempt < attempts),
                    // A panicking undo is reported, not retried.
                    Err(payload) => (panicked(&*payload), false),
                };
                if let Some(observer) = self.observer {
                    observer.undo_failed(&info, step, attempt, &*error);
                }
                if !retry {
                    errors.push(UndoError::new(step.name_cow(), attempt, error));
                    break;
                }
                attempt += 1;
            }
        }
        errors
    }
}
