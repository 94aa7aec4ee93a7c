//! Idempotency keys: [`Context::idempotency_key`], stable across a step's retries and across
//! resumes of its run.

use super::id::RunId;
use crate::context::{Context, RunData};

/// The key under which a durable run's [`RunData`] holds its id.
pub(super) const RUN_KEY: &str = "routilux.durable.run";

/// The value under [`RUN_KEY`] (a private type, so that no step can fake it).
#[derive(Clone)]
pub(super) struct DurableRun(pub(super) RunId);

/// Puts run `id` in `data`, for its steps' idempotency keys.
pub(super) fn bind(data: &RunData, id: &RunId) {
    data.insert(RUN_KEY, DurableRun(id.clone()));
}

impl Context {
    /// In a durable run (see [`durable`](crate::durable)): a key for the step's external
    /// effects, `RUN_ID/STEP`, the same on every attempt of the step and in every process
    /// that resumes the run; `None` outside durable runs.
    ///
    /// Steps run at least once: a crash after a step's effect and before its checkpoint is
    /// stored runs it again on resume. Pass the key to the service the step calls (a payment
    /// API's `Idempotency-Key`, a unique column) so that the second call changes nothing. An
    /// undo gets the same key (append `/undo` for a key of its own).
    #[must_use]
    pub fn idempotency_key(&self) -> Option<String> {
        self.data()
            .with::<DurableRun, _>(RUN_KEY, |run| format!("{}/{}", run.0, self.step()))
    }
}
