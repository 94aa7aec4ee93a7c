//! How a run is carried out: [`Schedule`] and [`RunOptions`].

use std::fmt;
use std::time::Duration;

use rayon::ThreadPool;

use crate::cancel::CancelToken;
use crate::context::RunData;
use crate::limit::Limit;
use crate::observe::Observer;

/// The undo budget of [`RunOptions::new`].
const DEFAULT_UNDO_TIMEOUT: Duration = Duration::from_secs(30);

/// The order in which a run executes its steps.
///
/// Every schedule runs every step exactly once, never before its dependencies, and gives the same
/// results; they differ in how much parallelism they find and what it costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Schedule {
    /// One step at a time on the calling thread, in topological order.
    Sequential,
    /// Each topological layer in parallel on rayon, with a barrier between layers.
    Layered,
    /// A step starts as soon as its own dependencies are done; no barriers. The default.
    #[default]
    Dataflow,
}

/// Options of one run: the [`Schedule`], the rayon pool to run on, an [`Observer`], a
/// [`CancelToken`], a timeout and the run's [`RunData`].
///
/// Anything that converts into `RunOptions` can be passed to a flow's `run_with`: a
/// [`Schedule`], a `&ThreadPool`, or `RunOptions` built by hand.
///
/// ```
/// use routilux::{RunOptions, Schedule};
///
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// let options = RunOptions::new().schedule(Schedule::Layered).pool(&pool);
/// assert_eq!(options.get_schedule(), Schedule::Layered);
/// ```
#[derive(Clone, Copy)]
pub struct RunOptions<'p> {
    schedule: Schedule,
    run_on_caller: bool,
    undo_timeout: Duration,
    pool: Option<&'p ThreadPool>,
    observer: Option<&'p dyn Observer>,
    cancel: Option<&'p CancelToken>,
    timeout: Option<Duration>,
    data: Option<&'p RunData>,
    max_concurrency: Option<usize>,
    limit: Option<&'p Limit>,
}

impl fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("schedule", &self.schedule)
            .field("run_on_caller", &self.run_on_caller)
            .field("undo_timeout", &self.undo_timeout)
            .field("pool", &self.pool)
            .field("observer", &self.observer.is_some())
            .field("cancel", &self.cancel)
            .field("timeout", &self.timeout)
            .field("data", &self.data)
            .field("max_concurrency", &self.max_concurrency)
            .field("limit", &self.limit)
            .finish()
    }
}

impl<'p> RunOptions<'p> {
    /// The defaults: [`Schedule::Dataflow`] on the current rayon pool (the global one outside
    /// any pool).
    #[must_use]
    pub const fn new() -> Self {
        RunOptions {
            schedule: Schedule::Dataflow,
            run_on_caller: true,
            undo_timeout: DEFAULT_UNDO_TIMEOUT,
            pool: None,
            observer: None,
            cancel: None,
            timeout: None,
            data: None,
            max_concurrency: None,
            limit: None,
        }
    }

    /// At most `n` steps of the run in flight at once, counting each element of a map step
    /// in flight as one and the steps of the flows it runs as its own (a limit of the run's
    /// own: see [`Limit`] for the rules). With a limit, the run starts its steps as
    /// [`Schedule::Dataflow`] does under every schedule but `Sequential` (which runs one
    /// at a time anyway). `0` lets nothing run: the run fails at once with an error.
    ///
    /// ```
    /// use routilux::{RunOptions, flow, routine};
    ///
    /// #[routine]
    /// fn double(x: &u32) -> u32 { x * 2 }
    ///
    /// flow! {
    ///     flow Two {
    ///         input x: u32;
    ///         step a = double(x);
    ///         step b = double(x);
    ///         step c = double(x);
    ///         return (a, b, c);
    ///     }
    /// }
    ///
    /// let options = RunOptions::new().max_concurrency(2);
    /// assert_eq!(Two::run_with(options, 1).unwrap(), (2, 2, 2));
    /// ```
    #[must_use]
    pub const fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// The run's own limit, if any (see [`max_concurrency`](Self::max_concurrency)).
    #[must_use]
    pub const fn get_max_concurrency(&self) -> Option<usize> {
        self.max_concurrency
    }

    /// Makes every step of the run (and of the flows it runs) take a permit of `limit`,
    /// which other runs and flows may share (see [`Limit`]).
    #[must_use]
    pub const fn limit(mut self, limit: &'p Limit) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The shared limit of the run's steps, if any (see [`limit`](Self::limit)).
    #[must_use]
    pub const fn get_limit(&self) -> Option<&'p Limit> {
        self.limit
    }

