//! How a run is carried out: [`Schedule`] and [`RunOptions`].

use std::fmt;
use std::time::Duration;

use rayon::ThreadPool;

use crate::cancel::CancelToken;
use crate::context::RunData;
use crate::observe::Observer;

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
    inline_small: bool,
    pool: Option<&'p ThreadPool>,
    observer: Option<&'p dyn Observer>,
    cancel: Option<&'p CancelToken>,
    timeout: Option<Duration>,
    data: Option<&'p RunData>,
}

impl fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("schedule", &self.schedule)
            .field("inline_small", &self.inline_small)
            .field("pool", &self.pool)
            .field("observer", &self.observer.is_some())
            .field("cancel", &self.cancel)
            .field("timeout", &self.timeout)
            .field("data", &self.data)
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
            inline_small: true,
            pool: None,
            observer: None,
            cancel: None,
            timeout: None,
            data: None,
        }
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

    /// Runs parallel schedules on `pool` instead of the current pool.
    /// [`Schedule::Sequential`] always runs on the calling thread.
    #[must_use]
    pub const fn pool(mut self, pool: &'p ThreadPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Whether a parallel schedule may run a flow inline on the calling thread when its steps
    /// have recently taken under a microsecond on average (the default: `true`). Handing such
    /// steps to other threads costs more than it saves; the engine keeps timing the runs and
    /// goes parallel again as soon as the steps get heavier. Results never differ.
    #[must_use]
    pub const fn inline_small(mut self, inline_small: bool) -> Self {
        self.inline_small = inline_small;
        self
    }

    /// Whether small flows may run inline; see [`RunOptions::inline_small`].
    #[must_use]
    pub const fn get_inline_small(&self) -> bool {
        self.inline_small
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
