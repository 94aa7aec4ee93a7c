//! [`Observer`]: hear what a run does, step by step.

use std::error::Error;

use crate::error::FlowError;
use crate::plan::{Plan, StepPlan};

/// Receives the lifecycle events of runs. Every method has an empty default, so an observer
/// implements only what it needs. Attach one with [`RunOptions::observer`](crate::RunOptions).
///
/// Step events come from the thread that runs the step, possibly from several threads at
/// once; keep the methods short. A run without an observer pays one branch per step.
///
/// ```
/// use std::sync::Mutex;
/// use routilux::{flow, routine, Observer, RunOptions, Schedule, StepPlan};
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
///     fn step_finished(&self, step: &StepPlan) {
///         self.0.lock().unwrap().push(step.name().to_owned());
///     }
/// }
///
/// let names = Names::default();
/// One::run_with(RunOptions::new().observer(&names))?;
/// assert_eq!(*names.0.lock().unwrap(), ["a"]);
/// # Ok::<(), routilux::FlowError>(())
/// ```
pub trait Observer: Sync {
    /// A run of `plan` is about to start its first step.
    fn run_started(&self, plan: &Plan) {
        let _ = plan;
    }

    /// `step` is about to run on the current thread.
    fn step_started(&self, step: &StepPlan) {
        let _ = step;
    }

    /// `step` returned its result.
    fn step_finished(&self, step: &StepPlan) {
        let _ = step;
    }

    /// `step` returned an error or panicked (`error` is then a
    /// [`StepPanicked`](crate::StepPanicked)).
    fn step_failed(&self, step: &StepPlan, error: &(dyn Error + 'static)) {
        let _ = (step, error);
    }

    /// The run is over: every step that started has finished.
    fn run_finished(&self, plan: &Plan, result: Result<(), &FlowError>) {
        let _ = (plan, result);
    }
}
