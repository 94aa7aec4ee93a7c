//! [`DynFlow`]: a flow assembled by a [`Builder`](super::Builder), and its runs.

use std::any::Any;
use std::fmt;
#[cfg(test)]
use std::marker::PhantomData;

use super::{AnyBox, Handle, StepFn, UndoFn};
use crate::engine::{Access, Exec, execute};
use crate::error::{BoxError, ErrorKind, FlowError};
use crate::options::RunOptions;
use crate::plan::Plan;
use crate::slot::Slot;

/// One step of a [`DynFlow`]: its argument slots in call order, its function and its undo.
pub(super) struct DynStep {
    pub(super) args: Vec<u32>,
    pub(super) call: StepFn,
    pub(super) undo: Option<UndoFn>,
}

/// A flow assembled by a [`Builder`](super::Builder), ready to run any number of times.
pub struct DynFlow {
    builder: u64,
    plan: Plan,
    /// In plan order.
    steps: Vec<DynStep>,
    /// Plan slot of each input and step, in declaration order.
    slot_of_decl: Vec<u32>,
}

impl fmt::Debug for DynFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynFlow")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// The input values of one run of a [`DynFlow`].
pub struct Inputs<'f> {
    flow: &'f DynFlow,
    values: Vec<Option<AnyBox>>,
}

impl fmt::Debug for Inputs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let given: Vec<bool> = self.values.iter().map(Option::is_some).collect();
        f.debug_struct("Inputs").field("given", &given).finish()
    }
}

impl Inputs<'_> {
    /// Sets an input's value, replacing any earlier one.
    ///
    /// # Panics
    /// If `handle` is not an input of this flow.
    pub fn set<T: Send + Sync + 'static>(&mut self, handle: Handle<T>, value: T) -> &mut Self {
        let slot = handle.slot as usize;
        assert!(
            handle.builder == self.flow.builder && slot < self.values.len(),
            "routilux::Inputs::set: the handle is not an input of this flow"
        );
        self.values[slot] = Some(Box::new(value));
        self
    }
}

/// The returned values of a run of a [`DynFlow`] (those marked with [`Builder::output`](super::Builder::output)).
pub struct Outputs {
    values: Vec<Option<AnyBox>>,
    slot_of_decl: Vec<u32>,
}

impl fmt::Debug for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outputs").finish_non_exhaustive()
    }
}

impl Outputs {
    /// Takes a returned value out; `None` if `handle` was not marked as an output or was
    /// already taken.
    pub fn take<T: 'static>(&mut self, handle: Handle<T>) -> Option<T> {
        let slot = *self.slot_of_decl.get(handle.slot as usize)? as usize;
        let value = self.values.get_mut(slot)?.take()?;
        value.downcast::<T>().ok().map(|b| *b)
    }
}

/// The per-run state of a [`DynFlow`]: its type-erased result slots.
struct DynRun<'f> {
    flow: &'f DynFlow,
    slots: Vec<Slot<AnyBox>>,
}

impl Exec for DynRun<'_> {
    fn run_step(&self, step: usize, access: &Access) -> Result<(), BoxError> {
        let step_def = &self.flow.steps[step];
        let args: Vec<&(dyn Any + Send + Sync)> = step_def
            .args
            .iter()
            .map(|&s| &**self.slots[s as usize].get(access))
            .collect();
        let value = (step_def.call)(&args)?;
        self.slots[self.flow.plan.input_count() + step].set(access, value);
        Ok(())
    }

    fn clear(&self, slot: usize, access: &Access) {
        self.slots[slot].clear(access);
    }

    fn undo_step(&self, step: usize, access: &Access) -> Result<(), BoxError> {
        match &self.flow.steps[step].undo {
            Some(undo) => undo(&**self.slots[self.flow.plan.input_count() + step].get(access)),
            None => Ok(()),
        }
    }
}

impl DynFlow {
    pub(super) fn new(
        builder: u64,
        plan: Plan,
        steps: Vec<DynStep>,
        slot_of_decl: Vec<u32>,
    ) -> Self {
        DynFlow {
            builder,
            plan,
            steps,
            slot_of_decl,
        }
    }

    /// The flow's plan: its steps in topological order and its layers.
    #[must_use]
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// An empty set of inputs for one run.
    #[must_use]
    pub fn inputs(&self) -> Inputs<'_> {
        Inputs {
            flow: self,
            values: (0..self.plan.input_count()).map(|_| None).collect(),
        }
    }

    /// Runs the flow once.
    ///
    /// # Errors
    /// The first step failure or panic; an error of kind [`ErrorKind::MissingInput`] when an
    /// input was not given.
    pub fn run<'p>(
        &self,
        inputs: Inputs<'_>,
        options: impl Into<RunOptions<'p>>,
    ) -> Result<Outputs, FlowError> {
        if let Some(missing) = inputs.values.iter().position(Option::is_none) {
            let name = self.plan.inputs().nth(missing).unwrap_or("?").to_owned();
            return Err(FlowError::new(
                ErrorKind::MissingInput,
                self.plan.flow().to_owned().into(),
                None,
                Some(format!("input `{name}` was not given").into()),
            ));
        }
        let slots: Vec<Slot<AnyBox>> = inputs
            .values
            .into_iter()
            .map(|v| v.map_or_else(Slot::empty, Slot::new))
            .chain((0..self.steps.len()).map(|_| Slot::empty()))
            .collect();
        let run = DynRun { flow: self, slots };
        execute(&self.plan, &run, &options.into())?;
        let values = run.slots.into_iter().map(Slot::into_inner).collect();
        Ok(Outputs {
            values,
            slot_of_decl: self.slot_of_decl.clone(),
        })
    }
}

/// The handle of a flow's first input (for the engine's own tests).
#[cfg(test)]
pub(crate) fn first_input_handle(flow: &DynFlow) -> Handle<u64> {
    Handle {
        builder: flow.builder,
        slot: 0,
        _type: PhantomData,
    }
}
