//! `flow!` flows as steps of a [`Builder`] flow: [`Builder::subflow`] and [`FlowStep`].

use std::sync::Arc;

use super::when::skip_fn;
use super::{
    Body, BuildError, Builder, Condition, Deps, Handle, SkipMaker, StepFn, ValueUndo, mismatch,
    undos,
};
use crate::__private::Routine;
use crate::error::BoxError;
use crate::plan::{InnerPlan, Plan};
use crate::policy::Policy;

mod sealed {
    pub trait Sealed<D> {}
}

/// A `flow!` flow that a [`Builder`] flow can run as a step whose arguments are `D` (see
/// [`Builder::subflow`]): `()` for a flow without inputs, a `Handle<A>` for a flow with one
/// input of type `A`, a tuple `(Handle<A>, Handle<B>, ...)` for a flow with inputs of types
/// `A, B, ...`, in order.
///
/// Implemented by every flow that `flow!` makes usable as a step: private flows, and flows
/// with a visibility marked `#[subflow]`, whose inputs are `Clone` (the inner run gets its
/// own copies).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a flow that takes `{D}`",
    label = "not a `flow!` flow whose inputs match these handles",
    note = "the handles must have the types of the flow's inputs, in order: `()` for none, one handle for one input, a tuple for several",
    note = "a flow with a visibility (`pub flow`) is a step of other flows with `#[subflow]` on it; a sub-flow's inputs must be `Clone`"
)]
pub trait FlowStep<D: Deps>: sealed::Sealed<D> {
    /// What the flow returns.
    type Output: Send + Sync + 'static;

