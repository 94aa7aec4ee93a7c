//! [`DynFlow`]: a flow assembled by a [`Builder`](super::Builder), and its runs.

use std::any::Any;
use std::fmt;
#[cfg(test)]
use std::marker::PhantomData;
use std::sync::Arc;

use super::{AnyBox, BuildError, Handle, StepFn, UndoFn};
use crate::engine::{Access, Brand, Exec, execute};
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
    /// What the outputs of every run need to check handles.
    names: Arc<Names>,
    /// A mistake the builder could not report ([`Builder::output`](super::Builder::output)
    /// with a handle from another builder): every run fails with it.
    defect: Option<BuildError>,
}

/// The flow's name, and what a handle stands for, by declaration order.
struct Names {
    builder: u64,
    flow: String,
    /// Plan slot of each input and step, in declaration order.
    slot_of_decl: Vec<u32>,
    /// The name of each plan slot.
    names: Vec<String>,
    /// Whether each plan slot is returned by a run.
    returned: Vec<bool>,
}

impl Names {
    /// The plan slot of `handle`, if it belongs to this flow.
    fn slot<T>(&self, handle: Handle<T>, operation: &'static str) -> Result<usize, BuildError> {
        match self.slot_of_decl.get(handle.slot as usize) {
            Some(&slot) if handle.builder == self.builder => Ok(slot as usize),
            _ => Err(BuildError::OtherFlow {
                flow: self.flow.clone(),
                operation,
                handle: format!("{handle:?}"),
            }),
        }
    }
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
    /// The first mistake [`Inputs::set`] was given: the run fails with it.
    mistake: Option<BuildError>,
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
    /// A handle that is not an input of this flow (a step's, or another builder's) is a
    /// mistake this method cannot report: the run fails with it (kind
    /// [`ErrorKind::Misuse`], whose source is the [`BuildError`]).
    /// [`try_set`](Self::try_set) reports it at once.
    pub fn set<T: Send + Sync + 'static>(&mut self, handle: Handle<T>, value: T) -> &mut Self {
        if let Err(error) = self.try_set(handle, value) {
            self.mistake.get_or_insert(error);
        }
        self
    }

    /// Sets an input's value, replacing any earlier one.
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if `handle` comes from another builder,
    /// [`BuildError::NotAnInput`] if it is a step's; `value` is dropped then.
    pub fn try_set<T: Send + Sync + 'static>(
        &mut self,
        handle: Handle<T>,
        value: T,
    ) -> Result<&mut Self, BuildError> {
        let names = &self.flow.names;
        let slot = names.slot(handle, "Inputs::set")?;
        match self.values.get_mut(slot) {
            Some(input) => *input = Some(Box::new(value)),
            None => {
                return Err(BuildError::NotAnInput {
                    flow: names.flow.clone(),
                    name: names.names[slot].clone(),
                });
            }
        }
        Ok(self)
    }
}

/// The returned values of a run of a [`DynFlow`] (those marked with [`Builder::output`]).
///
/// [`Builder::output`]: super::Builder::output
pub struct Outputs {
    values: Vec<Option<AnyBox>>,
    names: Arc<Names>,
}

impl fmt::Debug for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outputs").finish_non_exhaustive()
    }
}

impl Outputs {
    /// Takes a returned value out; `None` if `handle` was not marked as an output, was
    /// already taken, or belongs to another flow. A value is only taken by its own handle:
    /// nothing is lost to a wrong one. [`try_take`](Self::try_take) says what was wrong.
    pub fn take<T: 'static>(&mut self, handle: Handle<T>) -> Option<T> {
        self.try_take(handle).ok()
    }

    /// Takes a returned value out.
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if `handle` belongs to another flow,
    /// [`BuildError::NotAnOutput`] if it was not marked with
    /// [`Builder::output`](super::Builder::output), [`BuildError::AlreadyTaken`] if it was
    /// taken before, [`BuildError::WrongType`] if the value is not a `T`. The value stays
    /// in place on every error.
    pub fn try_take<T: 'static>(&mut self, handle: Handle<T>) -> Result<T, BuildError> {
        let names = &self.names;
        let slot = names.slot(handle, "Outputs::take")?;
        let name = || names.names[slot].clone();
        let flow = || names.flow.clone();
        if !names.returned[slot] {
            return Err(BuildError::NotAnOutput {
                flow: flow(),
                name: name(),
            });
        }
        let value = &mut self.values[slot];
        match value {
            None => Err(BuildError::AlreadyTaken {
                flow: flow(),
                name: name(),
            }),
            Some(boxed) if !(**boxed).is::<T>() => Err(BuildError::WrongType {
                flow: flow(),
                name: name(),
                expected: std::any::type_name::<T>(),
            }),
            Some(_) => {
                let boxed = value.take().expect("matched Some above");
                Ok(*boxed.downcast::<T>().expect("type checked above"))
            }
        }
    }
}

