//! With the `tracing` feature: every run is a `flow` span and every step attempt a `step`
//! span inside it (target `routilux`, level INFO), so the subscribers an application already
//! has see its flows. Nothing is done while no subscriber is interested.
//!
//! Fields: `flow`, `run` and, when the run ends, `outcome` (`ok` or the error) and
//! `duration_us` on the run span; `flow`, `step`, `routine`, `attempt` and, when the attempt
//! ends, `outcome` (`finished`, `continued`, `retried`, `failed`) and `duration_us` on step
//! spans. A step span is entered on the thread running the step, so events the step emits
//! belong to it; an async step's span is entered around each poll of its future, on
//! whichever thread polls, and the run span of a flow with async steps is never entered (its
//! steps name it as their parent).

use std::cell::RefCell;
use std::error::Error;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::field::Empty;

use crate::error::FlowError;
use crate::observe::{Observer, RunInfo};
use crate::plan::StepPlan;

/// The observer the engine adds to runs while a subscriber listens to `routilux`.
pub(crate) static SPANS: Spans = Spans {
    runs: Mutex::new(Vec::new()),
    awaiting: Mutex::new(Vec::new()),
};

/// Whether a subscriber wants routilux's spans.
pub(crate) fn enabled() -> bool {
    tracing::enabled!(target: "routilux", tracing::Level::INFO)
}

pub(crate) struct Spans {
    /// The span of each run in progress, by run id, and whether it was entered (runs of
    /// flows with async steps are not: their owner may move between threads).
    runs: Mutex<Vec<(u64, tracing::Span, Instant, bool)>>,
    /// Attempts of async steps in progress, by run id and step address: their spans are
    /// entered around each poll, on whichever thread polls.
    awaiting: Mutex<Vec<(u64, usize, tracing::Span, Instant)>>,
}

/// One step attempt in progress on this thread.
struct Attempt {
    run: u64,
    step: *const StepPlan,
    span: tracing::Span,
    start: Instant,
}

thread_local! {
    /// Attempts in progress on this thread, innermost last (a step may run a nested flow).
    static ATTEMPTS: RefCell<Vec<Attempt>> = const { RefCell::new(Vec::new()) };
}

// Spans are entered and exited through the subscriber that made them, which need not be
// the default of the thread at hand: a step runs on a worker thread, and the run's
// subscriber may be scoped to the caller's thread (`tracing::subscriber::with_default`).
fn enter(span: &tracing::Span) {
    span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
}

