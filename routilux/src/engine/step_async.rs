//! The guarded path of an async step: the same attempts, compensation, retries and
//! bookkeeping as a sync step's (`guarded`), with the call and the wait before a retry
//! awaited instead of blocking a thread.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::guarded::Next;
use super::notify::{STEP_RESUMED, STEP_SUSPENDED};
use super::{Exec, Run};
use crate::asynchronous::Sleep;
use crate::context::Context;
use crate::error::{BoxError, StepTimedOut};
use crate::limit::Lending;
use crate::slot::StepAccess;

impl<E: Exec> Run<'_, E> {
    /// Runs async step `i` with everything its policy and the run ask for. Returns whether
    /// the step succeeded. Dropping the future drops the step's own future (the step is then
    /// neither finished nor undone).
    pub(super) async fn run_step_async(&self, i: u32) -> bool {
        let policy = *self.plan.steps()[i as usize].policy();
        if policy.is_conditional() && self.skipped(i) {
            return true;
        }
        // Given back when the step is over (or its future dropped).
        let Some(held) = self.claim(i).await else {
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
            let outcome = {
                let access = StepAccess::step(self.brand, self.hot, i);
                let started = ctx.enter(|| {
                    catch_unwind(AssertUnwindSafe(|| {
                        self.exec.start_step(i as usize, access, &ctx)
                    }))
                });
                match started {
                    Ok(future) => {
                        let told = |resumed: bool| {
                            let (info, step) = (self.info(), &self.plan.steps()[i as usize]);
                            if resumed {
                                self.emit(STEP_RESUMED, Some(i), |o| o.step_resumed(&info, step));
                            } else {
                                self.emit(STEP_SUSPENDED, Some(i), |o| {
                                    o.step_suspended(&info, step);
                                });
                            }
                        };
                        let tell: &(dyn Fn(bool) + Sync) = &told;
                        let entered = Entered {
                            ctx: &ctx,
                            future,
                            tell: self.observed().then_some(tell),
                        };
                        match policy.get_timeout() {
                            None => entered.await,
                            Some(limit) => {
                                Limited {
                                    entered,
                                    limit,
                                    sleep: Sleep::new(limit),
                                }
                                .await
                            }
                        }
                    }
                    Err(payload) => Err(payload),
                }
            };
            match self.after_attempt(i, attempt, outcome, &ctx) {
                Next::Over {
                    succeeded,
                    continued,
                } => break (succeeded, continued),
                Next::Retry(delay) => {
                    if !delay.is_zero() {
                        Sleep::new(delay).await;
                    }
                    attempt += 1;
                }
            }
        };
        self.step_over(i, attempt, succeeded, continued)
    }
}

/// A step's future, polled with its context current (for code that reads it through the
/// thread, such as a routine's fallback or a flow run inside the step), with its panics
/// caught, and with observers told around each poll.
pub(super) struct Entered<'c, 'f> {
    pub(super) ctx: &'c Context,
    pub(super) future: Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'f>>,
    /// Tells observers that the step resumes (`true`) or is suspended (`false`).
    pub(super) tell: Option<&'c (dyn Fn(bool) + Sync)>,
}

impl Future for Entered<'_, '_> {
    type Output = std::thread::Result<Result<(), BoxError>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ctx = this.ctx;
        let future = &mut this.future;
        if let Some(tell) = this.tell {
            tell(true);
        }
        let outcome = ctx.enter(|| catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))));
        if let Some(tell) = this.tell {
            tell(false);
        }
        match outcome {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// An attempt with a timeout: past it, the attempt fails with [`StepTimedOut`] (its future is
/// dropped with this one).
struct Limited<'c, 'f> {
    entered: Entered<'c, 'f>,
    limit: std::time::Duration,
    sleep: Sleep,
}

impl Future for Limited<'_, '_> {
    type Output = std::thread::Result<Result<(), BoxError>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(outcome) = Pin::new(&mut this.entered).poll(cx) {
            return Poll::Ready(outcome);
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ok(Err(Box::new(StepTimedOut::new(this.limit))))),
            Poll::Pending => Poll::Pending,
        }
    }
}
