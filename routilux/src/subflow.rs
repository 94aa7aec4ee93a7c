//! Sub-flows: a `flow!` flow as a step of another (`step y = Inner(a, b);`).
//!
//! Every flow implements the routine trait that `flow!` calls steps through, so a flow is
//! called like a routine. The inner flow runs as a run of its own, nested in the step:
//! - on the outer run's pool, with its schedule, its observer, its data, its cancel token and
//!   its deadline; when the outer run stops (another step failed), the inner run stops too;
//! - its arguments are cloned into its inputs (the inner flow owns its inputs), so they must
//!   be `Clone` ([`SubflowInput`]);
//! - when it fails, the outer run fails at the qualified step `y/c` with the inner cause as
//!   its source; its own completed steps are undone first, as in any failed run;
//! - when it succeeds, the values of its completed undoable steps are kept (a [`Kept`]
//!   run), so that if the outer run fails later, undoing `y` undoes them, newest first;
//! - observers see its events as a run of the inner flow whose
//!   [`RunInfo::prefix`](crate::RunInfo::prefix) is `y/`.

use std::error::Error;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::context::{Context, RunData};
use crate::engine::{Access, Exec};
use crate::error::{BoxError, FlowError, StepPanicked};
use crate::options::RunOptions;
use crate::plan::Plan;

/// A value passed to a sub-flow's input: the inner flow runs on its own copy.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must be `Clone` to be an input of a sub-flow",
    label = "the inner flow owns its inputs: this value is cloned into it",
    note = "derive or implement `Clone` for `{Self}`, or pass an `Arc` of it"
)]
pub trait SubflowInput: Sized {
    /// The copy the inner flow gets.
    #[must_use]
    fn owned(&self) -> Self;
}

impl<T: Clone> SubflowInput for T {
    #[inline]
    fn owned(&self) -> T {
        self.clone()
    }
}

/// What a step running an inner flow hands it: the options of the inner run, the outer
/// run's stop check, the qualified name of the step, and where to keep the inner run for
/// a later undo.
pub struct Nest<'a> {
    pub(crate) options: RunOptions<'a>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) stopped: &'a (dyn Fn() -> bool + Sync),
    pub(crate) prefix: String,
    pub(crate) keep: &'a Keepsakes,
    pub(crate) step: u32,
    /// The outer run's own limit ([`RunOptions::max_concurrency`]), which the inner run
    /// shares.
    pub(crate) own_limit: Option<&'a crate::Limit>,
}

impl fmt::Debug for Nest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nest")
            .field("prefix", &self.prefix)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// A successful inner run whose undoable steps completed: kept until the outer run ends, to
/// be undone if it fails.
pub(crate) trait KeptRun: Send + Sync {
    /// Undoes the inner run's completed undoable steps, newest first; `returned` undoes a
    /// step whose result the inner run returned (it lives in the outer run now).
    fn undo(&self, returned: &dyn Fn(u32) -> Result<(), BoxError>) -> Result<(), BoxError>;
}

/// Kept inner runs of one run, by step.
#[derive(Default)]
pub(crate) struct Keepsakes(Mutex<Vec<(u32, Box<dyn KeptRun>)>>);

impl Keepsakes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u32, Box<dyn KeptRun>)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, step: u32, kept: Box<dyn KeptRun>) {
        self.lock().push((step, kept));
    }

    /// The inner runs kept for `step`, newest first.
    fn take(&self, step: u32) -> Vec<Box<dyn KeptRun>> {
        let mut all = self.lock();
        let mut taken = Vec::new();
        let mut k = all.len();
        while k > 0 {
            k -= 1;
            if all[k].0 == step {
                taken.push(all.remove(k).1);
            }
        }
        taken
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// What a successful nested run leaves for a later undo: its undoable steps in completion
/// order and the inner runs its own sub-flow steps kept.
pub struct KeptLog {
    pub(crate) brand: u64,
    pub(crate) completed: Vec<u32>,
    pub(crate) children: Keepsakes,
}

impl fmt::Debug for KeptLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeptLog")
            .field("completed", &self.completed)
            .finish_non_exhaustive()
    }
}

/// What a kept inner run undoes its steps with: its plan and its slots.
pub(crate) trait KeptExec: Send + Sync + 'static {
    /// The inner flow's plan.
    fn plan(&self) -> &Plan;

    /// Undoes inner step `step` (see [`Exec::undo_step`]).
    fn undo_step(&self, step: usize, access: &Access<'_>) -> Result<(), BoxError>;

    /// Whether the value of inner step `step` was moved out to the outer step (then the
    /// outer step undoes it, given its value): by default, when the inner run returns it.
    fn moved(&self, step: u32) -> bool {
        let plan = self.plan();
        plan.hot().slots[plan.input_count() + step as usize].returned()
    }
}

