//! [`Worker`]: runs the queued and orphaned runs of one flow, claimed with leases, so that any
//! number of processes (on any number of machines, with a shared store) share the work.

use std::cell::Cell;
use std::time::Duration;

use super::error::{DurableError, StoreError};
use super::failpoint::failpoint;
use super::id::RunId;
use super::lease::Held;
use super::runner::{Durable, DurableFlow};
use crate::cancel::CancelToken;

/// How a [`Worker`] claims and keeps runs: its name, the length of its leases, how often it
/// renews them, and how long it waits before it looks again when no run is waiting.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    name: String,
    lease: Duration,
    renew_every: Option<Duration>,
    poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions::new()
    }
}

impl WorkerOptions {
    /// A unique name (`worker-PID-...`), leases of 30 s renewed every 10 s, and a look for
    /// waiting runs every second while there is none.
    #[must_use]
    pub fn new() -> Self {
        WorkerOptions {
            name: format!("worker-{}-{}", std::process::id(), RunId::new()),
            lease: Duration::from_secs(30),
            renew_every: None,
            poll: Duration::from_secs(1),
        }
    }

    /// The worker's name, stored with its leases and the completion records it writes; give
    /// every worker its own.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How long a lease lasts without a renewal (30 s by default): a worker that dies holds
    /// its runs this long at most, then other workers take them over. Renewals run on a
    /// thread of their own, so steps may take longer than this.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How often a running run's lease is renewed (a third of [`lease`](Self::lease) by
    /// default). Keep it well below the lease: a renewal late by more than the difference
    /// can lose the run to another worker.
    #[must_use]
    pub fn renew_every(mut self, every: Duration) -> Self {
        self.renew_every = Some(every);
        self
    }

    /// How long [`Worker::serve_until`] waits before it looks for runs again after finding
    /// none (1 s by default): the latency of a run submitted to idle workers.
    #[must_use]
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    fn renewals(&self) -> Duration {
        self.renew_every.unwrap_or(self.lease / 3)
    }
}

/// A run a worker claimed and ran ([`Worker::work_once`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct Worked<O> {
    /// The run.
    pub run: RunId,
    /// Whether this worker wrote the run's completion record.
    pub completed: bool,
    /// Its outcome, as [`Durable::resume`] returns it. A run stopped by
    /// [`DurableError::LeaseLost`] or [`DurableError::Store`] is left to another worker
    /// (after its lease expires); so are runs this version of the flow refuses
    /// ([`DurableError::FlowChanged`]), which workers with the run's version can take.
    pub result: Result<O, DurableError>,
}

/// What a worker did: counts of its runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Runs claimed.
    pub claimed: u64,
    /// Completion records written (succeeded and failed runs).
    pub completed: u64,
    /// Runs that succeeded here.
    pub succeeded: u64,
    /// Runs that failed here (undone).
    pub failed: u64,
    /// Runs a step halted (they wait for [`Durable::resume`]).
    pub halted: u64,
    /// Runs left to another worker: the lease was lost, the store failed, or the run was
    /// refused (see [`Worked::result`]).
    pub left: u64,
}

impl WorkerReport {
    fn add<O>(&mut self, worked: &Worked<O>) {
        self.claimed += 1;
        self.completed += u64::from(worked.completed);
        match &worked.result {
            Ok(_) => self.succeeded += 1,
            Err(DurableError::Flow(_) | DurableError::Failed(_)) => self.failed += 1,
            Err(DurableError::Halted { .. }) => self.halted += 1,
            Err(_) => self.left += 1,
        }
    }
}

