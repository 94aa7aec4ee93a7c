//! [`Builder`]: flows assembled at run time, executed by the same engine as `flow!` flows.

mod deps;
mod dynflow;
mod error;
mod exec;
mod map;
mod nested;
mod outputs;
mod settings;
mod store;
mod subflow;
#[cfg(test)]
mod tests;
mod when;

use std::any::Any;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use deps::{Condition, Deps, Handle};
#[cfg(test)]
pub(crate) use dynflow::first_input_handle;
pub use dynflow::{DynFlow, Inputs, Outputs};
pub use error::BuildError;
pub use map::MapOutput;
pub use nested::DynSubflow;
pub use outputs::SubflowOutputs;
pub use subflow::FlowStep;
pub use when::When;

use crate::engine::Access;
use crate::error::BoxError;
use crate::plan::InnerPlan;
use crate::policy::Policy;
use store::{Layout, Store, Typed, mismatch};

type StepFn = Box<dyn Fn(&Store, &mut Access<'_>) -> Result<(), BoxError> + Send + Sync>;
type SkipFn = Box<dyn Fn(&Store, &mut Access<'_>) -> bool + Send + Sync>;
type UndoFn = Box<dyn Fn(&Store, &Access<'_>) -> Result<(), BoxError> + Send + Sync>;
/// The undo of a step, given its value: what undoes an inner step of a sub-flow whose value
/// the inner run returned (it lives in the outer run then).
type ValueUndo<T> = Arc<dyn Fn(&T) -> Result<(), BoxError> + Send + Sync>;
/// A [`ValueUndo`] of the step's value type.
type ErasedUndo = Box<dyn Any + Send + Sync>;
/// Makes the skip test of a conditional step from the builder's layout, its flag's
/// declaration, whether the flag is negated, and the step's own declaration.
type SkipMaker = fn(&Layout, u32, bool, u32) -> SkipFn;

/// A step being declared.
struct Declared {
    name: String,
    routine: String,
    /// Declaration indices of the step's arguments and condition.
    reads: Vec<u32>,
    /// Declaration indices of the steps it also waits for ([`Builder::after`]).
    after: Vec<u32>,
    /// The declaration index of its condition, and whether it is negated.
    condition: Option<(u32, bool)>,
    /// The flow it runs, if it is a sub-flow step.
    subflow: Option<InnerPlan>,
    /// Retries and backoff (of each element, for a map step).
    policy: Policy,
    skip: Option<SkipFn>,
    body: Body,
}

enum Body {
    Step {
        call: StepFn,
        undo: Option<UndoFn>,
        /// The same undo, given the value (a [`ValueUndo`] of the step's type).
        value_undo: Option<ErasedUndo>,
    },
    Map(map::MapDecl),
}

/// The undo of a step whose value lives at `place`, made from `undo`: read from the store,
/// and given the value.
fn undos<T: Send + Sync + 'static>(
    place: store::Typed<T>,
    undo: ValueUndo<T>,
) -> (UndoFn, ErasedUndo) {
    let by_value: ErasedUndo = Box::new(Arc::clone(&undo));
    let from_store: UndoFn = Box::new(move |store, access| {
        let value = store.get::<T>(place, access).ok_or_else(mismatch)?;
        undo(value)
    });
    (from_store, by_value)
}

/// What a declaration has checked and placed before its closure is made.
struct Begun<S> {
    reads: Vec<u32>,
    out: Typed<S>,
    skip: Option<SkipFn>,
    condition: Option<(u32, bool)>,
}

static NEXT_BUILDER: AtomicU64 = AtomicU64::new(1);

fn boxed<E: std::error::Error + Send + Sync + 'static>(error: E) -> BoxError {
    Box::new(error)
}

/// Assembles a flow at run time. Steps can only take results declared before them, so a
/// builder flow is acyclic by construction.
///
/// A builder flow has what a `flow!` has: inputs, steps whose arguments may have different
/// types ([`Deps`]), constants, ordering-only dependencies ([`Builder::after`]), conditional
/// steps ([`Builder::when`]), map steps ([`Builder::map`]) with per-element retries and undo,
/// retries with backoff and undo. Mistakes are reported as [`BuildError`]s, never panics.
///
/// ```
/// use routilux::{Backoff, Builder, Schedule};
/// use std::convert::Infallible;
///
/// let mut b = Builder::new("Prices");
/// let items = b.input::<Vec<u64>>("items")?;
/// let member = b.input::<bool>("member")?;
/// // A constant: a step without arguments that hands out a clone of its value.
/// let rate = b.constant("rate", 10u64)?;
/// // A map step: the closure runs once per element, in parallel; results in input order.
/// let taxed = b.map_with("taxed", items, rate, |price: &u64, rate: &u64| {
///     Ok::<_, Infallible>(price + price * rate / 100)
/// })?;
/// b.retries(taxed, 2, Backoff::NONE)?; // per element
/// // Arguments of different types, as a tuple.
/// let total = b.step("total", (taxed, member), |(taxed, member): (&Vec<u64>, &bool)| {
///     let sum: u64 = taxed.iter().sum();
///     Ok::<_, Infallible>(if *member { sum - sum / 10 } else { sum })
/// })?;
/// // A conditional step: runs only for non-members; its result is an `Option`.
/// let offer = b.when(!member).step("offer", total, |t: &u64| {
///     Ok::<_, Infallible>(format!("join and save {}", t / 10))
/// })?;
/// // An ordering-only dependency: `offer` also waits for `rate`, whose value it does not read.
/// b.after(offer, rate)?;
/// b.output(total);
/// b.output(offer);
/// let flow = b.build();
///
/// let mut inputs = flow.inputs();
/// inputs.set(items, vec![100, 200]).set(member, false);
/// let mut out = flow.run(inputs, Schedule::Dataflow)?;
/// assert_eq!(out.take(total), Some(330));
/// assert_eq!(out.take(offer), Some(Some("join and save 33".to_owned())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// **Constants.** The most direct way to give a step a fixed value is to capture it in the
/// closure (`move |x: &u64| Ok(x * factor)`). [`Builder::constant`] makes a value an argument
/// like any other (useful for a function shared by several steps, and shown in the flow's
/// graph); it is cloned once per run, so wrap values that are costly to clone in an `Arc`.
///
/// **Speed.** Values are stored unboxed, one array per value type; each step is a closure
/// monomorphised for its argument and result types, which reads its arguments in place. Runs
/// that one thread carries out anyway (`Schedule::Sequential`, chains) go straight through
/// the steps without the engine's bookkeeping, as `flow!` flows do.
pub struct Builder {
    id: u64,
    name: String,
    inputs: Vec<String>,
    steps: Vec<Declared>,
    names: BTreeSet<String>,
    kept: Vec<u32>,
    layout: Layout,
    /// The first mistake [`Builder::output`] could not report.
    pending: Option<BuildError>,
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
        let id = NEXT_BUILDER.fetch_add(1, Ordering::Relaxed);
        Builder {
            id,
            name: name.into(),
            inputs: Vec::new(),
            steps: Vec::new(),
            names: BTreeSet::new(),
            kept: Vec::new(),
            layout: Layout::new(id),
            pending: None,
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

    fn declarations(&self) -> usize {
        self.inputs.len() + self.steps.len()
    }

    /// Declares an input. Declare all inputs before the first step.
    ///
    /// # Errors
    /// [`BuildError::DuplicateName`] if the name is taken, [`BuildError::InputAfterStep`] if
    /// a step was already declared (inputs come first).
    pub fn input<T: Send + Sync + 'static>(
        &mut self,
        name: impl Into<String>,
    ) -> Result<Handle<T>, BuildError> {
        let name = name.into();
        if !self.steps.is_empty() {
            return Err(BuildError::InputAfterStep {
                flow: self.name.clone(),
                input: name,
            });
        }
        self.claim(&name)?;
        self.layout.push::<T>();
        self.inputs.push(name);
        Ok(self.handle(self.inputs.len() - 1))
    }

    fn handle<T>(&self, slot: usize) -> Handle<T> {
        Handle::new(self.id, u32::try_from(slot).unwrap_or(u32::MAX))
    }

    /// Checks a new step's handles (builder and declaration index of each) and claims its
    /// name, then places its result (a `S`).
    fn begin<S: Send + Sync + 'static>(
        &mut self,
        name: &str,
        mut handles: Vec<(u64, u32)>,
        condition: Option<(Condition, SkipMaker)>,
    ) -> Result<Begun<S>, BuildError> {
        if let Some((c, _)) = &condition {
            handles.push((c.builder, c.slot));
        }
        let known = self.declarations();
        if handles
            .iter()
            .any(|&(builder, slot)| builder != self.id || slot as usize >= known)
        {
            return Err(BuildError::ForeignHandle {
                step: name.to_owned(),
            });
        }
        self.claim(name)?;
        let decl = u32::try_from(known).unwrap_or(u32::MAX);
        let out = self.layout.push::<S>();
        let flag = condition.map(|(c, _)| (c.slot, c.negated));
        let skip = condition.map(|(c, make)| make(&self.layout, c.slot, c.negated, decl));
        Ok(Begun {
            reads: handles.into_iter().map(|(_, slot)| slot).collect(),
            out,
            skip,
            condition: flag,
        })
    }

    /// Adds a begun step; returns its handle.
    fn push<S>(&mut self, name: String, routine: &str, begun: Begun<S>, body: Body) -> Handle<S> {
        self.steps.push(Declared {
            name,
            routine: routine.to_owned(),
            reads: begun.reads,
            after: Vec::new(),
            condition: begun.condition,
            subflow: None,
            policy: Policy::NONE,
            skip: begun.skip,
            body,
        });
        self.handle(self.declarations() - 1)
    }

    /// Declares a step whose result is a `S`, made by `f` from the values of `deps`.
    fn add_step<D, S, F>(
        &mut self,
        name: String,
        routine: &str,
        deps: &D,
        condition: Option<(Condition, SkipMaker)>,
        f: F,
    ) -> Result<Handle<S>, BuildError>
    where
        D: Deps,
        S: Send + Sync + 'static,
        F: Fn(D::Refs<'_>) -> Result<S, BoxError> + Send + Sync + 'static,
    {
        let mut handles = Vec::new();
        deps.handles(&mut handles);
        let begun = self.begin::<S>(&name, handles, condition)?;
        let places = deps.places(&self.layout);
        let out = begun.out;
        let call: StepFn = Box::new(move |store, access| {
            let value = D::with(&places, store, access, &f).ok_or_else(mismatch)??;
            store.set(out, access, value)
        });
        let body = Body::Step {
            call,
            undo: None,
            value_undo: None,
        };
        Ok(self.push(name, routine, begun, body))
    }

    /// Declares a step that calls `f` with the values of `deps` (see [`Deps`] for the shapes:
    /// one handle, a tuple of handles of any types, or a slice of handles of one type).
    ///
    /// # Errors
    /// [`BuildError::DuplicateName`] if the name is taken, [`BuildError::ForeignHandle`] if a
    /// handle comes from another builder.
    pub fn step<D, U, Err, F>(
        &mut self,
        name: impl Into<String>,
        deps: D,
        f: F,
    ) -> Result<Handle<U>, BuildError>
    where
        D: Deps,
        U: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(D::Refs<'_>) -> Result<U, Err> + Send + Sync + 'static,
    {
        self.add_step(name.into(), "closure", &deps, None, move |refs| {
            f(refs).map_err(boxed)
        })
    }

    /// Declares a constant: a step without arguments whose result is a clone of `value`,
    /// made once per run. Capturing a value in a step's closure is the other way to pass a
    /// constant (see [`Builder`]).
    ///
    /// # Errors
    /// [`BuildError::DuplicateName`] if the name is taken.
    pub fn constant<T: Clone + Send + Sync + 'static>(
        &mut self,
        name: impl Into<String>,
        value: T,
    ) -> Result<Handle<T>, BuildError> {
        self.add_step(name.into(), "constant", &(), None, move |()| {
            Ok(value.clone())
        })
    }

    /// Computes the plan, or returns the first mistake [`output`](Self::output) was given.
    ///
    /// # Errors
    /// The first [`BuildError`] that [`output`](Self::output) could not report.
    pub fn try_build(mut self) -> Result<DynFlow, BuildError> {
        match self.pending.take() {
            Some(error) => Err(error),
            None => Ok(self.build()),
        }
    }

    /// Computes the plan. If [`output`](Self::output) was given a handle from another
    /// builder, every run of the flow fails with that mistake (see
    /// [`try_build`](Self::try_build)).
    #[must_use]
    pub fn build(self) -> DynFlow {
        dynflow::build(
            self.id,
            self.name,
            self.inputs,
            self.steps,
            &self.kept,
            &self.layout,
            self.pending,
        )
    }
}
