//! [`SubflowOutputs`]: what a step that runs a built flow returns.

use super::store::{Place, Store};
use super::{BuildError, DynFlow, Handle, ValueUndo};
use crate::error::{BoxError, Internal};

#[cfg(doc)]
use super::DynSubflow;

/// One output of an inner flow: where it is, its step, and the step's undo given its value.
#[doc(hidden)]
pub struct Output<T> {
    place: Place,
    /// The inner plan index of its step, if it is a step.
    step: Option<u32>,
    undo: Option<ValueUndo<T>>,
}

mod sealed {
    pub trait Sealed {}
}

/// What a step declared with [`DynSubflow::returning`] returns: a `Handle<T>` of the inner
/// flow (the step's result is a `T`), a tuple of 1 to 6 handles (a tuple of their values),
/// or `()`.
pub trait SubflowOutputs: sealed::Sealed {
    /// The step's result.
    type Values: Send + Sync + 'static;

    /// Where the values are. Not public API.
    #[doc(hidden)]
    type Prepared: Send + Sync + 'static;

    /// Finds the outputs in `flow`: `Err(Ok(slot))` for an output named twice. Not public
    /// API.
    #[doc(hidden)]
    fn prepare(
        &self,
        flow: &DynFlow,
        used: &mut Vec<usize>,
    ) -> Result<Self::Prepared, Result<usize, BuildError>>;

    /// Takes the values out of a finished run. Not public API.
    #[doc(hidden)]
    fn take(prepared: &Self::Prepared, store: &mut Store) -> Result<Self::Values, BoxError>;

    /// Undoes inner step `step`, whose value the step returned. Not public API.
    #[doc(hidden)]
    fn undo_returned(
        prepared: &Self::Prepared,
        step: u32,
        values: &Self::Values,
    ) -> Result<(), BoxError>;
}

impl sealed::Sealed for () {}

impl SubflowOutputs for () {
    type Values = ();
    type Prepared = ();

    fn prepare(&self, _: &DynFlow, _: &mut Vec<usize>) -> Result<(), Result<usize, BuildError>> {
        Ok(())
    }

    fn take((): &(), _: &mut Store) -> Result<(), BoxError> {
        Ok(())
    }

    fn undo_returned((): &(), _: u32, (): &()) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T: Send + Sync + 'static> sealed::Sealed for Handle<T> {}

impl<T: Send + Sync + 'static> SubflowOutputs for Handle<T> {
    type Values = T;
    type Prepared = Output<T>;

    fn prepare(
        &self,
        flow: &DynFlow,
        used: &mut Vec<usize>,
    ) -> Result<Output<T>, Result<usize, BuildError>> {
        let names = &flow.names;
        let (slot, place) = names.slot(*self, "DynSubflow::returning").map_err(Err)?;
        if !names.returned[slot] {
            return Err(Err(BuildError::NotAnOutput {
                flow: names.flow.clone(),
                name: names.names[slot].clone(),
            }));
        }
        if used.contains(&slot) {
            return Err(Ok(slot));
        }
        used.push(slot);
        let step = slot.checked_sub(flow.plan.input_count());
        let undo = step
            .and_then(|i| flow.compiled.steps.get(i)?.value_undo.as_ref())
            .and_then(|undo| undo.downcast_ref::<ValueUndo<T>>())
            .cloned();
        Ok(Output {
            place,
            step: step.and_then(|i| u32::try_from(i).ok()),
            undo,
        })
    }

    fn take(output: &Output<T>, store: &mut Store) -> Result<T, BoxError> {
        store
            .slot_mut::<T>(output.place)
            .and_then(|slot| slot.value_mut().take())
            .ok_or_else(|| Box::new(Internal("an output of a sub-flow has no value")) as BoxError)
    }

    fn undo_returned(output: &Output<T>, step: u32, value: &T) -> Result<(), BoxError> {
        match &output.undo {
            Some(undo) if output.step == Some(step) => undo(value),
            _ => Ok(()),
        }
    }
}

macro_rules! tuples {
    ($(($($ty:ident $index:tt),*))*) => {$(
        impl<$($ty: SubflowOutputs),*> sealed::Sealed for ($($ty,)*) {}

        impl<$($ty: SubflowOutputs),*> SubflowOutputs for ($($ty,)*) {
            type Values = ($($ty::Values,)*);
            type Prepared = ($($ty::Prepared,)*);

            fn prepare(
                &self,
                flow: &DynFlow,
                used: &mut Vec<usize>,
            ) -> Result<Self::Prepared, Result<usize, BuildError>> {
                Ok(($(self.$index.prepare(flow, used)?,)*))
            }

            fn take(prepared: &Self::Prepared, store: &mut Store) -> Result<Self::Values, BoxError> {
                Ok(($($ty::take(&prepared.$index, store)?,)*))
            }

            fn undo_returned(
                prepared: &Self::Prepared,
                step: u32,
                values: &Self::Values,
            ) -> Result<(), BoxError> {
                $($ty::undo_returned(&prepared.$index, step, &values.$index)?;)*
                Ok(())
            }
        }
    )*};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}