/// Runs the runs of flow `F` waiting in a shared store, one at a time, each under a lease.
/// Made by [`Durable::worker`]: `Checkout::durable(&store).worker(WorkerOptions::new())`.
///
/// A run waits for a worker when it is running or failing and nobody holds a lease on it: a
/// run recorded with [`Durable::start`] (from any process), or one whose worker died (its
/// lease expired). The worker claims the oldest ([`Store::claim`](super::Store::claim):
/// `FOR UPDATE SKIP LOCKED` on PostgreSQL), renews the lease on a thread of its own while
/// the run runs, and runs it as [`Durable::resume`] does: the steps with stored checkpoints
/// are loaded, not run again. The completion record names the worker. Read outcomes back
/// with [`Durable::status`] and [`Durable::output`] by run id, from any process.
///
/// Runs run here with the [`Durable`]'s options (schedule, pool, data). A run resumed with
/// [`Durable::resume`] or [`Durable::run`] takes no lease: while workers serve a flow,
/// submit its runs with [`Durable::start`].
///
/// ```
/// # #[cfg(feature = "sqlite")] fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use routilux::durable::{SqliteStore, WorkerOptions};
/// use routilux::{flow, routine};
///
/// #[routine]
/// fn double(x: &u32) -> u32 { x * 2 }
///
/// flow! {
///     #[durable]
///     flow Double {
///         input x: u32;
///         step y = double(x);
///         return y;
///     }
/// }
///
/// # let path = std::env::temp_dir().join(format!("routilux-doc-{}.db", routilux::durable::RunId::new()));
/// let store = SqliteStore::open(&path)?;
/// let id = Double::durable(&store).start(&21)?; // in any process: waits for a worker
///
/// let worker = Double::durable(&store).worker(WorkerOptions::new().name("w1"));
/// let report = worker.run_pending()?; // or serve_until(&cancel) in a worker process
/// assert_eq!((report.claimed, report.completed), (1, 1));
///
/// assert_eq!(Double::durable(&store).output(&id)?, Some(42)); // read back by id
/// # drop(store); let _ = std::fs::remove_file(&path);
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "sqlite"))] fn main() {}
/// ```
pub struct Worker<'s, F> {
    runs: Durable<'s, F>,
    options: WorkerOptions,
}

impl<'s, F: DurableFlow> Durable<'s, F> {
    /// A worker for the runs of `F` in this store (see [`Worker`]).
    #[must_use]
    pub fn worker(self, options: WorkerOptions) -> Worker<'s, F> {
        Worker {
            runs: self,
            options,
        }
    }
}

impl<F: DurableFlow> Worker<'_, F> {
    /// The worker's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.options.name
    }

    /// Claims one waiting run and runs it to its end (or until it halts, or the lease is
    /// lost): `Ok(None)` when no run waits.
    ///
    /// # Errors
    /// [`StoreError`]: the claim failed (the outcome of a claimed run is in [`Worked`]).
    pub fn work_once(&self) -> Result<Option<Worked<F::Output>>, StoreError> {
        let flow = F::__plan().flow();
        let store = self.runs.store;
        let Some(lease) = store.claim(flow, &self.options.name, self.options.lease)? else {
            return Ok(None);
        };
        failpoint(|| "worker.claimed".to_owned());
        let held = Held {
            lease: &lease,
            duration: self.options.lease,
            renew_every: self.options.renewals(),
            completed: Cell::new(false),
        };
        let result = self.runs.drive(&lease.run, Some(&held));
        if matches!(result, Err(DurableError::Halted { .. })) {
            // Halted runs are not claimed; clear the lease (a failure here changes nothing).
            let _ = store.release(&lease);
        }
        Ok(Some(Worked {
            run: lease.run.clone(),
            completed: held.completed.get(),
            result,
        }))
    }

    /// Runs waiting runs one after another until none waits.
    ///
    /// # Errors
    /// [`StoreError`]: a claim failed.
    pub fn run_pending(&self) -> Result<WorkerReport, StoreError> {
        let mut report = WorkerReport::default();
        while let Some(worked) = self.work_once()? {
            report.add(&worked);
        }
        Ok(report)
    }

    /// Serves the flow until `cancel` is cancelled: runs waiting runs one after another, and
    /// when none waits, looks again every [`poll`](WorkerOptions::poll) interval (bounded
    /// polling). Cancelling stops it from claiming more runs; the run in progress finishes.
    ///
    /// # Errors
    /// [`StoreError`]: a claim failed (the store is unreachable, say); restart the worker.
    pub fn serve_until(&self, cancel: &CancelToken) -> Result<WorkerReport, StoreError> {
        let mut report = WorkerReport::default();
        while !cancel.is_cancelled() {
            match self.work_once()? {
                Some(worked) => report.add(&worked),
                None => cancel
                    .signal()
                    .sleep(self.options.poll, || cancel.is_cancelled()),
            }
        }
        Ok(report)
    }
}
