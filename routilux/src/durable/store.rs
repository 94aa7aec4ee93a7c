//! The [`Store`] trait: where a durable run keeps its inputs, checkpoints, undo records and
//! completion record, and the records it reads back.

use std::time::Duration;

use super::error::StoreError;
use super::id::RunId;

/// Where durable runs are kept. [`SqliteStore`](super::SqliteStore) and
/// [`PostgresStore`](super::PostgresStore) implement it; both pass one conformance suite.
///
/// Every method is one transaction: when it returns `Ok`, what it wrote is committed. A
/// store is shared by the threads of a run (parallel steps checkpoint at the same time).
///
/// Values (inputs, checkpoints, outputs) are JSON text, written by the durable runner.
pub trait Store: Send + Sync {
    /// Records a new run, status [`RunStatus::Running`].
    ///
    /// # Errors
    /// [`StoreError`]: the database failed, or a run with this id exists.
    fn create_run(&self, run: &NewRun<'_>) -> Result<(), StoreError>;

    /// Everything stored about a run, or `None` if there is no run with this id.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn load_run(&self, id: &RunId) -> Result<Option<StoredRun>, StoreError>;

    /// Stores a completed step's result. If a checkpoint of this step is already stored, the
    /// stored one stays and `Ok(false)` is returned.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed, or the run does not exist.
    fn save_checkpoint(&self, id: &RunId, checkpoint: &Checkpoint) -> Result<bool, StoreError>;

    /// Records that the run failed and is being undone: status [`RunStatus::Failing`], with
    /// what is known of the failure. A run that is already failing keeps its first failure.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn mark_failing(&self, id: &RunId, failure: &str) -> Result<(), StoreError>;

    /// Records that step `step` halted the run (see [`Halt`](super::Halt)): status
    /// [`RunStatus::Halted`], with the step and the reason. Only a running run halts.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn halt(&self, id: &RunId, step: &str, reason: &str) -> Result<(), StoreError>;

    /// Sets a halted run running again (to resume it): `Ok(false)` if it was not halted.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn unhalt(&self, id: &RunId) -> Result<bool, StoreError>;

    /// Records that step `step`'s undo finished; a step with an undo record is never undone
    /// again. Recording twice is not an error.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn record_undo(&self, id: &RunId, step: &str) -> Result<(), StoreError>;

    /// Writes the run's completion record and sets its final status, unless the run already
    /// has one: `Ok(true)` when this call wrote it, `Ok(false)` when it existed (the stored
    /// one stays). A run has at most one completion record.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn complete(&self, id: &RunId, completion: &Completion) -> Result<bool, StoreError>;

    /// The ids of the runs of flow `flow` that are running or failing (to resume after a
    /// crash; halted runs wait to be resumed on purpose), oldest first.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn unfinished(&self, flow: &str) -> Result<Vec<RunId>, StoreError>;

    /// Claims a run of flow `flow` for worker `worker` (see [`Worker`](super::Worker)): the
    /// oldest run that is running or failing and not leased, or whose lease expired, leased
    /// to `worker` for `lease` from now (by the store's clock). `Ok(None)` when there is none.
    /// While a lease lasts no other claim returns its run; each claim of a run gets a new,
    /// larger [`Lease::token`].
    ///
    /// The default implementation returns [`StoreError::Unsupported`]: stores without leases
    /// cannot serve workers.
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn claim(
        &self,
        flow: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let _ = (flow, worker, lease);
        Err(StoreError::Unsupported("claim"))
    }

    /// Extends `lease` to `duration` from now if the run is still leased by it (the same
    /// token, not claimed by another worker since, not finished or halted): `Ok(false)` when
    /// it is not (the lease is lost).
    ///
    /// The default implementation returns [`StoreError::Unsupported`].
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn renew(&self, lease: &Lease, duration: Duration) -> Result<bool, StoreError> {
        let _ = (lease, duration);
        Err(StoreError::Unsupported("renew"))
    }

    /// Gives `lease` up if it is still held, so that any worker may claim its run at once.
    ///
    /// The default implementation returns [`StoreError::Unsupported`].
    ///
    /// # Errors
    /// [`StoreError`]: the database failed.
    fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let _ = lease;
        Err(StoreError::Unsupported("release"))
    }

