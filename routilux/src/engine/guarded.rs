//! The guarded path of a step: observer events, cancellation and deadlines, the step's
//! context, retries with backoff, compensation, and the log of completed undoable steps.
//! Steps without any of these take the fast path in `Run::run_step`.

use std::hash::BuildHasher;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::notify::{
    RUN_CANCELLED, STEP_COMPENSATED, STEP_FAILED, STEP_FINISHED, STEP_RETRYING, STEP_SKIPPED,
    STEP_STARTED,
};
use super::{Decision, Exec, Run};
use crate::context::{Cancelled, Context};
use crate::error::{BoxError, ErrorKind, FlowError, StepPanicked};
use crate::limit::Lending;
use crate::slot::Access;
use crate::subflow::{Nest, SubflowFailed};

/// What the guarded path does after one attempt of a step.
pub(super) enum Next {
    /// The step is over: whether it succeeded, and whether its value came from its
    /// compensation (a fallback, never undone).
    Over { succeeded: bool, continued: bool },
    /// Retry after the delay.
    Retry(Duration),
}

impl<E: Exec> Run<'_, E> {
    /// Runs step `i` with everything its policy and the run ask for. Returns whether the step
    /// succeeded.
    #[inline(never)]
    pub(super) fn run_step_guarded(&self, i: u32) -> bool {
        if self.hot.steps[i as usize].asynchronous {
            // Only a run on one thread (`Sequential`, a chain) gets here with an async step:
            // the thread waits for it, as it would for a sync one.
            return crate::asynchronous::block_here(self.run_step_async(i));
        }
        let step = &self.plan.steps()[i as usize];
        let policy = *step.policy();
        // Taken by the run's owner, if it did; dropped (given back) when the step is over.
        let kept = self.kept_permits(i);
        if policy.is_conditional() && self.skipped(i) {
            return true;
        }
        let Some(held) = kept.or_else(|| self.wait_permits(i)) else {
            return self.no_permits(i);
        };
        let lending = Lending::of(&held);
        let lends = !held.claims.is_empty();
        let stopping = || self.is_stopping();
        let mut attempt = 1;
        let (succeeded, continued) = loop {
            if !self.begin_attempt(i, attempt) {
                return false;
            }
            let ctx = self.context(i, attempt, &stopping);
            let ctx = if lends { ctx.lending(&lending) } else { ctx };
            let nest;
            let ctx = if policy.is_subflow() {
                nest = self.nest(i, &stopping);
                ctx.nested(&nest)
            } else {
                ctx
            };
            let call = || {
                catch_unwind(AssertUnwindSafe(|| {
                    self.exec
                        .run_step(i as usize, &mut Access::step(self.brand, self.hot, i))
                }))
            };
            let outcome = if policy.uses_context() || lends {
                ctx.enter(call)
            } else {
                call()
            };
            match self.after_attempt(i, attempt, outcome, &ctx) {
                Next::Over {
                    succeeded,
                    continued,
                } => break (succeeded, continued),
                Next::Retry(delay) => {
                    self.sleep(delay);
                    attempt += 1;
                }
            }
        };
        self.step_over(i, attempt, succeeded, continued)
    }

    /// The context of attempt `attempt` of step `i`.
    pub(super) fn context(
        &self,
        i: u32,
        attempt: u32,
        stopping: &(dyn Fn() -> bool + Sync),
    ) -> Context {
        let step = &self.plan.steps()[i as usize];
        Context::new(
            self.id,
            (self.plan.flow(), step.name()),
            (attempt, step.policy().attempts()),
            stopping,
            self.data(),
        )
    }

    /// Before attempt `attempt` of step `i`: whether it may start (the run goes on; observers
    /// heard that it starts).
    pub(super) fn begin_attempt(&self, i: u32, attempt: u32) -> bool {
        if self.interrupted() {
            return false;
        }
        if self.observed() {
            let (info, step) = (self.info(), &self.plan.steps()[i as usize]);
            self.emit(STEP_STARTED, Some(i), |o| {
                o.step_started(&info, step, attempt);
            });
            // An observer that panicked stopped the run: the step does not start.
            if self.stopped.load(Ordering::Relaxed) {
                return false;
            }
        }
        true
    }

    /// After attempt `attempt` of step `i` ended with `outcome`: asks the step's compensation
    /// what a failure means, and tells observers. Returns what happens next.
    pub(super) fn after_attempt(
        &self,
        i: u32,
        attempt: u32,
        outcome: std::thread::Result<Result<(), BoxError>>,
        ctx: &Context,
    ) -> Next {
        let step = &self.plan.steps()[i as usize];
        let policy = *step.policy();
        let over = |succeeded| Next::Over {
            succeeded,
            continued: false,
        };
        let error = match outcome {
            Ok(Ok(())) => return over(true),
            Ok(Err(error)) => error,
            Err(payload) => {
                self.step_failed(i, attempt, ErrorKind::Panicked, panicked(&*payload));
                return over(false);
            }
        };
        let info = self.info();
        let decision = if policy.compensates() {
            let compensate = || {
                catch_unwind(AssertUnwindSafe(|| {
                    self.exec.compensate(
                        i as usize,
                        &error,
                        &mut Access::step(self.brand, self.hot, i),
                    )
                }))
            };
            match ctx.enter(compensate) {
                Ok(decision) => decision,
                Err(payload) => {
                    self.step_failed(i, attempt, ErrorKind::Panicked, panicked(&*payload));
                    return over(false);
                }
            }
        } else {
            Decision::Retry
        };
        match decision {
            Decision::Continued => {
                self.emit(STEP_COMPENSATED, Some(i), |o| {
                    o.step_compensated(&info, step, &*error);
                });
                Next::Over {
                    succeeded: true,
                    continued: true,
                }
            }
            // A step that gave up because the run is being cancelled or timed out, or
            // that would have been retried but for that, is not the cause of the stop.
            _ if self.interrupted_by(&*error) => {
                self.emit(STEP_FAILED, Some(i), |o| {
                    o.step_failed(&info, step, attempt, &*error);
                });
                over(false)
            }
            Decision::Retry if attempt < policy.attempts() && self.interrupted() => {
                self.emit(STEP_FAILED, Some(i), |o| {
                    o.step_failed(&info, step, attempt, &*error);
                });
                over(false)
            }
            Decision::Retry if attempt < policy.attempts() => {
                let delay = policy
                    .get_backoff()
                    .jittered(attempt, self.random_unit(i, attempt));
                self.emit(STEP_RETRYING, Some(i), |o| {
                    o.step_retrying(&info, step, attempt, delay, &*error);
                });
                Next::Retry(self.retry_delay(delay))
            }
            Decision::Retry | Decision::Fail => {
                self.step_failed(i, attempt, ErrorKind::Failed, error);
                over(false)
            }
        }
    }

    /// After step `i` is over: releases what it read, drops its result if nobody reads it,
    /// logs it for undo and tells observers. Returns `succeeded`.
    pub(super) fn step_over(&self, i: u32, attempt: u32, succeeded: bool, continued: bool) -> bool {
        let step = &self.plan.steps()[i as usize];
        let drops = self.hot.steps[i as usize].drops;
        if drops {
            for &slot in self.hot.reads(i) {
                self.release(slot);
            }
        }
        if succeeded {
            if drops {
                self.after_produced(self.hot.inputs + i);
            }
            let info = self.info();
            match (step.policy().is_undoable() && !continued, self.observed()) {
                (true, true) => {
                    let _order = self
                        .finish_order
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    self.record_completion(i);
                    self.emit(STEP_FINISHED, Some(i), |o| {
                        o.step_finished(&info, step, attempt);
                    });
                }
                (true, false) => self.record_completion(i),
                (false, true) => self.emit(STEP_FINISHED, Some(i), |o| {
                    o.step_finished(&info, step, attempt);
                }),
                (false, false) => {}
            }
        }
        succeeded
    }

    /// Asks conditional step `i` whether its condition is false; if so, the step is over:
    /// its `None` is stored, observers hear that it was skipped, and it is never undone.
    pub(super) fn skipped(&self, i: u32) -> bool {
        if self.interrupted() {
            return false;
        }
        let skip = catch_unwind(AssertUnwindSafe(|| {
            self.exec
                .skip(i as usize, &mut Access::step(self.brand, self.hot, i))
        }));
        match skip {
            Ok(false) => false,
            Ok(true) => {
                let drops = self.hot.steps[i as usize].drops;
                if drops {
                    for &slot in self.hot.reads(i) {
                        self.release(slot);
                    }
                    self.after_produced(self.hot.inputs + i);
                }
                if self.observed() {
                    let (info, step) = (self.info(), &self.plan.steps()[i as usize]);
                    self.emit(STEP_SKIPPED, Some(i), |o| o.step_skipped(&info, step));
                }
                true
            }
            // Reading a `bool` does not panic; a hand-written `Exec` might.
            Err(payload) => {
                self.step_failed(i, 1, ErrorKind::Panicked, panicked(&*payload));
                // Not skipped, but failed: the caller's attempt loop sees the stop at once.
                false
            }
        }
    }

    /// Appends undoable step `i` to the completion log.
    fn record_completion(&self, i: u32) {
        let k = self.completed.fetch_add(1, Ordering::Relaxed);
        self.done[k].store(i, Ordering::Relaxed);
    }

    #[cold]
    fn step_failed(&self, i: u32, attempt: u32, kind: ErrorKind, error: BoxError) {
        if self.observed() {
            let (info, step) = (self.info(), &self.plan.steps()[i as usize]);
            self.emit(STEP_FAILED, Some(i), |o| {
                o.step_failed(&info, step, attempt, &*error);
            });
        }
        self.fail(i, kind, error);
    }

    /// What sub-flow step `i` passes on to the inner run.
    pub(super) fn nest<'s>(&'s self, i: u32, stopping: &'s (dyn Fn() -> bool + Sync)) -> Nest<'s> {
        let parent = self.parent.map_or("", |p| p.prefix.as_str());
        let mut options = *self.options;
        if options.get_data().is_none() {
            options = options.data(self.data());
        }
        Nest {
            options,
            deadline: self.deadline,
            stopped: stopping,
            prefix: format!("{parent}{}/", self.plan.steps()[i as usize].name()),
            keep: &self.keep,
            step: i,
            own_limit: self.limits.own(),
        }
    }

    /// Whether `error` is a step giving up because the run is being cancelled or timed out
    /// (`ctx.check()?`, or a sub-flow that stopped for that reason); if so, the run stops
    /// with that reason.
    fn interrupted_by(&self, error: &(dyn std::error::Error + 'static)) -> bool {
        let stopped_inner = error.downcast_ref::<SubflowFailed>().is_some_and(|inner| {
            matches!(inner.0.kind(), ErrorKind::Cancelled | ErrorKind::TimedOut)
        });
        (error.is::<Cancelled>() || stopped_inner) && self.interrupted()
    }

    /// Whether the run is stopping, without side effects (for [`Context::is_cancelled`]).
    pub(super) fn is_stopping(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
            || self.parent.is_some_and(|p| (p.stopped)())
            || self.cancel.is_some_and(crate::CancelToken::is_cancelled)
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Whether the run must not start another step; stops it when it was cancelled or its
    /// deadline passed.
    pub(super) fn interrupted(&self) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return true;
        }
        let reason = if self.cancel.is_some_and(crate::CancelToken::is_cancelled)
            || self.parent.is_some_and(|p| (p.stopped)())
        {
            ErrorKind::Cancelled
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            ErrorKind::TimedOut
        } else {
            return false;
        };
        if self.stop(FlowError::new(reason, self.flow_name(), None, None)) {
            let info = self.info();
            self.emit(RUN_CANCELLED, None, |o| o.run_cancelled(&info, reason));
        }
        true
    }

    /// The wait before a retry: `delay`, but not past the run's deadline.
    fn retry_delay(&self, delay: Duration) -> Duration {
        match self.deadline {
            Some(deadline) => delay.min(deadline.saturating_duration_since(Instant::now())),
            None => delay,
        }
    }

    /// Sleeps before a retry; wakes early when the run stops, is cancelled or times out.
    fn sleep(&self, delay: Duration) {
        if delay.is_zero() {
            return;
        }
        let signal = self.cancel.map_or(&self.wake, crate::CancelToken::signal);
        signal.sleep(delay, || self.is_stopping());
    }

    /// A number in `[0, 1)` for the jitter of retry `attempt` of step `i`, different per
    /// process, run, step and attempt.
    fn random_unit(&self, i: u32, attempt: u32) -> f64 {
        let hash = std::hash::RandomState::new().hash_one((self.id, i, attempt));
        #[allow(clippy::cast_precision_loss)]
        let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }
}

pub(super) fn panicked(payload: &(dyn std::any::Any + Send)) -> BoxError {
    Box::new(StepPanicked::from_payload(payload))
}