    /// Lets `token` cancel the run (see [`CancelToken`]).
    #[must_use]
    pub const fn cancel(mut self, token: &'p CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// The cancel token these options attach, if any.
    #[must_use]
    pub const fn get_cancel(&self) -> Option<&'p CancelToken> {
        self.cancel
    }

    /// Gives the run a deadline `timeout` after it starts. Past it, no new step starts and
    /// sleeps before retries end; steps already running finish (they can poll
    /// [`Context::is_cancelled`](crate::Context::is_cancelled)); completed undoable steps are
    /// undone and the run returns a [`FlowError`](crate::FlowError) of kind
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut). A run that finished every step
    /// returns its result, however long it took.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout these options set, if any.
    #[must_use]
    pub const fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Uses `data` as the run's key/value store ([`Context::data`](crate::Context::data)), so
    /// the caller can seed it before the run and read it afterwards. Without it, each run
    /// gets an empty store of its own.
    #[must_use]
    pub const fn data(mut self, data: &'p RunData) -> Self {
        self.data = Some(data);
        self
    }

    /// The run data these options attach, if any.
    #[must_use]
    pub const fn get_data(&self) -> Option<&'p RunData> {
        self.data
    }

    /// Sets the schedule.
    #[must_use]
    pub const fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Runs the flow on `pool` instead of the current pool: every step runs on one of its
    /// threads, whatever the schedule (a call from another thread moves there, as
    /// `pool.install` does). A [`Dataflow`](Schedule::Dataflow) run called from one of the
    /// pool's threads starts there and calls the pool's other threads only once ready steps
    /// have waited (as [`run_on_caller`](Self::run_on_caller) describes for a plain thread),
    /// so that a small flow costs no helper jobs.
    #[must_use]
    pub const fn pool(mut self, pool: &'p ThreadPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Whether steps may run on the calling thread when it is not a thread of the run's pool
    /// (the default: `true`).
    ///
    /// With `true`, a run called from a plain thread without [`pool`](Self::pool) starts on
    /// that thread, so a small flow never pays for waking the pool. Ready steps that wait move
    /// to the global pool: once they have waited 30 µs and three of the calling thread's steps,
    /// or, when the calling thread is stuck in one long or blocking step, after at most about
    /// 500 µs (a process-wide heartbeat thread notices), or before that step starts if it
    /// kept others waiting in an earlier run (or the run is a `flow!` flow's first); the
    /// calling thread then leaves the rest of the run to the pool. With
    /// `false`, the run moves to the global pool as `pool.install` would and the calling
    /// thread only waits: for threads that must never run a step, such as an async
    /// executor's. With a pool given, steps always run on that pool's threads.
    #[must_use]
    pub const fn run_on_caller(mut self, run_on_caller: bool) -> Self {
        self.run_on_caller = run_on_caller;
        self
    }

    /// Whether steps may run on the calling thread; see [`RunOptions::run_on_caller`].
    #[must_use]
    pub const fn get_run_on_caller(&self) -> bool {
        self.run_on_caller
    }

    /// How long the undos of a failed run may take in all (the default: 30 seconds).
    ///
    /// A cancel or a timeout is what starts undoing, so neither can end it; this budget does.
    /// Once it is spent, the undos not yet finished are not attempted again and are reported
    /// in [`FlowError::undo_errors`](crate::FlowError::undo_errors), with the attempts they
    /// had.
    #[must_use]
    pub const fn undo_timeout(mut self, budget: Duration) -> Self {
        self.undo_timeout = budget;
        self
    }

    /// The time budget of the undos of a failed run; see [`RunOptions::undo_timeout`].
    #[must_use]
    pub const fn get_undo_timeout(&self) -> Duration {
        self.undo_timeout
    }

    /// Reports the run's events to `observer`.
    #[must_use]
    pub const fn observer(mut self, observer: &'p dyn Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The observer these options attach, if any.
    #[must_use]
    pub const fn get_observer(&self) -> Option<&'p dyn Observer> {
        self.observer
    }

    /// The schedule these options select.
    #[must_use]
    pub const fn get_schedule(&self) -> Schedule {
        self.schedule
    }

    /// The pool these options select, if any.
    #[must_use]
    pub const fn get_pool(&self) -> Option<&'p ThreadPool> {
        self.pool
    }
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions::new()
    }
}

impl From<Schedule> for RunOptions<'_> {
    fn from(schedule: Schedule) -> Self {
        RunOptions::new().schedule(schedule)
    }
}

impl<'p> From<&'p ThreadPool> for RunOptions<'p> {
    fn from(pool: &'p ThreadPool) -> Self {
        RunOptions::new().pool(pool)
    }
}
