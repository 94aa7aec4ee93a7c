//! How a durable flow runs on the engine: its generated slots are wrapped in an [`Exec`] that
//! loads a step's stored result instead of running it, stores each completed step's result
//! before its dependents start, and records each undo. Steps the engine never reached (a run
//! that failed early, or was failing when it crashed) are undone afterwards from their stored
//! results.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::error::DurableError;
use super::failpoint::failpoint;
use super::halt::Halt;
use super::state::RunState;
use crate::context::{Context, RunData};
use crate::engine::{Access, Brand, Decision, Exec, StepAccess};
use crate::error::{BoxError, ErrorKind, FlowError, Internal, UndoError};
use crate::options::RunOptions;
use crate::plan::Plan;

/// The slots of a durable flow: reads and writes each step's result as JSON. Implemented by
/// `flow!` for `#[durable]` flows.
#[doc(hidden)]
pub trait DurableSlots: Exec {
    /// The result of step `step` (plan order), as JSON.
    ///
    /// # Errors
    /// The value cannot be serialized.
    fn save(&self, step: usize, access: &Access<'_>) -> Result<String, serde_json::Error>;

    /// Stores `json` as the result of step `step`.
    ///
    /// # Errors
    /// `json` is not a value of the step's type.
    fn load(
        &self,
        step: usize,
        json: &str,
        access: &mut Access<'_>,
    ) -> Result<(), serde_json::Error>;
}

/// An error that ends a step because the store broke (not the step's own failure).
#[derive(Debug)]
struct StoreBroke;

impl std::fmt::Display for StoreBroke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the durable store failed; the run stops without undoing anything")
    }
}

impl std::error::Error for StoreBroke {}

struct Wrapped<'a, 's, S> {
    slots: &'a S,
    plan: &'a Plan,
    state: &'a RunState<'s>,
}

impl<S: DurableSlots> Wrapped<'_, '_, S> {
    fn name(&self, step: usize) -> &str {
        self.plan.steps()[step].name()
    }

    /// Stores the result in step `step`'s slot; an error if the store broke.
    fn store(&self, step: usize, access: &Access<'_>, compensated: bool) -> Result<(), BoxError> {
        let name = self.name(step);
        match self.slots.save(step, access) {
            Ok(json) => {
                if self.state.checkpoint(name, json, compensated) {
                    Ok(())
                } else {
                    Err(Box::new(StoreBroke))
                }
            }
            Err(source) => {
                self.state.break_with(DurableError::Serde {
                    what: format!("result of step `{name}`"),
                    source,
                });
                Err(Box::new(StoreBroke))
            }
        }
    }
}

impl<S: DurableSlots> Exec for Wrapped<'_, '_, S> {
    fn run_step(&self, step: usize, access: &mut Access<'_>) -> Result<(), BoxError> {
        let name = self.name(step);
        if self.state.is_broken() {
            return Err(Box::new(StoreBroke));
        }
        if let Some(checkpoint) = self.state.stored.get(name) {
            return self
                .slots
                .load(step, &checkpoint.value, access)
                .map_err(|source| {
                    self.state.break_with(DurableError::Serde {
                        what: format!("stored result of step `{name}`"),
                        source,
                    });
                    Box::new(StoreBroke) as BoxError
                });
        }
        match self.slots.run_step(step, access) {
            Ok(()) => self.store(step, access, false),
            Err(error) => {
                if let Some(halt) = error.downcast_ref::<Halt>() {
                    self.state.halt(name, halt.reason());
                } else {
                    self.state.note_error(name, &error);
                }
                Err(error)
            }
        }
    }

    fn skip(&self, step: usize, access: &mut Access<'_>) -> bool {
        self.slots.skip(step, access)
    }

