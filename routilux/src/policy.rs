//! [`Backoff`] and the per-step [`Policy`]: how often a failing step is retried, how long the
//! engine waits in between, and what else the engine must do for the step.

mod backoff;

use crate::limit::Limit;
use std::time::Duration;

pub use backoff::Backoff;

/// What the engine must know about a step beyond its wiring: its retries and backoff, and
/// whether it can be undone, compensates its errors or reads its [`Context`](crate::Context).
///
/// `#[routine]` and [`Step`](crate::Step) implementations declare it; `flow!` may override
/// the retries and backoff of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    retries: u32,
    backoff: Backoff,
    undo_retries: u32,
    undoable: bool,
    compensates: bool,
    context: bool,
    conditional: bool,
    subflow: bool,
    asynchronous: bool,
    map: bool,
    timeout: Option<Duration>,
    limit: Option<LimitRef>,
}

/// A policy's limit, compared by identity (two policies name the same limit or not).
#[derive(Clone, Copy)]
struct LimitRef(&'static Limit);

impl PartialEq for LimitRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl std::fmt::Debug for LimitRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Policy {
    /// No retries, nothing to undo or compensate, no context: the policy of a plain routine.
    pub const NONE: Policy = Policy {
        retries: 0,
        backoff: Backoff::NONE,
        undo_retries: 0,
        undoable: false,
        compensates: false,
        context: false,
        conditional: false,
        subflow: false,
        asynchronous: false,
        map: false,
        timeout: None,
        limit: None,
    };

    /// Sets how many times a failed step is run again (0: never).
    #[must_use]
    pub const fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the wait before each retry.
    #[must_use]
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets how long one attempt of an async step may take: past it, the step's future is
    /// dropped and the attempt fails with [`StepTimedOut`](crate::StepTimedOut) (then retries
    /// or compensation apply). Only async steps can be stopped: `flow!` refuses a timeout on
    /// a sync routine.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout of one attempt, if any (see [`timeout`](Self::timeout)).
    #[must_use]
    pub const fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Makes the step take a permit of `limit` before it starts (see [`Limit`]); `flow!`
    /// sets it from `#[step(limit = NAME)]` or `#[routine(limit = NAME)]`.
    #[must_use]
    pub const fn limit(mut self, limit: &'static Limit) -> Self {
        self.limit = Some(LimitRef(limit));
        self
    }

    /// The limit the step takes a permit of, if any (see [`limit`](Self::limit)).
    #[must_use]
    pub const fn get_limit(&self) -> Option<&'static Limit> {
        match self.limit {
            Some(LimitRef(limit)) => Some(limit),
            None => None,
        }
    }

    /// Sets how many times a failed undo is run again.
    #[must_use]
    pub const fn undo_retries(mut self, retries: u32) -> Self {
        self.undo_retries = retries;
        self
    }

    #[doc(hidden)]
    #[must_use]
    pub const fn __flags(mut self, undoable: bool, compensates: bool, context: bool) -> Self {
        self.undoable = undoable;
        self.compensates = compensates;
        self.context = context;
        self
    }

    /// Marks a conditional step (`step x = f(a) if flag;`): the engine asks it whether it
    /// is skipped before running it.
    #[doc(hidden)]
    #[must_use]
    pub const fn __conditional(mut self) -> Self {
        self.conditional = true;
        self
    }

    /// The policy of a map step (`step ys = f(each xs);`) whose elements run under `self`:
    /// retries, timeouts and compensation apply per element inside the step, so the step
    /// itself is run once, and it reads its context (to stop starting elements when the run
    /// stops). Undo applies to the whole step, element by element, once each.
    #[doc(hidden)]
    #[must_use]
    pub const fn __map_step(mut self) -> Self {
        self.map = true;
        self.retries = 0;
        self.timeout = None;
        self.undo_retries = 0;
        self.compensates = false;
        self.context = true;
        self
    }

    /// Marks a step that runs another flow (a sub-flow): its context carries what the inner
    /// run inherits, and its undo undoes the inner run's completed steps.
    #[doc(hidden)]
    #[must_use]
    pub const fn __subflow(mut self) -> Self {
        self.subflow = true;
        self.context = true;
        self
    }

    /// Marks a step whose routine is an `async fn`: the engine polls its future instead of
    /// calling it on a pool thread.
    #[doc(hidden)]
    #[must_use]
    pub const fn __async(mut self) -> Self {
        self.asynchronous = true;
        self
    }

    /// Whether the step's routine is an `async fn` (see [`run_async`](crate::flow!)).
    #[must_use]
    pub const fn is_async(&self) -> bool {
        self.asynchronous
    }

    /// Whether the step maps its routine over the elements of a value
    /// (`step ys = f(each xs);`).
    #[must_use]
    pub const fn is_map(&self) -> bool {
        self.map
    }

    /// Whether the step runs another flow (`step y = Inner(a, b);`).
    #[must_use]
    pub const fn is_subflow(&self) -> bool {
        self.subflow
    }

    /// Whether the step runs only when its condition holds (`if flag` in `flow!`).
    #[must_use]
    pub const fn is_conditional(&self) -> bool {
        self.conditional
    }

    /// How many times a failed step is run again.
    #[must_use]
    pub const fn get_retries(&self) -> u32 {
        self.retries
    }

    /// The wait before each retry.
    #[must_use]
    pub const fn get_backoff(&self) -> Backoff {
        self.backoff
    }

    /// How many times a failed undo is run again.
    #[must_use]
    pub const fn get_undo_retries(&self) -> u32 {
        self.undo_retries
    }

    /// How many attempts a step gets in all: its retries plus one, saturating at `u32::MAX`
    /// (so `retries(u32::MAX)` neither overflows nor wraps to zero attempts).
    #[must_use]
    pub const fn attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    /// How many attempts an undo gets in all: its undo retries plus one, saturating at
    /// `u32::MAX`, as [`attempts`](Self::attempts).
    #[must_use]
    pub const fn undo_attempts(&self) -> u32 {
        self.undo_retries.saturating_add(1)
    }

    /// Whether the step is undone when the run fails after it succeeded.
    #[must_use]
    pub const fn is_undoable(&self) -> bool {
        self.undoable
    }

    /// Whether the step decides what happens on its errors (see
    /// [`Compensation`](crate::Compensation)).
    #[must_use]
    pub const fn compensates(&self) -> bool {
        self.compensates
    }

    /// Whether the step reads its [`Context`](crate::Context).
    #[must_use]
    pub const fn uses_context(&self) -> bool {
        self.context
    }

    /// Whether the engine can run the step on its fast path: nothing to retry, undo,
    /// compensate or hand over.
    pub(crate) const fn is_plain(&self) -> bool {
        self.retries == 0
            && !self.undoable
            && !self.compensates
            && !self.context
            && !self.asynchronous
            && self.limit.is_none()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_saturate() {
        let p = Policy::NONE.retries(u32::MAX).undo_retries(u32::MAX);
        assert_eq!(p.attempts(), u32::MAX);
        assert_eq!(p.undo_attempts(), u32::MAX);
        let p = Policy::NONE.retries(2).undo_retries(0);
        assert_eq!((p.attempts(), p.undo_attempts()), (3, 1));
    }
}
