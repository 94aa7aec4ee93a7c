//! Telling observers: every observer of a run hears every event, and an observer that panics
//! fails the run (kind [`Panicked`](crate::ErrorKind::Panicked), naming the event) instead of
//! unwinding through the engine.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Exec, Run};
use crate::error::{ErrorKind, FlowError, StepPanicked};
use crate::observe::Observer;

pub(crate) const RUN_STARTED: &str = "run_started";
pub(crate) const STEP_STARTED: &str = "step_started";
pub(crate) const STEP_FINISHED: &str = "step_finished";
pub(crate) const STEP_RETRYING: &str = "step_retrying";
pub(crate) const STEP_COMPENSATED: &str = "step_compensated";
pub(crate) const STEP_FAILED: &str = "step_failed";
pub(crate) const STEP_SKIPPED: &str = "step_skipped";
pub(crate) const STEP_RESUMED: &str = "step_resumed";
pub(crate) const STEP_SUSPENDED: &str = "step_suspended";
pub(crate) const STEP_WAITING: &str = "step_waiting";
pub(crate) const RUN_CANCELLED: &str = "run_cancelled";
pub(crate) const UNDO_STARTED: &str = "undo_started";
pub(crate) const UNDO_FINISHED: &str = "undo_finished";
pub(crate) const UNDO_FAILED: &str = "undo_failed";

/// The observers of one run: the caller's, the flow's and the tracing one, each optional.
#[derive(Default)]
pub(crate) struct Observers<'a>([Option<&'a dyn Observer>; 3]);

impl<'a> Observers<'a> {
    /// The caller's, the flow's and the tracing observer, those present first (see
    /// [`is_empty`](Self::is_empty)). Built as one value, not pushed into place: a run copies
    /// it, and a copy of what was just written piecewise stalled (5% of a small flow's run).
    #[inline]
    pub(crate) fn of(
        own: Option<&'a dyn Observer>,
        flow: Option<&'a dyn Observer>,
        spans: Option<&'a dyn Observer>,
    ) -> Self {
        Observers(match (own, flow) {
            (Some(own), Some(flow)) => [Some(own), Some(flow), spans],
            (Some(one), None) | (None, Some(one)) => [Some(one), spans, None],
            (None, None) => [spans, None, None],
        })
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0[0].is_none()
    }

    fn iter(&self) -> impl Iterator<Item = &'a dyn Observer> + '_ {
        self.0.iter().flatten().copied()
    }
}

impl<E: Exec> Run<'_, E> {
    /// Tells every observer `event` (about step `step`, if any); a panicking observer fails
    /// the run, and the others still hear the event.
    #[inline]
    pub(super) fn emit(
        &self,
        event: &'static str,
        step: Option<u32>,
        tell: impl Fn(&dyn Observer),
    ) {
        for observer in self.observers.iter() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| tell(observer))) {
                self.observer_panicked(event, step, &*payload);
            }
        }
    }

    /// Tells every observer an event that comes after the run's result is decided: a panic is
    /// swallowed, after the other observers have heard the event.
    pub(super) fn emit_after(&self, tell: impl Fn(&dyn Observer)) {
        if self.observers.is_empty() {
            return;
        }
        for observer in self.observers.iter() {
            let _ignored = catch_unwind(AssertUnwindSafe(|| tell(observer)));
        }
    }

    /// Whether any observer listens.
    #[inline]
    pub(super) fn observed(&self) -> bool {
        !self.observers.is_empty()
    }

    #[cold]
    fn observer_panicked(
        &self,
        event: &'static str,
        step: Option<u32>,
        payload: &(dyn std::any::Any + Send),
    ) {
        let message = format!(
            "an observer panicked in `{event}`: {}",
            StepPanicked::from_payload(payload).message()
        );
        let step = step.map(|i| self.plan.steps()[i as usize].name_cow());
        self.stop(FlowError::new(
            ErrorKind::Panicked,
            self.flow_name(),
            step,
            Some(Box::new(StepPanicked::new(message))),
        ));
    }
}