/// The per-run state of a [`DynFlow`]: its type-erased result slots.
struct DynRun<'f> {
    flow: &'f DynFlow,
    slots: Vec<Slot<AnyBox>>,
}

impl Exec for DynRun<'_> {
    fn run_step(&self, step: usize, access: &mut Access<'_>) -> Result<(), BoxError> {
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

    fn clear(&self, slot: usize, access: &mut Access<'_>) {
        self.slots[slot].clear(access);
    }

    fn undo_step(&self, step: usize, access: &Access<'_>) -> Result<(), BoxError> {
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
        defect: Option<BuildError>,
    ) -> Self {
        let names = plan
            .inputs()
            .map(str::to_owned)
            .chain(plan.steps().iter().map(|s| s.name().to_owned()))
            .collect();
        let returned = (0..slot_of_decl.len())
            .map(|slot| plan.slot_returned(slot))
            .collect();
        let names = Names {
            builder,
            flow: plan.flow().to_owned(),
            slot_of_decl,
            names,
            returned,
        };
        DynFlow {
            builder,
            plan,
            steps,
            names: Arc::new(names),
            defect,
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
            mistake: None,
        }
    }

    fn misuse(&self, error: BuildError) -> FlowError {
        FlowError::new(
            ErrorKind::Misuse,
            self.plan.flow().to_owned().into(),
            None,
            Some(Box::new(error)),
        )
    }

    /// Runs the flow once.
    ///
    /// # Errors
    /// The first step failure or panic; an error of kind [`ErrorKind::MissingInput`] when an
    /// input was not given; of kind [`ErrorKind::Misuse`] (its source a [`BuildError`])
    /// when `inputs` were made by another flow, [`Inputs::set`] was given a handle that is
    /// not an input of this flow, or [`Builder::output`](super::Builder::output) one from
    /// another builder.
    pub fn run<'p>(
        &self,
        inputs: Inputs<'_>,
        options: impl Into<RunOptions<'p>>,
    ) -> Result<Outputs, FlowError> {
        if let Some(defect) = &self.defect {
            return Err(self.misuse(defect.clone()));
        }
        if inputs.flow.builder != self.builder {
            return Err(self.misuse(BuildError::OtherFlowInputs {
                flow: self.plan.flow().to_owned(),
                made_by: inputs.flow.plan.flow().to_owned(),
            }));
        }
        if let Some(mistake) = inputs.mistake {
            return Err(self.misuse(mistake));
        }
        if let Some(missing) = inputs.values.iter().position(Option::is_none) {
            let name = self.plan.inputs().nth(missing).unwrap_or("?").to_owned();
            return Err(FlowError::new(
                ErrorKind::MissingInput,
                self.plan.flow().to_owned().into(),
                None,
                Some(format!("input `{name}` was not given").into()),
            ));
        }
        let brand = Brand::new();
        let inputs_len = inputs.values.len();
        let slots: Vec<Slot<AnyBox>> =
            inputs
                .values
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let index = u32::try_from(i).unwrap_or(u32::MAX);
                    match v {
                        Some(v) => Slot::new(&brand, index, v),
                        None => Slot::empty(&brand, index),
                    }
                })
                .chain((0..self.steps.len()).map(|i| {
                    Slot::empty(&brand, u32::try_from(inputs_len + i).unwrap_or(u32::MAX))
                }))
                .collect();
        let run = DynRun { flow: self, slots };
        execute(&self.plan, &run, brand, &options.into())?;
        let values = run.slots.into_iter().map(Slot::into_inner).collect();
        Ok(Outputs {
            values,
            names: Arc::clone(&self.names),
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
