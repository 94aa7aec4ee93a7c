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

mod dynflow;

use std::any::Any;
use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(test)]
pub(crate) use dynflow::first_input_handle;
pub use dynflow::{DynFlow, Inputs, Outputs};

use crate::error::BoxError;
use crate::plan::Plan;
use crate::policy::{Backoff, Policy};
use dynflow::DynStep;

type AnyBox = Box<dyn Any + Send + Sync>;
type StepFn = Box<dyn Fn(&[&(dyn Any + Send + Sync)]) -> Result<AnyBox, BoxError> + Send + Sync>;
type UndoFn = Box<dyn Fn(&(dyn Any + Send + Sync)) -> Result<(), BoxError> + Send + Sync>;

/// A step being declared.
struct Declared {
    name: String,
    reads: Vec<u32>,
    call: StepFn,
    undo: Option<UndoFn>,
    policy: Policy,
}

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
    steps: Vec<Declared>,
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
        self.steps.push(Declared {
            name,
            reads: deps.iter().map(|h| h.slot).collect(),
            call,
            undo: None,
            policy: Policy::NONE,
        });
        Ok(self.handle(self.inputs.len() + self.steps.len() - 1))
    }

    /// The step behind `handle`, if it is a step of this builder.
    fn declared<U>(&mut self, handle: Handle<U>) -> Result<&mut Declared, BuildError> {
        let index = (handle.slot as usize).checked_sub(self.inputs.len());
        match index.and_then(|i| self.steps.get_mut(i)) {
            Some(step) if handle.builder == self.id => Ok(step),
            _ => Err(BuildError::ForeignHandle {
                step: format!("slot {}", handle.slot),
            }),
        }
    }

    /// Retries `step` up to `retries` times after a failure, waiting `backoff` in between.
    ///
    /// # Errors
    /// [`BuildError::ForeignHandle`] if `step` is not a step of this builder.
    pub fn retries<U>(
        &mut self,
        step: Handle<U>,
        retries: u32,
        backoff: Backoff,
    ) -> Result<(), BuildError> {
        let declared = self.declared(step)?;
        declared.policy = declared.policy.retries(retries).backoff(backoff);
        Ok(())
    }

    /// Makes `step` undoable: if the run fails after `step` succeeded, `undo` is called with
    /// its result (see [`Step::undo`](crate::Step::undo)). The result is kept until the run
    /// ends.
    ///
    /// # Errors
    /// [`BuildError::ForeignHandle`] if `step` is not a step of this builder.
    pub fn undo<U, Err, F>(&mut self, step: Handle<U>, undo: F) -> Result<(), BuildError>
    where
        U: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&U) -> Result<(), Err> + Send + Sync + 'static,
    {
        let declared = self.declared(step)?;
        declared.undo = Some(Box::new(move |value| {
            let value = value
                .downcast_ref::<U>()
                .expect("routilux internal error: builder result of the wrong type");
            undo(value).map_err(|e| Box::new(e) as BoxError)
        }));
        declared.policy = declared.policy.__flags(true, false, false);
        Ok(())
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
        for step in self.steps {
            specs.push((
                step.name,
                "closure".to_owned(),
                step.reads.clone(),
                step.policy,
            ));
            calls.push((step.reads, step.call, step.undo));
        }
        let (plan, position) = Plan::build(self.name, self.inputs, specs, &self.kept);
        let slot_of_decl: Vec<u32> = (0..n_inputs)
            .chain(position.iter().map(|&p| n_inputs + p))
            .collect();
        let mut ordered: Vec<Option<DynStep>> = (0..calls.len()).map(|_| None).collect();
        for (decl, (reads, call, undo)) in calls.into_iter().enumerate() {
            let args = reads.iter().map(|&s| slot_of_decl[s as usize]).collect();
            ordered[position[decl] as usize] = Some(DynStep { args, call, undo });
        }
        DynFlow::new(
            self.id,
            plan,
            ordered.into_iter().flatten().collect(),
            slot_of_decl,
        )
    }
}