/// The slots of a `flow!` run, with its static plan.
struct StaticRun<E> {
    plan: &'static Plan,
    exec: E,
}

impl<E: Exec + Send + Sync + 'static> KeptExec for StaticRun<E> {
    fn plan(&self) -> &Plan {
        self.plan
    }

    fn undo_step(&self, step: usize, access: &Access<'_>) -> Result<(), BoxError> {
        self.exec.undo_step(step, access)
    }
}

/// A kept inner run: its slots (moved to the heap after the run) and its log.
struct Kept<K> {
    exec: K,
    log: KeptLog,
}

impl<K: KeptExec> KeptRun for Kept<K> {
    fn undo(&self, returned: &dyn Fn(u32) -> Result<(), BoxError>) -> Result<(), BoxError> {
        let plan = self.exec.plan();
        let hot = plan.hot();
        let data = RunData::new();
        let never = || false;
        let mut errors: Vec<String> = Vec::new();
        let mut first: Option<BoxError> = None;
        for &i in self.log.completed.iter().rev() {
            let step = &plan.steps()[i as usize];
            let attempts = step.policy().undo_attempts();
            for attempt in 1..=attempts {
                let nest = Nest {
                    options: RunOptions::new(),
                    deadline: None,
                    stopped: &never,
                    prefix: String::new(),
                    keep: &self.log.children,
                    step: i,
                    own_limit: None,
                };
                let ctx = Context::new(
                    0,
                    (plan.flow(), step.name()),
                    (attempt, attempts),
                    &never,
                    &data,
                )
                .nested(&nest);
                let outcome = ctx.enter(|| {
                    catch_unwind(AssertUnwindSafe(|| {
                        if self.exec.moved(i) {
                            returned(i)
                        } else {
                            self.exec
                                .undo_step(i as usize, &Access::undo(self.log.brand, hot, i))
                        }
                    }))
                });
                let error: BoxError = match outcome {
                    Ok(Ok(())) => break,
                    Ok(Err(error)) if attempt < attempts => {
                        let _ = error;
                        continue;
                    }
                    Ok(Err(error)) => error,
                    Err(payload) => Box::new(StepPanicked::from_payload(&*payload)),
                };
                errors.push(format!("`{}`: {error}", step.name()));
                first.get_or_insert(error);
                break;
            }
        }
        match (first, errors.len()) {
            (None, _) => Ok(()),
            (Some(error), 1) => Err(error),
            (Some(_), _) => Err(format!(
                "undoing flow `{}` failed at {}",
                plan.flow(),
                errors.join("; ")
            )
            .into()),
        }
    }
}

/// Keeps a successful inner run of `plan` for a later undo, in the outer run of the current
/// step. Called by the code `flow!` generates.
pub fn keep<E: Exec + Send + Sync + 'static>(plan: &'static Plan, exec: E, log: KeptLog) {
    keep_run(StaticRun { plan, exec }, log);
}

/// Keeps a successful inner run for a later undo, in the outer run of the current step.
pub(crate) fn keep_run<K: KeptExec>(exec: K, log: KeptLog) {
    crate::context::with_current(|ctx| {
        if let Some(nest) = ctx.nest() {
            nest.keep.push(nest.step, Box::new(Kept { exec, log }));
        }
    });
}

/// Undoes the inner runs kept for the current step (the undo of a sub-flow step);
/// `returned` undoes an inner step whose result the inner run returned, from the outer
/// step's value.
///
/// # Errors
/// The first undo that failed, or all of them in one message.
pub fn undo_kept(returned: &dyn Fn(u32) -> Result<(), BoxError>) -> Result<(), BoxError> {
    crate::context::with_current(|ctx| {
        let Some(nest) = ctx.nest() else {
            return Ok(());
        };
        let mut result = Ok(());
        for kept in nest.keep.take(nest.step) {
            let outcome = kept.undo(returned);
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    })
}

/// An inner run failed: the outer run fails at the qualified step with the inner cause.
#[derive(Debug)]
pub(crate) struct SubflowFailed(pub(crate) FlowError);

impl fmt::Display for SubflowFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for SubflowFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// Turns an inner run's result into a step's result.
///
/// # Errors
/// The inner run's error, to be flattened by the engine into the outer error.
pub fn finish_nested<T>(result: Result<T, FlowError>) -> Result<T, BoxError> {
    result.map_err(|error| Box::new(SubflowFailed(error)) as BoxError)
}