fn exit(span: &tracing::Span) {
    span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Spans {
    /// The span of `run`, and the subscriber it belongs to.
    fn run_span(&self, run: &RunInfo<'_>) -> Option<(tracing::Id, tracing::Dispatch)> {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(id, _, _, _)| *id == run.id())
            .and_then(|(_, span, _, _)| span.with_subscriber(|(id, d)| (id.clone(), d.clone())))
    }

    fn end_attempt(&self, run: &RunInfo<'_>, step: &StepPlan, outcome: &str) {
        if step.policy().is_async() {
            let ended = {
                let mut awaiting = self.awaiting.lock().unwrap_or_else(PoisonError::into_inner);
                awaiting
                    .iter()
                    .position(|a| a.0 == run.id() && a.1 == address(step))
                    .map(|at| awaiting.swap_remove(at))
            };
            if let Some((_, _, span, start)) = ended {
                span.record("outcome", outcome);
                span.record("duration_us", micros(start.elapsed()));
            }
            return;
        }
        let attempt = ATTEMPTS.with(|attempts| {
            let mut attempts = attempts.borrow_mut();
            let at = attempts
                .iter()
                .rposition(|a| a.run == run.id() && std::ptr::eq(a.step, step))?;
            Some(attempts.remove(at))
        });
        if let Some(attempt) = attempt {
            attempt.span.record("outcome", outcome);
            attempt
                .span
                .record("duration_us", micros(attempt.start.elapsed()));
            exit(&attempt.span);
        }
    }
}

impl Observer for Spans {
    fn run_started(&self, run: &RunInfo<'_>) {
        let span = tracing::info_span!(
            target: "routilux",
            "flow",
            flow = run.plan().flow(),
            run = run.id(),
            outcome = Empty,
            duration_us = Empty,
        );
        let entered = !run.plan().hot().any_async;
        if entered {
            enter(&span);
        }
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((run.id(), span, Instant::now(), entered));
    }

    fn step_waiting(&self, run: &RunInfo<'_>, step: &StepPlan) {
        // The wait ends when the step's span starts: the span covers the step's own time.
        if let Some((parent, dispatch)) = self.run_span(run) {
            tracing::dispatcher::with_default(&dispatch, || {
                tracing::info!(
                    target: "routilux",
                    parent: parent,
                    flow = run.plan().flow(),
                    step = step.name(),
                    "waiting for a permit"
                );
            });
        }
    }

    fn step_started(&self, run: &RunInfo<'_>, step: &StepPlan, attempt: u32) {
        let Some((parent, dispatch)) = self.run_span(run) else {
            return;
        };
        let span = tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!(
                target: "routilux",
                parent: parent,
                "step",
                flow = run.plan().flow(),
                step = step.name(),
                routine = step.routine(),
                attempt,
                outcome = Empty,
                duration_us = Empty,
            )
        });
        if step.policy().is_async() {
            self.awaiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((run.id(), address(step), span, Instant::now()));
            return;
        }
        enter(&span);
        ATTEMPTS.with(|attempts| {
            attempts.borrow_mut().push(Attempt {
                run: run.id(),
                step,
                span,
                start: Instant::now(),
            });
        });
    }

    fn step_finished(&self, run: &RunInfo<'_>, step: &StepPlan, _: u32) {
        self.end_attempt(run, step, "finished");
    }

    fn step_resumed(&self, run: &RunInfo<'_>, step: &StepPlan) {
        if let Some(span) = self.awaiting_span(run, step) {
            enter(&span);
        }
    }

    fn step_suspended(&self, run: &RunInfo<'_>, step: &StepPlan) {
        if let Some(span) = self.awaiting_span(run, step) {
            exit(&span);
        }
    }

    fn step_compensated(&self, run: &RunInfo<'_>, step: &StepPlan, _: &(dyn Error + 'static)) {
        // The step then finishes with its replacement value: its attempt ends here.
        self.end_attempt(run, step, "continued");
    }

    fn step_retrying(
        &self,
        run: &RunInfo<'_>,
        step: &StepPlan,
        _: u32,
        _: Duration,
        _: &(dyn Error + 'static),
    ) {
        self.end_attempt(run, step, "retried");
    }

    fn step_failed(&self, run: &RunInfo<'_>, step: &StepPlan, _: u32, _: &(dyn Error + 'static)) {
        self.end_attempt(run, step, "failed");
    }

    fn run_finished(&self, run: &RunInfo<'_>, result: Result<(), &FlowError>) {
        let entry = {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            runs.iter()
                .position(|(id, _, _, _)| *id == run.id())
                .map(|at| runs.swap_remove(at))
        };
        if let Some((_, span, start, entered)) = entry {
            match result {
                Ok(()) => span.record("outcome", "ok"),
                Err(error) => span.record("outcome", tracing::field::display(error)),
            };
            span.record("duration_us", micros(start.elapsed()));
            if entered {
                exit(&span);
            }
        }
    }
}

impl Spans {
    /// The span of the attempt of async `step` in progress.
    fn awaiting_span(&self, run: &RunInfo<'_>, step: &StepPlan) -> Option<tracing::Span> {
        self.awaiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|a| a.0 == run.id() && a.1 == address(step))
            .map(|a| a.2.clone())
    }
}

/// A step's identity within its plan.
fn address(step: &StepPlan) -> usize {
    std::ptr::from_ref(step) as usize
}
