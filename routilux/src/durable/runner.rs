//! [`Durable`]: runs, resumes and reads back the durable runs of one flow on one [`Store`],
//! and [`DurableFlow`], what `flow!` generates for a `#[durable]` flow.

use std::marker::PhantomData;

use super::error::DurableError;
use super::failpoint::failpoint;
use super::fingerprint::Fingerprint;
use super::id::RunId;
use super::key::bind;
use super::lease::Held;
use super::state::RunState;
use super::store::{Completion, Failure, NewRun, RunStatus, Store, StoredRun};
use crate::context::RunData;
use crate::error::FlowError;
use crate::options::RunOptions;
use crate::plan::Plan;

/// A flow declared `#[durable]` in [`flow!`](crate::flow): `flow!` implements it; use it
/// through [`Durable`] (`Name::durable(&store)`).
pub trait DurableFlow: 'static {
    /// The flow's inputs: `()`, the one input's type, or a tuple of them in order.
    type Inputs;
    /// What a run returns (as `Name::run`).
    type Output;

    #[doc(hidden)]
    fn __plan() -> &'static Plan;
    #[doc(hidden)]
    fn __types() -> Vec<&'static str>;
    #[doc(hidden)]
    fn __encode_inputs(inputs: &Self::Inputs) -> Result<String, serde_json::Error>;
    #[doc(hidden)]
    fn __decode_inputs(json: &str) -> Result<Self::Inputs, serde_json::Error>;
    #[doc(hidden)]
    fn __encode_output(output: &Self::Output) -> Result<String, serde_json::Error>;
    #[doc(hidden)]
    fn __decode_output(json: &str) -> Result<Self::Output, serde_json::Error>;
    #[doc(hidden)]
    fn __run(
        state: &RunState<'_>,
        options: RunOptions<'_>,
        inputs: Self::Inputs,
    ) -> Result<Self::Output, FlowError>;
}

/// The durable runs of flow `F` in a [`Store`]: start, run and resume them, read their status
/// and output back by [`RunId`]. Made by `F::durable(&store)`.
pub struct Durable<'s, F> {
    pub(super) store: &'s dyn Store,
    options: RunOptions<'s>,
    flow: PhantomData<fn() -> F>,
}

impl<'s, F: DurableFlow> Durable<'s, F> {
    /// The runs of `F` in `store`.
    pub fn new(store: &'s dyn Store) -> Self {
        Durable {
            store,
            options: RunOptions::new(),
            flow: PhantomData,
        }
    }

    /// Runs with these options (schedule, pool, observer, data, timeout). Without a cancel
    /// token of your own, a store failure stops the run at once (nothing is undone; resume
    /// it later); with one, a store failure fails the step that could not checkpoint.
    #[must_use]
    pub fn options(mut self, options: impl Into<RunOptions<'s>>) -> Self {
        self.options = options.into();
        self
    }

    /// The flow's fingerprint (see [`Fingerprint`]).
    #[must_use]
    pub fn fingerprint() -> Fingerprint {
        Fingerprint::of(F::__plan(), &F::__types())
    }

    /// Records a new run with `inputs` without running it; [`resume`](Self::resume) runs it
    /// (here or in another process), or a [`Worker`](super::Worker) claims it.
    ///
    /// # Errors
    /// [`DurableError::Store`], [`DurableError::Serde`], [`DurableError::Unsupported`].
    pub fn start(&self, inputs: &F::Inputs) -> Result<RunId, DurableError> {
        self.start_with_id(RunId::new(), inputs)
    }

