//! The errors of durable runs: [`StoreError`] (the database) and [`DurableError`] (a run).

use std::error::Error;
use std::fmt;

use super::id::RunId;
use super::store::Failure;
use crate::error::{BoxError, FlowError};

/// A store's failure.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or reached (the cause is the driver's error).
    Connect(BoxError),
    /// A query failed (the cause is the driver's error); what was committed before stays.
    Database(BoxError),
    /// Applying the schema's migrations failed.
    Migration {
        /// The migration's version.
        version: u32,
        /// The driver's error.
        source: BoxError,
    },
    /// The database's schema is newer than this version of routilux knows.
    SchemaTooNew {
        /// The version found.
        found: u32,
        /// The newest version known.
        known: u32,
    },
    /// A run with this id already exists ([`Store::create_run`](super::Store::create_run)).
    Duplicate(RunId),
    /// The run does not exist.
    NoRun(RunId),
    /// Stored data that does not make sense (an unknown status, ...).
    Corrupt(String),
    /// The store does not implement this operation (a [`Store`](super::Store) of your own
    /// without leases, asked to serve [workers](super::Worker)): the operation's name.
    Unsupported(&'static str),
}

impl StoreError {
    /// A query's failure.
    pub fn database(error: impl Into<BoxError>) -> Self {
        StoreError::Database(error.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Connect(e) => write!(f, "cannot open the durable store: {e}"),
            StoreError::Database(e) => write!(f, "durable store query failed: {e}"),
            StoreError::Migration { version, source } => {
                write!(f, "durable store migration {version} failed: {source}")
            }
            StoreError::SchemaTooNew { found, known } => write!(
                f,
                "the durable store's schema is version {found}, newer than this routilux knows ({known})"
            ),
            StoreError::Duplicate(id) => write!(f, "a durable run with id `{id}` already exists"),
            StoreError::NoRun(id) => write!(f, "no durable run with id `{id}`"),
            StoreError::Unsupported(what) => {
                write!(f, "the durable store does not support `{what}` (no leases)")
            }
            StoreError::Corrupt(what) => write!(f, "the durable store holds invalid data: {what}"),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Connect(e)
            | StoreError::Database(e)
            | StoreError::Migration { source: e, .. } => Some(&**e),
            _ => None,
        }
    }
}

/// Why a durable run (its start, resume or status) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DurableError {
    /// The run failed in this call: the flow's error (its completed steps, those of earlier
    /// processes included, were undone). The completion record is stored.
    Flow(FlowError),
    /// The run had failed before (a completion record, or a crash while it was being undone):
    /// the stored failure.
    Failed(Failure),
    /// A step halted the run ([`Halt`](super::Halt)): nothing was undone; resume it later.
    Halted {
        /// The run.
        run: RunId,
        /// The step that halted it.
        step: String,
        /// Why.
        reason: String,
    },
    /// The store failed; the run is left as far as it was committed (resume it later).
    Store(StoreError),
    /// A [worker](super::Worker) lost its lease on the run (it could not renew it in time
    /// and another worker claimed the run): it stopped without undoing anything; the worker
    /// that holds the lease now finishes the run.
    LeaseLost(RunId),
    /// No run with this id.
    NotFound(RunId),
    /// The run belongs to another flow.
    WrongFlow {
        /// The run.
        run: RunId,
        /// The flow that started it.
        stored: String,
        /// The flow asked to resume it.
        flow: &'static str,
    },
    /// The flow changed since the run started (steps, their types, kinds or edges): it is not
    /// resumed, so that results of the old flow are never mixed into the new one.
    FlowChanged {
        /// The run.
        run: RunId,
        /// The flow.
        flow: &'static str,
        /// The first difference, e.g. "step `charge`: was `u64`, now `String`".
        difference: String,
    },
    /// A stored value could not be read back as its type (or a value could not be written).
    Serde {
        /// What: `inputs`, `step `charge``, `output`.
        what: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The flow has a kind of step durable runs do not support yet (async or sub-flow steps).
    Unsupported {
        /// The flow.
        flow: &'static str,
        /// The step.
        step: String,
        /// Why.
        reason: &'static str,
    },
}

impl fmt::Display for DurableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurableError::Flow(e) => write!(f, "durable run failed: {e}"),
            DurableError::Failed(failure) => {
                write!(f, "durable run had failed: {}", failure.message)
            }
            DurableError::Halted { run, step, reason } => {
                write!(f, "durable run `{run}` halted at step `{step}`: {reason}")
            }
            DurableError::Store(e) => e.fmt(f),
            DurableError::LeaseLost(run) => write!(
                f,
                "this worker lost its lease on durable run `{run}`; another worker finishes it"
            ),
            DurableError::NotFound(id) => write!(f, "no durable run with id `{id}`"),
            DurableError::WrongFlow { run, stored, flow } => write!(
                f,
                "durable run `{run}` belongs to flow `{stored}`, not `{flow}`"
            ),
            DurableError::FlowChanged {
                run,
                flow,
                difference,
            } => write!(
                f,
                "flow `{flow}` changed since durable run `{run}` started ({difference}); \
                 it cannot be resumed by this version of the flow"
            ),
            DurableError::Serde { what, source } => {
                write!(f, "cannot convert the {what} of a durable run: {source}")
            }
            DurableError::Unsupported { flow, step, reason } => write!(
                f,
                "flow `{flow}` cannot run durably: step `{step}` {reason}"
            ),
        }
    }
}

impl Error for DurableError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            DurableError::Flow(e) => Some(e),
            DurableError::Store(e) => Some(e),
            DurableError::Serde { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<StoreError> for DurableError {
    fn from(error: StoreError) -> Self {
        DurableError::Store(error)
    }
}
