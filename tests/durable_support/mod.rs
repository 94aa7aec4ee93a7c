//! What the durable suites share: flows whose steps log every effect to a file per run (which
//! survives a crash of the process), a store that fails on demand, and the conformance suite
//! every store passes (`conformance`); with feature `postgres`, what the PostgreSQL suites
//! share (`pg`).

#![allow(dead_code)]

pub mod conformance;
pub mod contract;
pub mod flows;
pub mod leases;
#[cfg(feature = "postgres")]
pub mod pg;

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;

use routilux::Context;
use routilux::durable::{Checkpoint, Completion, NewRun, RunId, Store, StoreError, StoredRun};

/// The file where the steps of run `run` log their effects.
pub fn effects_path(run: &str) -> PathBuf {
    std::env::temp_dir().join(format!("routilux-effects-{run}.log"))
}

/// Logs an effect of the current step (`run` or `undo`) in its run's file: one `write` of a
/// whole line in append mode, so that a process that aborts right after keeps it.
pub fn effect(ctx: &Context, what: &str) {
    let key = ctx
        .idempotency_key()
        .expect("a durable run gives steps a key");
    let (run, step) = key.split_once('/').expect("key is RUN/STEP");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(effects_path(run))
        .expect("open the effects log");
    file.write_all(format!("{step} {what}\n").as_bytes())
        .expect("append to the effects log");
}

/// How many times step `step` did `what` (`run` or `undo`) in run `run`, in every process.
pub fn count(run: &RunId, step: &str, what: &str) -> usize {
    let line = format!("{step} {what}");
    std::fs::read_to_string(effects_path(run.as_str()))
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == line)
        .count()
}

/// Aborts the process when `name` is the failpoint named by `ROUTILUX_CRASH_AT` (for the
/// crash tests' child processes); installed as the runner's failpoint hook and called by the
/// steps themselves (`step:NAME`, after their effect).
pub fn crash_point(name: &str) {
    if std::env::var("ROUTILUX_CRASH_AT").as_deref() == Ok(name) {
        std::process::abort();
    }
}

/// A store that passes everything to `inner` but fails to store the checkpoint of step
/// `fail_step` (an injected fault: as if the database went away there; `""` fails none), and
/// counts the loads of a run.
pub struct Faulty<'s> {
    pub inner: &'s dyn Store,
    pub fail_step: &'static str,
    loads: std::sync::atomic::AtomicUsize,
}

impl<'s> Faulty<'s> {
    pub fn new(inner: &'s dyn Store, fail_step: &'static str) -> Self {
        Faulty {
            inner,
            fail_step,
            loads: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many times a run was loaded through this store.
    pub fn loads(&self) -> usize {
        self.loads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Store for Faulty<'_> {
    fn create_run(&self, run: &NewRun<'_>) -> Result<(), StoreError> {
        self.inner.create_run(run)
    }
    fn load_run(&self, id: &RunId) -> Result<Option<StoredRun>, StoreError> {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.load_run(id)
    }
    fn save_checkpoint(&self, id: &RunId, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
        if checkpoint.step == self.fail_step {
            return Err(StoreError::database(format!(
                "injected fault at the checkpoint of `{}`",
                self.fail_step
            )));
        }
        self.inner.save_checkpoint(id, checkpoint)
    }
    fn halt(&self, id: &RunId, step: &str, reason: &str) -> Result<(), StoreError> {
        self.inner.halt(id, step, reason)
    }
    fn unhalt(&self, id: &RunId) -> Result<bool, StoreError> {
        self.inner.unhalt(id)
    }
    fn mark_failing(&self, id: &RunId, failure: &str) -> Result<(), StoreError> {
        self.inner.mark_failing(id, failure)
    }
    fn record_undo(&self, id: &RunId, step: &str) -> Result<(), StoreError> {
        self.inner.record_undo(id, step)
    }
    fn complete(&self, id: &RunId, completion: &Completion) -> Result<bool, StoreError> {
        self.inner.complete(id, completion)
    }
    fn unfinished(&self, flow: &str) -> Result<Vec<RunId>, StoreError> {
        self.inner.unfinished(flow)
    }
}
