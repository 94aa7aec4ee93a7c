//! Built flows as steps of a [`Builder`] flow: [`Builder::dyn_subflow`] and [`DynSubflow`].

use std::fmt;
use std::sync::Arc;

use super::outputs::SubflowOutputs;
use super::store::{Store, Typed, mismatch};
use super::{Body, BuildError, Builder, DynFlow, Handle, StepFn, ValueUndo, undos};
use crate::engine::{Access, Brand, execute_nested};
use crate::error::BoxError;
use crate::plan::{InnerPlan, Plan};
use crate::policy::Policy;
use crate::subflow::{KeptExec, finish_nested, keep_run, undo_kept};

/// Copies one outer value into an inner input: reads the outer run's store, writes the
/// inner run's.
type CopyIn = Box<dyn Fn(&Store, &Access<'_>, &mut Store) -> Result<(), BoxError> + Send + Sync>;

/// One input of the inner flow and the outer value it gets.
struct Binding {
    /// The outer handle: its builder and declaration index.
    outer: (u64, u32),
    /// The inner input's plan slot.
    input: usize,
    copy: CopyIn,
}

/// Declares a step that runs a built flow: see [`Builder::dyn_subflow`]. Give each input of
/// the inner flow its value with [`input`](Self::input), then say what the step returns with
/// [`returning`](Self::returning).
#[must_use = "the step is declared by `returning`"]
pub struct DynSubflow<'b> {
    builder: &'b mut Builder,
    name: String,
    flow: Arc<DynFlow>,
    bindings: Vec<Binding>,
    /// The first mistake [`input`](Self::input) was given.
    mistake: Option<BuildError>,
}

impl fmt::Debug for DynSubflow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynSubflow")
            .field("name", &self.name)
            .field("flow", &self.flow.names.flow)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Declares a step that runs `flow`, a built flow, as [`subflow`](Self::subflow) runs a
    /// `flow!` flow, with the same semantics: inherited pool, schedule, observer, data, cancel
    /// token and deadline; failures at the qualified step `y/c` with the inner cause as
    /// `source()`; a successful inner run's undoable steps undone, newest first, if the outer
    /// run fails later; observers see the inner steps under the prefix `"y/"`.
    ///
    /// `flow` is a [`DynFlow`] or an `Arc` of one (to share it between steps and flows). A
    /// flow is built before it can be a step, so a flow never contains itself.
    ///
    /// ```
    /// use routilux::{Builder, Schedule};
    /// use std::convert::Infallible;
    ///
    /// let mut inner = Builder::new("Greet");
    /// let who = inner.input::<String>("who")?;
    /// let times = inner.input::<usize>("times")?;
    /// let hello = inner.step("hello", (who, times), |(w, n): (&String, &usize)| {
    ///     Ok::<_, Infallible>(format!("hello {w}").repeat(*n))
    /// })?;
    /// inner.output(hello);
    /// let inner = inner.build();
    ///
    /// let mut b = Builder::new("Outer");
    /// let name = b.input::<String>("name")?;
    /// let one = b.constant("one", 1usize)?;
    /// let greeting = b
    ///     .dyn_subflow("greeting", inner)
    ///     .input(who, name)
    ///     .input(times, one)
    ///     .returning(hello)?;
    /// b.output(greeting);
    /// let flow = b.build();
    ///
    /// let mut inputs = flow.inputs();
    /// inputs.set(name, "ada".to_owned());
    /// let mut out = flow.run(inputs, Schedule::Dataflow)?;
    /// assert_eq!(out.take(greeting).as_deref(), Some("hello ada"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dyn_subflow(
        &mut self,
        name: impl Into<String>,
        flow: impl Into<Arc<DynFlow>>,
    ) -> DynSubflow<'_> {
        DynSubflow {
            builder: self,
            name: name.into(),
            flow: flow.into(),
            bindings: Vec::new(),
            mistake: None,
        }
    }
}