    fn start_step<'t>(
        &'t self,
        step: usize,
        access: StepAccess<'t>,
        ctx: &'t Context,
    ) -> crate::__private::StepFuture<'t> {
        // Unreachable: durable runs refuse flows with async steps before they start.
        self.slots.start_step(step, access, ctx)
    }

    fn clear(&self, slot: usize, access: &mut Access<'_>) {
        self.slots.clear(slot, access);
    }

    fn undo_step(&self, step: usize, access: &Access<'_>) -> Result<(), BoxError> {
        let name = self.name(step);
        if !self.state.begin_undo(step, name) {
            return Ok(());
        }
        self.state.ensure_failing()?;
        failpoint(|| format!("undo.before:{name}"));
        self.slots.undo_step(step, access)?;
        self.state.record_undo(name)?;
        Ok(())
    }

    fn compensate(&self, step: usize, error: &BoxError, access: &mut Access<'_>) -> Decision {
        if error.is::<StoreBroke>() || error.is::<Halt>() {
            return Decision::Fail;
        }
        let decision = self.slots.compensate(step, error, access);
        if decision == Decision::Continued && self.store(step, access, true).is_err() {
            return Decision::Fail;
        }
        decision
    }
}

/// Runs a durable flow's slots under `state`: every step on the engine (unless the run was
/// failing when this call began), then the undo of stored steps the engine did not reach.
///
/// # Errors
/// The run's error; when the store broke, an error whose cause says so (see
/// [`RunState::take_broken`]).
#[doc(hidden)]
pub fn execute<S: DurableSlots>(
    plan: &Plan,
    slots: &S,
    brand: Brand,
    options: &RunOptions<'_>,
    state: &RunState<'_>,
) -> Result<(), FlowError> {
    let run = brand.run();
    let wrapped = Wrapped { slots, plan, state };
    let result = if state.undo_only {
        Err(FlowError::new(
            ErrorKind::Failed,
            plan.flow().to_owned().into(),
            None,
            Some(Box::new(Internal(
                "the run had failed before it was resumed",
            ))),
        ))
    } else {
        crate::engine::execute(plan, &wrapped, brand, options)
    };
    match result {
        Ok(()) => Ok(()),
        Err(mut error) if !state.is_broken() && !state.is_halted() => {
            let data = options.get_data();
            error.set_undo_errors(undo_stored(&wrapped, run, data));
            Err(error)
        }
        Err(error) => Err(error),
    }
}

/// Undoes, newest first, the stored steps whose undo is neither recorded nor attempted by
/// this call: those the engine never reached.
fn undo_stored<S: DurableSlots>(
    wrapped: &Wrapped<'_, '_, S>,
    run: u64,
    data: Option<&RunData>,
) -> Vec<UndoError> {
    let (plan, state) = (wrapped.plan, wrapped.state);
    let hot = plan.hot();
    let own_data;
    let data = match data {
        Some(data) => data,
        None => {
            own_data = RunData::new();
            &own_data
        }
    };
    let never = || false;
    let mut errors = Vec::new();
    for name in state.stored_order.iter().rev() {
        let Some(index) = plan.steps().iter().position(|s| s.name() == name) else {
            continue;
        };
        let step = &plan.steps()[index];
        if !step.policy().is_undoable() || state.was_attempted(index) {
            continue;
        }
        let Ok(i) = u32::try_from(index) else {
            continue;
        };
        let Some(checkpoint) = state.stored.get(name) else {
            continue;
        };
        let ctx = Context::new(
            run,
            (plan.flow(), step.name()),
            (1, step.policy().undo_attempts()),
            &never,
            data,
        );
        let outcome = ctx.enter(|| {
            catch_unwind(AssertUnwindSafe(|| -> Result<(), BoxError> {
                wrapped
                    .slots
                    .load(index, &checkpoint.value, &mut Access::step(run, hot, i))?;
                let result = wrapped.undo_step(index, &Access::undo(run, hot, i));
                wrapped.slots.clear(
                    hot.inputs as usize + index,
                    &mut Access::clear(run, hot, hot.inputs + i),
                );
                result
            }))
        });
        let error = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error,
            Err(payload) => Box::new(crate::error::StepPanicked::from_payload(&*payload)) as _,
        };
        errors.push(UndoError::new(step.name_cow(), 1, error));
    }
    errors
}
