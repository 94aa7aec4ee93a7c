//! [`BuildError`]: why a [`Builder`] refused a declaration, or a [`DynFlow`] a handle or
//! inputs.

use std::fmt;

#[cfg(doc)]
use super::{Builder, DynFlow, Inputs, Outputs};

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
    /// An operation on steps ([`Builder::retries`], [`Builder::undo`], [`Builder::after`],
    /// ...) was given the handle of an input.
    NotAStep {
        /// The flow.
        flow: String,
        /// The input.
        name: String,
        /// What was given the handle, e.g. `Builder::retries`.
        operation: &'static str,
    },
    /// [`Builder::after`] was given a step that is not declared before the step that is to
    /// wait for it (a step cannot wait for itself or for a later step: that could be a cycle).
    NotEarlier {
        /// The flow.
        flow: String,
        /// The step that was to wait.
        step: String,
        /// The step it was to wait for.
        after: String,
    },
    /// An operation on map steps ([`Builder::batch`], [`Builder::max_concurrency`],
    /// [`Builder::undo_each`]) was given a step that is not a map step.
    NotAMap {
        /// The flow.
        flow: String,
        /// The step.
        name: String,
        /// What was given the handle, e.g. `Builder::batch`.
        operation: &'static str,
    },
    /// [`Builder::undo`] was given a map step, which is undone element by element: use
    /// [`Builder::undo_each`].
    UndoOfMap {
        /// The flow.
        flow: String,
        /// The map step.
        name: String,
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
    /// outside the builder; the value is left in place, or dropped by
    /// [`Inputs::try_set`]).
    WrongType {
        /// The flow.
        flow: String,
        /// The input or step.
        name: String,
        /// The type the handle asked for.
        expected: &'static str,
    },
    /// [`Builder::undo`] was given a sub-flow step, whose undo undoes the inner flow's
    /// completed steps.
    UndoOfSubflow {
        /// The flow.
        flow: String,
        /// The sub-flow step.
        name: String,
    },
    /// [`Builder::subflow`] was given a routine or [`Step`](crate::Step) type, not a flow.
    NotAFlow {
        /// The flow.
        flow: String,
        /// The step being declared.
        step: String,
        /// The type that was given.
        routine: &'static str,
    },
    /// A sub-flow step ([`Builder::dyn_subflow`]) does not give a value to an input of its
    /// inner flow.
    UnboundInput {
        /// The flow.
        flow: String,
        /// The step being declared.
        step: String,
        /// The inner flow.
        inner: String,
        /// The input without a value.
        input: String,
    },
    /// A sub-flow step ([`Builder::dyn_subflow`]) binds an input of its inner flow twice, or
    /// names one of its outputs twice.
    BoundTwice {
        /// The flow.
        flow: String,
        /// The step being declared.
        step: String,
        /// The inner flow.
        inner: String,
        /// The input or output.
        name: String,
    },
    /// [`Builder::dyn_subflow`] was given a flow whose builder made a mistake it could not
    /// report (see [`Builder::try_build`]): the flow cannot run.
    BrokenSubflow {
        /// The flow.
        flow: String,
        /// The step being declared.
        step: String,
        /// The inner flow's mistake.
        error: Box<BuildError>,
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
            BuildError::NotEarlier { flow, step, after } => write!(
                f,
                "step `{step}` of flow `{flow}` cannot wait for `{after}`, which is not declared \
                 before it (`Builder::after` takes steps declared earlier)"
            ),
            BuildError::NotAMap {
                flow,
                name,
                operation,
            } => write!(
                f,
                "`{operation}` was given `{name}` of flow `{flow}`, which is not a map step"
            ),
            BuildError::UndoOfMap { flow, name } => write!(
                f,
                "`Builder::undo` was given `{name}`, a map step of flow `{flow}`: map steps are \
                 undone element by element (use `Builder::undo_each`)"
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
            BuildError::UndoOfSubflow { flow, name } => write!(
                f,
                "`Builder::undo` was given `{name}`, a sub-flow step of flow `{flow}`: it undoes \
                 the inner flow's completed steps"
            ),
            BuildError::NotAFlow {
                flow,
                step,
                routine,
            } => write!(
                f,
                "step `{step}` of flow `{flow}` was given `{routine}`, which is not a flow \
                 (use `Builder::step` for a function)"
            ),
            BuildError::UnboundInput {
                flow,
                step,
                inner,
                input,
            } => write!(
                f,
                "sub-flow step `{step}` of flow `{flow}` gives no value to input `{input}` of \
                 flow `{inner}`"
            ),
            BuildError::BoundTwice {
                flow,
                step,
                inner,
                name,
            } => write!(
                f,
                "sub-flow step `{step}` of flow `{flow}` names `{name}` of flow `{inner}` twice"
            ),
            BuildError::BrokenSubflow { flow, step, error } => write!(
                f,
                "sub-flow step `{step}` of flow `{flow}` was given a flow that cannot run: \
                 {error}"
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
