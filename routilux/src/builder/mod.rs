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
        f.debug_struct("Handle")
            .field("builder", &self.builder)
            .field("slot", &self.slot)
            .finish()
    }
}

/// Why a [`Builder`] refused a declaration, or a [`DynFlow`] refused a handle or inputs.
///
/// Every variant names the flow it happened in and, where it can, the input or step the
/// handle stands for.
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
    /// [`Builder::input`] was called after the first step.
    InputAfterStep {
        /// The flow.
        flow: String,
        /// The input that came too late.
        input: String,
    },
    /// A handle from another builder (or its flow) was given to `operation` of flow `flow`.
    OtherFlow {
        /// The flow that was given the handle.
        flow: String,
        /// What was given it, e.g. `Outputs::take`.
        operation: &'static str,
        /// The handle, as its `Debug` shows it.
        handle: String,
    },
    /// [`Builder::retries`] or [`Builder::undo`] was given the handle of an input.
    NotAStep {
        /// The flow.
        flow: String,
        /// The input.
        name: String,
        /// What was given the handle, e.g. `Builder::retries`.
        operation: &'static str,
    },
    /// [`Inputs::try_set`] was given the handle of a step.
    NotAnInput {
        /// The flow.
        flow: String,
        /// The step.
        name: String,
    },
    /// [`Outputs::try_take`] was given the handle of a value not marked with
    /// [`Builder::output`].
    NotAnOutput {
        /// The flow.
        flow: String,
        /// The input or step.
        name: String,
    },
    /// [`Outputs::try_take`] was given the handle of a value already taken.
    AlreadyTaken {
        /// The flow.
        flow: String,
        /// The input or step.
        name: String,
    },
    /// A value was not of the type its handle says (only possible with handles made up
    /// outside the builder; the value is left in place).
    WrongType {
        /// The flow.
        flow: String,
        /// The input or step.
        name: String,
        /// The type the handle asked for.
        expected: &'static str,
    },
    /// [`DynFlow::run`] was given [`Inputs`] made by another flow's [`DynFlow::inputs`].
    OtherFlowInputs {
        /// The flow that was run.
        flow: String,
        /// The flow that made the inputs.
        made_by: String,
    },
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
            BuildError::InputAfterStep { flow, input } => write!(
                f,
                "input `{input}` of flow `{flow}` is declared after a step: declare every \
                 input before the first step"
            ),
            BuildError::OtherFlow {
                flow,
                operation,
                handle,
            } => write!(
                f,
                "`{operation}` of flow `{flow}` was given a handle from another builder \
                 ({handle})"
            ),
            BuildError::NotAStep {
                flow,
                name,
                operation,
            } => write!(
                f,
                "`{operation}` was given `{name}`, an input of flow `{flow}`, not a step"
            ),
            BuildError::NotAnInput { flow, name } => write!(
                f,
                "`Inputs::set` was given `{name}`, a step of flow `{flow}`, not an input"
            ),
            BuildError::NotAnOutput { flow, name } => write!(
                f,
                "`{name}` of flow `{flow}` is not an output (mark it with `Builder::output`)"
            ),
            BuildError::AlreadyTaken { flow, name } => {
                write!(f, "output `{name}` of flow `{flow}` was already taken")
            }
            BuildError::WrongType {
                flow,
                name,
                expected,
            } => write!(
                f,
                "`{name}` of flow `{flow}` is not of the type its handle asks for (`{expected}`)"
            ),
            BuildError::OtherFlowInputs { flow, made_by } => write!(
                f,
                "flow `{flow}` was given inputs made for flow `{made_by}` (make them with \
                 this flow's `inputs()`)"
            ),
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
        Builder {
            id: NEXT_BUILDER.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
            inputs: Vec::new(),
            steps: Vec::new(),
            names: BTreeSet::new(),
            kept: Vec::new(),
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
        let (flow, step) = (self.name.clone(), name.clone());
        let call: StepFn = Box::new(move |args| {
            // Handles are typed and checked against their builder, so this cannot fail; if
            // it did, the step fails with an error rather than a panic.
            let typed: Option<Vec<&T>> = args.iter().map(|a| a.downcast_ref::<T>()).collect();
            let Some(typed) = typed else {
                return Err(Box::new(BuildError::WrongType {
                    flow: flow.clone(),
                    name: format!("an argument of `{step}`"),
                    expected: std::any::type_name::<T>(),
                }) as BoxError);
            };
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
    fn declared<U>(
        &mut self,
        handle: Handle<U>,
        operation: &'static str,
    ) -> Result<&mut Declared, BuildError> {
        let slot = handle.slot as usize;
        if handle.builder != self.id || slot >= self.inputs.len() + self.steps.len() {
            return Err(BuildError::OtherFlow {
                flow: self.name.clone(),
                operation,
                handle: format!("{handle:?}"),
            });
        }
        match slot.checked_sub(self.inputs.len()) {
            Some(i) => Ok(&mut self.steps[i]),
            None => Err(BuildError::NotAStep {
                flow: self.name.clone(),
                name: self.inputs[slot].clone(),
                operation,
            }),
        }
    }

    /// Retries `step` up to `retries` times after a failure, waiting `backoff` in between.
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if `step` comes from another builder,
    /// [`BuildError::NotAStep`] if it is an input.
    pub fn retries<U>(
        &mut self,
        step: Handle<U>,
        retries: u32,
        backoff: Backoff,
    ) -> Result<(), BuildError> {
        let declared = self.declared(step, "Builder::retries")?;
        declared.policy = declared.policy.retries(retries).backoff(backoff);
        Ok(())
    }

    /// Makes `step` undoable: if the run fails after `step` succeeded, `undo` is called with
    /// its result (see [`Step::undo`](crate::Step::undo)). The result is kept until the run
    /// ends.
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if `step` comes from another builder,
    /// [`BuildError::NotAStep`] if it is an input.
    pub fn undo<U, Err, F>(&mut self, step: Handle<U>, undo: F) -> Result<(), BuildError>
    where
        U: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&U) -> Result<(), Err> + Send + Sync + 'static,
    {
        let flow = self.name.clone();
        let declared = self.declared(step, "Builder::undo")?;
        let name = declared.name.clone();
        declared.undo = Some(Box::new(move |value| {
            // As in `step`: cannot fail, but fails with an error rather than a panic.
            let Some(value) = value.downcast_ref::<U>() else {
                return Err(Box::new(BuildError::WrongType {
                    flow: flow.clone(),
                    name: name.clone(),
                    expected: std::any::type_name::<U>(),
                }) as BoxError);
            };
            undo(value).map_err(|e| Box::new(e) as BoxError)
        }));
        declared.policy = declared.policy.__flags(true, false, false);
        Ok(())
    }

    /// Makes the run return `handle`'s value (see [`Outputs::take`]).
    ///
    /// A handle from another builder is a mistake this method cannot report: it is kept,
    /// [`try_build`](Self::try_build) returns it and every run of the flow fails with it
    /// (kind [`ErrorKind::Misuse`](crate::ErrorKind::Misuse)). [`try_output`](Self::try_output)
    /// reports it at once.
    pub fn output<T>(&mut self, handle: Handle<T>) {
        if let Err(error) = self.try_output(handle) {
            self.pending.get_or_insert(error);
        }
    }

    /// Makes the run return `handle`'s value (see [`Outputs::take`]).
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if `handle` comes from another builder.
    pub fn try_output<T>(&mut self, handle: Handle<T>) -> Result<(), BuildError> {
        if handle.builder != self.id || handle.slot as usize >= self.inputs.len() + self.steps.len()
        {
            return Err(BuildError::OtherFlow {
                flow: self.name.clone(),
                operation: "Builder::output",
                handle: format!("{handle:?}"),
            });
        }
        if !self.kept.contains(&handle.slot) {
            self.kept.push(handle.slot);
        }
        Ok(())
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
            self.pending,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::error::Error as _;

    use super::*;
    use crate::{ErrorKind, FlowError, Schedule};

    /// `Sum`: input `x: u64`, step `double`, output `double`.
    fn sum() -> (DynFlow, Handle<u64>, Handle<u64>) {
        let mut b = Builder::new("Sum");
        let x = b.input::<u64>("x").unwrap();
        let double = b
            .step("double", &[x], |a: &[&u64]| Ok::<_, Infallible>(a[0] * 2))
            .unwrap();
        b.output(double);
        (b.build(), x, double)
    }

    /// `Words`: input `text: String`, step `upper`, output `upper`.
    fn words() -> (DynFlow, Handle<String>, Handle<String>) {
        let mut b = Builder::new("Words");
        let text = b.input::<String>("text").unwrap();
        let upper = b
            .step("upper", &[text], |a: &[&String]| {
                Ok::<_, Infallible>(a[0].to_uppercase())
            })
            .unwrap();
        b.output(upper);
        (b.build(), text, upper)
    }

    fn misuse(error: &FlowError) -> &BuildError {
        assert_eq!(error.kind(), ErrorKind::Misuse, "{error}");
        error
            .source()
            .unwrap()
            .downcast_ref::<BuildError>()
            .unwrap()
    }

    #[test]
    fn a_wrong_handle_takes_nothing() {
        let (flow, x, double) = sum();
        let (_, _, upper) = words();
        let mut inputs = flow.inputs();
        inputs.set(x, 21);
        let mut outputs = flow.run(inputs, Schedule::Sequential).unwrap();
        // `upper` has the same declaration slot as `double`, and another type.
        assert_eq!(outputs.take(upper), None);
        let error = outputs.try_take(upper).unwrap_err();
        assert!(matches!(
            &error,
            BuildError::OtherFlow { flow, operation: "Outputs::take", .. } if flow == "Sum"
        ));
        assert!(error.to_string().contains("another builder"), "{error}");
        // Not an output, then the value itself, then nothing left.
        let error = outputs.try_take(x).unwrap_err();
        assert_eq!(
            error,
            BuildError::NotAnOutput {
                flow: "Sum".into(),
                name: "x".into()
            }
        );
        assert_eq!(outputs.take(double), Some(42));
        assert_eq!(
            outputs.try_take(double).unwrap_err().to_string(),
            "output `double` of flow `Sum` was already taken"
        );
    }

    #[test]
    fn a_handle_of_the_wrong_type_leaves_the_value() {
        let mut b = Builder::new("Echo");
        let text = b.input::<String>("text").unwrap();
        b.output(text);
        let flow = b.build();
        let mut inputs = flow.inputs();
        inputs.set(text, "hi".to_owned());
        let mut outputs = flow.run(inputs, Schedule::Sequential).unwrap();
        // A `Handle<u64>` for the same slot (only tests can make one).
        let wrong = first_input_handle(&flow);
        assert!(matches!(
            outputs.try_take(wrong),
            Err(BuildError::WrongType { name, expected: "u64", .. }) if name == "text"
        ));
        assert_eq!(outputs.take(text).as_deref(), Some("hi"));
    }

    #[test]
    fn an_input_after_a_step_is_an_error_not_a_panic() {
        let mut b = Builder::new("Late");
        let x = b.input::<u64>("x").unwrap();
        b.step("y", &[x], |a: &[&u64]| Ok::<_, Infallible>(*a[0]))
            .unwrap();
        let error = b.input::<u64>("z").unwrap_err();
        assert_eq!(
            error,
            BuildError::InputAfterStep {
                flow: "Late".into(),
                input: "z".into()
            }
        );
        assert!(error.to_string().contains("input `z` of flow `Late`"));
        // The name was not claimed.
        assert!(
            b.step("z", &[x], |a: &[&u64]| Ok::<_, Infallible>(*a[0]))
                .is_ok()
        );
    }

    #[test]
    fn builder_calls_name_the_handle_they_refuse() {
        let mut other = Builder::new("Other");
        let foreign_input = other.input::<u64>("f").unwrap();
        let foreign = other
            .step("g", &[foreign_input], |a: &[&u64]| {
                Ok::<_, Infallible>(*a[0])
            })
            .unwrap();

        let mut b = Builder::new("Main");
        let x = b.input::<u64>("x").unwrap();
        let y = b
            .step("y", &[x], |a: &[&u64]| Ok::<_, Infallible>(*a[0]))
            .unwrap();
        assert_eq!(
            b.step("z", &[x, foreign], |a: &[&u64]| Ok::<_, Infallible>(*a[0]))
                .unwrap_err(),
            BuildError::ForeignHandle { step: "z".into() }
        );
        let error = b.retries(foreign, 1, Backoff::NONE).unwrap_err();
        assert!(matches!(
            &error,
            BuildError::OtherFlow { flow, operation: "Builder::retries", .. } if flow == "Main"
        ));
        let error = b.retries(x, 1, Backoff::NONE).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`Builder::retries` was given `x`, an input of flow `Main`, not a step"
        );
        let error = b.undo(x, |_: &u64| Ok::<_, Infallible>(())).unwrap_err();
        assert!(matches!(
            error,
            BuildError::NotAStep {
                operation: "Builder::undo",
                ..
            }
        ));
        assert!(b.retries(y, 1, Backoff::NONE).is_ok());
        assert!(b.try_output(foreign).is_err());
        b.output(y);
        assert!(b.try_build().is_ok());
    }

    #[test]
    fn an_output_from_another_builder_is_reported() {
        let mut other = Builder::new("Other");
        let foreign = other.input::<u64>("f").unwrap();
        let make = || {
            let mut b = Builder::new("Main");
            let x = b.input::<u64>("x").unwrap();
            b.output(x);
            b.output(foreign);
            (b, x)
        };
        let (b, _) = make();
        assert!(matches!(
            b.try_build(),
            Err(BuildError::OtherFlow {
                operation: "Builder::output",
                ..
            })
        ));
        // `build` cannot fail: every run does instead, saying why.
        let (b, x) = make();
        let flow = b.build();
        let mut inputs = flow.inputs();
        inputs.set(x, 1);
        let error = flow.run(inputs, Schedule::Sequential).unwrap_err();
        assert!(matches!(
            misuse(&error),
            BuildError::OtherFlow {
                operation: "Builder::output",
                ..
            }
        ));
        assert!(
            error
                .to_string()
                .starts_with("flow `Main` failed: `Builder::output`")
        );
    }

    #[test]
    fn inputs_set_with_a_foreign_handle_fails_the_run_instead_of_panicking() {
        let (flow, x, double) = sum();
        let (_, text, _) = words();
        let mut inputs = flow.inputs();
        inputs.set(x, 1).set(text, "no".to_owned());
        let error = flow.run(inputs, Schedule::Sequential).unwrap_err();
        assert!(matches!(
            misuse(&error),
            BuildError::OtherFlow { flow, operation: "Inputs::set", .. } if flow == "Sum"
        ));
        // A step's handle is not an input.
        let mut inputs = flow.inputs();
        let error = inputs.try_set(double, 5).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`Inputs::set` was given `double`, a step of flow `Sum`, not an input"
        );
        inputs.set(double, 5).set(x, 1);
        let error = flow.run(inputs, Schedule::Sequential).unwrap_err();
        assert!(matches!(misuse(&error), BuildError::NotAnInput { name, .. } if name == "double"));
    }

    #[test]
    fn inputs_of_another_flow_are_refused() {
        let (sum, _, _) = sum();
        let (words, text, _) = words();
        let mut inputs = words.inputs();
        inputs.set(text, "hi".to_owned());
        let error = sum.run(inputs, Schedule::Sequential).unwrap_err();
        assert_eq!(
            misuse(&error),
            &BuildError::OtherFlowInputs {
                flow: "Sum".into(),
                made_by: "Words".into()
            }
        );
        assert_eq!(error.step(), None);
        assert!(!error.to_string().contains("internal"), "{error}");
    }
}
