//! [`DynFlow`]: a flow assembled by a [`Builder`](super::Builder), and its runs.

use std::fmt;
use std::sync::Arc;

use super::exec::{Compiled, compile};
use super::store::{Layout, Place, Store};
use super::{BuildError, Declared, Handle};
use crate::engine::{Brand, execute};
use crate::error::{ErrorKind, FlowError};
use crate::options::RunOptions;
use crate::plan::Plan;

/// A flow assembled by a [`Builder`](super::Builder), ready to run any number of times.
pub struct DynFlow {
    builder: u64,
    /// Shared with the plans of flows that run this one as a step.
    pub(super) plan: Arc<Plan>,
    pub(super) compiled: Compiled,
    /// What the outputs of every run need to check handles.
    pub(super) names: Arc<Names>,
    /// A mistake the builder could not report ([`Builder::output`](super::Builder::output)
    /// with a handle from another builder): every run fails with it.
    pub(super) defect: Option<BuildError>,
}

/// The flow's name, and what a handle stands for, by declaration order.
pub(super) struct Names {
    builder: u64,
    pub(super) flow: String,
    /// Plan slot of each input and step, in declaration order.
    slot_of_decl: Vec<u32>,
    /// Where each input and step is stored, in declaration order.
    place_of_decl: Vec<Place>,
    /// The name of each plan slot.
    pub(super) names: Vec<String>,
    /// Whether each plan slot is returned by a run.
    pub(super) returned: Vec<bool>,
}

impl Names {
    /// The plan slot and place of `handle`, if it belongs to this flow.
    pub(super) fn slot<T>(
        &self,
        handle: Handle<T>,
        operation: &'static str,
    ) -> Result<(usize, Place), BuildError> {
        let decl = handle.slot as usize;
        match (self.slot_of_decl.get(decl), self.place_of_decl.get(decl)) {
            (Some(&slot), Some(&place)) if handle.builder == self.builder => {
                Ok((slot as usize, place))
            }
            _ => Err(BuildError::OtherFlow {
                flow: self.flow.clone(),
                operation,
                handle: format!("{handle:?}"),
            }),
        }
    }

    fn wrong_type<T>(&self, slot: usize) -> BuildError {
        BuildError::WrongType {
            flow: self.flow.clone(),
            name: self.names[slot].clone(),
            expected: std::any::type_name::<T>(),
        }
    }
}

/// Makes the flow of a builder's declarations.
pub(super) fn build(
    builder: u64,
    name: String,
    inputs: Vec<String>,
    declared: Vec<Declared>,
    kept: &[u32],
    layout: &Layout,
    mut defect: Option<BuildError>,
) -> DynFlow {
    let (plan, compiled) = compile(name, inputs, declared, kept, layout, &mut defect);
    let names = plan
        .inputs()
        .map(str::to_owned)
        .chain(plan.steps().iter().map(|s| s.name().to_owned()))
        .collect();
    let returned = (0..compiled.slot_of_decl.len())
        .map(|slot| plan.slot_returned(slot))
        .collect();
    let names = Names {
        builder,
        flow: plan.flow().to_owned(),
        slot_of_decl: compiled.slot_of_decl.clone(),
        place_of_decl: compiled.place_of_decl.clone(),
        names,
        returned,
    };
    DynFlow {
        builder,
        plan: Arc::new(plan),
        compiled,
        names: Arc::new(names),
        defect,
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
    /// The run's identity, which its slots carry.
    brand: Brand,
    store: Store,
    given: Vec<bool>,
    /// The first mistake [`Inputs::set`] was given: the run fails with it.
    mistake: Option<BuildError>,
}

impl fmt::Debug for Inputs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inputs")
            .field("given", &self.given)
            .finish()
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
        let (slot, place) = names.slot(handle, "Inputs::set")?;
        if slot >= self.given.len() {
            return Err(BuildError::NotAnInput {
                flow: names.flow.clone(),
                name: names.names[slot].clone(),
            });
        }
        let Some(input) = self.store.slot_mut::<T>(place) else {
            return Err(names.wrong_type::<T>(slot));
        };
        *input.value_mut() = Some(value);
        self.given[slot] = true;
        Ok(self)
    }
}

/// The returned values of a run of a [`DynFlow`] (those marked with [`Builder::output`]).
///
/// [`Builder::output`]: super::Builder::output
pub struct Outputs {
    store: Store,
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
        let (slot, place) = names.slot(handle, "Outputs::take")?;
        if !names.returned[slot] {
            return Err(BuildError::NotAnOutput {
                flow: names.flow.clone(),
                name: names.names[slot].clone(),
            });
        }
        let Some(value) = self.store.slot_mut::<T>(place) else {
            return Err(names.wrong_type::<T>(slot));
        };
        value
            .value_mut()
            .take()
            .ok_or_else(|| BuildError::AlreadyTaken {
                flow: names.flow.clone(),
                name: names.names[slot].clone(),
            })
    }
}

impl DynFlow {
    /// The flow's plan: its steps in topological order and its layers.
    #[must_use]
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// An empty set of inputs for one run.
    #[must_use]
    pub fn inputs(&self) -> Inputs<'_> {
        let brand = Brand::new();
        let store = Store::new(&brand, &self.compiled.groups);
        Inputs {
            flow: self,
            brand,
            store,
            given: vec![false; self.plan.input_count()],
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
        if let Some(missing) = inputs.given.iter().position(|given| !given) {
            let name = self.plan.inputs().nth(missing).unwrap_or("?").to_owned();
            return Err(FlowError::new(
                ErrorKind::MissingInput,
                self.plan.flow().to_owned().into(),
                None,
                Some(format!("input `{name}` was not given").into()),
            ));
        }
        let run = self.new_run(inputs.store);
        execute(&self.plan, &run, inputs.brand, &options.into())?;
        Ok(Outputs {
            store: run.store,
            names: Arc::clone(&self.names),
        })
    }
}

/// The handle of a flow's first input (for the engine's own tests).
#[cfg(test)]
pub(crate) fn first_input_handle(flow: &DynFlow) -> Handle<u64> {
    Handle::new(flow.builder, 0)
}