impl DynSubflow<'_> {
    fn error(&self, name: String, twice: bool) -> BuildError {
        let (flow, step, inner) = (
            self.builder.name.clone(),
            self.name.clone(),
            self.flow.names.flow.clone(),
        );
        if twice {
            BuildError::BoundTwice {
                flow,
                step,
                inner,
                name,
            }
        } else {
            BuildError::UnboundInput {
                flow,
                step,
                inner,
                input: name,
            }
        }
    }

    /// Gives the inner flow's input `input` the value of `value` (an input or step of the
    /// flow being built), cloned into the inner run (it owns its inputs).
    ///
    /// Mistakes are reported by [`returning`](Self::returning): [`BuildError::OtherFlow`] if
    /// `input` is not a handle of the inner flow, [`BuildError::NotAnInput`] if it is a
    /// step's, [`BuildError::BoundTwice`] if it was given a value before,
    /// [`BuildError::ForeignHandle`] if `value` comes from another builder.
    pub fn input<T>(mut self, input: Handle<T>, value: Handle<T>) -> Self
    where
        T: Clone + Send + Sync + 'static,
    {
        if self.mistake.is_some() {
            return self;
        }
        let names = &self.flow.names;
        let (slot, place) = match names.slot(input, "DynSubflow::input") {
            Ok(found) => found,
            Err(error) => {
                self.mistake = Some(error);
                return self;
            }
        };
        if slot >= self.flow.plan.input_count() {
            self.mistake = Some(BuildError::NotAnInput {
                flow: names.flow.clone(),
                name: names.names[slot].clone(),
            });
            return self;
        }
        if self.bindings.iter().any(|b| b.input == slot) {
            self.mistake = Some(self.error(names.names[slot].clone(), true));
            return self;
        }
        let from: Typed<T> = self.builder.layout.typed(value.slot);
        let copy: CopyIn = Box::new(move |outer, access, inner| {
            let value = outer.get(from, access).ok_or_else(mismatch)?;
            let input = inner.slot_mut::<T>(place).ok_or_else(mismatch)?;
            *input.value_mut() = Some(value.clone());
            Ok(())
        });
        self.bindings.push(Binding {
            outer: (value.builder, value.slot),
            input: slot,
            copy,
        });
        self
    }

    /// Declares the step: its result is the value of the inner flow's output `outputs` (a
    /// `Handle<T>` of the inner flow, marked with [`Builder::output`]), or a tuple of the
    /// values of a tuple of handles, or `()` for `()`.
    ///
    /// # Errors
    /// The first mistake given to [`input`](Self::input); [`BuildError::UnboundInput`] if an
    /// input of the inner flow has no value; [`BuildError::OtherFlow`] if an output handle
    /// is not the inner flow's, [`BuildError::NotAnOutput`] if it is not an output,
    /// [`BuildError::BoundTwice`] if it is named twice; [`BuildError::BrokenSubflow`] if the
    /// inner flow cannot run; [`BuildError::DuplicateName`] if the step's name is taken.
    pub fn returning<O: SubflowOutputs>(self, outputs: O) -> Result<Handle<O::Values>, BuildError> {
        if let Some(mistake) = self.mistake {
            return Err(mistake);
        }
        if let Some(defect) = &self.flow.defect {
            return Err(BuildError::BrokenSubflow {
                flow: self.builder.name.clone(),
                step: self.name,
                error: Box::new(defect.clone()),
            });
        }
        let plan = &self.flow.plan;
        if let Some(unbound) =
            (0..plan.input_count()).find(|&i| self.bindings.iter().all(|b| b.input != i))
        {
            return Err(self.error(plan.input_name(unbound).into_owned(), false));
        }
        let mut used = Vec::new();
        let prepared = outputs
            .prepare(&self.flow, &mut used)
            .map_err(|named_twice| match named_twice {
                Ok(slot) => self.error(self.flow.names.names[slot].clone(), true),
                Err(error) => error,
            })?;
        let inputs = plan.input_count();
        let taken: Arc<[u32]> = used
            .iter()
            .filter_map(|&slot| u32::try_from(slot.checked_sub(inputs)?).ok())
            .collect();
        let DynSubflow {
            builder,
            name,
            flow,
            bindings,
            ..
        } = self;
        let handles = bindings.iter().map(|b| b.outer).collect();
        let begun = builder.begin::<O::Values>(&name, handles, None)?;
        let out = begun.out;
        let prepared = Arc::new(prepared);
        let (inner, outs) = (Arc::clone(&flow), Arc::clone(&prepared));
        let call: StepFn = Box::new(move |store, access| {
            let values = run_nested(
                &inner,
                &taken,
                |input| {
                    bindings
                        .iter()
                        .try_for_each(|b| (b.copy)(store, access, input))
                },
                |output| O::take(&outs, output),
            )?;
            store.set(out, access, values)
        });
        let undoable = flow.plan.steps().iter().any(|s| s.policy().is_undoable());
        let (undo, value_undo) = if undoable {
            let undo: ValueUndo<O::Values> = Arc::new(move |values: &O::Values| {
                undo_kept(&|step| O::undo_returned(&prepared, step, values))
            });
            let (from_store, by_value) = undos(out, undo);
            (Some(from_store), Some(by_value))
        } else {
            (None, None)
        };
        let body = Body::Step {
            call,
            undo,
            value_undo,
        };
        let handle = builder.push(name, flow.plan.flow(), begun, body);
        if let Some(declared) = builder.steps.last_mut() {
            declared.policy = Policy::NONE.__flags(undoable, false, true).__subflow();
            declared.subflow = Some(InnerPlan::Shared(Arc::clone(&flow.plan)));
        }
        Ok(handle)
    }
}

/// A run of a built flow kept for a later undo: the flow and the run's values.
struct KeptDyn {
    flow: Arc<DynFlow>,
    store: Store,
    /// The steps whose values the outer step took.
    taken: Arc<[u32]>,
}

impl KeptExec for KeptDyn {
    fn plan(&self) -> &Plan {
        &self.flow.plan
    }

    fn moved(&self, step: u32) -> bool {
        self.taken.contains(&step)
    }

    fn undo_step(&self, step: usize, access: &Access<'_>) -> Result<(), BoxError> {
        match self
            .flow
            .compiled
            .steps
            .get(step)
            .and_then(|s| s.undo.as_ref())
        {
            Some(undo) => undo(&self.store, access),
            None => Ok(()),
        }
    }
}

/// Runs `flow` as a step of the current run: `fill` gives it its inputs, `take` takes its
/// outputs; a successful run with undoable steps is kept for the outer run's undo.
fn run_nested<V>(
    flow: &Arc<DynFlow>,
    taken: &Arc<[u32]>,
    fill: impl FnOnce(&mut Store) -> Result<(), BoxError>,
    take: impl FnOnce(&mut Store) -> Result<V, BoxError>,
) -> Result<V, BoxError> {
    let brand = Brand::new();
    let mut store = Store::new(&brand, &flow.compiled.groups);
    fill(&mut store)?;
    let run = flow.new_run(store);
    let kept = finish_nested(execute_nested(&flow.plan, &run, brand))?;
    let mut store = run.store;
    let values = take(&mut store)?;
    if let Some(log) = kept {
        keep_run(
            KeptDyn {
                flow: Arc::clone(flow),
                store,
                taken: Arc::clone(taken),
            },
            log,
        );
    }
    Ok(values)
}