    /// [`start`](Self::start) with an id of your own; an id that exists is an error
    /// ([`StoreError::Duplicate`](super::StoreError::Duplicate)), so that a start retried
    /// with the same id records one run.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_with_id(&self, id: RunId, inputs: &F::Inputs) -> Result<RunId, DurableError> {
        Ok(self.create(id, inputs)?.id)
    }

    /// Records a new run: what a load of it would read back right after.
    fn create(&self, id: RunId, inputs: &F::Inputs) -> Result<StoredRun, DurableError> {
        supported::<F>()?;
        let json = F::__encode_inputs(inputs).map_err(|source| DurableError::Serde {
            what: "inputs".to_owned(),
            source,
        })?;
        let fingerprint = Self::fingerprint();
        let flow = F::__plan().flow();
        self.store.create_run(&NewRun {
            id: &id,
            flow,
            fingerprint: fingerprint.hash(),
            plan: fingerprint.description(),
            inputs: &json,
        })?;
        failpoint(|| "run.created".to_owned());
        Ok(StoredRun {
            id,
            flow: flow.to_owned(),
            fingerprint: fingerprint.hash().to_owned(),
            plan: fingerprint.description().to_owned(),
            inputs: json,
            status: RunStatus::Running,
            failure: None,
            halted: None,
            checkpoints: Vec::new(),
            undone: Vec::new(),
            completion: None,
        })
    }

    /// Starts a run and runs it to its end: [`start`](Self::start), then
    /// [`resume`](Self::resume) (without reading back the run it just recorded).
    ///
    /// # Errors
    /// As [`start`](Self::start) and [`resume`](Self::resume).
    pub fn run(&self, inputs: F::Inputs) -> Result<F::Output, DurableError> {
        let run = self.create(RunId::new(), &inputs)?;
        self.drive_loaded(run, Some(inputs), None)
    }

    /// Runs run `id` to its end: the steps with a stored checkpoint are not run again (their
    /// results are loaded), the others run; a run that had failed finishes its undo; a halted
    /// run continues with the step that halted it. A
    /// finished run is not run again: its stored output (or failure) is returned.
    ///
    /// # Errors
    /// [`DurableError::Flow`] (failed now), [`DurableError::Failed`] (had failed),
    /// [`DurableError::Halted`] (a step halted it: resume it later),
    /// [`DurableError::NotFound`], [`DurableError::WrongFlow`], [`DurableError::FlowChanged`],
    /// [`DurableError::Store`], [`DurableError::Serde`], [`DurableError::Unsupported`].
    pub fn resume(&self, id: &RunId) -> Result<F::Output, DurableError> {
        self.drive(id, None)
    }

    /// [`resume`](Self::resume), by a worker holding `held` (renewed while the run runs).
    pub(super) fn drive(
        &self,
        id: &RunId,
        held: Option<&Held<'_>>,
    ) -> Result<F::Output, DurableError> {
        let run = self.load(id)?;
        self.drive_loaded(run, None, held)
    }

    /// [`drive`](Self::drive) of run `run`, as loaded (or just created, with its `inputs`).
    fn drive_loaded(
        &self,
        run: StoredRun,
        inputs: Option<F::Inputs>,
        held: Option<&Held<'_>>,
    ) -> Result<F::Output, DurableError> {
        let id = &run.id;
        if let Some(done) = Self::finished(&run) {
            return done;
        }
        supported::<F>()?;
        if run.status == RunStatus::Halted {
            self.store.unhalt(id)?;
        }
        let inputs = match inputs {
            Some(inputs) => inputs,
            None => F::__decode_inputs(&run.inputs).map_err(|source| DurableError::Serde {
                what: "inputs".to_owned(),
                source,
            })?,
        };
        let state = RunState::new(self.store, &run);
        let own_data = RunData::new();
        let mut options = self.options;
        let data = match options.get_data() {
            Some(data) => data,
            None => &own_data,
        };
        bind(data, id);
        options = options.data(data);
        if options.get_cancel().is_none() {
            options = options.cancel(&state.stop);
        }
        let result = match held {
            None => F::__run(&state, options, inputs),
            Some(held) => held.keep_while(&state, || F::__run(&state, options, inputs)),
        };
        if let Some(broken) = state.take_broken() {
            return Err(broken);
        }
        if let Some((step, reason)) = state.take_halted() {
            return Err(DurableError::Halted {
                run: id.clone(),
                step,
                reason,
            });
        }
        match result {
            Ok(output) => {
                let completion = match F::__encode_output(&output) {
                    Ok(json) => Completion::Succeeded(json),
                    Err(source) => Completion::Failed(Failure {
                        step: None,
                        message: format!("the output could not be stored: {source}"),
                        undo_errors: Vec::new(),
                    }),
                };
                self.complete(id, &completion, held)?;
                match completion {
                    Completion::Succeeded(_) => Ok(output),
                    Completion::Failed(failure) => Err(DurableError::Failed(failure)),
                }
            }
            Err(error) => {
                let undo_errors = error
                    .undo_errors()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                if state.undo_only {
                    let failure = Failure {
                        step: None,
                        message: run.failure.unwrap_or_default(),
                        undo_errors,
                    };
                    self.complete(id, &Completion::Failed(failure.clone()), held)?;
                    return Err(DurableError::Failed(failure));
                }
                let failure = Failure {
                    step: error.step().map(str::to_owned),
                    message: error.to_string(),
                    undo_errors,
                };
                self.complete(id, &Completion::Failed(failure), held)?;
                Err(DurableError::Flow(error))
            }
        }
    }

    /// Where run `id` stands.
    ///
    /// # Errors
    /// [`DurableError::NotFound`], [`DurableError::WrongFlow`], [`DurableError::Store`].
    pub fn status(&self, id: &RunId) -> Result<RunStatus, DurableError> {
        Ok(self.load(id)?.status)
    }

    /// Run `id`'s output, read back from its completion record: `Ok(None)` while it is not
    /// finished, [`DurableError::Failed`] if it failed.
    ///
    /// # Errors
    /// [`DurableError::Failed`], [`DurableError::NotFound`], [`DurableError::WrongFlow`],
    /// [`DurableError::Store`], [`DurableError::Serde`].
    pub fn output(&self, id: &RunId) -> Result<Option<F::Output>, DurableError> {
        let run = self.load(id)?;
        Self::finished(&run).transpose()
    }

    /// The runs of `F` without a completion record (to resume after a crash), oldest first.
    ///
    /// # Errors
    /// [`DurableError::Store`].
    pub fn unfinished(&self) -> Result<Vec<RunId>, DurableError> {
        Ok(self.store.unfinished(F::__plan().flow())?)
    }

    /// The stored run `id`, checked to be a run of this flow.
    fn load(&self, id: &RunId) -> Result<StoredRun, DurableError> {
        let run = self
            .store
            .load_run(id)?
            .ok_or_else(|| DurableError::NotFound(id.clone()))?;
        let flow = F::__plan().flow();
        if run.flow != flow {
            return Err(DurableError::WrongFlow {
                run: id.clone(),
                stored: run.flow,
                flow,
            });
        }
        if run.completion.is_none() {
            let fingerprint = Self::fingerprint();
            if run.fingerprint != fingerprint.hash() {
                let difference = fingerprint
                    .difference(&run.plan)
                    .unwrap_or_else(|| "its fingerprint differs".to_owned());
                return Err(DurableError::FlowChanged {
                    run: id.clone(),
                    flow,
                    difference,
                });
            }
        }
        Ok(run)
    }

    /// The stored outcome of a finished run.
    fn finished(run: &StoredRun) -> Option<Result<F::Output, DurableError>> {
        match run.completion.as_ref()? {
            Completion::Succeeded(json) => {
                Some(
                    F::__decode_output(json).map_err(|source| DurableError::Serde {
                        what: "output".to_owned(),
                        source,
                    }),
                )
            }
            Completion::Failed(failure) => Some(Err(DurableError::Failed(failure.clone()))),
        }
    }

    /// Writes the completion record, once; if another process wrote one first, its outcome
    /// stands. A worker's record names it (and notes that it wrote it).
    fn complete(
        &self,
        id: &RunId,
        completion: &Completion,
        held: Option<&Held<'_>>,
    ) -> Result<(), DurableError> {
        failpoint(|| "complete.before".to_owned());
        let written = match held {
            None => self.store.complete(id, completion)?,
            Some(held) => {
                let written = self.store.complete_leased(held.lease, completion)?;
                held.completed.set(written);
                written
            }
        };
        failpoint(|| "complete.after".to_owned());
        if written {
            Ok(())
        } else {
            let run = self.load(id)?;
            match Self::finished(&run) {
                Some(Err(error)) => Err(error),
                _ => Ok(()),
            }
        }
    }
}

/// Refuses flows with steps durable runs cannot checkpoint yet.
fn supported<F: DurableFlow>() -> Result<(), DurableError> {
    let plan = F::__plan();
    for step in plan.steps() {
        let reason = if step.policy().is_async() {
            "is async (durable runs support sync steps for now)"
        } else if step.policy().is_subflow() {
            "runs a sub-flow (durable runs do not checkpoint inside sub-flows yet)"
        } else {
            continue;
        };
        return Err(DurableError::Unsupported {
            flow: plan.flow(),
            step: step.name().to_owned(),
            reason,
        });
    }
    Ok(())
}