    /// Runs the flow as a step of the current run. Not public API.
    #[doc(hidden)]
    fn call(args: D::Refs<'_>) -> Result<Self::Output, BoxError>;

    /// Undoes a kept inner run, given the step's value. Not public API.
    #[doc(hidden)]
    fn undo(output: &Self::Output) -> Result<(), BoxError>;

    /// The step's policy. Not public API.
    #[doc(hidden)]
    fn policy() -> Policy;

    /// The flow's plan, if the type is a flow. Not public API.
    #[doc(hidden)]
    fn plan() -> Option<fn() -> &'static Plan>;
}

/// `FlowStep` for routines whose call takes `&A, &B, ...` and returns
/// `Result<Output, BoxError>`: the routine impl of every flow usable as a step.
macro_rules! flow_steps {
    ($(($deps:ty; $($ty:ident $arg:ident),*; $pattern:pat))*) => {$(
        impl<R, O, $($ty),*> sealed::Sealed<$deps> for R
        where
            R: Routine<Call = fn($(&$ty),*) -> Result<O, BoxError>, Output = O>,
            $($ty: Send + Sync + 'static,)*
            O: Send + Sync + 'static,
        {
        }

        impl<R, O, $($ty),*> FlowStep<$deps> for R
        where
            R: Routine<Call = fn($(&$ty),*) -> Result<O, BoxError>, Output = O>,
            $($ty: Send + Sync + 'static,)*
            O: Send + Sync + 'static,
        {
            type Output = O;

            fn call($pattern: <$deps as Deps>::Refs<'_>) -> Result<O, BoxError> {
                (R::CALL)($($arg),*)
            }

            fn undo(output: &O) -> Result<(), BoxError> {
                R::undo(output)
            }

            fn policy() -> Policy {
                R::POLICY
            }

            fn plan() -> Option<fn() -> &'static Plan> {
                R::SUBFLOW
            }
        }
    )*};
}

flow_steps! {
    ((); ; ())
    (Handle<A>; A a; a)
    ((Handle<A>,); A a; (a,))
    ((Handle<A>, Handle<B>); A a, B b; (a, b))
    ((Handle<A>, Handle<B>, Handle<C>); A a, B b, C c; (a, b, c))
    ((Handle<A>, Handle<B>, Handle<C>, Handle<D>); A a, B b, C c, D d; (a, b, c, d))
    ((Handle<A>, Handle<B>, Handle<C>, Handle<D>, Handle<E>); A a, B b, C c, D d, E e; (a, b, c, d, e))
    ((Handle<A>, Handle<B>, Handle<C>, Handle<D>, Handle<E>, Handle<F>);
        A a, B b, C c, D d, E e, F f; (a, b, c, d, e, f))
    ((Handle<A>, Handle<B>, Handle<C>, Handle<D>, Handle<E>, Handle<F>, Handle<G>);
        A a, B b, C c, D d, E e, F f, G g; (a, b, c, d, e, f, g))
    ((Handle<A>, Handle<B>, Handle<C>, Handle<D>, Handle<E>, Handle<F>, Handle<G>, Handle<H>);
        A a, B b, C c, D d, E e, F f, G g, H h; (a, b, c, d, e, f, g, h))
}

impl Builder {
    /// Declares a step that runs the `flow!` flow `flow` with the values of `deps` as its
    /// inputs (cloned into them: the inner run owns its inputs), as `step y = Inner(a, b);`
    /// does in `flow!`. The step's result is what the flow returns.
    ///
    /// As for a sub-flow in `flow!`: the inner run uses the outer run's pool, schedule,
    /// observer, data, cancel token and deadline, and stops when the outer run stops. When
    /// it fails, the outer run fails at the qualified step (`step()` is `Some("y/c")`) with
    /// the inner cause as its `source()`; the inner run has undone its own completed steps by
    /// then, so [`retries`](Self::retries) on the step run the inner flow again from a clean
    /// slate. When it succeeds, its completed undoable steps are kept: if the outer run fails
    /// later, undoing the step undoes them, newest first. Observers see the inner run as a
    /// run of the inner flow whose [`RunInfo::prefix`](crate::RunInfo::prefix) is `"y/"`, and
    /// the flow's [`graph`](crate::Plan::graph) draws the inner flow inside the step.
    ///
    /// A built flow runs as a step with [`dyn_subflow`](Self::dyn_subflow).
    ///
    /// ```
    /// use routilux::{flow, routine, Builder, Schedule};
    /// use std::convert::Infallible;
    ///
    /// #[routine]
    /// fn add(a: &u64, b: &u64) -> u64 { a + b }
    ///
    /// flow! {
    ///     flow Sum {
    ///         input a: u64;
    ///         input b: u64;
    ///         step s = add(a, b);
    ///         return s;
    ///     }
    /// }
    ///
    /// let mut b = Builder::new("Twice");
    /// let x = b.input::<u64>("x")?;
    /// let once = b.subflow("once", (x, x), Sum)?;
    /// let again = b.subflow("again", (once, once), Sum)?;
    /// let label = b.step("label", again, |v: &u64| Ok::<_, Infallible>(format!("{v}")))?;
    /// b.output(label);
    /// let flow = b.build();
    ///
    /// let mut inputs = flow.inputs();
    /// inputs.set(x, 3);
    /// let mut out = flow.run(inputs, Schedule::Dataflow)?;
    /// assert_eq!(out.take(label).as_deref(), Some("12"));
    /// assert_eq!(flow.plan().steps()[0].subflow().map(|p| p.flow()), Some("Sum"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::DuplicateName`] if the name is taken, [`BuildError::ForeignHandle`] if
    /// a handle comes from another builder, [`BuildError::NotAFlow`] if `flow` is a routine
    /// rather than a flow.
    pub fn subflow<D, F>(
        &mut self,
        name: impl Into<String>,
        deps: D,
        flow: F,
    ) -> Result<Handle<F::Output>, BuildError>
    where
        D: Deps + 'static,
        F: FlowStep<D> + 'static,
    {
        let _ = flow;
        let undo: ValueUndo<F::Output> = Arc::new(F::undo);
        self.add_subflow::<D, F, F::Output>(name.into(), &deps, None, |refs| F::call(refs), undo)
    }

    /// Declares a step that runs flow `F`, whose result is an `S` made by `call`, undone by
    /// `undo` given its value.
    fn add_subflow<D, F, S>(
        &mut self,
        name: String,
        deps: &D,
        condition: Option<(Condition, SkipMaker)>,
        call: impl Fn(D::Refs<'_>) -> Result<S, BoxError> + Send + Sync + 'static,
        undo: ValueUndo<S>,
    ) -> Result<Handle<S>, BuildError>
    where
        D: Deps + 'static,
        F: FlowStep<D> + 'static,
        S: Send + Sync + 'static,
    {
        let Some(plan) = F::plan() else {
            return Err(BuildError::NotAFlow {
                flow: self.name.clone(),
                step: name,
                routine: std::any::type_name::<F>(),
            });
        };
        let mut handles = Vec::new();
        deps.handles(&mut handles);
        let begun = self.begin::<S>(&name, handles, condition)?;
        let places = deps.places(&self.layout);
        let out = begun.out;
        let step: StepFn = Box::new(move |store, access| {
            let value = D::with(&places, store, access, &call).ok_or_else(mismatch)??;
            store.set(out, access, value)
        });
        let policy = F::policy();
        let (undo, value_undo) = if policy.is_undoable() {
            let (from_store, by_value) = undos(out, undo);
            (Some(from_store), Some(by_value))
        } else {
            (None, None)
        };
        let body = Body::Step {
            call: step,
            undo,
            value_undo,
        };
        let handle = self.push(name, plan().flow(), begun, body);
        if let Some(declared) = self.steps.last_mut() {
            declared.policy = policy;
            declared.subflow = Some(InnerPlan::Static(plan));
        }
        Ok(handle)
    }
}

impl super::When<'_> {
    /// Declares a sub-flow step like [`Builder::subflow`] that runs only when the condition
    /// holds (`step y = Inner(a) if flag;` in `flow!`); its result is `None` when it was
    /// skipped.
    ///
    /// # Errors
    /// As [`Builder::subflow`]; [`BuildError::ForeignHandle`] also for a condition from
    /// another builder.
    pub fn subflow<D, F>(
        self,
        name: impl Into<String>,
        deps: D,
        flow: F,
    ) -> Result<Handle<Option<F::Output>>, BuildError>
    where
        D: Deps + 'static,
        F: FlowStep<D> + 'static,
    {
        let _ = flow;
        let (builder, condition) = self.into_parts();
        let condition = Some((condition, skip_fn::<F::Output> as SkipMaker));
        let undo: ValueUndo<Option<F::Output>> =
            Arc::new(|value: &Option<F::Output>| value.as_ref().map_or(Ok(()), F::undo));
        builder.add_subflow::<D, F, Option<F::Output>>(
            name.into(),
            &deps,
            condition,
            |refs| F::call(refs).map(Some),
            undo,
        )
    }
}
