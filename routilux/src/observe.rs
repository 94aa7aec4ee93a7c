//! [`Observer`]: hear what a run does, step by step: the lifecycle events of runs, steps,
//! retries, compensations, undos and cancellations.

use std::error::Error;
use std::time::Duration;

use crate::error::{ErrorKind, FlowError};
use crate::plan::{Plan, StepPlan};

/// Which run an event belongs to.
#[derive(Clone, Copy, Debug)]
pub struct RunInfo<'a> {
    id: u64,
    plan: &'a Plan,
    prefix: &'a str,
}

impl<'a> RunInfo<'a> {
    pub(crate) fn new(id: u64, plan: &'a Plan, prefix: &'a str) -> Self {
        RunInfo { id, plan, prefix }
    }

    /// For the run of a sub-flow: the qualified name of the step that runs it, with a
    /// trailing `/` (`"y/"`, `"y/z/"` two levels down); empty for a run called directly.
    /// The qualified name of one of its steps is `prefix` followed by the step's name.
    #[must_use]
    pub fn prefix(&self) -> &'a str {
        self.prefix
    }

    /// A number identifying the run, unique within the process (the same as
    /// [`Context::run_id`](crate::Context::run_id)).
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The plan of the flow being run.
    #[must_use]
    pub fn plan(&self) -> &'a Plan {
        self.plan
    }
}

/// Receives the lifecycle events of runs. Every method has an empty default, so an observer
/// implements only what it needs. Attach one to a run with
/// [`RunOptions::observer`](crate::RunOptions::observer), or to every run of a flow with
/// [`Plan::attach_observer`].
///
/// Step events come from the thread that runs the step, possibly from several threads at
/// once; keep the methods short. Undo events come from the thread that called `run`, after
/// every step has stopped. A run without an observer pays one branch per step.
///
/// ```
/// use std::sync::Mutex;
/// use routilux::{flow, routine, Observer, RunInfo, RunOptions, StepPlan};
///
/// #[routine]
/// fn one() -> u32 { 1 }
///
/// flow! { flow One { step a = one(); return a; } }
///
/// #[derive(Default)]
/// struct Names(Mutex<Vec<String>>);
///
/// impl Observer for Names {
///     fn step_finished(&self, _: &RunInfo<'_>, step: &StepPlan, attempt: u32) {
///         self.0.lock().unwrap().push(format!("{} #{attempt}", step.name()));
///     }
/// }
///
/// let names = Names::default();
/// One::run_with(RunOptions::new().observer(&names))?;
/// assert_eq!(*names.0.lock().unwrap(), ["a #1"]);
/// # Ok::<(), routilux::FlowError>(())
/// ```
#[allow(unused_variables)]
pub trait Observer: Sync {
    /// A run is about to start its first step.
    fn run_started(&self, run: &RunInfo<'_>) {}

    /// `step` is about to run on the current thread; `attempt` is 1 for its first run.
    fn step_started(&self, run: &RunInfo<'_>, step: &StepPlan, attempt: u32) {}

    /// `step` produced its result on attempt `attempt`.
    fn step_finished(&self, run: &RunInfo<'_>, step: &StepPlan, attempt: u32) {}

    /// Attempt `attempt` of `step` failed and will be retried after `delay`.
    fn step_retrying(
        &self,
        run: &RunInfo<'_>,
        step: &StepPlan,
        attempt: u32,
        delay: Duration,
        error: &(dyn Error + 'static),
    ) {
    }

    /// `step` failed with `error` and its compensation replaced the result: the run goes on
    /// as if the step had succeeded ([`step_finished`](Self::step_finished) follows).
    fn step_compensated(&self, run: &RunInfo<'_>, step: &StepPlan, error: &(dyn Error + 'static)) {}

    /// `step` failed for good on attempt `attempt`: it returned an error that was not retried
    /// or compensated, or it panicked (`error` is then a
    /// [`StepPanicked`](crate::StepPanicked)).
    fn step_failed(
        &self,
        run: &RunInfo<'_>,
        step: &StepPlan,
        attempt: u32,
        error: &(dyn Error + 'static),
    ) {
    }

    /// Async `step`'s future is about to be polled on the current thread (see
    /// [`Policy::is_async`](crate::Policy::is_async)): between `step_started` and the end of
    /// the attempt, each poll is wrapped in `step_resumed` and
    /// [`step_suspended`](Self::step_suspended), possibly on different threads. Sync steps
    /// never hear these.
    fn step_resumed(&self, run: &RunInfo<'_>, step: &StepPlan) {}

    /// Async `step`'s future returned from a poll (it waits, or its attempt is over).
    fn step_suspended(&self, run: &RunInfo<'_>, step: &StepPlan) {}

    /// `step` is ready but waits for a permit of a [`Limit`](crate::Limit) (none was free):
    /// the time from this to [`step_started`](Self::step_started) is time spent waiting for
    /// a permit, not running. Steps that find their permits free never hear this.
    fn step_waiting(&self, run: &RunInfo<'_>, step: &StepPlan) {}

    /// Conditional `step` did not run: its condition was false. Its result is `None`, and
    /// it is never undone. No [`step_started`](Self::step_started) comes before this.
    fn step_skipped(&self, run: &RunInfo<'_>, step: &StepPlan) {}

    /// The run is stopping because it was cancelled or its deadline passed (`reason` is
    /// [`ErrorKind::Cancelled`] or [`ErrorKind::TimedOut`]).
    fn run_cancelled(&self, run: &RunInfo<'_>, reason: ErrorKind) {}

    /// Attempt `attempt` of undoing `step` is about to run.
    fn undo_started(&self, run: &RunInfo<'_>, step: &StepPlan, attempt: u32) {}

    /// `step` was undone.
    fn undo_finished(&self, run: &RunInfo<'_>, step: &StepPlan, attempt: u32) {}

    /// Attempt `attempt` of undoing `step` failed (or panicked).
    fn undo_failed(
        &self,
        run: &RunInfo<'_>,
        step: &StepPlan,
        attempt: u32,
        error: &(dyn Error + 'static),
    ) {
    }

    /// The run is over: every step that started has finished and every undo has run.
    fn run_finished(&self, run: &RunInfo<'_>, result: Result<(), &FlowError>) {}
}
