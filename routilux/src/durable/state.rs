//! [`RunState`]: what one call of the durable runner knows about its run (the checkpoints and
//! undo records stored when it began, the undos of this call) and how it writes to the store.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::error::{DurableError, StoreError};
use super::failpoint::failpoint;
use super::id::RunId;
use super::store::{Checkpoint, Store, StoredRun};
use crate::cancel::CancelToken;

/// The state of one call of the durable runner (`start`, `run` or `resume`) on one run.
#[doc(hidden)]
pub struct RunState<'s> {
    pub(super) store: &'s dyn Store,
    pub(super) id: RunId,
    /// The checkpoints stored when the call began, by step name.
    pub(super) stored: HashMap<String, Checkpoint>,
    /// The order the stored checkpoints were written in (for undo, newest first).
    pub(super) stored_order: Vec<String>,
    /// Steps whose undo is recorded (stored, or recorded by this call).
    undone: Mutex<HashSet<String>>,
    /// Steps whose value came from compensation (never undone).
    compensated: Mutex<HashSet<String>>,
    /// Steps (plan index) whose undo this call attempted, successfully or not.
    attempted: Mutex<HashSet<usize>>,
    /// Whether the run is marked failing in the store.
    failing: AtomicBool,
    /// The last step error seen, for the failing mark: `step: message`.
    last_error: Mutex<Option<String>>,
    /// The first store or serialization error: the run stops without undoing anything.
    broken: Mutex<Option<DurableError>>,
    /// The step that halted the run, and why.
    halted: Mutex<Option<(String, String)>>,
    /// Cancelled when the store breaks or a step halts, to stop the run.
    pub(super) stop: CancelToken,
    /// The run was failing when the call began: undo what is left, run nothing.
    pub(super) undo_only: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<'s> RunState<'s> {
    pub(super) fn new(store: &'s dyn Store, run: &StoredRun) -> Self {
        let compensated = run
            .checkpoints
            .iter()
            .filter(|c| c.compensated)
            .map(|c| c.step.clone())
            .collect();
        RunState {
            store,
            id: run.id.clone(),
            stored: run
                .checkpoints
                .iter()
                .map(|c| (c.step.clone(), c.clone()))
                .collect(),
            stored_order: run.checkpoints.iter().map(|c| c.step.clone()).collect(),
            undone: Mutex::new(run.undone.iter().cloned().collect()),
            compensated: Mutex::new(compensated),
            attempted: Mutex::new(HashSet::new()),
            failing: AtomicBool::new(run.status == super::RunStatus::Failing),
            last_error: Mutex::new(None),
            broken: Mutex::new(None),
            halted: Mutex::new(None),
            stop: CancelToken::new(),
            undo_only: run.status == super::RunStatus::Failing,
        }
    }

    /// The run's id.
    #[must_use]
    pub fn id(&self) -> &RunId {
        &self.id
    }

    /// Stores step `step`'s checkpoint.
    pub(super) fn checkpoint(&self, step: &str, value: String, compensated: bool) -> bool {
        failpoint(|| format!("checkpoint.before:{step}"));
        let checkpoint = Checkpoint {
            step: step.to_owned(),
            value,
            compensated,
        };
        match self.store.save_checkpoint(&self.id, &checkpoint) {
            Ok(_) => {
                if compensated {
                    lock(&self.compensated).insert(step.to_owned());
                }
                failpoint(|| format!("checkpoint.after:{step}"));
                true
            }
            Err(error) => {
                self.break_with(error.into());
                false
            }
        }
    }

    /// Records the store failure (or bad value) that stops the run, keeping the first.
    pub(super) fn break_with(&self, error: DurableError) {
        lock(&self.broken).get_or_insert(error);
        self.stop.cancel();
    }

    /// Records that step `step` halted the run, in the store too, and stops the run.
    pub(super) fn halt(&self, step: &str, reason: &str) {
        let first = {
            let mut halted = lock(&self.halted);
            let first = halted.is_none();
            halted.get_or_insert_with(|| (step.to_owned(), reason.to_owned()));
            first
        };
        self.stop.cancel();
        if first {
            failpoint(|| format!("halt.before:{step}"));
            if let Err(error) = self.store.halt(&self.id, step, reason) {
                self.break_with(error.into());
            }
        }
    }

    /// Whether a step halted the run during this call.
    pub(super) fn is_halted(&self) -> bool {
        lock(&self.halted).is_some()
    }

    /// The step that halted the run and why, if one did.
    pub(super) fn take_halted(&self) -> Option<(String, String)> {
        lock(&self.halted).take()
    }

    /// Whether the store broke during this call.
    pub(super) fn is_broken(&self) -> bool {
        lock(&self.broken).is_some()
    }

    /// The error that stopped the run, if the store broke.
    pub(super) fn take_broken(&self) -> Option<DurableError> {
        lock(&self.broken).take()
    }

    pub(super) fn note_error(&self, step: &str, error: &dyn std::fmt::Display) {
        *lock(&self.last_error) = Some(format!("step `{step}`: {error}"));
    }

    /// Whether step `step` (plan index `index`) must be undone now; notes the attempt.
    pub(super) fn begin_undo(&self, index: usize, step: &str) -> bool {
        lock(&self.attempted).insert(index);
        !self.is_broken()
            && !self.is_halted()
            && !lock(&self.undone).contains(step)
            && !lock(&self.compensated).contains(step)
    }

    pub(super) fn was_attempted(&self, index: usize) -> bool {
        lock(&self.attempted).contains(&index)
    }

    /// Marks the run failing in the store, once, before its first undo.
    pub(super) fn ensure_failing(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::Acquire) {
            return Ok(());
        }
        let failure = lock(&self.last_error)
            .clone()
            .unwrap_or_else(|| "the run was stopped (cancelled or timed out)".to_owned());
        failpoint(|| "failing.before".to_owned());
        self.store.mark_failing(&self.id, &failure)?;
        self.failing.store(true, Ordering::Release);
        failpoint(|| "failing.after".to_owned());
        Ok(())
    }

    /// Records step `step`'s finished undo.
    pub(super) fn record_undo(&self, step: &str) -> Result<(), StoreError> {
        failpoint(|| format!("undo.after:{step}"));
        self.store.record_undo(&self.id, step)?;
        lock(&self.undone).insert(step.to_owned());
        failpoint(|| format!("undo.recorded:{step}"));
        Ok(())
    }
}