    /// [`complete`](Self::complete) by the worker holding `lease`: the completion record
    /// names the worker, and the lease ends with it, in the same transaction.
    ///
    /// The default implementation calls [`complete`](Self::complete).
    ///
    /// # Errors
    /// As [`complete`](Self::complete).
    fn complete_leased(&self, lease: &Lease, completion: &Completion) -> Result<bool, StoreError> {
        self.complete(&lease.run, completion)
    }
}

/// A worker's claim on a run ([`Store::claim`]), until it expires, is released, or the run
/// finishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The run.
    pub run: RunId,
    /// The worker that holds it.
    pub worker: String,
    /// How many times the run was claimed, this claim included: it tells this claim from
    /// the run's earlier and later ones.
    pub token: i64,
}

/// A run to record with [`Store::create_run`].
#[derive(Clone, Copy, Debug)]
pub struct NewRun<'a> {
    /// Its id.
    pub id: &'a RunId,
    /// The flow's name.
    pub flow: &'a str,
    /// The fingerprint of the flow's plan (see [`Fingerprint`](super::Fingerprint)).
    pub fingerprint: &'a str,
    /// The plan's description the fingerprint was made from.
    pub plan: &'a str,
    /// The inputs, as JSON.
    pub inputs: &'a str,
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Started, not finished: steps may still run (or it crashed; resume it).
    Running,
    /// A step halted it (waiting for something outside the run); resume it later.
    Halted,
    /// A step failed; completed steps are being undone (or it crashed meanwhile).
    Failing,
    /// Finished with an output (completion record written).
    Succeeded,
    /// Finished with an error, its completed steps undone (completion record written).
    Failed,
}

impl RunStatus {
    /// The status as stored: `running`, `halted`, `failing`, `succeeded` or
    /// `failed`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Halted => "halted",
            RunStatus::Failing => "failing",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    /// The status stored as `text`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for any other text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "running" => RunStatus::Running,
            "halted" => RunStatus::Halted,
            "failing" => RunStatus::Failing,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("unknown run status `{other}`"))),
        })
    }

    /// Whether the run has its completion record.
    #[must_use]
    pub const fn is_finished(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

/// A completed step's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The step's name.
    pub step: String,
    /// Its result, as JSON.
    pub value: String,
    /// Whether the value came from a fallback or compensation (such a value is never undone).
    pub compensated: bool,
}

/// How a run ended: its completion record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// The run's output, as JSON.
    Succeeded(String),
    /// The run failed; its completed steps were undone.
    Failed(Failure),
}

/// A failed run's error, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The failing step, if a step failed.
    pub step: Option<String>,
    /// The error, as displayed (with its sources).
    pub message: String,
    /// The undos that failed, one message each.
    pub undo_errors: Vec<String>,
}

/// Where and why a run halted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Halted {
    /// The step that halted it.
    pub step: String,
    /// The reason it gave.
    pub reason: String,
}

/// Everything stored about a run ([`Store::load_run`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRun {
    /// Its id.
    pub id: RunId,
    /// The flow's name.
    pub flow: String,
    /// The fingerprint of the flow's plan when the run started.
    pub fingerprint: String,
    /// The plan's description when the run started.
    pub plan: String,
    /// The inputs, as JSON.
    pub inputs: String,
    /// Where it stands.
    pub status: RunStatus,
    /// What is known of its failure, once failing.
    pub failure: Option<String>,
    /// The step that halted it and why, while halted.
    pub halted: Option<Halted>,
    /// The completed steps' results, in the order they were stored.
    pub checkpoints: Vec<Checkpoint>,
    /// The steps whose undo finished, in the order it did.
    pub undone: Vec<String>,
    /// The completion record, once finished.
    pub completion: Option<Completion>,
}

impl StoredRun {
    /// The checkpoint of step `step`, if stored.
    #[must_use]
    pub fn checkpoint(&self, step: &str) -> Option<&Checkpoint> {
        self.checkpoints.iter().find(|c| c.step == step)
    }
}
