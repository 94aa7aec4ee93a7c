//! [`Builder`]: flows assembled at run time, executed by the same engine as `flow!` flows.
//!
//! ```
//! use routilux::{Builder, Schedule};
//!
//! let mut b = Builder::new("Sum");
//! let x = b.input::<u64>("x")?;
//! let double = b.step("double", &[x], |a: &[&u64]| Ok::<_, std::fmt::Error>(a[0] * 2))?;
//! let sum = b.step("sum", &[x, double], |a: &[&u64]| Ok::<_, std::fmt::Error>(a[0] + a[1]))?;
//! b.output(sum);
//! let flow = b.build();
//!
//! let mut inputs = flow.inputs();
//! inputs.set(x, 5);
//! let mut outputs = flow.run(inputs, Schedule::Dataflow)?;
//! assert_eq!(outputs.take(sum), Some(15));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::any::Any;
use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::{Access, Exec, execute};
use crate::error::{BoxError, ErrorKind, FlowError};
use crate::options::RunOptions;
use crate::plan::Plan;
use crate::slot::Slot;

type AnyBox = Box<dyn Any + Send + Sync>;
type StepFn = Box<dyn Fn(&[&(dyn Any + Send + Sync)]) -> Result<AnyBox, BoxError> + Send + Sync>;

static NEXT_BUILDER: AtomicU64 = AtomicU64::new(1);

/// A typed reference to an input or step result of a [`Builder`] flow.
pub struct Handle<T> {
    builder: u64,
    slot: u32,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("slot", &self.slot).finish()
    }
}

/// Why a [`Builder`] refused a declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The name is already used by an input or step of this flow.
    DuplicateName(String),
    /// A handle came from a different builder.
    ForeignHandle {
        /// The step that was given the handle.
        step: String,
    },
    /// The flow would have more than `u32::MAX` inputs and steps.
    TooLarge,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::DuplicateName(name) => {
                write!(f, "the name `{name}` is already used in this flow")
            }
            BuildError::ForeignHandle { step } => {
                write!(f, "step `{step}` was given a handle from another builder")
            }
            BuildError::TooLarge => f.write_str("a flow holds at most u32::MAX inputs and steps"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Assembles a flow at run time. Steps can only take results declared before them, so a
/// builder flow is acyclic by construction.
pub struct Builder {
    id: u64,
    name: String,
    inputs: Vec<String>,
    steps: Vec<(String, Vec<u32>, StepFn)>,
    names: BTreeSet<String>,
    kept: Vec<u32>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("inputs", &self.inputs)
            .field("steps", &self.steps.len())
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder for a flow called `name`.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Builder {
            id: NEXT_BUILDER.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
            inputs: Vec::new(),
            steps: Vec::new(),
            names: BTreeSet::new(),
            kept: Vec::new(),
        }
    }

    fn claim(&mut self, name: &str) -> Result<(), BuildError> {
        if u32::try_from(self.inputs.len() + self.steps.len() + 1).is_err() {
            return Err(BuildError::TooLarge);
        }
        if !self.names.insert(name.to_owned()) {
            return Err(BuildError::DuplicateName(name.to_owned()));
        }
        Ok(())
    }

    /// Declares an input. Declare all inputs before the first step.
    ///
    /// # Errors
    /// [`BuildError::DuplicateName`] if the name is taken.
    ///
    /// # Panics
    /// If a step was already declared (inputs come first).
    pub fn input<T: Send + Sync + 'static>(
        &mut self,
        name: impl Into<String>,
    ) -> Result<Handle<T>, BuildError> {
        assert!(
            self.steps.is_empty(),
            "routilux::Builder: declare every input before the first step"
        );
        let name = name.into();
        self.claim(&name)?;
        self.inputs.push(name);
        Ok(self.handle(self.inputs.len() - 1))
    }

    fn handle<T>(&self, slot: usize) -> Handle<T> {
        Handle {
            builder: self.id,
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
            _type: PhantomData,
        }
    }

    /// Declares a step that calls `f` with the values of `deps`, in order.
    ///
    /// # Errors
    /// [`BuildError::DuplicateName`] if the name is taken, [`BuildError::ForeignHandle`] if a
    /// handle comes from another builder.
    pub fn step<T, U, Err, F>(
        &mut self,
        name: impl Into<String>,
        deps: &[Handle<T>],
        f: F,
    ) -> Result<Handle<U>, BuildError>
    where
        T: Send + Sync + 'static,
        U: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&[&T]) -> Result<U, Err> + Send + Sync + 'static,
    {
        let name = name.into();
        if deps.iter().any(|h| h.builder != self.id) {
            return Err(BuildError::ForeignHandle { step: name });
        }
        self.claim(&name)?;
        let call: StepFn = Box::new(move |args| {
            let typed: Vec<&T> = args
                .iter()
                .map(|a| {
                    a.downcast_ref::<T>()
                        .expect("routilux internal error: builder argument of the wrong type")
                })
                .collect();
            match f(&typed) {
                Ok(value) => Ok(Box::new(value) as AnyBox),
                Err(error) => Err(Box::new(error) as BoxError),
            }
        });
        self.steps
            .push((name, deps.iter().map(|h| h.slot).collect(), call));
        Ok(self.handle(self.inputs.len() + self.steps.len() - 1))
    }

    /// Makes the run return `handle`'s value (see [`Outputs::take`]).
    pub fn output<T>(&mut self, handle: Handle<T>) {
        if handle.builder == self.id && !self.kept.contains(&handle.slot) {
            self.kept.push(handle.slot);
        }
    }

    /// Computes the plan.
    #[must_use]
    pub fn build(self) -> DynFlow {
        let n_inputs = self.inputs.len() as u32;
        let mut specs = Vec::with_capacity(self.steps.len());
        let mut calls = Vec::with_capacity(self.steps.len());
        for (name, reads, call) in self.steps {
            specs.push((name, "closure".to_owned(), reads.clone()));
            calls.push((reads, call));
        }
        let (plan, position) = Plan::build(self.name, self.inputs, specs, &self.kept);
        let slot_of_decl: Vec<u32> = (0..n_inputs)
            .chain(position.iter().map(|&p| n_inputs + p))
            .collect();
        let mut ordered: Vec<Option<DynStep>> = (0..calls.len()).map(|_| None).collect();
        for (decl, (reads, call)) in calls.into_iter().enumerate() {
            let args = reads.iter().map(|&s| slot_of_decl[s as usize]).collect();
            ordered[position[decl] as usize] = Some(DynStep { args, call });
        }
        DynFlow {
            builder: self.id,
            plan,
            steps: ordered.into_iter().flatten().collect(),
            slot_of_decl,
        }
    }
}

/// One step of a [`DynFlow`]: its argument slots in call order and its function.
struct DynStep {
    args: Vec<u32>,
    call: StepFn,
}

/// A flow assembled by a [`Builder`], ready to run any number of times.
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

/// The returned values of a run of a [`DynFlow`] (those marked with [`Builder::output`]).
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
