//! What a [`Builder`] can say about a step after declaring it: what else it waits for, its
//! retries and undo, and whether a run returns its value.

use std::sync::Arc;

use super::{Body, BuildError, Builder, Declared, Deps, Handle, ValueUndo, boxed, undos};
use crate::policy::Backoff;

impl Builder {
    /// The step behind `handle`, if it is a step of this builder.
    pub(super) fn declared<U>(
        &mut self,
        handle: Handle<U>,
        operation: &'static str,
    ) -> Result<&mut Declared, BuildError> {
        let slot = handle.slot as usize;
        if handle.builder != self.id || slot >= self.declarations() {
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

    /// Makes `step` wait for the steps in `earlier` (declared before it) without reading
    /// their values, as `after` does in `flow!`: each of their results is kept until `step`
    /// has finished.
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if a handle comes from another builder,
    /// [`BuildError::NotAStep`] if one is an input, [`BuildError::NotEarlier`] if a step of
    /// `earlier` is `step` itself or declared after it.
    pub fn after<U>(&mut self, step: Handle<U>, earlier: impl Deps) -> Result<(), BuildError> {
        const OPERATION: &str = "Builder::after";
        let mut handles = Vec::new();
        earlier.handles(&mut handles);
        let waiting = self.declared(step, OPERATION)?.name.clone();
        for &(builder, slot) in &handles {
            let other = Handle::<()>::new(builder, slot);
            let name = self.declared(other, OPERATION)?.name.clone();
            if slot >= step.slot {
                return Err(BuildError::NotEarlier {
                    flow: self.name.clone(),
                    step: waiting,
                    after: name,
                });
            }
        }
        let declared = self.declared(step, OPERATION)?;
        declared.after.extend(handles.iter().map(|&(_, slot)| slot));
        Ok(())
    }

    /// Retries `step` up to `retries` times after a failure, waiting `backoff` in between.
    /// For a map step, each element is retried on its own.
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
    /// ends. A conditional step that was skipped is not undone. Map steps are undone element
    /// by element: see [`undo_each`](Self::undo_each).
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if `step` comes from another builder,
    /// [`BuildError::NotAStep`] if it is an input, [`BuildError::UndoOfMap`] if it is a map
    /// step, [`BuildError::UndoOfSubflow`] if it is a sub-flow step (which undoes the inner
    /// flow's steps).
    pub fn undo<U, Err, F>(&mut self, step: Handle<U>, undo: F) -> Result<(), BuildError>
    where
        U: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&U) -> Result<(), Err> + Send + Sync + 'static,
    {
        let flow = self.name.clone();
        let place = self.layout.typed::<U>(step.slot);
        let declared = self.declared(step, "Builder::undo")?;
        if declared.subflow.is_some() {
            return Err(BuildError::UndoOfSubflow {
                flow,
                name: declared.name.clone(),
            });
        }
        let Body::Step {
            undo: slot,
            value_undo,
            ..
        } = &mut declared.body
        else {
            return Err(BuildError::UndoOfMap {
                flow,
                name: declared.name.clone(),
            });
        };
        let undo: ValueUndo<U> = Arc::new(move |value| undo(value).map_err(boxed));
        let (from_store, by_value) = undos(place, undo);
        *slot = Some(from_store);
        *value_undo = Some(by_value);
        declared.policy = declared.policy.__flags(true, false, false);
        Ok(())
    }

    /// Makes the run return `handle`'s value (see [`Outputs::take`](super::Outputs::take)).
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

    /// Makes the run return `handle`'s value (see [`Outputs::take`](super::Outputs::take)).
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if `handle` comes from another builder.
    pub fn try_output<T>(&mut self, handle: Handle<T>) -> Result<(), BuildError> {
        if handle.builder != self.id || handle.slot as usize >= self.declarations() {
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
}
